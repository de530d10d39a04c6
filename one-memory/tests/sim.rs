//! The exactly-once simulation (`one_testkit::sim`) on the in-memory store, through
//! `Arc<dyn Store>`, on a mock clock that follows the simulation's virtual time: every run is
//! exactly replayable from its seed, and 10,000 messages take a fraction of a second.
//!
//! The default configuration is the scenario: 10,000 messages, 8 workers, 3% of
//! deliveries crash their worker (at one of five points), 3% are slow (their work outlives the
//! lease), 5% come with a duplicate in flight and 5% are redelivered after their ack.

use std::sync::Arc;
use std::time::Duration;

use one_core::Store;
use one_memory::{MemoryStore, MockClock};
use one_testkit::sim::{self, Config, CrashPoint, Pattern, Report};

/// Runs `config` on a fresh store whose mock clock follows the simulation's virtual time, and
/// prints the report.
fn simulate(config: &Config) -> Report {
    let clock = MockClock::new();
    let store = MemoryStore::builder()
        .default_ttl(config.ttl)
        .clock(clock.clone())
        .build()
        .expect("a valid TTL");
    let store: Arc<dyn Store> = Arc::new(store);
    let run = sim::run(
        store,
        move |d| {
            clock.advance(d);
            std::future::ready(())
        },
        config,
    );
    assert_send(&run);
    let report = one_testkit::run(run);
    eprintln!("{report}\n");
    report
}

fn assert_send<T: Send>(_: &T) {}

fn config(pattern: Pattern) -> Config {
    Config {
        pattern,
        ..Config::default()
    }
}

/// The run ended because delivery stopped, with every message acknowledged, no store errors,
/// and every hazard of the scenario actually exercised.
#[track_caller]
fn delivery_stopped_after_every_hazard(r: &Report) {
    assert!(r.finished, "the run hit its time limit:\n{r}");
    assert_eq!(
        r.unacked, 0,
        "every message is acknowledged in the end:\n{r}"
    );
    assert_eq!(r.store_errors, 0, "{r}");
    assert_eq!(r.interrupted_commits, 0, "{r}");
    assert_eq!(r.messages, 10_000);
    assert_eq!(r.workers, 8);
    for point in CrashPoint::ALL {
        assert!(r.crashes_at(point) > 0, "no crash {}:\n{r}", point.name());
    }
    assert!(r.slow > 0, "no slow worker:\n{r}");
    assert!(r.redeliveries > 0, "no redelivery:\n{r}");
    assert!(
        r.concurrent_duplicates > 0,
        "no duplicate in flight beside its original:\n{r}"
    );
}

/// The "done when": with the effect committed together with `complete`, every message
/// is applied exactly once.
#[test]
fn lease_with_the_effect_committed_with_complete_applies_every_message_once() {
    let r = simulate(&config(Pattern::LeaseAtomicEffect));
    delivery_stopped_after_every_hazard(&r);
    assert!(r.lease_lost > 0, "no slow worker lost its lease:\n{r}");
    assert!(
        r.in_progress > 0,
        "no duplicate found its message in progress:\n{r}"
    );
    assert_eq!(
        (r.never_applied, r.applied_once, r.applied_more),
        (0, 10_000, 0),
        "{r}"
    );
    // One successful `complete` per message, each seen by its worker (one at a time, the
    // completion comes before any crash after it).
    assert_eq!(r.ran, 10_000, "{r}");
}

/// The plain pattern under the same seed: every crash between the `add` and the effect loses
/// its message for good, since every redelivery is then a "duplicate".
#[test]
fn add_then_process_loses_the_messages_of_workers_that_crash_after_the_add() {
    let r = simulate(&config(Pattern::AddThenProcess));
    delivery_stopped_after_every_hazard(&r);
    let lost = r.crashes_at(CrashPoint::AfterClaim) + r.crashes_at(CrashPoint::MidWork);
    assert!(lost > 0);
    assert_eq!(r.never_applied as u64, lost, "{r}");
    assert_eq!(r.applied_more, 0, "{r}");
    assert_eq!(r.applied_once + r.never_applied, 10_000);
}

/// Check-then-act: nothing is lost, but deliveries in flight together both apply the effect,
/// and so does a redelivery after a crash between the effect and the `add`.
#[test]
fn check_then_act_lets_duplicates_through() {
    let r = simulate(&config(Pattern::CheckThenAct));
    delivery_stopped_after_every_hazard(&r);
    assert_eq!(r.never_applied, 0, "{r}");
    assert!(
        r.applied_more as u64 > r.crashes_at(CrashPoint::BeforeComplete),
        "duplicates in flight add to those of crashes:\n{r}"
    );
}

