//! [`Fixture`]: how the checks get stores and let time pass; [`Profile`]: their tolerances.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use one_core::Store;

/// A backend under test: hands out stores and lets their time pass.
///
/// Implement it once per backend (in its `tests/`), then run every check with
/// [`conformance_tests!`](crate::conformance_tests). Each check asks for the stores it needs and
/// derives its keys in a [fresh key space](crate::fresh_space), so stores may share one server
/// (or one table) with other checks running at the same time.
#[async_trait]
pub trait Fixture: Send + Sync + 'static {
    /// The store type under test.
    type Store: Store + 'static;

    /// A fresh handle on the backend whose [default TTL](Store::default_ttl) is `default_ttl`.
    ///
    /// A handle on a shared server is fine: checks never look at keys they did not derive.
    /// Stores handed out by one fixture must follow one clock, the one [`advance`](Self::advance)
    /// moves.
    async fn store(&self, default_ttl: Duration) -> Self::Store;

    /// Lets `by` of the stores' time pass: advances a mock clock by exactly `by`, or sleeps for
    /// real (then [`Profile::real_time`] says how late expiry may be observed).
    async fn advance(&self, by: Duration);

    /// Timing tolerance and capabilities.
    fn profile(&self) -> Profile;

    /// A store whose writes cannot succeed (an unreachable server; a full store whose policy is
    /// to reject), or `None` when the backend has no such state. The failure checks (case-16)
    /// run only when there is one.
    async fn failing_store(&self) -> Option<Self::Store> {
        None
    }

    /// Why this fixture cannot run here (no server to test against, say), or `None` to run.
    ///
    /// A check whose fixture answers `Some` passes without running, after printing the reason
    /// loudly to stderr. Answer `Some` only where skipping is acceptable: a fixture should
    /// panic instead when the environment demands the backend (as `one-testkit`'s Redis
    /// fixture does when `CI` or `ONE_REQUIRE_REDIS` is set).
    fn skip(&self) -> Option<String> {
        None
    }
}

/// How exact a backend's time is, and how hard to push it.
///
/// Start from [`Profile::mock_clock`] (an injected clock that [`Fixture::advance`] moves exactly)
/// or [`Profile::real_time`] (a server that expires records on its own clock), then adjust with
/// the `with_*` setters.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Profile {
    /// [`Fixture::advance`] is exact and nothing else moves the clock: the checks that pin exact
    /// boundaries (a record is expired *at* its deadline; case-09's timeline) run only then.
    pub exact_clock: bool,
    /// A "short" TTL (and lease) for the expiry checks. At least 4x [`margin`](Self::margin):
    /// records are expected live only well before their deadline.
    pub ttl: Duration,
    /// How late after its deadline an expiry may be observed, and the scheduling slack allowed
    /// around a deadline.
    pub margin: Duration,
    /// Rounds of each 32-way race (case-08). At least 500 for an in-memory store.
    pub race_rounds: usize,
    /// How long one check may take before it fails as hung.
    pub timeout: Duration,
}

impl Profile {
    /// An injected clock moved only by [`Fixture::advance`]: exact, TTL 100 ms, margin 1 ms,
    /// 500 race rounds.
    pub fn mock_clock() -> Self {
        Profile {
            exact_clock: true,
            ttl: Duration::from_millis(100),
            margin: Duration::from_millis(1),
            race_rounds: 500,
            timeout: Duration::from_secs(120),
        }
    }

    /// Real time, with the store (or its server) expiring records on its own clock: not exact,
    /// TTL 1 s, margin 250 ms, 200 race rounds.
    pub fn real_time() -> Self {
        Profile {
            exact_clock: false,
            ttl: Duration::from_secs(1),
            margin: Duration::from_millis(250),
            race_rounds: 200,
            timeout: Duration::from_secs(120),
        }
    }

    /// With `ttl` as the short TTL.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// With `margin` as the expiry tolerance.
    #[must_use]
    pub fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// With `rounds` rounds for each race.
    #[must_use]
    pub fn with_race_rounds(mut self, rounds: usize) -> Self {
        self.race_rounds = rounds;
        self
    }

    /// With `timeout` as the time limit of one check.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Runs a fixture's stores as `Arc<dyn Store>`, to check the backend through dynamic dispatch
/// (where a forgotten forwarding method would fall back to a trait default).
#[derive(Clone, Debug, Default)]
pub struct DynFixture<F>(pub F);

#[async_trait]
impl<F: Fixture> Fixture for DynFixture<F> {
    type Store = Arc<dyn Store>;

    async fn store(&self, default_ttl: Duration) -> Arc<dyn Store> {
        Arc::new(self.0.store(default_ttl).await)
    }

    async fn advance(&self, by: Duration) {
        self.0.advance(by).await;
    }

    fn profile(&self) -> Profile {
        self.0.profile()
    }

    async fn failing_store(&self) -> Option<Arc<dyn Store>> {
        let store = self.0.failing_store().await?;
        Some(Arc::new(store))
    }

    fn skip(&self) -> Option<String> {
        self.0.skip()
    }
}
