#![doc = include_str!("../README.md")]

pub mod checks;
mod fixture;
mod macros;
#[cfg(feature = "redis-fixture")]
pub mod redis_cluster;
#[cfg(feature = "testcontainers")]
mod redis_container;
#[cfg(feature = "redis-fixture")]
pub mod redis_server;
pub mod sim;

use std::future::Future;

use one_core::KeySpace;
use rand::{Rng, SeedableRng};

pub use crate::fixture::{DynFixture, Fixture, Profile};
pub use async_trait::async_trait;
pub use one_core;

/// The name of every check in [`checks`], in the order [`conformance_tests!`] generates them.
pub const CHECKS: &[&str] = __for_each_check!(__check_names());

/// A key space no other run shares: `"{name}-{16 random hex digits}"`.
///
/// Every check derives its keys in one, so checks run in parallel against one shared server and
/// never need a flush. Use it in a backend's own tests for the same reason.
pub fn fresh_space(name: &str) -> KeySpace {
    let nonce: u64 = rand::rngs::StdRng::from_os_rng().random();
    KeySpace::new(format!("{name}-{nonce:016x}"))
}

/// Runs `check` to completion on a fresh multi-thread tokio runtime, as every test that
/// [`conformance_tests!`] generates does.
///
/// Use it to run single checks from your own `#[test]`s:
///
/// ```no_run
/// # use std::time::Duration;
/// # use one_testkit::{Fixture, Profile, checks};
/// # struct MyFixture;
/// # #[one_testkit::async_trait]
/// # impl Fixture for MyFixture {
/// #     type Store = std::sync::Arc<dyn one_testkit::one_core::Store>;
/// #     async fn store(&self, _: Duration) -> Self::Store { unimplemented!() }
/// #     async fn advance(&self, _: Duration) {}
/// #     fn profile(&self) -> Profile { Profile::real_time() }
/// # }
/// one_testkit::run(async {
///     let fixture = MyFixture;
///     checks::add_race_has_one_winner(&fixture).await;
/// });
/// ```
///
/// # Panics
///
/// When the check panics (a contract violation), or when the runtime cannot be built.
pub fn run<T>(check: impl Future<Output = T>) -> T {
    // More workers than most CI machines have cores: preemption between them is what exposes
    // check-then-act races.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("one-testkit: cannot build a tokio runtime")
        .block_on(check)
}

/// What [`conformance_tests!`] expands to needs; not public API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    pub use crate::run;

    /// The fixture as it is.
    pub fn direct<F: Fixture>(fixture: F) -> F {
        fixture
    }

    /// The fixture's stores as `Arc<dyn Store>`.
    pub fn as_dyn<F: Fixture>(fixture: F) -> DynFixture<F> {
        DynFixture(fixture)
    }

    /// Runs one check under the profile's watchdog.
    pub async fn check<F: Fixture>(fixture: &F, name: &str, check: impl Future<Output = ()>) {
        if let Some(why) = fixture.skip() {
            use std::io::Write as _;
            // Straight to stderr: libtest's capture would hide a println!.
            let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {why}");
            return;
        }
        let limit = fixture.profile().timeout;
        if tokio::time::timeout(limit, check).await.is_err() {
            panic!(
                "{name}: did not finish within {limit:?} (Profile::timeout): a store operation \
                 hangs instead of failing promptly"
            );
        }
    }
}
