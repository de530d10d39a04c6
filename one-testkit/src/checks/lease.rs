//! The lease tier: `claim`, `complete`, `release`, `extend`, fingerprints and fencing tokens.

use std::collections::HashSet;

use one_core::Store;

use super::expect::*;
use super::{Keys, LONG, profile};
use crate::Fixture;

/// **The lease tier**: `claim` on an absent key is `Acquired` with a lease on that key for the
/// requested duration; a second claim is `InProgress` with `0 < retry_after <= lease`, the time
/// left (to the margin, on an exact clock).
pub async fn claim_acquires_then_reports_in_progress<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("claim_acquires_then_reports_in_progress");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let lease_for = 2 * p.ttl;

    let lease = expect_acquired(
        store.claim(&k, lease_for, None).await,
        &k,
        "claim of a fresh key",
    );
    assert_eq!(
        lease.duration(),
        lease_for,
        "the lease granted is the duration asked for"
    );
    let left = expect_in_progress(
        store.claim(&k, lease_for, None).await,
        lease_for,
        "2nd claim",
    );
    if p.exact_clock {
        assert!(
            near(left, lease_for, p.margin),
            "retry_after right after the claim: {left:?}"
        );
    }
    fx.advance(lease_for / 2).await;
    let left = expect_in_progress(store.claim(&k, lease_for, None).await, lease_for, "claim");
    if p.exact_clock {
        assert!(
            near(left, lease_for / 2, p.margin),
            "retry_after halfway through a {lease_for:?} lease is {left:?}, expected the time left"
        );
    }
    expect_ok(store.release(&lease).await, "release");
}

/// **The lease tier shares the key space**: an in-progress claim is a live record: `has_key`
/// sees it, `add` on it is `Ok(false)` (and changes nothing), and the holder still completes.
pub async fn in_progress_claim_is_a_present_record<F: Fixture>(fx: &F) {
    let keys = Keys::new("in_progress_claim_is_a_present_record");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
    expect_bool(store.has_key(&k).await, true, "has_key during a claim");
    expect_bool(store.add(&k).await, false, "add during a claim");
    expect_bool(
        store.add_with_ttl(&k, LONG).await,
        false,
        "add_with_ttl during a claim",
    );
    expect_bools(
        &store.add_many(&[k]).await,
        &[false],
        "add_many during a claim",
    );
    expect_in_progress(
        store.claim(&k, LONG, None).await,
        LONG,
        "claim after the adds",
    );
    expect_ok(
        store.complete(&lease, LONG, Some(b"ok".as_slice())).await,
        "complete",
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        Some(b"ok"),
        "claim after complete",
    );
}

/// **`complete`** turns the claim into a completed record holding the result bytes exactly
/// (binary, empty, a few KiB): later claims answer `Completed { result }` for replay, `has_key`
/// is true and `add` is `Ok(false)`.
pub async fn complete_stores_the_result_for_replay<F: Fixture>(fx: &F) {
    let keys = Keys::new("complete_stores_the_result_for_replay");
    let store = fx.store(LONG).await;
    let big: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    let results: [(&str, &[u8]); 3] = [
        ("binary", b"\x00\x9f\xff{\"a\":1}\r\n\x00"),
        ("empty", b""),
        ("4 KiB", &big),
    ];

    for (name, result) in results {
        let k = keys.key(name);
        let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
        expect_ok(
            store.complete(&lease, LONG, Some(result)).await,
            "complete with a result",
        );
        let what = format!("claim after complete with the {name} result");
        expect_completed(store.claim(&k, LONG, None).await, Some(result), &what);
        expect_bool(
            store.has_key(&k).await,
            true,
            "has_key of a completed record",
        );
        expect_bool(store.add(&k).await, false, "add of a completed record");
        expect_completed(
            store.claim(&k, LONG, None).await,
            Some(result),
            "claim after add",
        );
    }
}

/// **`complete`** without a result: later claims answer `Completed { result: None }`.
pub async fn complete_without_result_replays_none<F: Fixture>(fx: &F) {
    let keys = Keys::new("complete_without_result_replays_none");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
    expect_ok(
        store.complete(&lease, LONG, None).await,
        "complete without a result",
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        None,
        "claim after complete(None)",
    );
    expect_bool(
        store.has_key(&k).await,
        true,
        "has_key of a completed record",
    );
}

