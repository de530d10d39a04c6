//! [`RedisStore`]: the [`Store`] contract on Redis, one round trip per operation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use one_core::store::ttl_millis;
use one_core::{BoxError, Error, Key};
#[cfg(not(feature = "tls"))]
use redis::Client;
use redis::{ConnectionInfo, IntoConnectionInfo, RedisError};

use crate::error::STORE;
use crate::node::{Limits, Node};
use crate::ops::{Records, store_on_records};
use crate::pool::Pool;

/// The default key prefix: the crate's name and the version of the key and record format.
pub const DEFAULT_PREFIX: &str = "one:v1:";
/// The default TTL of records written by `add`: one day.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The default limit on making a connection (TCP, TLS, `HELLO`/`AUTH`/`SELECT`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The default limit on waiting for a free connection in the pool.
pub const DEFAULT_CHECKOUT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default limit on one operation's round trip.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// The default number of pooled connections.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// A deduplication store on Redis: every record is one Redis string under
/// `prefix + 32 hex digits of the key`, written with a relative expiry (`PX`).
///
/// Cloning is cheap: clones share the pool. See the [crate docs](crate) for the record layout,
/// the round trips and the failure behaviour.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    records: Records<Node>,
    command_timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = &self.inner.records;
        f.debug_struct("RedisStore")
            .field("prefix", &records.prefix)
            .field("default_ttl", &records.default_ttl)
            .field("command_timeout", &self.inner.command_timeout)
            .field("pool", &records.transport.pool().status())
            .finish()
    }
}

enum Source {
    Address(Box<Result<ConnectionInfo, RedisError>>),
    Pool(Pool),
}

/// Configures a [`RedisStore`]: from [`RedisStore::builder`] or [`RedisStore::from_pool`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisStoreBuilder {
    source: Source,
    prefix: String,
    default_ttl: Duration,
    connect_timeout: Duration,
    checkout_timeout: Duration,
    command_timeout: Duration,
    pool_size: Option<usize>,
    #[cfg(feature = "tls")]
    tls: Option<redis::TlsCertificates>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("default_ttl", &self.default_ttl)
            .field("connect_timeout", &self.connect_timeout)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    fn new(source: Source) -> Self {
        RedisStoreBuilder {
            source,
            prefix: DEFAULT_PREFIX.to_owned(),
            default_ttl: DEFAULT_TTL,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            checkout_timeout: DEFAULT_CHECKOUT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            pool_size: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The prefix of every Redis key this store writes (default [`DEFAULT_PREFIX`],
    /// `"one:v1:"`). Stores with different prefixes never see each other's records.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The TTL of records written by `add` and `add_many` (default [`DEFAULT_TTL`], one day).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// The limit on making one connection: TCP connect, TLS, and the handshake (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]). Past it an operation fails with
    /// [`Error::Timeout`] (`operation: "connect"`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The limit on waiting for a free pooled connection (default
    /// [`DEFAULT_CHECKOUT_TIMEOUT`]). Past it an operation fails with [`Error::Timeout`]
    /// (`operation: "checkout"`) rather than queueing forever.
    pub fn checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// The limit on one operation's round trip once it has a connection (default
    /// [`DEFAULT_COMMAND_TIMEOUT`]). Past it the operation fails with [`Error::Timeout`] naming
    /// the operation (`"add"`, `"claim"` ...), and its connection is replaced.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// The most connections the pool keeps (default [`DEFAULT_POOL_SIZE`]). Connections are
    /// multiplexed: concurrent operations share them, each holding a checkout only for the
    /// instant it takes to pick one, so the pool opens another only when all of its connections
    /// are being picked at once, and one connection usually carries all the traffic. With
    /// [`RedisStore::from_pool`] this resizes the given pool.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = Some(size);
        self
    }

    /// Trusts `certificates` for `rediss://` connections: a root certificate (PEM) for a
    /// server whose certificate the system does not trust, and a client certificate and key
    /// for mutual TLS. Only for [`RedisStore::builder`].
    #[cfg(feature = "tls")]
    pub fn tls(mut self, certificates: redis::TlsCertificates) -> Self {
        self.tls = Some(certificates);
        self
    }

    /// Builds the store. No connection is made yet: the first operation makes one, so a
    /// server that is down at start-up is an `Err` from that operation, not from here.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`] for a zero or too long default TTL; [`Error::Backend`] for an
    /// address that is not a Redis URL, or a pool that cannot be built (a pool size of 0).
    pub fn build(self) -> Result<RedisStore, Error> {
        ttl_millis(self.default_ttl)?;
        let backend = |source: BoxError| Error::Backend {
            store: STORE,
            source,
        };
        let limits = Limits {
            connect: self.connect_timeout,
            checkout: self.checkout_timeout,
            command: self.command_timeout,
            pool_size: self.pool_size.unwrap_or(DEFAULT_POOL_SIZE),
        };
        let pool = match self.source {
            Source::Pool(pool) => {
                if let Some(size) = self.pool_size {
                    pool.resize(size);
                }
                pool
            }
            Source::Address(info) => {
                let info = (*info).map_err(|e| backend(Box::new(e)))?;
                #[cfg(feature = "tls")]
                let client = crate::tls::client(info, self.tls);
                #[cfg(not(feature = "tls"))]
                let client = Client::open(info);
                limits.pool(client.map_err(|e| backend(Box::new(e)))?)?
            }
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                records: Records {
                    transport: Node::new(pool, &limits),
                    prefix: self.prefix.into_boxed_str(),
                    default_ttl: self.default_ttl,
                },
                command_timeout: self.command_timeout,
            }),
        })
    }
}

impl RedisStore {
    /// Configures a store on the server at `address`: a URL (`redis://[user:password@]host:port/db`,
    /// `rediss://` for TLS with the `tls` feature, `redis+unix:///path`) or a
    /// [`redis::ConnectionInfo`].
    pub fn builder(address: impl IntoConnectionInfo) -> RedisStoreBuilder {
        RedisStoreBuilder::new(Source::Address(Box::new(address.into_connection_info())))
    }

    /// Configures a store on an existing [`Pool`], e.g. one shared by stores with different
    /// prefixes (see [`Connector`](crate::Connector)). The store's timeouts apply to its own checkouts.
    pub fn from_pool(pool: Pool) -> RedisStoreBuilder {
        RedisStoreBuilder::new(Source::Pool(pool))
    }

    /// The connection pool, to share it or to check out a connection for commands of your own.
    pub fn pool(&self) -> &Pool {
        self.inner.records.transport.pool()
    }

    /// The prefix of every Redis key this store writes.
    pub fn prefix(&self) -> &str {
        &self.inner.records.prefix
    }

    /// The Redis key under which `key`'s record is stored: the prefix and 32 hex digits.
    pub fn redis_key(&self, key: &Key) -> Vec<u8> {
        self.inner.records.redis_key(key)
    }

    fn records(&self) -> &Records<Node> {
        &self.inner.records
    }
}

store_on_records!(RedisStore);
