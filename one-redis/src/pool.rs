//! The connection pool: deadpool over multiplexed connections, recycled without a round trip.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

/// The pool a [`RedisStore`](crate::RedisStore) takes its connections from.
///
/// Build one with [`RedisStore::builder`](crate::RedisStore::builder) (which makes its own), or
/// by hand to share it between stores (see [`Connector`]). Always give it a runtime
/// ([`Runtime::Tokio1`](deadpool::Runtime::Tokio1)): without one, deadpool cannot apply the
/// checkout and connect timeouts and every checkout fails.
pub type Pool = managed::Pool<Connector>;

/// Makes and recycles the pool's [`Connection`]s: deadpool's `Manager` for this crate.
///
/// Unlike `deadpool_redis::Manager`, whose recycle sends `UNWATCH` and `PING` on every checkout
/// (a second round trip per operation), recycling here only looks at local state: a connection
/// is reused unless a command on it failed at the connection level, timed out, or was
/// cancelled, or another connection of the pool saw the server go away since it was made (after
/// a restart every older connection is dead, so all of them are replaced at their next
/// checkout rather than each failing one call).
///
/// The stores hold a checkout only long enough to take a handle on its connection: a
/// multiplexed connection carries many callers' commands at once, so concurrent operations share
/// the pool's connections (usually one) instead of queueing for one each. A connection checked
/// out by hand (`pool.get()`) is still yours alone until you drop it.
///
/// ```no_run
/// use std::time::Duration;
/// use one_redis::{Connector, Pool, RedisStore, deadpool, redis};
///
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let config = redis::AsyncConnectionConfig::new()
///     .set_connection_timeout(Some(Duration::from_secs(2)))
///     .set_response_timeout(None); // the store times out each operation itself
/// let pool = Pool::builder(Connector::new(client, config))
///     .max_size(32)
///     .runtime(deadpool::Runtime::Tokio1)
///     .build()?;
/// let payments = RedisStore::from_pool(pool.clone()).prefix("one:v1:payments:").build()?;
/// let emails = RedisStore::from_pool(pool).prefix("one:v1:emails:").build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connector {
    client: Client,
    config: AsyncConnectionConfig,
    /// Connections made before this generation are presumed dead.
    generation: AtomicU64,
}

impl Connector {
    /// Makes connections with `client`, configured by `config`.
    ///
    /// Set `config`'s response timeout to `None` (the store applies its own command timeout to
    /// each operation); redis's default of 500 ms would otherwise also apply.
    pub fn new(client: Client, config: AsyncConnectionConfig) -> Self {
        Connector {
            client,
            config,
            generation: AtomicU64::new(0),
        }
    }

    /// The client connections are made with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Marks every connection made up to `generation` as dead: the server went away.
    pub(crate) fn server_lost(&self, generation: u64) {
        self.generation.fetch_max(generation + 1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("client", &self.client)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// One pooled connection: a [`MultiplexedConnection`] and what the pool knows about its health.
///
/// A multiplexed connection matches every reply to its request, so a request whose caller gave
/// up (a timeout, a dropped future) can never hand its late reply to anyone else. Such a
/// connection is still replaced, because a timeout often means a dead peer (a half-open TCP
/// connection after a failover or a network partition).
pub struct Connection {
    conn: MultiplexedConnection,
    generation: u64,
    /// Shared with every [`InFlight`] handle on this connection: any of them can retire it.
    healthy: Arc<AtomicBool>,
}

impl Connection {
    /// The multiplexed connection, for commands of your own on a checked-out connection.
    pub fn multiplexed(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }

    /// Whether the pool will reuse this connection.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// Marks the connection as not to be reused (or, with `true`, as fine again).
    pub fn set_healthy(&mut self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Release);
    }

    /// A handle for one round trip on this connection that outlives the checkout: the
    /// connection goes back to the pool (for other callers to share) while the reply is awaited.
    pub(crate) fn in_flight(&self) -> InFlight {
        InFlight {
            conn: self.conn.clone(),
            generation: self.generation,
            healthy: Arc::clone(&self.healthy),
            settled: false,
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("generation", &self.generation)
            .field("healthy", &self.is_healthy())
            .finish_non_exhaustive()
    }
}

/// One operation's use of a shared pooled connection.
///
/// Until [`settle`](InFlight::settle) says how the round trip went, the operation counts as
/// abandoned: if its future is dropped mid-way, the connection is retired (replaced at its next
/// checkout) as after a timeout. Only ever retires a connection, never declares one healthy
/// again: another operation sharing it may have seen it fail.
pub(crate) struct InFlight {
    pub(crate) conn: MultiplexedConnection,
    pub(crate) generation: u64,
    healthy: Arc<AtomicBool>,
    settled: bool,
}

impl InFlight {
    /// The round trip is over; with `retire`, the connection must not be reused.
    pub(crate) fn settle(&mut self, retire: bool) {
        self.settled = true;
        if retire {
            self.healthy.store(false, Ordering::Release);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.settled {
            self.healthy.store(false, Ordering::Release);
        }
    }
}

impl managed::Manager for Connector {
    type Type = Connection;
    type Error = RedisError;

    async fn create(&self) -> Result<Connection, RedisError> {
        let generation = self.generation.load(Ordering::Acquire);
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Connection {
            conn,
            generation,
            healthy: Arc::new(AtomicBool::new(true)),
        })
    }

    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<RedisError> {
        // Local state only: no round trip on the hot path.
        if !conn.is_healthy() {
            return Err(RecycleError::message(
                "a command on this connection failed, timed out or was cancelled",
            ));
        }
        if conn.generation < self.generation.load(Ordering::Acquire) {
            return Err(RecycleError::message(
                "the server went away after this connection was made",
            ));
        }
        Ok(())
    }
}
