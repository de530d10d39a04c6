//! `add_many`, `add_many_with_ttl` and `claim_many`.

use std::collections::HashSet;
use std::time::Duration;

use one_core::{Claim, Error, Key, Lease, Store};

use super::expect::*;
use super::{Keys, LONG, profile};
use crate::Fixture;

/// **`add_many`** answers for each key, in order, as `add` would: new keys `Ok(true)`, live ones
/// `Ok(false)`, across a batch of 300 mixed keys, then the same batch again.
pub async fn add_many_answers_each_key_in_order<F: Fixture>(fx: &F) {
    let keys = Keys::new("add_many_answers_each_key_in_order");
    let store = fx.store(LONG).await;
    let batch: Vec<Key> = (0..300).map(|i| keys.nth("k", i)).collect();
    for key in batch.iter().step_by(3) {
        expect_bool(store.add(key).await, true, "add before the batch");
    }

    let want: Vec<bool> = (0..batch.len()).map(|i| i % 3 != 0).collect();
    expect_bools(
        &store.add_many(&batch).await,
        &want,
        "add_many(every third key present)",
    );
    for (i, key) in batch.iter().enumerate() {
        expect_bool(
            store.has_key(key).await,
            true,
            &format!("has_key of batch key {i}"),
        );
    }
    expect_bools(
        &store.add_many(&batch).await,
        &[false; 300],
        "add_many of the same batch again",
    );

    let (fresh, present) = (keys.key("fresh"), batch[1]);
    expect_bools(
        &store.add_many_with_ttl(&[present, fresh], LONG).await,
        &[false, true],
        "add_many_with_ttl([present, fresh])",
    );
}

/// **`add_many`**: a key repeated within one batch is `Ok(true)` once, then `Ok(false)`.
pub async fn add_many_repeated_key_is_new_once<F: Fixture>(fx: &F) {
    let keys = Keys::new("add_many_repeated_key_is_new_once");
    let store = fx.store(LONG).await;
    let (a, b, c, d) = (keys.key("a"), keys.key("b"), keys.key("c"), keys.key("d"));

    expect_bools(
        &store.add_many(&[a, b, a, a, c, b]).await,
        &[true, true, false, false, true, false],
        "add_many([a, b, a, a, c, b])",
    );
    expect_bools(
        &store.add_many_with_ttl(&[d, d], LONG).await,
        &[true, false],
        "add_many_with_ttl([d, d])",
    );
}

/// **`add_many`**: an empty batch has no answers (whatever the TTL: there is no key to answer
/// for).
pub async fn add_many_of_nothing_is_empty<F: Fixture>(fx: &F) {
    let store = fx.store(LONG).await;
    let answers = store.add_many(&[]).await;
    assert!(
        answers.is_empty(),
        "add_many(&[]) should answer nothing, got {answers:?}"
    );
    let answers = store.add_many_with_ttl(&[], LONG).await;
    assert!(
        answers.is_empty(),
        "add_many_with_ttl(&[], ttl) should answer nothing: {answers:?}"
    );
    let answers = store.add_many_with_ttl(&[], Duration::ZERO).await;
    assert!(
        answers.is_empty(),
        "add_many_with_ttl(&[], 0) should answer nothing: {answers:?}"
    );
}

/// **`add_many`** gives records the default TTL, **`add_many_with_ttl`** the one it is passed.
pub async fn add_many_uses_the_ttl<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("add_many_uses_the_ttl");
    let store = fx.store(p.ttl).await;
    let (a, b, c, d) = (keys.key("a"), keys.key("b"), keys.key("c"), keys.key("d"));

    expect_bools(
        &store.add_many(&[a, b]).await,
        &[true, true],
        "add_many([a, b])",
    );
    expect_bools(
        &store.add_many_with_ttl(&[c, d], 2 * p.ttl).await,
        &[true, true],
        "add_many_with_ttl([c, d], 2 ttl)",
    );
    fx.advance(p.ttl / 2).await;
    for k in [a, b, c, d] {
        expect_bool(store.has_key(&k).await, true, "has_key at ttl/2");
    }
    fx.advance(p.ttl / 2 + p.margin).await;
    for k in [a, b] {
        expect_bool(
            store.has_key(&k).await,
            false,
            "has_key after the default TTL (add_many)",
        );
    }
    for k in [c, d] {
        expect_bool(
            store.has_key(&k).await,
            true,
            "has_key after ttl of a 2 ttl add_many_with_ttl",
        );
    }
    fx.advance(p.ttl).await;
    for k in [c, d] {
        expect_bool(
            store.has_key(&k).await,
            false,
            "has_key after 2 ttl (add_many_with_ttl)",
        );
    }
}