/// **`add`**: a record written by `add` reads as completed without a result to `claim`, with
/// or without a fingerprint (it has none, so it never mismatches).
pub async fn record_written_by_add_reads_as_completed<F: Fixture>(fx: &F) {
    let keys = Keys::new("record_written_by_add_reads_as_completed");
    let store = fx.store(LONG).await;
    let (k, fingerprint) = (keys.key("k"), keys.key("fingerprint"));

    expect_bool(store.add(&k).await, true, "add");
    expect_completed(
        store.claim(&k, LONG, None).await,
        None,
        "claim of an added record",
    );
    expect_completed(
        store.claim(&k, LONG, Some(&fingerprint)).await,
        None,
        "claim with a fingerprint of an added record",
    );
    expect_bool(store.has_key(&k).await, true, "has_key after the claims");
}

/// **`release`** deletes the claim: the next claim acquires the key with a new token, a stale
/// release changes nothing, and `add` after a release is `Ok(true)`.
pub async fn release_gives_the_key_back<F: Fixture>(fx: &F) {
    let keys = Keys::new("release_gives_the_key_back");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    let first = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
    expect_ok(store.release(&first).await, "release by the holder");
    expect_bool(store.has_key(&k).await, false, "has_key after release");
    let second = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim after release");
    assert_ne!(
        first.token(),
        second.token(),
        "a new grant must have a new fencing token"
    );
    expect_lease_lost(
        store.release(&first).await,
        &first,
        "release of the released lease",
    );
    expect_in_progress(
        store.claim(&k, LONG, None).await,
        LONG,
        "claim after a stale release",
    );
    expect_ok(store.release(&second).await, "release by the new holder");
    expect_bool(store.add(&k).await, true, "add after release");
}

/// **The lease tier**: a crashed holder's claim expires at its *lease* deadline, not the record
/// TTL; the late holder then cannot complete, and the new holder is unaffected. (case-14)
pub async fn crashed_holder_expires_at_lease_deadline<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("crashed_holder_expires_at_lease_deadline");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let lease_for = 2 * p.ttl; // case-14: 200 ms on a mock clock; the record TTL is 60 s

    let crashed = expect_acquired(
        store.claim(&k, lease_for, None).await,
        &k,
        "case-14: t=0 claim",
    );
    fx.advance(lease_for / 2).await;
    expect_in_progress(
        store.claim(&k, lease_for, None).await,
        lease_for / 2 + p.margin,
        "case-14: claim halfway through the crashed holder's lease",
    );
    fx.advance(lease_for / 2 + p.margin).await;
    let taker = expect_acquired(
        store.claim(&k, lease_for, None).await,
        &k,
        "case-14: claim after the crashed holder's lease deadline (takeover)",
    );
    assert_ne!(
        crashed.token(),
        taker.token(),
        "case-14: the takeover needs a new fencing token"
    );
    expect_lease_lost(
        store
            .complete(&crashed, LONG, Some(b"late".as_slice()))
            .await,
        &crashed,
        "case-14: complete by the crashed holder after a takeover",
    );
    expect_in_progress(
        store.claim(&k, lease_for, None).await,
        lease_for,
        "case-14: claim after the late complete: the new holder still holds the key",
    );
    expect_ok(
        store.complete(&taker, LONG, Some(b"done".as_slice())).await,
        "complete(taker)",
    );
    expect_completed(
        store.claim(&k, lease_for, None).await,
        Some(b"done"),
        "case-14: claim",
    );
}

