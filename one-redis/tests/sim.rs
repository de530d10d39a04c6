//! The exactly-once simulation (`one_testkit::sim`, issue 4) on a real Redis: 10,000 messages
//! delivered at least once to 8 workers that crash (3%) and stall past their leases (3%).
//! Time passes for real here, so each run takes about half a minute; its counts vary a little
//! from run to run, its guarantees do not.

use std::time::Duration;

use one_redis::RedisStore;
use one_testkit::redis_server::RedisServer;
use one_testkit::sim::{self, Config, CrashPoint, Pattern, Report};
use one_testkit::{Fixture, Profile, async_trait};

/// Stores on the server every test of this binary shares.
struct RedisFixture {
    url: String,
}

#[async_trait]
impl Fixture for RedisFixture {
    type Store = RedisStore;

    async fn store(&self, default_ttl: Duration) -> RedisStore {
        RedisStore::builder(self.url.as_str())
            // A prefix of its own per store, so runs never see each other's records.
            .prefix(format!(
                "one-sim:{}:",
                one_testkit::fresh_space("sim").namespace()
            ))
            .default_ttl(default_ttl)
            .build()
            .expect("a store on the test server")
    }

    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    fn profile(&self) -> Profile {
        Profile::real_time()
    }
}

/// Runs `pattern` under the default scenario (seed 1), or `None` when there is no Redis here
/// (skipped loudly; a failure where Redis is required).
fn simulate(pattern: Pattern) -> Option<Report> {
    let server = RedisServer::shared("the exactly-once simulation on Redis")?;
    let fixture = RedisFixture {
        url: server.url().to_owned(),
    };
    let config = Config {
        pattern,
        ..Config::default()
    };
    let report = one_testkit::run(sim::run_on(&fixture, &config));
    eprintln!("{report}\n");
    assert!(report.finished, "the run hit its time limit:\n{report}");
    assert_eq!(report.messages, 10_000);
    assert_eq!(report.workers, 8);
    assert_eq!(report.store_errors, 0, "{report}");
    assert_eq!(
        report.unacked, 0,
        "every message is acknowledged in the end:\n{report}"
    );
    assert!(report.crashes_total() > 0 && report.slow > 0, "{report}");
    Some(report)
}

/// With the effect committed together with `complete`, every message is applied exactly once
/// on Redis too.
#[test]
fn lease_with_the_effect_committed_with_complete_applies_every_message_once() {
    let Some(r) = simulate(Pattern::LeaseAtomicEffect) else {
        return;
    };
    assert_eq!(r.interrupted_commits, 0, "{r}");
    assert_eq!(
        (r.never_applied, r.applied_once, r.applied_more),
        (0, 10_000, 0),
        "{r}"
    );
}

/// Under the same seed, the plain add-then-process pattern loses the messages of workers that
/// crash after the add: each is lost for good, since every redelivery is then a "duplicate".
#[test]
fn add_then_process_loses_the_messages_of_workers_that_crash_after_the_add() {
    let Some(r) = simulate(Pattern::AddThenProcess) else {
        return;
    };
    let lost = r.crashes_at(CrashPoint::AfterClaim) + r.crashes_at(CrashPoint::MidWork);
    assert!(lost > 0, "{r}");
    assert_eq!(r.never_applied as u64, lost, "{r}");
    assert_eq!(r.applied_more, 0, "{r}");
}
