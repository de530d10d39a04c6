//! `add_many` and `add_many_with_ttl`.

use std::time::Duration;

use one_core::{Key, Store};

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
