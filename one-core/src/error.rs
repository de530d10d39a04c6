//! Errors: one for key derivation ([`KeyError`]) and one for stores ([`Error`]).

use std::time::Duration;

use crate::Key;

/// A boxed error from a backend's driver, kept as the [`std::error::Error::source`] of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a value could not be turned into a [`Key`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The value carries no key material: unit, `None`, or an empty sequence, map or struct at
    /// the top level. Hashing it would give every such input the same key, so every request
    /// without key material would be a "duplicate" of the first one (see the crate docs).
    #[error(
        "the value has no key material (unit, None, or empty); refusing to derive a key shared by every empty input"
    )]
    Empty,
    /// The value's `Serialize` implementation reported an error.
    #[error("the value failed to serialize: {0}")]
    Serialize(String),
    /// A `Serialize` implementation announced a length and then delivered another number of items.
    #[error("the value announced {expected} items but serialized {actual}")]
    LengthMismatch {
        /// The length the value announced.
        expected: usize,
        /// The number of items it serialized.
        actual: usize,
    },
}

impl serde::ser::Error for KeyError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        KeyError::Serialize(msg.to_string())
    }
}

/// Why a [`Key`] could not be parsed from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key is 32 hexadecimal digits; got {found:?}")]
pub struct ParseKeyError {
    pub(crate) found: String,
}

/// Everything a [`Store`](crate::Store) operation can fail with.
///
/// A store that cannot answer returns one of these, promptly; it never guesses `Ok(false)`
/// ("duplicate": work dropped) or `Ok(true)` ("new": work done twice). When an `add` or `claim`
/// fails, whether the record was written is unknown: the lease tier (`claim`) is the way to make
/// such a failure safe to retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend answered with an error that retrying will not fix (a rejected command, an
    /// unexpected reply, out of memory, a permission problem).
    #[error("{store}: {source}")]
    Backend {
        /// The store that failed, e.g. `"redis"`.
        store: &'static str,
        /// The driver's error.
        source: BoxError,
    },
    /// The backend could not be reached, or the connection broke. Retrying later may succeed.
    #[error("{store} is unavailable: {source}")]
    Unavailable {
        /// The store that failed.
        store: &'static str,
        /// The driver's error.
        source: BoxError,
    },
    /// The operation did not finish in time. Whether it took effect is unknown.
    #[error("{store}: {operation} timed out after {after:?}")]
    Timeout {
        /// The store that timed out.
        store: &'static str,
        /// What it was doing, e.g. `"add"` or `"connect"`.
        operation: &'static str,
        /// The time limit that ran out.
        after: Duration,
    },
    /// A record TTL was zero or too long. Nothing was written.
    #[error("invalid TTL {ttl:?}: {reason}")]
    InvalidTtl {
        /// The TTL that was asked for.
        ttl: Duration,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A lease duration was zero or too long. Nothing was written.
    #[error("invalid lease {lease:?}: {reason}")]
    InvalidLease {
        /// The lease duration that was asked for.
        lease: Duration,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The lease is no longer held: its deadline passed, the record was removed, or another
    /// holder took the key over. Nothing was changed. If the work already had an effect, that
    /// effect may now be repeated by the new holder and may need compensating.
    #[error(
        "the lease on key {key} was lost (expired, removed or taken over); nothing was changed"
    )]
    LeaseLost {
        /// The key whose lease was lost.
        key: Key,
    },
    /// The store is full and its policy is to refuse new records.
    #[error("{store}: capacity of {capacity} records reached")]
    Capacity {
        /// The store that is full.
        store: &'static str,
        /// Its configured capacity.
        capacity: usize,
    },
    /// A key could not be derived.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The store does not implement this operation.
    #[error("{store} does not support {operation}")]
    Unsupported {
        /// The store.
        store: &'static str,
        /// The operation it lacks.
        operation: &'static str,
    },
}

impl Error {
    /// Whether trying the same operation again later may succeed.
    ///
    /// True for [`Unavailable`](Error::Unavailable), [`Timeout`](Error::Timeout) and
    /// [`Capacity`](Error::Capacity) (records expire and free room); false for everything that
    /// repeating cannot change.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::Timeout { .. } | Error::Capacity { .. }
        )
    }

    /// Whether this is a [`Timeout`](Error::Timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether this is [`LeaseLost`](Error::LeaseLost).
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Error::LeaseLost { .. })
    }
}
