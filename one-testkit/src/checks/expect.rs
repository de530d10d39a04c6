//! Assertions on store answers, with messages that say what was expected and what came back.

use std::fmt::Debug;
use std::time::Duration;

use one_core::{Claim, Error, Key, Lease};

/// `Ok(want)`.
#[track_caller]
pub(super) fn expect_bool(got: Result<bool, Error>, want: bool, what: &str) {
    match got {
        Ok(b) if b == want => {}
        Ok(b) => panic!("{what}: expected Ok({want}), got Ok({b})"),
        Err(e) => panic!("{what}: expected Ok({want}), got Err({e}) [{e:?}]"),
    }
}

/// `Ok(())`.
#[track_caller]
pub(super) fn expect_ok(got: Result<(), Error>, what: &str) {
    if let Err(e) = got {
        panic!("{what}: expected Ok(()), got Err({e}) [{e:?}]");
    }
}

/// One answer per key, each `Ok(want[i])`.
#[track_caller]
pub(super) fn expect_bools(got: &[Result<bool, Error>], want: &[bool], what: &str) {
    let shown: Vec<String> = got.iter().map(|r| show(r.as_ref())).collect();
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: expected one answer per key ({} keys), got {}: {shown:?}",
        want.len(),
        got.len()
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            matches!(g, Ok(b) if b == w),
            "{what}: answer {i} should be Ok({w}); all answers: {shown:?} (expected {want:?})"
        );
    }
}

/// `Err(Error::InvalidTtl)`.
#[track_caller]
pub(super) fn expect_invalid_ttl<T: Debug>(got: Result<T, Error>, what: &str) {
    match got {
        Err(Error::InvalidTtl { .. }) => {}
        other => panic!("{what}: expected Err(InvalidTtl), got {other:?}"),
    }
}

/// `Err(Error::InvalidLease)`.
#[track_caller]
pub(super) fn expect_invalid_lease<T: Debug>(got: Result<T, Error>, what: &str) {
    match got {
        Err(Error::InvalidLease { .. }) => {}
        other => panic!("{what}: expected Err(InvalidLease), got {other:?}"),
    }
}

/// `Err(Error::LeaseLost)` naming the lease's key.
#[track_caller]
pub(super) fn expect_lease_lost(got: Result<(), Error>, lease: &Lease, what: &str) {
    match got {
        Err(Error::LeaseLost { key }) => assert_eq!(
            &key,
            lease.key(),
            "{what}: LeaseLost names key {key}, but the lease is on {}",
            lease.key()
        ),
        other => panic!(
            "{what}: expected Err(LeaseLost) for the lease with token {}, got {other:?}",
            lease.token()
        ),
    }
}

/// `Ok(Claim::Acquired(lease))` on `key`; returns the lease.
#[track_caller]
pub(super) fn expect_acquired(got: Result<Claim, Error>, key: &Key, what: &str) -> Lease {
    match got {
        Ok(Claim::Acquired(lease)) => {
            assert_eq!(lease.key(), key, "{what}: the lease is on another key");
            lease
        }
        other => panic!("{what}: expected Ok(Acquired(..)), got {other:?}"),
    }
}

/// `Ok(Claim::InProgress { retry_after })` with `0 < retry_after <= at_most`; returns it.
#[track_caller]
pub(super) fn expect_in_progress(
    got: Result<Claim, Error>,
    at_most: Duration,
    what: &str,
) -> Duration {
    match got {
        Ok(Claim::InProgress { retry_after }) => {
            assert!(
                !retry_after.is_zero() && retry_after <= at_most,
                "{what}: InProgress {{ retry_after: {retry_after:?} }} should be in (0, {at_most:?}] \
                 (the time left on the holder's lease)"
            );
            retry_after
        }
        other => panic!("{what}: expected Ok(InProgress {{ .. }}), got {other:?}"),
    }
}

/// `Ok(Claim::Completed { result })` with `result == want`.
#[track_caller]
pub(super) fn expect_completed(got: Result<Claim, Error>, want: Option<&[u8]>, what: &str) {
    match got {
        Ok(Claim::Completed { result }) => assert_eq!(
            result.as_deref(),
            want,
            "{what}: Completed with the wrong stored result"
        ),
        other => panic!("{what}: expected Ok(Completed {{ result: {want:?} }}), got {other:?}"),
    }
}

/// `Ok(Claim::Mismatch)`.
#[track_caller]
pub(super) fn expect_mismatch(got: Result<Claim, Error>, what: &str) {
    match got {
        Ok(Claim::Mismatch) => {}
        other => panic!("{what}: expected Ok(Mismatch), got {other:?}"),
    }
}

/// A short form of an answer for messages.
pub(super) fn show<T: Debug>(r: Result<&T, &Error>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({e})"),
    }
}

/// `|a - b| <= tolerance`.
pub(super) fn near(a: Duration, b: Duration, tolerance: Duration) -> bool {
    a.abs_diff(b) <= tolerance
}
