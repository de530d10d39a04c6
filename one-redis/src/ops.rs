//! The [`Store`](one_core::Store) operations on records, once for both stores: what each sends
//! and how each reads its answer. Where the calls go (one server, or the node of each key's
//! slot) is the [`Transport`]'s business.

use std::future::Future;
use std::time::Duration;

use one_core::store::{lease_millis, ttl_millis};
use one_core::{Claim, Error, FencingToken, Key, Lease};
use rand::TryRngCore;
use rand::rngs::OsRng;
use redis::Value;

use crate::call::{Call, Command};
use crate::error::{self, STORE};
use crate::record::{self, SCRIPTS};

/// Where calls go: one server ([`Node`](crate::node::Node)) or a cluster.
pub(crate) trait Transport: Send + Sync {
    /// Sends `calls` and answers for each, in order: its reply (a server's error reply stays a
    /// [`Value::ServerError`]), or why there is none. Calls on one key run in the order given.
    fn run(
        &self,
        operation: &'static str,
        calls: &[Call],
    ) -> impl Future<Output = Vec<Result<Value, Error>>> + Send;
}

/// The records of one store: its transport, key prefix and default TTL.
pub(crate) struct Records<T> {
    pub(crate) transport: T,
    pub(crate) prefix: Box<str>,
    pub(crate) default_ttl: Duration,
}

impl<T: Transport> Records<T> {
    /// The Redis key under which `key`'s record is stored: the prefix and 32 hex digits.
    pub(crate) fn redis_key(&self, key: &Key) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + 32);
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(key.write_hex(&mut [0u8; 32]).as_bytes());
        out
    }

    /// Sends one call and returns its reply; an error reply becomes an `Err`.
    async fn one(&self, operation: &'static str, call: Call) -> Result<Value, Error> {
        let reply = self
            .transport
            .run(operation, std::slice::from_ref(&call))
            .await
            .pop()
            .unwrap_or_else(|| Err(error::unexpected(operation, &Value::Nil)))?;
        match reply {
            Value::ServerError(e) => Err(error::server_error(e).0),
            reply => Ok(reply),
        }
    }

    /// Runs `script` on the record of `key`.
    async fn script(
        &self,
        operation: &'static str,
        script: &'static record::Script,
        key: &Key,
        args: Vec<Vec<u8>>,
    ) -> Result<Value, Error> {
        let call = Call::new(self.redis_key(key), Command::Script { script, args });
        self.one(operation, call).await
    }

    pub(crate) async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
        let millis = ttl_millis(ttl)?;
        let call = Call::new(self.redis_key(key), Command::SetNx { millis });
        let reply = self
            .transport
            .run("add", std::slice::from_ref(&call))
            .await
            .pop()
            .unwrap_or_else(|| Err(error::unexpected("add", &Value::Nil)))?;
        set_nx_answer(reply)
    }

    pub(crate) async fn has_key(&self, key: &Key) -> Result<bool, Error> {
        let call = Call::new(self.redis_key(key), Command::Exists);
        match self.one("has_key", call).await? {
            Value::Int(n) => Ok(n > 0),
            other => Err(error::unexpected("has_key", &other)),
        }
    }

    pub(crate) async fn remove(&self, key: &Key) -> Result<bool, Error> {
        let call = Call::new(self.redis_key(key), Command::Del);
        match self.one("remove", call).await? {
            Value::Int(n) => Ok(n > 0),
            other => Err(error::unexpected("remove", &other)),
        }
    }

    pub(crate) async fn add_many_with_ttl(
        &self,
        keys: &[Key],
        ttl: Duration,
    ) -> Vec<Result<bool, Error>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let millis = match ttl_millis(ttl) {
            Ok(millis) => millis,
            // The same refusal for every key (`Error` is not `Clone`).
            Err(_) => {
                return keys
                    .iter()
                    .map(|_| ttl_millis(ttl).map(|_| false))
                    .collect();
            }
        };
        // Pipelined, not a transaction: the `SET NX`s of one server run in order, so a key
        // repeated in the batch is new once, and each key gets its own answer.
        let calls: Vec<Call> = keys
            .iter()
            .map(|key| Call::new(self.redis_key(key), Command::SetNx { millis }))
            .collect();
        self.transport
            .run("add_many", &calls)
            .await
            .into_iter()
            .map(|reply| set_nx_answer(reply?))
            .collect()
    }

    pub(crate) async fn claim(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error> {
        let millis = lease_millis(lease)?;
        let token = fencing_token()?;
        let args = claim_args(millis, token, fingerprint);
        let reply = self.script("claim", &SCRIPTS.claim, key, args).await?;
        claim_answer(key, token, millis, reply)
    }

    pub(crate) async fn claim_many(
        &self,
        keys: &[Key],
        lease: Duration,
    ) -> Vec<Result<Claim, Error>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let millis = match lease_millis(lease) {
            Ok(millis) => millis,
            // The same refusal for every key (`Error` is not `Clone`).
            Err(_) => {
                return keys
                    .iter()
                    .map(|_| lease_millis(lease).map(|_| Claim::Mismatch))
                    .collect();
            }
        };
        let tokens = match fencing_tokens(keys.len()) {
            Ok(tokens) => tokens,
            // Nothing was sent: the batch fails whole (`Error` is not `Clone`).
            Err(first) => {
                let mut answers = Vec::with_capacity(keys.len());
                answers.push(Err(first));
                answers.extend(keys[1..].iter().map(|_| {
                    Err(Error::Backend {
                        store: STORE,
                        source: "the OS random source failed: no fencing token".into(),
                    })
                }));
                return answers;
            }
        };
        let calls: Vec<Call> = keys
            .iter()
            .zip(&tokens)
            .map(|(key, token)| {
                let script = &SCRIPTS.claim;
                let args = claim_args(millis, *token, None);
                Call::new(self.redis_key(key), Command::Script { script, args })
            })
            .collect();
        // Pipelined: the scripts of one server run in order, so a key repeated in the batch is
        // acquired once, then in progress.
        self.transport
            .run("claim_many", &calls)
            .await
            .into_iter()
            .zip(keys.iter().zip(tokens))
            .map(|(reply, (key, token))| match reply? {
                Value::ServerError(e) => Err(error::server_error(e).0),
                reply => claim_answer(key, token, millis, reply),
            })
            .collect()
    }

    pub(crate) async fn complete(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error> {
        let millis = ttl_millis(ttl)?.to_string();
        let token = record::token_arg(lease.token());
        let (result, present): (&[u8], &[u8]) = match result {
            Some(bytes) => (bytes, b"1"),
            None => (&[], b"0"),
        };
        let args = vec![
            token.to_vec(),
            millis.into_bytes(),
            result.to_vec(),
            present.to_vec(),
        ];
        let reply = self
            .script("complete", &SCRIPTS.complete, lease.key(), args)
            .await?;
        held("complete", lease, &reply)
    }

    pub(crate) async fn release(&self, lease: &Lease) -> Result<(), Error> {
        let token = record::token_arg(lease.token());
        let reply = self
            .script(
                "release",
                &SCRIPTS.release,
                lease.key(),
                vec![token.to_vec()],
            )
            .await?;
        held("release", lease, &reply)
    }

    pub(crate) async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        let millis = lease_millis(duration)?.to_string();
        let token = record::token_arg(lease.token());
        let args = vec![token.to_vec(), millis.into_bytes()];
        let reply = self
            .script("extend", &SCRIPTS.extend, lease.key(), args)
            .await?;
        held("extend", lease, &reply)
    }
}

