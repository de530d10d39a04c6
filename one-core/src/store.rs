//! The [`Store`] trait, its contract, and the lease types.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Error, Key};

/// The longest TTL or lease a store accepts: 100 years. Longer ones are refused rather than
/// silently clamped, and no record is ever written without an expiry.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60 + 25 * 24 * 60 * 60);

/// Checks a record TTL and rounds it up to whole milliseconds, the unit every backend expires in.
///
/// Backends call this before writing anything, so every store refuses the same TTLs the same way.
///
/// ```
/// use std::time::Duration;
/// use one_core::store::ttl_millis;
///
/// assert_eq!(ttl_millis(Duration::from_micros(500))?, 1); // rounds up, never to 0
/// assert_eq!(ttl_millis(Duration::from_millis(1900))?, 1900); // never truncated to seconds
/// assert!(ttl_millis(Duration::ZERO).is_err()); // zero is not "forever"
/// # Ok::<(), one_core::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidTtl`] for zero and for anything over [`MAX_TTL`].
pub fn ttl_millis(ttl: Duration) -> Result<u64, Error> {
    duration_millis(ttl).map_err(|reason| Error::InvalidTtl { ttl, reason })
}

/// Checks a lease duration and rounds it up to whole milliseconds, like [`ttl_millis`].
///
/// # Errors
///
/// [`Error::InvalidLease`] for zero and for anything over [`MAX_TTL`]. A zero lease is never read
/// as "no deadline".
pub fn lease_millis(lease: Duration) -> Result<u64, Error> {
    duration_millis(lease).map_err(|reason| Error::InvalidLease { lease, reason })
}

fn duration_millis(d: Duration) -> Result<u64, &'static str> {
    if d.is_zero() {
        return Err("must be greater than zero (zero is not \"forever\")");
    }
    if d > MAX_TTL {
        return Err("must be at most 100 years");
    }
    let whole = d.as_millis();
    let millis = if d.subsec_nanos().is_multiple_of(1_000_000) {
        whole
    } else {
        whole + 1
    };
    // At most 100 years of milliseconds: far below u64::MAX.
    Ok(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// The token that identifies one grant of a lease.
///
/// Every successful [`Store::claim`] gets a token no earlier grant on the same key had. Only the
/// current holder's token can complete, release or extend a claim. Pass it to downstream systems
/// as a fencing token when they can reject writes from a stale holder. The contract promises
/// uniqueness only; a backend documents whether its tokens also increase (`one-memory`'s do).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct FencingToken(u64);

impl FencingToken {
    /// A token with the given value (for backends).
    pub const fn new(value: u64) -> Self {
        FencingToken(value)
    }

    /// The token's value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Proof of holding a claim on a key: the key, the fencing token, and the lease duration granted.
///
/// A lease is what [`Store::complete`], [`Store::release`] and [`Store::extend`] take; dropping it
/// does nothing, and the claim then expires at its deadline, so a crashed worker never blocks a
/// key for longer than its lease.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Lease {
    key: Key,
    token: FencingToken,
    duration: Duration,
}

impl Lease {
    /// A lease on `key` (for backends).
    pub const fn new(key: Key, token: FencingToken, duration: Duration) -> Self {
        Lease {
            key,
            token,
            duration,
        }
    }

    /// The claimed key.
    pub const fn key(&self) -> &Key {
        &self.key
    }

    /// The fencing token of this grant.
    pub const fn token(&self) -> FencingToken {
        self.token
    }

    /// The lease duration granted, counted from the moment the store took the claim.
    pub const fn duration(&self) -> Duration {
        self.duration
    }
}

/// The answer to [`Store::claim`].
#[must_use = "a claim may have been acquired; complete or release it"]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Claim {
    /// This caller holds the key now: do the work, then [`Store::complete`] or [`Store::release`].
    Acquired(Lease),
    /// Another holder's lease is live. Retry (or nack the message) after `retry_after`, when that
    /// lease ends unless it is extended or completed.
    InProgress {
        /// Time left on the current holder's lease.
        retry_after: Duration,
    },
    /// The work was done already. `result` is what the holder stored with
    /// [`Store::complete`], for replay; `None` when it stored nothing or the record was written
    /// by [`Store::add`].
    Completed {
        /// The stored result bytes, if any.
        result: Option<Vec<u8>>,
    },
    /// A record exists under this key with a different request fingerprint: the same idempotency
    /// key was reused for a different request (HTTP 422 in Stripe's terms). Nothing was changed.
    Mismatch,
}

