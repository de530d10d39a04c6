//! `add`, `has_key`, `remove`, durations and expiry.

use std::time::Duration;

use one_core::Store;
use one_core::store::MAX_TTL;

use super::expect::*;
use super::{Keys, LONG, MS, needs_exact_clock, profile};
use crate::Fixture;

/// **`add`**: `Ok(true)` if and only if the call created the record, `Ok(false)` for a live
/// record; `has_key` sees it. (case-16 a: a duplicate is `Ok(false)`, not an error.)
pub async fn add_then_duplicate<F: Fixture>(fx: &F) {
    let keys = Keys::new("add_then_duplicate");
    let store = fx.store(LONG).await;
    let (k, other) = (keys.key("k"), keys.key("other"));

    expect_bool(store.has_key(&k).await, false, "has_key before any add");
    expect_bool(store.add(&k).await, true, "add of a fresh key");
    expect_bool(
        store.add(&k).await,
        false,
        "add of the same key again (a duplicate)",
    );
    expect_bool(
        store.add_with_ttl(&k, LONG).await,
        false,
        "add_with_ttl of a live key",
    );
    expect_bool(store.has_key(&k).await, true, "has_key after add");
    expect_bool(store.has_key(&other).await, false, "has_key of another key");
    expect_bool(store.add(&other).await, true, "add of another key");
}

/// **`add`** gives new records the store's default TTL: live before it, gone after it.
pub async fn add_uses_default_ttl<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("add_uses_default_ttl");
    let store = fx.store(p.ttl).await;
    let k = keys.key("k");
    assert_eq!(
        store.default_ttl(),
        p.ttl,
        "default_ttl() of a store made with that default"
    );

    expect_bool(store.add(&k).await, true, "add");
    fx.advance(p.ttl / 2).await;
    expect_bool(
        store.has_key(&k).await,
        true,
        "has_key at half the default TTL",
    );
    fx.advance(p.ttl / 2 + p.margin).await;
    expect_bool(
        store.has_key(&k).await,
        false,
        "has_key once the default TTL has passed",
    );
    expect_bool(store.add(&k).await, true, "add after expiry (a new window)");
}

/// **`add_with_ttl`** gives the record its own TTL, shorter or longer than the default.
pub async fn add_with_ttl_sets_the_record_ttl<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("add_with_ttl_sets_the_record_ttl");
    let store = fx.store(2 * p.ttl).await;
    let (short, long) = (keys.key("short"), keys.key("long"));

    expect_bool(
        store.add_with_ttl(&short, p.ttl).await,
        true,
        "add_with_ttl(short, ttl)",
    );
    expect_bool(
        store.add_with_ttl(&long, 4 * p.ttl).await,
        true,
        "add_with_ttl(long, 4 ttl)",
    );
    fx.advance(p.ttl / 2).await;
    expect_bool(store.has_key(&short).await, true, "has_key(short) at ttl/2");
    fx.advance(p.ttl / 2 + p.margin).await;
    expect_bool(
        store.has_key(&short).await,
        false,
        "has_key(short) after its TTL (shorter than the store default)",
    );
    expect_bool(
        store.has_key(&long).await,
        true,
        "has_key(long) after ttl, its TTL is 4 ttl",
    );
    fx.advance(p.ttl).await;
    expect_bool(
        store.has_key(&long).await,
        true,
        "has_key(long) after the store's default TTL: the per-call TTL is longer",
    );
}

/// **Durations**: a zero TTL is refused with `InvalidTtl` by `add_with_ttl`,
/// `add_many_with_ttl` (every key) and `complete`, and nothing is written; zero is never
/// "forever". (case-11 a)
pub async fn zero_ttl_is_rejected<F: Fixture>(fx: &F) {
    let keys = Keys::new("zero_ttl_is_rejected");
    let store = fx.store(LONG).await;
    let (a, b, c, d) = (keys.key("a"), keys.key("b"), keys.key("c"), keys.key("d"));
    let zero = Duration::ZERO;

    expect_invalid_ttl(
        store.add_with_ttl(&a, zero).await,
        "case-11 a: add_with_ttl(k, 0)",
    );
    let answers = store.add_many_with_ttl(&[b, c], zero).await;
    assert_eq!(
        answers.len(),
        2,
        "add_many_with_ttl(2 keys, 0): one answer per key"
    );
    for answer in answers {
        expect_invalid_ttl(answer, "case-11 a: add_many_with_ttl(keys, 0), each key");
    }
    let lease = expect_acquired(store.claim(&d, LONG, None).await, &d, "claim");
    expect_invalid_ttl(
        store.complete(&lease, zero, Some(b"r".as_slice())).await,
        "complete(lease, ttl 0)",
    );

    for (k, name) in [
        (a, "add_with_ttl"),
        (b, "add_many_with_ttl"),
        (c, "add_many_with_ttl"),
    ] {
        expect_bool(
            store.has_key(&k).await,
            false,
            &format!("has_key after a refused {name}"),
        );
    }
    expect_in_progress(
        store.claim(&d, LONG, None).await,
        LONG,
        "claim after a refused complete: the claim is still in progress",
    );
    expect_ok(
        store.complete(&lease, LONG, None).await,
        "complete after a refused complete",
    );
    expect_bool(
        store.add(&a).await,
        true,
        "add of the key whose zero-TTL add was refused",
    );
}

