//! [`RunOnce`](one_core::RunOnce) on top of the store.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use one_core::{Outcome, RunError, RunOnce, Store};
use tokio::sync::Notify;

use super::expect::*;
use super::{Keys, LONG, profile};
use crate::Fixture;

/// Work that counts its runs and answers `answer`.
async fn work(runs: &AtomicUsize, answer: &str) -> Result<String, io::Error> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(answer.to_owned())
}

/// **`RunOnce`**: the first run does the work and completes; a second run does not, and replays
/// the stored result bytes.
pub async fn run_once_runs_once_and_replays<F: Fixture>(fx: &F) {
    let keys = Keys::new("run_once_runs_once_and_replays");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let once = RunOnce::new(LONG, LONG);
    let runs = AtomicUsize::new(0);

    let first = once.run(&store, &k, || work(&runs, "charged 10 EUR")).await;
    assert!(
        matches!(&first, Ok(Outcome::Ran(s)) if s == "charged 10 EUR"),
        "first run: expected Ran(\"charged 10 EUR\"), got {first:?}"
    );
    let again = once.run(&store, &k, || work(&runs, "charged twice!")).await;
    assert!(
        matches!(&again, Ok(Outcome::Duplicate(Some(bytes))) if bytes == b"charged 10 EUR"),
        "second run: expected Duplicate(Some(b\"charged 10 EUR\")), got {again:?}"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the work must run exactly once"
    );
    expect_bool(store.has_key(&k).await, true, "has_key after a run");
}

/// **`RunOnce`**: when the work fails its claim is released, so the next run does the work.
pub async fn run_once_releases_the_claim_when_work_fails<F: Fixture>(fx: &F) {
    let keys = Keys::new("run_once_releases_the_claim_when_work_fails");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let once = RunOnce::new(LONG, LONG);
    let runs = AtomicUsize::new(0);

    let failed = once
        .run(&store, &k, || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>(io::Error::other("downstream is down"))
        })
        .await;
    assert!(
        matches!(&failed, Err(RunError::Work(e)) if e.to_string() == "downstream is down"),
        "a failing run: expected Err(RunError::Work(..)), got {failed:?}"
    );
    expect_bool(
        store.has_key(&k).await,
        false,
        "has_key after a failed run: claim released",
    );
    let retry = once.run(&store, &k, || work(&runs, "ok")).await;
    assert!(
        matches!(&retry, Ok(Outcome::Ran(s)) if s == "ok"),
        "the retry after a failed run: expected Ran(\"ok\"), got {retry:?}"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the failed run and the retry both ran"
    );
}

/// **`RunOnce`**: while another worker holds the claim, a run answers `InProgress` and does not
/// do the work.
pub async fn run_once_reports_in_progress<F: Fixture>(fx: &F) {
    let keys = Keys::new("run_once_reports_in_progress");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let once = RunOnce::new(LONG, LONG);
    let runs = AtomicUsize::new(0);

    let other = expect_acquired(
        store.claim(&k, LONG, None).await,
        &k,
        "claim by another worker",
    );
    let busy = once.run(&store, &k, || work(&runs, "too early")).await;
    assert!(
        matches!(&busy, Ok(Outcome::InProgress { retry_after }) if !retry_after.is_zero() && *retry_after <= LONG),
        "a run while another worker holds the claim: expected InProgress, got {busy:?}"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "the work must not run while claimed elsewhere"
    );
    expect_ok(store.release(&other).await, "release by the other worker");
    let retry = once.run(&store, &k, || work(&runs, "now")).await;
    assert!(
        matches!(&retry, Ok(Outcome::Ran(_))),
        "a run after release: got {retry:?}"
    );
}

