//! Failures: a duplicate is an answer, a failure is an error (case-16).

use std::fmt::Debug;
use std::time::Instant;

use one_core::{Claim, Error, Store};

use super::expect::*;
use super::{Keys, LONG};
use crate::Fixture;

/// **Failures**: a duplicate is an answer (`Ok(false)`, `Completed`), never an `Err`, on every
/// write path. (case-16 a)
pub async fn duplicate_is_an_answer_not_an_error<F: Fixture>(fx: &F) {
    let keys = Keys::new("duplicate_is_an_answer_not_an_error");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    expect_bool(store.add(&k).await, true, "add");
    expect_bool(store.add(&k).await, false, "case-16 a: add of a duplicate");
    expect_bool(
        store.add_with_ttl(&k, LONG).await,
        false,
        "case-16 a: add_with_ttl of a duplicate",
    );
    expect_bools(
        &store.add_many(&[k, k]).await,
        &[false, false],
        "case-16 a: add_many",
    );
    expect_bools(
        &store.add_many_with_ttl(&[k], LONG).await,
        &[false],
        "add_many_with_ttl",
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        None,
        "claim of a duplicate",
    );
}

/// **Failures**: a store that cannot write fails *closed*: `add`, `add_with_ttl`, every answer
/// of `add_many` and `claim` on fresh keys are `Err`, never `Ok(true)` (work done twice),
/// `Ok(false)` (work dropped as a duplicate) nor a `Claim`; `has_key` and `remove` of a key never
/// written are `Ok(false)` or `Err`. Runs only when the fixture has a
/// [`failing_store`](Fixture::failing_store). (case-16)
pub async fn failing_store_fails_closed<F: Fixture>(fx: &F) {
    let Some(store) = fx.failing_store().await else {
        eprintln!("note: failing_store_fails_closed: the fixture has no failing store; skipped");
        return;
    };
    let keys = Keys::new("failing_store_fails_closed");
    let key = |i| keys.nth("fresh", i);
    let started = Instant::now();

    must_fail(store.add(&key(0)).await, "add");
    must_fail(store.add_with_ttl(&key(1), LONG).await, "add_with_ttl");
    let batch = [key(2), key(3), key(4)];
    let answers = store.add_many(&batch).await;
    assert_eq!(
        answers.len(),
        batch.len(),
        "case-16: add_many must answer once per key"
    );
    for answer in answers {
        must_fail(answer, "add_many (each key)");
    }
    for answer in store.add_many_with_ttl(&batch, LONG).await {
        must_fail(answer, "add_many_with_ttl (each key)");
    }
    must_fail::<Claim>(store.claim(&key(5), LONG, None).await, "claim");

    for (op, answer) in [
        ("has_key", store.has_key(&key(6)).await),
        ("remove", store.remove(&key(7)).await),
    ] {
        match answer {
            Ok(false) => {}
            Err(e) => report(op, &e),
            Ok(true) => panic!("case-16: {op} of a key never written answered Ok(true)"),
        }
    }
    eprintln!(
        "note: failing_store_fails_closed: every operation answered within {:?}",
        started.elapsed()
    );
}

/// The answer must be an `Err`.
#[track_caller]
fn must_fail<T: Debug>(answer: Result<T, Error>, op: &str) {
    match answer {
        Err(e) => report(op, &e),
        Ok(v) => panic!(
            "case-16: {op} on a store that cannot write answered Ok({v:?}); it must fail closed \
             with Err (an answer here either drops work as a duplicate or does it twice)"
        ),
    }
}

fn report(op: &str, e: &Error) {
    eprintln!(
        "note: failing store: {op} -> Err({e}), is_retryable() = {}",
        e.is_retryable()
    );
}