/// **Durations**: a zero lease is refused with `InvalidLease` by `claim` and `extend` and
/// changes nothing; zero is never "no deadline". (case-14)
pub async fn zero_lease_is_rejected<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("zero_lease_is_rejected");
    let store = fx.store(LONG).await;
    let k = keys.key("k");

    expect_invalid_lease(
        store.claim(&k, Duration::ZERO, None).await,
        "case-14: claim(k, 0)",
    );
    expect_bool(
        store.has_key(&k).await,
        false,
        "has_key after a refused claim",
    );
    let lease = expect_acquired(
        store.claim(&k, p.ttl, None).await,
        &k,
        "claim after a refused zero-lease claim",
    );
    expect_invalid_lease(
        store.extend(&lease, Duration::ZERO).await,
        "extend(lease, 0)",
    );
    expect_in_progress(
        store.claim(&k, p.ttl, None).await,
        p.ttl,
        "claim after a refused extend: the lease is unchanged",
    );
    expect_ok(
        store.complete(&lease, LONG, None).await,
        "complete after a refused extend",
    );
    expect_completed(
        store.claim(&k, p.ttl, None).await,
        None,
        "claim after complete",
    );
}

/// **Durations**: a TTL or lease over `MAX_TTL` is refused (`InvalidTtl`, `InvalidLease`) by
/// every operation that takes one, nothing is written, and `MAX_TTL` itself is accepted.
pub async fn durations_over_max_are_rejected<F: Fixture>(fx: &F) {
    let keys = Keys::new("durations_over_max_are_rejected");
    let store = fx.store(LONG).await;
    let (a, b, c, d) = (keys.key("a"), keys.key("b"), keys.key("c"), keys.key("d"));

    for over in [MAX_TTL + MS, Duration::MAX] {
        expect_invalid_ttl(
            store.add_with_ttl(&a, over).await,
            "add_with_ttl(k, > MAX_TTL)",
        );
        for answer in store.add_many_with_ttl(&[b], over).await {
            expect_invalid_ttl(answer, "add_many_with_ttl(keys, > MAX_TTL)");
        }
        expect_invalid_lease(store.claim(&c, over, None).await, "claim(k, > MAX_TTL)");
    }
    let lease = expect_acquired(store.claim(&d, LONG, None).await, &d, "claim");
    for over in [MAX_TTL + MS, Duration::MAX] {
        expect_invalid_ttl(
            store.complete(&lease, over, None).await,
            "complete(lease, > MAX_TTL)",
        );
        expect_invalid_lease(store.extend(&lease, over).await, "extend(lease, > MAX_TTL)");
    }
    for k in [a, b, c] {
        expect_bool(
            store.has_key(&k).await,
            false,
            "has_key after a refused over-long write",
        );
    }
    expect_in_progress(
        store.claim(&d, LONG, None).await,
        LONG,
        "claim after a refused over-long extend: the lease is unchanged",
    );
    expect_ok(
        store.complete(&lease, LONG, None).await,
        "complete after refused ones",
    );

    // MAX_TTL itself is fine; clean up so no century-long record stays on a shared server.
    expect_bool(
        store.add_with_ttl(&a, MAX_TTL).await,
        true,
        "add_with_ttl(k, MAX_TTL)",
    );
    expect_bool(store.has_key(&a).await, true, "has_key of a MAX_TTL record");
    expect_bool(store.remove(&a).await, true, "remove of a MAX_TTL record");
    let lease = expect_acquired(
        store.claim(&c, MAX_TTL, None).await,
        &c,
        "claim(k, MAX_TTL)",
    );
    expect_ok(store.release(&lease).await, "release of a MAX_TTL lease");
}