/// **`RunOnce`** with fingerprints: reusing a key for another request is `Mismatch` and does not
/// run; the same request is a `Duplicate`.
pub async fn run_once_reports_mismatch<F: Fixture>(fx: &F) {
    let keys = Keys::new("run_once_reports_mismatch");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let (a, b) = (keys.key("payload a"), keys.key("payload b"));
    let runs = AtomicUsize::new(0);

    let first = RunOnce::new(LONG, LONG)
        .fingerprint(a)
        .run(&store, &k, || work(&runs, "a"))
        .await;
    assert!(
        matches!(&first, Ok(Outcome::Ran(_))),
        "first run with payload a: got {first:?}"
    );
    let other = RunOnce::new(LONG, LONG)
        .fingerprint(b)
        .run(&store, &k, || work(&runs, "b"))
        .await;
    assert!(
        matches!(&other, Ok(Outcome::Mismatch)),
        "a run with the same key and payload b: expected Mismatch, got {other:?}"
    );
    let same = RunOnce::new(LONG, LONG)
        .fingerprint(a)
        .run(&store, &k, || work(&runs, "a"))
        .await;
    assert!(
        matches!(&same, Ok(Outcome::Duplicate(Some(bytes))) if bytes == b"a"),
        "a run with the same key and payload a: expected Duplicate(Some(b\"a\")), got {same:?}"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "only the first run does the work"
    );
}

/// **`RunOnce`**: when the work outlives its lease, the completion is refused and the run says
/// `LeaseLost` (with the value), so the caller knows the work may run again; the next run does.
pub async fn run_once_reports_a_lost_lease<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("run_once_reports_a_lost_lease");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let once = RunOnce::new(p.ttl, LONG);
    let runs = AtomicUsize::new(0);

    let slow = once
        .run(&store, &k, || async {
            fx.advance(p.ttl + p.margin).await;
            work(&runs, "slow").await
        })
        .await;
    assert!(
        matches!(&slow, Ok(Outcome::LeaseLost(s)) if s == "slow"),
        "work that outlives its lease: expected LeaseLost(\"slow\"), got {slow:?}"
    );
    let again = once.run(&store, &k, || work(&runs, "again")).await;
    assert!(
        matches!(&again, Ok(Outcome::Ran(s)) if s == "again"),
        "a run after a lost lease: expected Ran(\"again\"), got {again:?}"
    );
}

/// **`RunOnce`** with heartbeats: work that runs twice as long as its lease keeps the claim,
/// because each heartbeat extends it (`extend`); the run completes as `Ran`.
pub async fn run_once_heartbeat_keeps_the_lease<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("run_once_heartbeat_keeps_the_lease");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    // The heartbeat's timer is driven by the work, so that each beat comes exactly between two
    // steps of the store's time: `beat` lets one beat go, `waiting` says the heartbeat is
    // waiting for the next (so the previous extend has finished).
    let (beat, waiting) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let (b, w) = (Arc::clone(&beat), Arc::clone(&waiting));
    let once = RunOnce::new(p.ttl, LONG).heartbeat(p.ttl / 2, move |_| {
        w.notify_one();
        let b = Arc::clone(&b);
        async move { b.notified().await }
    });

    let heartbeat_waits = || async {
        let waited = tokio::time::timeout(LONG, waiting.notified()).await;
        assert!(
            waited.is_ok(),
            "the heartbeat stopped: an extend answered LeaseLost while the claim was live"
        );
    };
    let run = once
        .run(&store, &k, || async {
            for _ in 0..4 {
                heartbeat_waits().await;
                fx.advance(p.ttl / 2).await;
                // Stop once the claim is gone (an extend did not extend it): the heartbeat
                // has stopped too, and completing reports the lost lease.
                if !store.has_key(&k).await.unwrap_or(true) {
                    break;
                }
                beat.notify_one();
            }
            Ok::<_, io::Error>("long".to_string())
        })
        .await;
    assert!(
        matches!(&run, Ok(Outcome::Ran(s)) if s == "long"),
        "work running for 2 leases with a heartbeat every half lease: expected Ran(\"long\"), \
         got {run:?}"
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        Some(b"long"),
        "claim after the long run",
    );
}

