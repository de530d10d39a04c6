//! From redis and deadpool failures to [`one_core::Error`], and what each says about the
//! connection it happened on.

use std::fmt;
use std::time::Duration;

use deadpool::managed::{PoolError, TimeoutType};
use one_core::{BoxError, Error};
use redis::{RedisError, ServerError};

pub(crate) const STORE: &str = "redis";

/// What a failure says about the connection it happened on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The connection is fine (the server answered with an error).
    Keep,
    /// This connection is not to be trusted any more.
    Drop,
    /// The server went away: every connection made so far is dead.
    DropAll,
}

/// Server error codes that mean "not now" rather than "never": the server is loading its data
/// after a restart, busy with a script, or failing over.
const TRANSIENT: &[&str] = &["LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"];

/// Server error codes after which this connection points at the wrong server: it became a
/// replica in a failover (`READONLY`), so every connection must be made again.
const MOVED_ON: &[&str] = &["READONLY", "MASTERDOWN"];

/// Whether `reply` says the server is no longer the one to write to (a failover).
pub(crate) fn server_moved_on(reply: &redis::Value) -> bool {
    matches!(reply, redis::Value::ServerError(e) if MOVED_ON.contains(&e.code()))
}

/// A server's error reply, shown as the server sent it (`OOM command not allowed ...`,
/// `NOPERM this user has no permissions ...`), with redis's error as its source.
#[derive(Debug)]
pub(crate) struct Reply {
    line: String,
    source: RedisError,
}

impl Reply {
    fn new(code: &str, detail: Option<&str>, source: RedisError) -> Self {
        let line = match detail {
            Some(detail) => format!("{code} {detail}"),
            None => code.to_owned(),
        };
        Reply { line, source }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server answered: {}", self.line)
    }
}