/// **Durations**: sub-millisecond TTLs and leases round *up* to 1 ms: accepted, live at once (on
/// an exact clock), and expired soon after, never kept "forever". (case-11 b)
pub async fn sub_millisecond_durations_round_up<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("sub_millisecond_durations_round_up");
    let store = fx.store(LONG).await;
    let tiny = Duration::from_micros(500);
    let (added, claimed, completed) = (keys.key("added"), keys.key("claimed"), keys.key("done"));

    let long_lease = expect_acquired(
        store.claim(&completed, LONG, None).await,
        &completed,
        "claim",
    );
    expect_bool(
        store.add_with_ttl(&added, tiny).await,
        true,
        "case-11 b: add_with_ttl(k, 500µs)",
    );
    let lease = expect_acquired(
        store.claim(&claimed, tiny, None).await,
        &claimed,
        "claim(k, 500µs)",
    );
    assert!(
        lease.duration() >= tiny && lease.duration() <= MS,
        "claim(k, 500µs): the lease granted is {:?}, expected 500µs rounded up to 1 ms",
        lease.duration()
    );
    expect_ok(
        store.complete(&long_lease, tiny, None).await,
        "complete(lease, 500µs)",
    );
    if p.exact_clock {
        expect_bool(
            store.has_key(&added).await,
            true,
            "has_key right after a 500µs add",
        );
        expect_in_progress(
            store.claim(&claimed, LONG, None).await,
            MS,
            "claim during a 1 ms lease",
        );
        expect_bool(
            store.has_key(&completed).await,
            true,
            "has_key right after a 500µs complete",
        );
    }
    fx.advance(MS + p.margin).await;
    expect_bool(
        store.has_key(&added).await,
        false,
        "case-11 b: has_key after the 500µs TTL",
    );
    expect_bool(
        store.has_key(&claimed).await,
        false,
        "has_key after the 500µs lease",
    );
    expect_bool(
        store.has_key(&completed).await,
        false,
        "has_key after a 500µs complete",
    );
    expect_bool(store.add(&added).await, true, "add after the 500µs TTL");
    expect_acquired(
        store.claim(&claimed, LONG, None).await,
        &claimed,
        "claim after the lease",
    );
}

/// **Durations**: TTLs and leases are kept to the millisecond, never truncated to whole seconds
/// (1900 ms stays 1900 ms). (case-11 c)
pub async fn ttl_is_not_truncated_to_seconds<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("ttl_is_not_truncated_to_seconds");
    let store = fx.store(LONG).await;
    let (added, claimed) = (keys.key("added"), keys.key("claimed"));
    let ttl = Duration::from_millis(1900);

    expect_bool(
        store.add_with_ttl(&added, ttl).await,
        true,
        "add_with_ttl(k, 1900ms)",
    );
    expect_acquired(
        store.claim(&claimed, ttl, None).await,
        &claimed,
        "claim(k, 1900ms)",
    );
    fx.advance(Duration::from_millis(1500)).await;
    expect_bool(
        store.has_key(&added).await,
        true,
        "case-11 c: has_key 1500 ms after add_with_ttl(1900ms): not truncated to 1 s",
    );
    expect_in_progress(
        store.claim(&claimed, ttl, None).await,
        Duration::from_millis(400) + p.margin,
        "claim 1500 ms into a 1900 ms lease: not truncated to 1 s",
    );
    fx.advance(Duration::from_millis(400) + p.margin).await;
    expect_bool(
        store.has_key(&added).await,
        false,
        "has_key after 1900 ms + margin",
    );
    expect_bool(
        store.has_key(&claimed).await,
        false,
        "has_key after the 1900 ms lease",
    );
}

/// **`add`**: a duplicate never changes the record or its deadline; the window closes on the
/// first add's deadline. (case-11 e, case-09)
pub async fn duplicate_add_does_not_refresh_ttl<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("duplicate_add_does_not_refresh_ttl");
    let store = fx.store(p.ttl).await;
    let k = keys.key("k");

    expect_bool(store.add(&k).await, true, "add at t=0");
    fx.advance(p.ttl / 2).await;
    expect_bool(store.add(&k).await, false, "add at ttl/2 (a duplicate)");
    expect_bool(
        store.add_with_ttl(&k, LONG).await,
        false,
        "add_with_ttl(LONG) at ttl/2",
    );
    expect_bools(&store.add_many(&[k]).await, &[false], "add_many at ttl/2");
    fx.advance(p.ttl / 2 + p.margin).await;
    expect_bool(
        store.has_key(&k).await,
        false,
        "case-11 e: has_key after the first add's TTL: a duplicate add must not refresh it",
    );
    expect_bool(store.add(&k).await, true, "add after expiry");
}

