//! [`RunOnce`](one_core::RunOnce) on top of the store.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

use one_core::{Outcome, RunError, RunOnce, Store};

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