/// A deduplication store: an atomic, expiring set of [`Key`]s shared by everyone who uses it.
///
/// Use it as `Arc<dyn Store>` or through a generic `S: Store`; `Arc<S>`, `Box<S>` and `&S` are
/// stores too.
///
/// # Contract
///
/// Every backend meets all of this; [`one-testkit`](https://docs.rs/one-testkit) checks each
/// clause, one test per clause.
///
/// **Records.** A store holds at most one record per key. A record is *live* from the moment it
/// is written until its deadline: its TTL (or lease) after the write, measured on a monotonic
/// clock or by the server (never on a client's wall clock). At the deadline itself the record is
/// expired. An expired record is indistinguishable from no record: it is invisible to every
/// operation and its memory is reclaimed. Nothing is written without an expiry.
///
/// **Durations.** A TTL or lease of zero, or over [`MAX_TTL`], is refused with
/// [`Error::InvalidTtl`] or [`Error::InvalidLease`] and nothing is written. Durations with a
/// fraction of a millisecond round up to the next millisecond ([`ttl_millis`]).
///
/// **`add`** is one atomic insert-if-absent: `Ok(true)` if and only if this call created the
/// record, `Ok(false)` if a live record (of any kind) exists. Of any number of concurrent `add`s
/// of one absent (or expired) key, exactly one gets `Ok(true)`. A duplicate `add` never changes
/// the existing record or its deadline. The record reads as completed (without a result) to
/// [`claim`](Store::claim).
///
/// **`has_key`** tells whether a live record exists. Reads never extend a record's life. It is
/// advisory: between `has_key` and acting on its answer another caller may act too, so decide
/// with `add` or `claim`, never with `has_key`.
///
/// **`remove`** deletes the record if it is live, whatever its kind, and tells whether it was.
/// A holder of a removed claim has lost its lease.
///
/// **`add_many`** answers for each key, in order, exactly as `add` would have one after another:
/// a key repeated in the batch is `Ok(true)` once, then `Ok(false)`. The answers are per key, so
/// one key's failure never hides which others were written.
///
/// **`claim_many`** answers for each key, in order, exactly as `claim` (without a fingerprint)
/// would have one after another: a key repeated in the batch is `Acquired` once, then
/// `InProgress`; every lease acquired has its own fencing token. The answers are per key, like
/// `add_many`'s. A zero or too long lease is refused for every key and nothing is written.
///
/// **The lease tier** is for work that can fail half-way. [`claim`](Store::claim) atomically
/// takes an absent key for the lease duration and answers [`Claim::Acquired`] with a [`Lease`]
/// whose [`FencingToken`] no earlier grant on the key had; on a live claim it answers
/// [`Claim::InProgress`] with the time left; on a completed record (or one written by `add`) it
/// answers [`Claim::Completed`] with the stored result. A stored empty result replays as `Some(vec![])`, not `None`. Of concurrent claims on one key exactly one
/// acquires it. An unfinished claim expires at its *lease* deadline, never later.
/// [`complete`](Store::complete) turns the claim into a completed record that lives for `ttl` from
/// now, storing the optional result bytes. [`release`](Store::release) deletes the claim so that
/// the next claim (or add) acquires the key. [`extend`](Store::extend) moves the lease deadline to
/// `lease` from now. Each of these three succeeds only for the current holder while its lease is
/// live; any other lease (stale token, deadline passed, record removed, already completed or
/// released) gets [`Error::LeaseLost`] and changes nothing.
///
/// **Fingerprints.** A claim may carry a fingerprint of the request (a [`Key`] of its payload);
/// the record keeps it through completion. A later claim on the same key with a *different*
/// fingerprint answers [`Claim::Mismatch`] and changes nothing, whether the record is in progress
/// or completed. A claim without a fingerprint, or on a record stored without one, is never a
/// mismatch.
///
/// **Failures.** An operation that cannot answer returns `Err`, promptly: never `Ok(false)` nor
/// `Ok(true)` as a guess. After an `Err` from a write, whether it took effect is unknown.
///
/// # Implementing a backend
///
/// Implement the required methods with `#[async_trait]`, validate durations with [`ttl_millis`]
/// and [`lease_millis`], and run `one-testkit`'s conformance suite against the store. A complete,
/// if slow, backend:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
///
/// use one_core::store::{lease_millis, ttl_millis};
/// use one_core::{Claim, Error, FencingToken, Key, Lease, Store, async_trait};
///
/// struct Record {
///     deadline: Instant,
///     /// `Some(token)` while claimed, `None` once completed.
///     holder: Option<u64>,
///     fingerprint: Option<Key>,
///     result: Option<Vec<u8>>,
/// }
///
/// #[derive(Default)]
/// struct TinyStore {
///     records: Mutex<HashMap<Key, Record>>,
///     tokens: std::sync::atomic::AtomicU64,
/// }
///
///
/// impl TinyStore {
///     /// Runs `f` on the records, at one reading of the clock, once an expired record of `key`
///     /// is removed.
///     fn with<T>(&self, key: &Key, f: impl FnOnce(&mut HashMap<Key, Record>, Instant) -> T) -> T {
///         let mut records = self.records.lock().unwrap();
///         let now = Instant::now();
///         if records.get(key).is_some_and(|r| r.deadline <= now) {
///             records.remove(key);
///         }
///         f(&mut records, now)
///     }
///
///     fn held<'a>(records: &'a mut HashMap<Key, Record>, lease: &Lease) -> Result<&'a mut Record, Error> {
///         match records.get_mut(lease.key()) {
///             Some(r) if r.holder == Some(lease.token().get()) => Ok(r),
///             _ => Err(Error::LeaseLost { key: *lease.key() }),
///         }
///     }
/// }
///
/// #[async_trait]
/// impl Store for TinyStore {
///     fn default_ttl(&self) -> Duration {
///         Duration::from_secs(3600)
///     }
///
///     async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
///         let ms = ttl_millis(ttl)?;
///         Ok(self.with(key, |records, now| {
///             if records.contains_key(key) {
///                 return false;
///             }
///             let deadline = now + Duration::from_millis(ms);
///             let record = Record { deadline, holder: None, fingerprint: None, result: None };
///             records.insert(*key, record);
///             true
///         }))
///     }
///
///     async fn has_key(&self, key: &Key) -> Result<bool, Error> {
///         Ok(self.with(key, |records, _| records.contains_key(key)))
///     }
///
///     async fn remove(&self, key: &Key) -> Result<bool, Error> {
///         Ok(self.with(key, |records, _| records.remove(key).is_some()))
///     }
///
///     async fn claim(&self, key: &Key, lease: Duration, fingerprint: Option<&Key>) -> Result<Claim, Error> {
///         let ms = lease_millis(lease)?;
///         Ok(self.with(key, |records, now| match records.get(key) {
///             Some(r) if fingerprint.is_some() && r.fingerprint.is_some() && r.fingerprint.as_ref() != fingerprint => Claim::Mismatch,
///             Some(r) if r.holder.is_some() => Claim::InProgress { retry_after: r.deadline - now },
///             Some(r) => Claim::Completed { result: r.result.clone() },
///             None => {
///                 let token = self.tokens.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
///                 let deadline = now + Duration::from_millis(ms);
///                 let record = Record { deadline, holder: Some(token), fingerprint: fingerprint.copied(), result: None };
///                 records.insert(*key, record);
///                 Claim::Acquired(Lease::new(*key, FencingToken::new(token), Duration::from_millis(ms)))
///             }
///         }))
///     }
///
///     async fn complete(&self, lease: &Lease, ttl: Duration, result: Option<&[u8]>) -> Result<(), Error> {
///         let ms = ttl_millis(ttl)?;
///         self.with(lease.key(), |records, now| {
///             let record = Self::held(records, lease)?;
///             record.deadline = now + Duration::from_millis(ms);
///             (record.holder, record.result) = (None, result.map(<[u8]>::to_vec));
///             Ok(())
///         })
///     }
///
///     async fn release(&self, lease: &Lease) -> Result<(), Error> {
///         self.with(lease.key(), |records, _| {
///             Self::held(records, lease)?;
///             records.remove(lease.key());
///             Ok(())
///         })
///     }
///
///     async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
///         let ms = lease_millis(duration)?;
///         self.with(lease.key(), |records, now| {
///             Self::held(records, lease)?.deadline = now + Duration::from_millis(ms);
///             Ok(())
///         })
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let store = TinyStore::default();
/// let key = one_core::make_key(&("order", 1))?;
/// assert!(store.add(&key).await?);
/// assert!(!store.add(&key).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Store: Send + Sync {
    /// The TTL that [`add`](Store::add) and [`add_many`](Store::add_many) give new records.
    fn default_ttl(&self) -> Duration;

    /// Records `key` for the default TTL unless a live record exists: `Ok(true)` if this call
    /// created the record, `Ok(false)` if it is a duplicate. See the [contract](Store#contract).
    async fn add(&self, key: &Key) -> Result<bool, Error> {
        self.add_with_ttl(key, self.default_ttl()).await
    }

    /// [`add`](Store::add) with a TTL for this record.
    async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error>;

    /// Whether a live record exists for `key`. Advisory only: decide with `add` or `claim`.
    async fn has_key(&self, key: &Key) -> Result<bool, Error>;

    /// Forgets `key`'s record, if live: `Ok(true)` if there was one.
    async fn remove(&self, key: &Key) -> Result<bool, Error>;

    /// [`add`](Store::add) for each key, with the default TTL; one answer per key, in order.
    async fn add_many(&self, keys: &[Key]) -> Vec<Result<bool, Error>> {
        self.add_many_with_ttl(keys, self.default_ttl()).await
    }

    /// [`add_with_ttl`](Store::add_with_ttl) for each key; one answer per key, in order.
    ///
    /// The default adds one key after another; backends override it to use one round trip.
    async fn add_many_with_ttl(&self, keys: &[Key], ttl: Duration) -> Vec<Result<bool, Error>> {
        let mut answers = Vec::with_capacity(keys.len());
        for key in keys {
            answers.push(self.add_with_ttl(key, ttl).await);
        }
        answers
    }

    /// Takes `key` for `lease` if nobody holds it and it was not completed; see [`Claim`].
    async fn claim(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error>;

    /// [`claim`](Store::claim) for each key, without a fingerprint; one answer per key, in
    /// order. See the [contract](Store#contract).
    ///
    /// For a batch of messages: claim them all in one call (one round trip on a backend that
    /// overrides this), then run the work of those acquired. The default claims one key after
    /// another.
    async fn claim_many(&self, keys: &[Key], lease: Duration) -> Vec<Result<Claim, Error>> {
        let mut answers = Vec::with_capacity(keys.len());
        for key in keys {
            answers.push(self.claim(key, lease, None).await);
        }
        answers
    }

    /// Turns the claim into a completed record that lives for `ttl` from now, with `result`
    /// stored for replay. [`Error::LeaseLost`] unless `lease` is the live claim.
    async fn complete(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error>;

    /// Gives the key back so that a retry can claim it. [`Error::LeaseLost`] unless `lease` is
    /// the live claim.
    async fn release(&self, lease: &Lease) -> Result<(), Error>;

    /// Moves the lease deadline to `lease` from now (a heartbeat for long work).
    /// [`Error::LeaseLost`] unless `lease` is the live claim.
    async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error>;
}

/// The future a forwarded call returns: the inner store's own boxed future, passed on as it is.
type Forwarded<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// Written out rather than with `#[async_trait]`, which would box a second future around the
// inner store's on every call through an `Arc<dyn Store>`: these return the inner future itself.
// The signatures are the ones `#[async_trait]` gives the trait's methods.
macro_rules! forward_store {
    ($($ty:ty),+) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn default_ttl(&self) -> Duration {
                (**self).default_ttl()
            }
            fn add<'s, 'k, 'f>(&'s self, key: &'k Key) -> Forwarded<'f, Result<bool, Error>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).add(key)
            }
            fn add_with_ttl<'s, 'k, 'f>(&'s self, key: &'k Key, ttl: Duration) -> Forwarded<'f, Result<bool, Error>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).add_with_ttl(key, ttl)
            }
            fn has_key<'s, 'k, 'f>(&'s self, key: &'k Key) -> Forwarded<'f, Result<bool, Error>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).has_key(key)
            }
            fn remove<'s, 'k, 'f>(&'s self, key: &'k Key) -> Forwarded<'f, Result<bool, Error>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).remove(key)
            }
            fn add_many<'s, 'k, 'f>(&'s self, keys: &'k [Key]) -> Forwarded<'f, Vec<Result<bool, Error>>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).add_many(keys)
            }
            fn add_many_with_ttl<'s, 'k, 'f>(&'s self, keys: &'k [Key], ttl: Duration) -> Forwarded<'f, Vec<Result<bool, Error>>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).add_many_with_ttl(keys, ttl)
            }
            fn claim<'s, 'k, 'p, 'f>(&'s self, key: &'k Key, lease: Duration, fingerprint: Option<&'p Key>) -> Forwarded<'f, Result<Claim, Error>>
            where 's: 'f, 'k: 'f, 'p: 'f, Self: 'f {
                (**self).claim(key, lease, fingerprint)
            }
            fn claim_many<'s, 'k, 'f>(&'s self, keys: &'k [Key], lease: Duration) -> Forwarded<'f, Vec<Result<Claim, Error>>>
            where 's: 'f, 'k: 'f, Self: 'f {
                (**self).claim_many(keys, lease)
            }
            fn complete<'s, 'l, 'r, 'f>(&'s self, lease: &'l Lease, ttl: Duration, result: Option<&'r [u8]>) -> Forwarded<'f, Result<(), Error>>
            where 's: 'f, 'l: 'f, 'r: 'f, Self: 'f {
                (**self).complete(lease, ttl, result)
            }
            fn release<'s, 'l, 'f>(&'s self, lease: &'l Lease) -> Forwarded<'f, Result<(), Error>>
            where 's: 'f, 'l: 'f, Self: 'f {
                (**self).release(lease)
            }
            fn extend<'s, 'l, 'f>(&'s self, lease: &'l Lease, duration: Duration) -> Forwarded<'f, Result<(), Error>>
            where 's: 'f, 'l: 'f, Self: 'f {
                (**self).extend(lease, duration)
            }
        }
    )+};
}

forward_store!(Arc<S>, Box<S>, &S);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_up_to_milliseconds_and_refuse_zero_and_huge() {
        assert_eq!(ttl_millis(Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1_000)).unwrap(), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1_001)).unwrap(), 2);
        assert_eq!(ttl_millis(Duration::from_millis(1900)).unwrap(), 1900);
        assert!(matches!(
            ttl_millis(Duration::ZERO),
            Err(Error::InvalidTtl { .. })
        ));
        assert!(matches!(
            lease_millis(Duration::ZERO),
            Err(Error::InvalidLease { .. })
        ));
        assert_eq!(ttl_millis(MAX_TTL).unwrap(), MAX_TTL.as_millis() as u64);
        assert!(ttl_millis(MAX_TTL + Duration::from_nanos(1)).is_err());
        assert!(ttl_millis(Duration::MAX).is_err());
    }
}