/// **`has_key`**: reads never extend a record's life: TTL is time-to-live, not time-to-idle.
/// (case-09)
pub async fn reads_do_not_extend_life<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("reads_do_not_extend_life");
    let store = fx.store(p.ttl).await;
    let k = keys.key("k");

    expect_bool(store.add(&k).await, true, "add at t=0");
    fx.advance(p.ttl / 4).await;
    expect_bool(store.has_key(&k).await, true, "has_key at ttl/4");
    fx.advance(p.ttl / 4).await;
    expect_bool(store.has_key(&k).await, true, "has_key at ttl/2");
    expect_completed(
        store.claim(&k, LONG, None).await,
        None,
        "claim (a read) at ttl/2",
    );
    fx.advance(p.ttl / 2 + p.margin).await;
    expect_bool(
        store.has_key(&k).await,
        false,
        "case-09: has_key after the TTL from add: reads must not push expiry out",
    );
}

/// **Records**: at the deadline itself a record is expired, for an added record, a claim's
/// lease and a completed record alike. Exact clock only.
pub async fn record_is_expired_at_its_deadline<F: Fixture>(fx: &F) {
    let p = profile(fx);
    if !needs_exact_clock(&p, "record_is_expired_at_its_deadline") {
        return;
    }
    let keys = Keys::new("record_is_expired_at_its_deadline");
    let store = fx.store(p.ttl).await;
    let (added, claimed, completed) = (keys.key("added"), keys.key("claimed"), keys.key("done"));

    expect_bool(store.add(&added).await, true, "add");
    expect_acquired(store.claim(&claimed, p.ttl, None).await, &claimed, "claim");
    let lease = expect_acquired(
        store.claim(&completed, LONG, None).await,
        &completed,
        "claim",
    );
    expect_ok(store.complete(&lease, p.ttl, None).await, "complete");

    fx.advance(p.ttl - MS).await;
    expect_bool(
        store.has_key(&added).await,
        true,
        "has_key 1 ms before the deadline",
    );
    let left = expect_in_progress(
        store.claim(&claimed, p.ttl, None).await,
        MS + p.margin,
        "claim 1 ms before the lease deadline",
    );
    assert!(
        near(left, MS, p.margin),
        "retry_after 1 ms before the deadline is {left:?}"
    );
    expect_completed(
        store.claim(&completed, p.ttl, None).await,
        None,
        "claim 1 ms before",
    );

    fx.advance(MS).await;
    expect_bool(
        store.has_key(&added).await,
        false,
        "has_key AT the deadline: expired",
    );
    expect_bool(
        store.has_key(&claimed).await,
        false,
        "has_key AT the lease deadline: expired",
    );
    expect_bool(
        store.has_key(&completed).await,
        false,
        "has_key AT the completed deadline",
    );
    expect_bool(
        store.add(&added).await,
        true,
        "add AT the deadline: a new window",
    );
    expect_acquired(
        store.claim(&claimed, p.ttl, None).await,
        &claimed,
        "claim AT the deadline",
    );
    expect_acquired(
        store.claim(&completed, p.ttl, None).await,
        &completed,
        "claim AT the deadline",
    );
}