/// **The lease tier**: only the current holder's token can complete, release or extend; after a
/// takeover every call with the old lease is `LeaseLost` and changes nothing.
pub async fn stale_holder_is_refused<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("stale_holder_is_refused");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    let stale = expect_acquired(store.claim(&k, p.ttl, None).await, &k, "claim");
    fx.advance(p.ttl + p.margin).await;
    let holder = expect_acquired(
        store.claim(&k, p.ttl, None).await,
        &k,
        "claim after the lease",
    );
    assert_ne!(
        stale.token(),
        holder.token(),
        "a takeover needs a new fencing token"
    );

    expect_lease_lost(
        store.release(&stale).await,
        &stale,
        "release by a stale holder",
    );
    expect_lease_lost(
        store.extend(&stale, LONG).await,
        &stale,
        "extend by a stale holder",
    );
    expect_lease_lost(
        store
            .complete(&stale, LONG, Some(b"stale".as_slice()))
            .await,
        &stale,
        "complete by a stale holder",
    );
    expect_in_progress(
        store.claim(&k, p.ttl, None).await,
        p.ttl,
        "claim after the stale calls: the holder's lease is neither released nor extended",
    );
    expect_ok(store.extend(&holder, p.ttl).await, "extend by the holder");
    expect_ok(
        store
            .complete(&holder, LONG, Some(b"fresh".as_slice()))
            .await,
        "complete(holder)",
    );
    expect_completed(
        store.claim(&k, p.ttl, None).await,
        Some(b"fresh"),
        "claim after complete",
    );
}

/// **The lease tier**: a lease whose deadline passed is lost even if nobody took over:
/// `complete`, `extend` and `release` answer `LeaseLost` and write nothing; the key is free.
pub async fn lease_past_its_deadline_is_lost<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("lease_past_its_deadline_is_lost");
    let store = fx.store(LONG).await;
    // One key per operation, so each is the first to touch its expired claim.
    let ks = [
        keys.key("complete"),
        keys.key("extend"),
        keys.key("release"),
    ];
    let mut leases = Vec::new();
    for k in &ks {
        leases.push(expect_acquired(
            store.claim(k, p.ttl, None).await,
            k,
            "claim",
        ));
    }
    fx.advance(p.ttl + p.margin).await;

    expect_lease_lost(
        store.complete(&leases[0], LONG, None).await,
        &leases[0],
        "complete after the lease deadline",
    );
    expect_lease_lost(
        store.extend(&leases[1], LONG).await,
        &leases[1],
        "extend after the deadline",
    );
    expect_lease_lost(
        store.release(&leases[2]).await,
        &leases[2],
        "release after the deadline",
    );
    for (k, lease) in ks.iter().zip(&leases) {
        expect_bool(
            store.has_key(k).await,
            false,
            "has_key after the lease deadline",
        );
        let next = expect_acquired(
            store.claim(k, p.ttl, None).await,
            k,
            "claim after the deadline",
        );
        assert_ne!(
            lease.token(),
            next.token(),
            "a new grant must have a new fencing token"
        );
    }
}

/// **`extend`** moves the lease deadline to `lease` from now: the claim outlives its original
/// deadline, the holder completes, and an extended lease still expires at its new deadline.
pub async fn extend_moves_the_lease_deadline<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("extend_moves_the_lease_deadline");
    let store = fx.store(LONG).await;
    let (done, dropped) = (keys.key("done"), keys.key("dropped"));
    let lease_for = 2 * p.ttl;
    let step = lease_for * 3 / 4;

    let first = expect_acquired(store.claim(&done, lease_for, None).await, &done, "claim");
    let second = expect_acquired(
        store.claim(&dropped, lease_for, None).await,
        &dropped,
        "claim",
    );
    fx.advance(step).await;
    expect_ok(
        store.extend(&first, lease_for).await,
        "extend at 3/4 of the lease",
    );
    expect_ok(
        store.extend(&second, lease_for).await,
        "extend at 3/4 of the lease",
    );
    fx.advance(step).await;
    for k in [done, dropped] {
        expect_in_progress(
            store.claim(&k, lease_for, None).await,
            lease_for,
            "claim past the original deadline of an extended lease",
        );
    }
    expect_ok(
        store.complete(&first, LONG, None).await,
        "complete of an extended lease",
    );
    expect_completed(
        store.claim(&done, lease_for, None).await,
        None,
        "claim after complete",
    );

    fx.advance(lease_for - step + p.margin).await;
    expect_bool(
        store.has_key(&dropped).await,
        false,
        "has_key after the extended deadline",
    );
    expect_lease_lost(
        store.extend(&second, lease_for).await,
        &second,
        "extend after it",
    );
    expect_acquired(
        store.claim(&dropped, lease_for, None).await,
        &dropped,
        "claim after it",
    );
}