/// The lease tier with the effect in another system: nothing is lost, and an effect repeats
/// only where a worker crashed between its effect and `complete`, or lost its lease.
#[test]
fn lease_with_a_separate_effect_repeats_it_only_after_a_crash_or_a_lost_lease() {
    let r = simulate(&config(Pattern::LeaseSeparateEffect));
    delivery_stopped_after_every_hazard(&r);
    assert_eq!(r.never_applied, 0, "{r}");
    assert!(r.applied_more > 0, "{r}");
    assert!(
        r.extra_applications <= r.crashes_at(CrashPoint::BeforeComplete) + r.lease_lost,
        "every extra application comes from a crash before complete or a lost lease:\n{r}"
    );
}

/// Heartbeats keep a slow worker's lease: no lease is lost, so with a separate effect only the
/// crashes before `complete` repeat it.
#[test]
fn heartbeats_keep_slow_workers_leases() {
    let atomic = simulate(&Config {
        heartbeat: true,
        ..config(Pattern::LeaseAtomicEffect)
    });
    delivery_stopped_after_every_hazard(&atomic);
    assert_eq!(atomic.lease_lost, 0, "{atomic}");
    assert_eq!(
        (atomic.never_applied, atomic.applied_more),
        (0, 0),
        "{atomic}"
    );

    let separate = simulate(&Config {
        heartbeat: true,
        ..config(Pattern::LeaseSeparateEffect)
    });
    delivery_stopped_after_every_hazard(&separate);
    assert_eq!(separate.lease_lost, 0, "{separate}");
    assert_eq!(separate.never_applied, 0, "{separate}");
    assert!(
        separate.extra_applications <= separate.crashes_at(CrashPoint::BeforeComplete),
        "{separate}"
    );
}

/// Batches of 10 claimed with one `claim_many` (`RunOnce::run_many`), their work run
/// concurrently: still exactly once, though one crash now takes a whole batch down.
#[test]
fn batches_claimed_with_claim_many_apply_every_message_once() {
    let r = simulate(&Config {
        batch: 10,
        ..config(Pattern::LeaseAtomicEffect)
    });
    delivery_stopped_after_every_hazard(&r);
    assert_eq!(
        (r.never_applied, r.applied_once, r.applied_more),
        (0, 10_000, 0),
        "{r}"
    );
}

/// Waiting (bounded) for an in-progress duplicate instead of nacking it: still exactly once.
#[test]
fn waiting_for_in_progress_duplicates_applies_every_message_once() {
    let r = simulate(&Config {
        wait: Some(Duration::from_millis(200)),
        ..config(Pattern::LeaseAtomicEffect)
    });
    delivery_stopped_after_every_hazard(&r);
    assert_eq!(
        (r.never_applied, r.applied_once, r.applied_more),
        (0, 10_000, 0),
        "{r}"
    );
}

/// The guide's rule, shown: a completed record must outlive the broker's redelivery window.
/// With a 1 s TTL and redeliveries up to 5 s after an ack, late redeliveries run the work
/// again, even with the effect committed together with `complete`.
#[test]
fn a_record_ttl_shorter_than_the_redelivery_window_lets_late_redeliveries_run_again() {
    let r = simulate(&Config {
        ttl: Duration::from_secs(1),
        ..config(Pattern::LeaseAtomicEffect)
    });
    delivery_stopped_after_every_hazard(&r);
    assert_eq!(r.never_applied, 0, "{r}");
    assert!(r.applied_more > 0, "{r}");
}

/// A seed replays exactly; another seed gives another run.
#[test]
fn a_seed_replays_the_same_run() {
    let small = Config {
        messages: 2_000,
        seed: 7,
        ..config(Pattern::LeaseSeparateEffect)
    };
    let first = simulate(&small);
    let again = simulate(&small);
    assert_eq!(first, again);
    let other = simulate(&Config { seed: 8, ..small });
    assert_ne!(first, other);
}

/// The report for the scenario, every pattern under one seed, side by side.
#[test]
fn the_patterns_side_by_side() {
    let reports: Vec<Report> = Pattern::ALL
        .into_iter()
        .map(|p| simulate(&config(p)))
        .collect();
    eprintln!("{}", sim::table(&reports));
    let never: Vec<usize> = reports.iter().map(|r| r.never_applied).collect();
    let more: Vec<usize> = reports.iter().map(|r| r.applied_more).collect();
    assert!(
        never[0] > 0 && more[0] == 0,
        "add-then-process loses, never repeats"
    );
    assert!(
        never[1] == 0 && more[1] > 0,
        "check-then-act repeats, never loses"
    );
    assert!(
        never[2] == 0 && more[2] > 0,
        "a separate effect repeats, never loses"
    );
    assert!(
        never[3] == 0 && more[3] == 0,
        "a committed effect: exactly once"
    );
}