/// **Records** and **`has_key`**: case-09's exact timeline with a 100 ms TTL: reads do not
/// extend life, expiry at the deadline, a new window after it. Exact clock only.
pub async fn expiry_timeline_case_09<F: Fixture>(fx: &F) {
    let p = profile(fx);
    if !needs_exact_clock(&p, "expiry_timeline_case_09") {
        return;
    }
    let keys = Keys::new("expiry_timeline_case_09");
    let store = fx.store(Duration::from_millis(100)).await;
    let k = keys.key("k");
    let mut clock = Timeline::default();

    expect_bool(store.add(&k).await, true, "case-09: t=0 add");
    clock.at(fx, 50).await;
    expect_bool(store.has_key(&k).await, true, "case-09: t=50 has_key");
    clock.at(fx, 90).await;
    expect_bool(store.has_key(&k).await, true, "case-09: t=90 has_key");
    clock.at(fx, 99).await;
    expect_bool(store.add(&k).await, false, "case-09: t=99 add");
    clock.at(fx, 100).await;
    expect_bool(
        store.has_key(&k).await,
        false,
        "case-09: t=100 has_key (expired at deadline)",
    );
    clock.at(fx, 101).await;
    expect_bool(store.has_key(&k).await, false, "case-09: t=101 has_key");
    expect_bool(
        store.add(&k).await,
        true,
        "case-09: t=101 add (a new window)",
    );
    clock.at(fx, 150).await;
    expect_bool(store.add(&k).await, false, "case-09: t=150 add");
    clock.at(fx, 200).await;
    expect_bool(
        store.has_key(&k).await,
        true,
        "case-09: t=200 has_key (window ends at 201)",
    );
    clock.at(fx, 201).await;
    expect_bool(store.has_key(&k).await, false, "case-09: t=201 has_key");
    clock.at(fx, 202).await;
    expect_bool(store.has_key(&k).await, false, "case-09: t=202 has_key");
}

/// Milliseconds since the start of a timeline, moved forward with [`Fixture::advance`].
#[derive(Default)]
struct Timeline {
    now: u64,
}

impl Timeline {
    async fn at<F: Fixture>(&mut self, fx: &F, t: u64) {
        fx.advance(Duration::from_millis(t - self.now)).await;
        self.now = t;
    }
}

/// **`remove`** deletes a live record and answers `true`; `add` is new again after it.
pub async fn remove_forgets_a_live_record<F: Fixture>(fx: &F) {
    let keys = Keys::new("remove_forgets_a_live_record");
    let store = fx.store(LONG).await;
    let (k, other) = (keys.key("k"), keys.key("other"));

    expect_bool(store.add(&k).await, true, "add");
    expect_bool(store.add(&other).await, true, "add of another key");
    expect_bool(store.remove(&k).await, true, "remove of a live record");
    expect_bool(store.has_key(&k).await, false, "has_key after remove");
    expect_bool(
        store.has_key(&other).await,
        true,
        "has_key of another key after remove",
    );
    expect_bool(store.add(&k).await, true, "add after remove");
    expect_bool(
        store.remove(&k).await,
        true,
        "remove of the re-added record",
    );
}

/// **`remove`** answers `false` for a key that was never written, already removed, or expired.
pub async fn remove_of_absent_or_expired_is_false<F: Fixture>(fx: &F) {
    let p = profile(fx);
    let keys = Keys::new("remove_of_absent_or_expired_is_false");
    let store = fx.store(p.ttl).await;
    let (never, twice, expired) = (keys.key("never"), keys.key("twice"), keys.key("expired"));

    expect_bool(
        store.remove(&never).await,
        false,
        "remove of a key never written",
    );
    expect_bool(store.add(&twice).await, true, "add");
    expect_bool(store.remove(&twice).await, true, "remove");
    expect_bool(
        store.remove(&twice).await,
        false,
        "remove of a removed record",
    );
    expect_bool(store.add(&expired).await, true, "add");
    fx.advance(p.ttl + p.margin).await;
    expect_bool(
        store.remove(&expired).await,
        false,
        "remove of an expired record",
    );
    expect_bool(
        store.add(&expired).await,
        true,
        "add after remove of an expired record",
    );
}

/// **Records**: the same value in two key spaces gives two keys and two independent records.
pub async fn key_spaces_are_independent<F: Fixture>(fx: &F) {
    let store = fx.store(LONG).await;
    let (space_a, space_b) = (Keys::new("key_spaces_a"), Keys::new("key_spaces_b"));
    let (a, b) = (space_a.key("order-17"), space_b.key("order-17"));
    assert_ne!(a, b, "one value in two key spaces must give two keys");

    expect_bool(store.add(&a).await, true, "add in space a");
    expect_bool(
        store.add(&b).await,
        true,
        "add of the same value in space b: not a duplicate",
    );
    expect_bool(store.remove(&a).await, true, "remove in space a");
    expect_bool(
        store.has_key(&b).await,
        true,
        "has_key in space b after remove in space a",
    );
    expect_completed(store.claim(&b, LONG, None).await, None, "claim in space b");
    expect_acquired(store.claim(&a, LONG, None).await, &a, "claim in space a");
}