/// **`complete`**: the completed record lives for `complete`'s `ttl` counted from the
/// completion, not for the lease nor from the claim.
pub async fn completed_record_lives_for_its_ttl<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("completed_record_lives_for_its_ttl");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let lease_for = 2 * p.ttl;
    let ttl = 2 * lease_for;

    let lease = expect_acquired(store.claim(&k, lease_for, None).await, &k, "claim");
    fx.advance(lease_for / 2).await;
    expect_ok(
        store.complete(&lease, ttl, Some(b"r".as_slice())).await,
        "complete halfway",
    );
    // Past the lease deadline and past `ttl` from the claim, a quarter lease before the deadline.
    fx.advance(ttl - lease_for / 4).await;
    expect_completed(
        store.claim(&k, lease_for, None).await,
        Some(b"r"),
        "claim past the lease and past ttl-from-claim: the record lives ttl from complete",
    );
    expect_bool(
        store.has_key(&k).await,
        true,
        "has_key before the completed record's deadline",
    );
    fx.advance(lease_for / 4 + p.margin).await;
    expect_bool(
        store.has_key(&k).await,
        false,
        "has_key after the completed record's TTL",
    );
    expect_acquired(
        store.claim(&k, lease_for, None).await,
        &k,
        "claim after it expired",
    );
}

/// **`complete`** succeeds once: a second `complete` with the same lease is `LeaseLost` and
/// does not overwrite the stored result.
pub async fn complete_twice_is_lease_lost<F: Fixture>(fx: &F) {
    let keys = Keys::new("complete_twice_is_lease_lost");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
    expect_ok(
        store
            .complete(&lease, LONG, Some(b"first".as_slice()))
            .await,
        "complete",
    );
    expect_lease_lost(
        store
            .complete(&lease, LONG, Some(b"second".as_slice()))
            .await,
        &lease,
        "complete again with the same lease",
    );
    expect_lease_lost(
        store.extend(&lease, LONG).await,
        &lease,
        "extend after complete",
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        Some(b"first"),
        "claim after both",
    );
}

/// **`release`** after `complete` is `LeaseLost` and the completed record stays.
pub async fn release_after_complete_is_lease_lost<F: Fixture>(fx: &F) {
    let keys = Keys::new("release_after_complete_is_lease_lost");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
    expect_ok(
        store.complete(&lease, LONG, Some(b"r".as_slice())).await,
        "complete",
    );
    expect_lease_lost(
        store.release(&lease).await,
        &lease,
        "release after complete",
    );
    expect_bool(
        store.has_key(&k).await,
        true,
        "has_key after a refused release",
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        Some(b"r"),
        "claim after the release",
    );
}

/// **`remove`** deletes a record of any kind: a removed claim's holder has lost its lease, and
/// a completed record can be removed for reprocessing.
pub async fn remove_during_claim_loses_the_lease<F: Fixture>(fx: &F) {
    let keys = Keys::new("remove_during_claim_loses_the_lease");
    let store = fx.store(LONG).await;
    let (k, done) = (keys.key("k"), keys.key("done"));

    let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim");
    expect_bool(
        store.remove(&k).await,
        true,
        "remove of an in-progress claim",
    );
    expect_bool(store.has_key(&k).await, false, "has_key after remove");
    expect_lease_lost(
        store.complete(&lease, LONG, None).await,
        &lease,
        "complete after remove",
    );
    expect_lease_lost(
        store.extend(&lease, LONG).await,
        &lease,
        "extend after remove",
    );
    expect_lease_lost(store.release(&lease).await, &lease, "release after remove");
    expect_bool(
        store.has_key(&k).await,
        false,
        "has_key after the refused calls",
    );
    let next = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim after remove");
    assert_ne!(
        lease.token(),
        next.token(),
        "a new grant must have a new fencing token"
    );

    let lease = expect_acquired(store.claim(&done, LONG, None).await, &done, "claim");
    expect_ok(store.complete(&lease, LONG, None).await, "complete");
    expect_bool(
        store.remove(&done).await,
        true,
        "remove of a completed record",
    );
    expect_acquired(
        store.claim(&done, LONG, None).await,
        &done,
        "claim after remove",
    );
}

