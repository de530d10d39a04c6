//! Where the store's time comes from: the monotonic clock, or a [`MockClock`] in tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A clock that only moves when told to, for deterministic tests of expiry.
///
/// Clones share one reading: keep a clone, give one to
/// [`MemoryStoreBuilder::clock`](crate::MemoryStoreBuilder::clock), then [`advance`](Self::advance).
///
/// ```
/// use std::time::Duration;
/// use one_core::make_key;
/// use one_memory::{MemoryStore, MockClock};
///
/// let clock = MockClock::new();
/// let store = MemoryStore::builder()
///     .default_ttl(Duration::from_millis(100))
///     .clock(clock.clone())
///     .build()?;
/// let key = make_key(&"event-1")?;
/// assert!(store.add_sync(&key)?);
/// clock.advance(Duration::from_millis(99));
/// assert!(store.has_key_sync(&key));
/// clock.advance(Duration::from_millis(1)); // at the deadline the record is expired
/// assert!(!store.has_key_sync(&key));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MockClock {
    nanos: Arc<AtomicU64>,
}

impl MockClock {
    /// A clock reading zero.
    pub fn new() -> Self {
        MockClock::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// The time since the clock was made, as advanced so far.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

/// The store's time source. Expiry is measured only on a monotonic clock: a wall-clock jump
/// (NTP, an operator, a VM resume) neither frees records early nor keeps them late.
#[derive(Clone, Debug)]
pub(crate) enum Clock {
    Monotonic(Instant),
    Mock(MockClock),
}

impl Clock {
    pub(crate) fn monotonic() -> Self {
        Clock::Monotonic(Instant::now())
    }

    /// Nanoseconds since the clock's origin.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::Monotonic(origin) => {
                u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
            }
            Clock::Mock(mock) => mock.nanos.load(Ordering::Acquire),
        }
    }
}
