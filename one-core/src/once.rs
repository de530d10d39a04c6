//! [`RunOnce`]: run a piece of work at most once per key, safely across crashes and retries.

use std::future::Future;
use std::time::Duration;

use crate::{Claim, Error, Key, Store};

/// What a [`RunOnce`] result can be stored as, so that a duplicate can replay it.
///
/// Implemented for `()` (nothing is stored), byte vectors and strings. For your own response
/// type, return its serialized bytes (or a `(value, bytes)` pair is easy to build on top).
pub trait Replay {
    /// The bytes to store with the completed record, or `None` to store nothing.
    fn replay_bytes(&self) -> Option<Vec<u8>>;
}

impl Replay for () {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        None
    }
}

impl Replay for Vec<u8> {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        Some(self.clone())
    }
}

impl Replay for String {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        Some(self.as_bytes().to_vec())
    }
}

impl<T: Replay> Replay for Option<T> {
    fn replay_bytes(&self) -> Option<Vec<u8>> {
        self.as_ref().and_then(Replay::replay_bytes)
    }
}

/// What happened to one [`RunOnce::run`].
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// This call ran the work and recorded it as completed.
    Ran(T),
    /// The work had been done already; here is what that run stored (`None` when it stored
    /// nothing). Acknowledge the message, or replay the stored response.
    Duplicate(Option<Vec<u8>>),
    /// Another worker is running it now. Retry (nack the message) after `retry_after`.
    InProgress {
        /// Time left on the other worker's lease.
        retry_after: Duration,
    },
    /// The key was used before for a request with a different fingerprint. The work did not run.
    Mismatch,
    /// The work ran, but the lease ran out (or the record was removed) before it could be
    /// recorded as completed: another worker may run it again. If its effect cannot be repeated
    /// safely, compensate for it, or use a longer lease.
    LeaseLost(T),
}

/// Why [`RunOnce::run`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    /// The work failed; its claim was released, so a redelivery can run it again.
    #[error("the work failed (its claim was released for a retry)")]
    Work(#[source] E),
    /// The store failed. The work did not run, or (when completing) ran and may run again.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Runs work at most once per key: claim, do the work, complete with its result, or release on
/// failure so that a redelivery can retry.
///
/// Unlike the plain `add`-then-process pattern, a worker that crashes or fails half-way does not
/// lose the message: its claim ends at the lease deadline (or at once, on failure) and the next
/// delivery runs the work. Choose a lease longer than the work takes; the `ttl` of the completed
/// record should cover the broker's whole redelivery window.
///
/// ```
/// use std::time::Duration;
/// use one_core::{Outcome, RunOnce, make_key};
/// use one_memory::MemoryStore;
///
/// # futures::executor::block_on(async {
/// let store = MemoryStore::new(Duration::from_secs(3600))?;
/// let once = RunOnce::new(Duration::from_secs(30), Duration::from_secs(24 * 3600));
/// let key = make_key(&("charge", "order-17"))?;
///
/// let first = once.run(&store, &key, || async { Ok::<_, std::io::Error>("charged 10 EUR".to_string()) }).await?;
/// assert_eq!(first, Outcome::Ran("charged 10 EUR".to_string()));
///
/// let again = once.run(&store, &key, || async { Ok::<_, std::io::Error>("charged twice!".to_string()) }).await?;
/// assert_eq!(again, Outcome::Duplicate(Some(b"charged 10 EUR".to_vec())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RunOnce {
    lease: Duration,
    ttl: Duration,
    fingerprint: Option<Key>,
}

impl RunOnce {
    /// Claims with `lease`, and keeps a completed record for `ttl`.
    pub fn new(lease: Duration, ttl: Duration) -> Self {
        RunOnce {
            lease,
            ttl,
            fingerprint: None,
        }
    }

    /// Stores `fingerprint` (a key of the request payload) with the claim: a later run with the
    /// same key and another fingerprint is answered [`Outcome::Mismatch`].
    pub fn fingerprint(mut self, fingerprint: Key) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// Runs `work` unless the key was completed or is claimed by someone else.
    ///
    /// If the returned future is dropped while the work runs, the claim is left to expire at
    /// its lease deadline, after which a redelivery runs the work again.
    ///
    /// # Errors
    ///
    /// [`RunError::Work`] when the work fails (the claim is released first; if releasing fails
    /// too, the claim expires at its deadline), [`RunError::Store`] when the store fails.
    pub async fn run<S, F, Fut, T, E>(
        &self,
        store: &S,
        key: &Key,
        work: F,
    ) -> Result<Outcome<T>, RunError<E>>
    where
        S: Store + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        T: Replay,
    {
        let lease = match store
            .claim(key, self.lease, self.fingerprint.as_ref())
            .await?
        {
            Claim::Acquired(lease) => lease,
            Claim::InProgress { retry_after } => return Ok(Outcome::InProgress { retry_after }),
            Claim::Completed { result } => return Ok(Outcome::Duplicate(result)),
            Claim::Mismatch => return Ok(Outcome::Mismatch),
        };
        match work().await {
            Ok(value) => {
                let bytes = value.replay_bytes();
                match store.complete(&lease, self.ttl, bytes.as_deref()).await {
                    Ok(()) => Ok(Outcome::Ran(value)),
                    Err(Error::LeaseLost { .. }) => Ok(Outcome::LeaseLost(value)),
                    Err(e) => Err(RunError::Store(e)),
                }
            }
            Err(e) => {
                // If this fails the claim still ends at its deadline; the work's error matters more.
                let _ = store.release(&lease).await;
                Err(RunError::Work(e))
            }
        }
    }
}