/// **`RunOnce`** with waiting: a run that finds the key in progress waits for the holder; when
/// the holder completes, the run answers `Duplicate` with its result. When the holder does not
/// finish within the wait's timeout, the run answers `InProgress`. The work never runs.
pub async fn run_once_waits_for_an_in_progress_duplicate<F: Fixture>(fx: &F) {
    let keys = Keys::new("run_once_waits_for_an_in_progress_duplicate");
    let store = fx.store(LONG).await;
    let (k, stuck) = (keys.key("k"), keys.key("stuck"));
    let runs = AtomicUsize::new(0);

    let other = expect_acquired(
        store.claim(&k, LONG, None).await,
        &k,
        "claim by another worker",
    );
    let sleeping = Arc::new(Notify::new());
    let s = Arc::clone(&sleeping);
    let once = RunOnce::new(LONG, LONG).wait(Duration::from_secs(5), move |d| {
        s.notify_one();
        tokio::time::sleep(d)
    });
    let (waited, completed) = tokio::join!(once.run(&store, &k, || work(&runs, "second")), async {
        // The other worker completes once the run has found the key in progress and sleeps.
        sleeping.notified().await;
        store
            .complete(&other, LONG, Some(b"first".as_slice()))
            .await
    });
    expect_ok(completed, "complete by the other worker");
    assert!(
        matches!(&waited, Ok(Outcome::Duplicate(Some(bytes))) if bytes == b"first"),
        "a run waiting for the holder, which completes: expected Duplicate(Some(b\"first\")), \
         got {waited:?}"
    );

    let _holder = expect_acquired(
        store.claim(&stuck, LONG, None).await,
        &stuck,
        "claim(stuck)",
    );
    let brief = RunOnce::new(LONG, LONG).wait(Duration::from_millis(50), tokio::time::sleep);
    let gave_up = brief.run(&store, &stuck, || work(&runs, "never")).await;
    assert!(
        matches!(&gave_up, Ok(Outcome::InProgress { retry_after }) if !retry_after.is_zero() && *retry_after <= LONG),
        "a run waiting 50 ms for a holder with a 60 s lease: expected InProgress, got {gave_up:?}"
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "a waiting run never does the work"
    );
}

/// **`RunOnce::run_many`** (on `claim_many`): runs the work of each key it acquired, answers the
/// others (`Duplicate` with the stored result, `InProgress`, the copy of a key already in the
/// batch `InProgress`), completes each run on its own, and releases a run whose work fails.
pub async fn run_once_runs_a_batch<F: Fixture>(fx: &F) {
    let keys = Keys::new("run_once_runs_a_batch");
    let store = fx.store(LONG).await;
    let [a, held, done, b, failing] = ["a", "held", "done", "b", "failing"].map(|n| keys.key(n));
    let _other = expect_acquired(store.claim(&held, LONG, None).await, &held, "claim(held)");
    let finished = expect_acquired(store.claim(&done, LONG, None).await, &done, "claim(done)");
    expect_ok(
        store
            .complete(&finished, LONG, Some(b"earlier".as_slice()))
            .await,
        "complete(done)",
    );
    let runs = AtomicUsize::new(0);
    let once = RunOnce::new(LONG, LONG);

    let batch = [a, held, done, b, a, failing];
    let outcomes = once
        .run_many(&store, &batch, |i| {
            let runs = &runs;
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if i == 5 {
                    return Err(io::Error::other("downstream is down"));
                }
                Ok(format!("ran {i}"))
            }
        })
        .await;
    assert_eq!(
        outcomes.len(),
        batch.len(),
        "one outcome per key: {outcomes:?}"
    );
    let expected = [
        matches!(&outcomes[0], Ok(Outcome::Ran(s)) if s == "ran 0"),
        matches!(&outcomes[1], Ok(Outcome::InProgress { .. })),
        matches!(&outcomes[2], Ok(Outcome::Duplicate(Some(r))) if r == b"earlier"),
        matches!(&outcomes[3], Ok(Outcome::Ran(s)) if s == "ran 3"),
        matches!(&outcomes[4], Ok(Outcome::InProgress { .. })),
        matches!(&outcomes[5], Err(RunError::Work(_))),
    ];
    assert!(
        expected.iter().all(|&ok| ok),
        "run_many([a, held, done, b, a, failing]): expected [Ran, InProgress, Duplicate, Ran, \
         InProgress, Err(Work)], got {outcomes:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 3, "only the acquired keys run");
    expect_completed(
        store.claim(&a, LONG, None).await,
        Some(b"ran 0"),
        "claim(a) after the batch",
    );
    expect_completed(
        store.claim(&b, LONG, None).await,
        Some(b"ran 3"),
        "claim(b) after the batch",
    );
    expect_bool(
        store.has_key(&failing).await,
        false,
        "has_key of the key whose work failed: released",
    );
}