/// **Fingerprints**: a claim with a different fingerprint than the record's is `Mismatch` and
/// changes nothing, before and after completion; the same fingerprint, or none, is not a
/// mismatch.
pub async fn fingerprint_mismatch_is_reported<F: Fixture>(fx: &F) {
    let keys = Keys::new("fingerprint_mismatch_is_reported");
    let store = fx.store(LONG).await;
    let (k, a, b) = (
        keys.key("k"),
        keys.key("fingerprint a"),
        keys.key("fingerprint b"),
    );

    let lease = expect_acquired(store.claim(&k, LONG, Some(&a)).await, &k, "claim with a");
    expect_mismatch(
        store.claim(&k, LONG, Some(&b)).await,
        "claim with b while a is in progress",
    );
    expect_in_progress(
        store.claim(&k, LONG, Some(&a)).await,
        LONG,
        "claim with a again",
    );
    expect_in_progress(
        store.claim(&k, LONG, None).await,
        LONG,
        "claim without a fingerprint",
    );
    expect_ok(
        store.complete(&lease, LONG, Some(b"r".as_slice())).await,
        "complete after a mismatch (which changed nothing)",
    );
    expect_mismatch(
        store.claim(&k, LONG, Some(&b)).await,
        "claim with b after completion",
    );
    expect_completed(
        store.claim(&k, LONG, Some(&a)).await,
        Some(b"r"),
        "claim with a after it",
    );
    expect_completed(
        store.claim(&k, LONG, None).await,
        Some(b"r"),
        "claim without one after it",
    );
}

/// **Fingerprints**: a record stored without a fingerprint never mismatches.
pub async fn record_without_fingerprint_never_mismatches<F: Fixture>(fx: &F) {
    let keys = Keys::new("record_without_fingerprint_never_mismatches");
    let store = fx.store(LONG).await;
    let (k, a, b) = (
        keys.key("k"),
        keys.key("fingerprint a"),
        keys.key("fingerprint b"),
    );

    let lease = expect_acquired(store.claim(&k, LONG, None).await, &k, "claim without one");
    expect_in_progress(store.claim(&k, LONG, Some(&a)).await, LONG, "claim with a");
    expect_in_progress(store.claim(&k, LONG, Some(&b)).await, LONG, "claim with b");
    expect_ok(store.complete(&lease, LONG, None).await, "complete");
    expect_completed(
        store.claim(&k, LONG, Some(&a)).await,
        None,
        "claim with a after it",
    );
    expect_completed(
        store.claim(&k, LONG, Some(&b)).await,
        None,
        "claim with b after it",
    );
}

/// **The lease tier**: every grant on a key gets a fencing token no earlier grant on it had,
/// after release, remove, expiry and expiry of a completed record alike.
pub async fn fencing_tokens_are_never_reused<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("fencing_tokens_are_never_reused");
    let store = fx.store(LONG).await;
    let k = keys.key("k");
    let mut seen = HashSet::new();
    let mut grant = async |what: &str| {
        let lease = expect_acquired(store.claim(&k, p.ttl, None).await, &k, what);
        assert!(
            seen.insert(lease.token()),
            "{what}: fencing token {} was granted on this key before",
            lease.token()
        );
        lease
    };

    for _ in 0..5 {
        let lease = grant("claim after release").await;
        expect_ok(store.release(&lease).await, "release");
    }
    grant("claim").await;
    expect_bool(store.remove(&k).await, true, "remove of the claim");
    grant("claim after remove").await;
    fx.advance(p.ttl + p.margin).await;
    let lease = grant("claim after the lease expired").await;
    expect_ok(store.complete(&lease, p.ttl, None).await, "complete");
    fx.advance(p.ttl + p.margin).await;
    grant("claim after the completed record expired").await;
}