impl std::error::Error for Reply {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Classifies a server's error reply.
pub(crate) fn server_error(err: ServerError) -> (Error, Fate) {
    let code = err.code().to_owned();
    let reply = Reply::new(&code, err.details(), RedisError::from(err.clone()));
    server_code(&code, Box::new(reply))
}

/// Classifies a server error by its code (`OOM`, `NOPERM`, `LOADING` ...).
fn server_code(code: &str, source: BoxError) -> (Error, Fate) {
    let fate = if MOVED_ON.contains(&code) {
        Fate::DropAll
    } else {
        Fate::Keep
    };
    let error = if TRANSIENT.contains(&code) || code == "READONLY" {
        Error::Unavailable {
            store: STORE,
            source,
        }
    } else {
        // OOM, NOPERM, WRONGTYPE, NOSCRIPT, ERR ...: repeating the call will not help.
        Error::Backend {
            store: STORE,
            source,
        }
    };
    (error, fate)
}

/// Classifies a failure of a command (or of making a connection) of `operation`, which had
/// `after` to finish.
pub(crate) fn redis_error(
    err: RedisError,
    operation: &'static str,
    after: Duration,
) -> (Error, Fate) {
    use redis::ErrorKind;

    if matches!(err.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
        && let Some(code) = err.code()
    {
        let code = code.to_owned();
        let detail = err.detail().map(str::to_owned);
        let reply = Reply::new(&code, detail.as_deref(), err);
        return server_code(&code, Box::new(reply));
    }
    if err.is_timeout() {
        let error = Error::Timeout {
            store: STORE,
            operation,
            after,
        };
        return (error, Fate::Drop);
    }
    let (unavailable, fate) = match err.kind() {
        // The connection broke or could not be made: after a refusal, a reset or an EOF every
        // connection to that server is presumed dead.
        ErrorKind::Io if err.is_connection_dropped() || err.is_connection_refusal() => {
            (true, Fate::DropAll)
        }
        ErrorKind::Io => (true, Fate::Drop),
        // A reply that cannot be parsed: the connection is not to be trusted.
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => (false, Fate::Drop),
        // Refused credentials, bad configuration: retrying will not help.
        _ => (false, Fate::Keep),
    };
    let source = Box::new(err);
    let error = if unavailable {
        Error::Unavailable {
            store: STORE,
            source,
        }
    } else {
        Error::Backend {
            store: STORE,
            source,
        }
    };
    (error, fate)
}

/// Classifies a failure to check a connection out of the pool.
pub(crate) fn pool_error(
    err: PoolError<RedisError>,
    checkout: Duration,
    connect: Duration,
) -> (Error, Fate) {
    let timeout = |operation, after| {
        let error = Error::Timeout {
            store: STORE,
            operation,
            after,
        };
        (error, Fate::Keep)
    };
    match err {
        PoolError::Timeout(TimeoutType::Wait | TimeoutType::Recycle) => {
            timeout("checkout", checkout)
        }
        PoolError::Timeout(TimeoutType::Create) => timeout("connect", connect),
        PoolError::Backend(err) => redis_error(err, "connect", connect),
        PoolError::Closed => (
            Error::Unavailable {
                store: STORE,
                source: "the connection pool was closed".into(),
            },
            Fate::Keep,
        ),
        PoolError::NoRuntimeSpecified => (
            Error::Backend {
                store: STORE,
                source: "the connection pool has no runtime: build it with \
                         .runtime(deadpool::Runtime::Tokio1) so its timeouts work"
                    .into(),
            },
            Fate::Keep,
        ),
        PoolError::PostCreateHook(err) => (
            Error::Backend {
                store: STORE,
                source: err.to_string().into(),
            },
            Fate::Keep,
        ),
    }
}

/// A reply of an unexpected shape: an error, never a guess.
pub(crate) fn unexpected(operation: &'static str, reply: &redis::Value) -> Error {
    Error::Backend {
        store: STORE,
        source: format!("unexpected reply to {operation}: {reply:?}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_error(line: &[u8]) -> ServerError {
        match redis::parse_redis_value(line) {
            Ok(redis::Value::ServerError(e)) => e,
            other => panic!("not an error reply: {other:?}"),
        }
    }

    #[test]
    fn server_errors_are_backend_errors_unless_transient() {
        let (e, fate) = server_error(reply_error(
            b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
        ));
        assert!(matches!(e, Error::Backend { .. }), "{e:?}");
        assert!(!e.is_retryable());
        assert_eq!(fate, Fate::Keep);

        let (e, _) = server_error(reply_error(b"-NOPERM no permission\r\n"));
        assert!(matches!(e, Error::Backend { .. }), "{e:?}");

        let (e, fate) = server_error(reply_error(b"-LOADING loading the dataset\r\n"));
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert_eq!(fate, Fate::Keep);

        let (e, fate) = server_error(reply_error(
            b"-READONLY You can't write against a replica.\r\n",
        ));
        assert!(e.is_retryable(), "{e:?}");
        assert_eq!(fate, Fate::DropAll);
    }

    #[test]
    fn io_errors_are_unavailable_and_drop_every_connection() {
        let err = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let (e, fate) = redis_error(err, "add", Duration::from_secs(1));
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert_eq!(fate, Fate::DropAll);

        let err = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        let (e, fate) = redis_error(err, "connect", Duration::from_secs(2));
        assert!(
            matches!(
                e,
                Error::Timeout {
                    operation: "connect",
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(fate, Fate::Drop);
    }

    #[test]
    fn server_errors_inside_redis_errors_keep_their_code() {
        let err = RedisError::from(reply_error(b"-WRONGTYPE Operation against a key\r\n"));
        let (e, fate) = redis_error(err, "add", Duration::from_secs(1));
        assert!(matches!(e, Error::Backend { .. }), "{e:?}");
        assert!(e.to_string().contains("WRONGTYPE"), "{e}");
        assert_eq!(fate, Fate::Keep);
    }
}