/// The claim script's arguments: the lease in ms, the in-progress value, the fingerprint (or
/// empty).
fn claim_args(millis: u64, token: FencingToken, fingerprint: Option<&Key>) -> Vec<Vec<u8>> {
    vec![
        millis.to_string().into_bytes(),
        record::in_progress(token, fingerprint),
        fingerprint.map_or_else(Vec::new, |f| f.as_bytes().to_vec()),
    ]
}

/// The answer to `SET NX`: only a definite `OK` is new, only a definite nil is a duplicate.
fn set_nx_answer(reply: Value) -> Result<bool, Error> {
    match reply {
        Value::Okay => Ok(true),
        Value::SimpleString(s) if s == "OK" => Ok(true),
        Value::Nil => Ok(false),
        Value::ServerError(e) => Err(error::server_error(e).0),
        other => Err(error::unexpected("add", &other)),
    }
}

/// The answer to a lease operation's script: `1` done, `0` lease lost.
fn held(operation: &'static str, lease: &Lease, reply: &Value) -> Result<(), Error> {
    match reply {
        Value::Int(1) => Ok(()),
        Value::Int(0) => Err(Error::LeaseLost { key: *lease.key() }),
        other => Err(error::unexpected(operation, other)),
    }
}

/// The answer to the claim script for `key`, which would be granted `token` for `millis`.
fn claim_answer(key: &Key, token: FencingToken, millis: u64, reply: Value) -> Result<Claim, Error> {
    let (code, rest) = match reply {
        Value::Int(code) => (code, None),
        Value::Array(mut items) if items.len() == 2 => {
            let rest = items.pop();
            match items.pop() {
                Some(Value::Int(code)) => (code, rest),
                other => return Err(error::unexpected("claim", &other.unwrap_or_default())),
            }
        }
        other => return Err(error::unexpected("claim", &other)),
    };
    match (code, rest) {
        (record::CLAIM_ACQUIRED, None) => Ok(Claim::Acquired(Lease::new(
            *key,
            token,
            Duration::from_millis(millis),
        ))),
        (record::CLAIM_IN_PROGRESS, Some(Value::Int(left))) if left >= 0 => {
            // PTTL answers 0 in the key's last millisecond; the lease is still live then.
            let left = u64::try_from(left).unwrap_or(0).max(1);
            Ok(Claim::InProgress {
                retry_after: Duration::from_millis(left),
            })
        }
        (record::CLAIM_COMPLETED, None) => Ok(Claim::Completed { result: None }),
        (record::CLAIM_COMPLETED, Some(Value::BulkString(result))) => Ok(Claim::Completed {
            result: Some(result),
        }),
        (record::CLAIM_MISMATCH, None) => Ok(Claim::Mismatch),
        (code, rest) => Err(Error::Backend {
            store: STORE,
            source: format!("unexpected reply to claim: {code} {rest:?}").into(),
        }),
    }
}