/// A short form of a claim's answer, for comparing batches.
fn claim_shape(answer: &Result<Claim, Error>) -> String {
    match answer {
        Ok(Claim::Acquired(_)) => "Acquired".into(),
        Ok(Claim::InProgress { .. }) => "InProgress".into(),
        Ok(Claim::Completed { result: None }) => "Completed(None)".into(),
        Ok(Claim::Completed { result: Some(r) }) => {
            format!("Completed({:?})", String::from_utf8_lossy(r))
        }
        Ok(Claim::Mismatch) => "Mismatch".into(),
        Err(e) => format!("Err({e})"),
    }
}

/// **`claim_many`** answers for each key, in order, as `claim` would one after another: a fresh
/// key is `Acquired`, a claimed one `InProgress`, a completed one `Completed` with its result, an
/// added one `Completed(None)`, a key repeated in the batch `Acquired` once then `InProgress`.
/// Each lease is on its own key with its own token, and completes like any other.
pub async fn claim_many_answers_each_key_in_order<F: Fixture>(fx: &F) {
    let keys = Keys::new("claim_many_answers_each_key_in_order");
    let store = fx.store(LONG).await;
    let [fresh, held, done, added, twice] =
        ["fresh", "held", "done", "added", "twice"].map(|n| keys.key(n));
    let other = expect_acquired(store.claim(&held, LONG, None).await, &held, "claim(held)");
    let finished = expect_acquired(store.claim(&done, LONG, None).await, &done, "claim(done)");
    expect_ok(
        store.complete(&finished, LONG, Some(b"r".as_slice())).await,
        "complete(done)",
    );
    expect_bool(store.add(&added).await, true, "add(added)");

    let batch = [fresh, held, done, added, twice, twice];
    let answers = store.claim_many(&batch, LONG).await;
    let shapes: Vec<String> = answers.iter().map(claim_shape).collect();
    assert_eq!(
        shapes,
        [
            "Acquired",
            "InProgress",
            "Completed(\"r\")",
            "Completed(None)",
            "Acquired",
            "InProgress"
        ],
        "claim_many([fresh, held, done, added, twice, twice])"
    );
    let leases: Vec<Lease> = answers
        .into_iter()
        .filter_map(|a| match a {
            Ok(Claim::Acquired(lease)) => Some(lease),
            _ => None,
        })
        .collect();
    assert_eq!(
        leases[0].key(),
        &fresh,
        "the first lease is on the first key"
    );
    assert_eq!(
        leases[1].key(),
        &twice,
        "the second lease is on the repeated key"
    );
    let tokens: HashSet<_> = [
        other.token(),
        finished.token(),
        leases[0].token(),
        leases[1].token(),
    ]
    .into_iter()
    .collect();
    assert_eq!(tokens.len(), 4, "every grant has its own fencing token");
    assert_eq!(
        leases[0].duration(),
        LONG,
        "the lease granted is the one asked for"
    );
    expect_in_progress(
        store.claim(&fresh, LONG, None).await,
        LONG,
        "claim of a key claimed by claim_many",
    );
    expect_ok(
        store
            .complete(&leases[0], LONG, Some(b"f".as_slice()))
            .await,
        "complete a lease from claim_many",
    );
    expect_completed(
        store.claim(&fresh, LONG, None).await,
        Some(b"f"),
        "claim after complete",
    );
    expect_ok(
        store.release(&leases[1]).await,
        "release a lease from claim_many",
    );
    expect_bool(store.has_key(&twice).await, false, "has_key after release");
}

/// **`claim_many`**: an empty batch has no answers; a zero lease is refused for every key with
/// `InvalidLease` and nothing is written. (case-14: zero is not "no deadline")
pub async fn claim_many_refuses_a_zero_lease<F: Fixture>(fx: &F) {
    let keys = Keys::new("claim_many_refuses_a_zero_lease");
    let store = fx.store(LONG).await;
    let answers = store.claim_many(&[], LONG).await;
    assert!(
        answers.is_empty(),
        "claim_many(&[]) should answer nothing, got {answers:?}"
    );
    let (a, b) = (keys.key("a"), keys.key("b"));
    let answers = store.claim_many(&[a, b], Duration::ZERO).await;
    assert_eq!(answers.len(), 2, "one answer per key: {answers:?}");
    for answer in answers {
        expect_invalid_lease(answer, "case-14: claim_many with a zero lease");
    }
    for k in [a, b] {
        expect_bool(
            store.has_key(&k).await,
            false,
            "has_key after a refused claim_many",
        );
    }
}