/// One failure as the answer for each of `n` calls: the error itself for the first, a copy
/// for the others.
pub(crate) fn spread<T>(e: Error, n: usize) -> Vec<Result<T, Error>> {
    let mut answers = Vec::with_capacity(n);
    if n == 0 {
        return answers;
    }
    answers.extend((1..n).map(|_| Err(same_failure(&e))));
    answers.insert(0, Err(e));
    answers
}

/// A copy of a failure (`Error` is not `Clone`): the same variant, the source as text.
pub(crate) fn same_failure(e: &Error) -> Error {
    match e {
        Error::Timeout {
            store,
            operation,
            after,
        } => Error::Timeout {
            store,
            operation,
            after: *after,
        },
        Error::Unavailable { store, source } => Error::Unavailable {
            store,
            source: source.to_string().into(),
        },
        other => Error::Backend {
            store: STORE,
            source: other.to_string().into(),
        },
    }
}

/// Implements [`Store`](one_core::Store) for a type with a `records()` method.
macro_rules! store_on_records {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl one_core::Store for $ty {
            fn default_ttl(&self) -> std::time::Duration {
                self.records().default_ttl
            }

            async fn add_with_ttl(
                &self,
                key: &one_core::Key,
                ttl: std::time::Duration,
            ) -> Result<bool, one_core::Error> {
                self.records().add_with_ttl(key, ttl).await
            }

            async fn has_key(&self, key: &one_core::Key) -> Result<bool, one_core::Error> {
                self.records().has_key(key).await
            }

            async fn remove(&self, key: &one_core::Key) -> Result<bool, one_core::Error> {
                self.records().remove(key).await
            }

            async fn add_many_with_ttl(
                &self,
                keys: &[one_core::Key],
                ttl: std::time::Duration,
            ) -> Vec<Result<bool, one_core::Error>> {
                self.records().add_many_with_ttl(keys, ttl).await
            }

            async fn claim(
                &self,
                key: &one_core::Key,
                lease: std::time::Duration,
                fingerprint: Option<&one_core::Key>,
            ) -> Result<one_core::Claim, one_core::Error> {
                self.records().claim(key, lease, fingerprint).await
            }

            async fn claim_many(
                &self,
                keys: &[one_core::Key],
                lease: std::time::Duration,
            ) -> Vec<Result<one_core::Claim, one_core::Error>> {
                self.records().claim_many(keys, lease).await
            }

            async fn complete(
                &self,
                lease: &one_core::Lease,
                ttl: std::time::Duration,
                result: Option<&[u8]>,
            ) -> Result<(), one_core::Error> {
                self.records().complete(lease, ttl, result).await
            }

            async fn release(&self, lease: &one_core::Lease) -> Result<(), one_core::Error> {
                self.records().release(lease).await
            }

            async fn extend(
                &self,
                lease: &one_core::Lease,
                duration: std::time::Duration,
            ) -> Result<(), one_core::Error> {
                self.records().extend(lease, duration).await
            }
        }
    };
}

pub(crate) use store_on_records;

/// A fresh fencing token: 64 random bits straight from the operating system.
///
/// Not from a user-space generator such as `rand::rng()`: a process that forks after drawing
/// from one (a pre-fork server) would hand its children the same state, and so the same token
/// sequence, letting one child's stale lease pass for another's. Tokens are unique with high
/// probability (a collision needs two holders of one key to draw the same 64 bits) and do not
/// increase.
fn fencing_token() -> Result<FencingToken, Error> {
    OsRng
        .try_next_u64()
        .map(FencingToken::new)
        .map_err(random_source_failed)
}

/// `n` fencing tokens as [`fencing_token`] draws them, in one call to the operating system.
fn fencing_tokens(n: usize) -> Result<Vec<FencingToken>, Error> {
    let mut bytes = vec![0; n * 8];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(random_source_failed)?;
    let (words, _) = bytes.as_chunks::<8>();
    Ok(words
        .iter()
        .map(|word| FencingToken::new(u64::from_le_bytes(*word)))
        .collect())
}

fn random_source_failed(e: rand::rand_core::OsError) -> Error {
    Error::Backend {
        store: STORE,
        source: Box::new(e),
    }
}
