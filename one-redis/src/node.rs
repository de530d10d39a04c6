//! One Redis server behind a pool: checkout, one exchange within the command timeout, and what a
//! failure says about the connection it happened on.

use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{Object, Timeouts};
use one_core::{BoxError, Error};
use redis::{AsyncConnectionConfig, Client, RedisError, Value};

use crate::call::{self, Call, Sent};
use crate::error::{self, Fate, STORE};
use crate::ops::{Transport, spread};
use crate::pool::{Connector, InFlight, Pool};

/// The limits a store applies to each server it talks to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    pub(crate) checkout: Duration,
    pub(crate) command: Duration,
    pub(crate) pool_size: usize,
}

impl Limits {
    /// A pool of connections made by `client` under these limits.
    pub(crate) fn pool(&self, client: Client) -> Result<Pool, Error> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect))
            .set_response_timeout(None);
        Pool::builder(Connector::new(client, config))
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.checkout))
            .create_timeout(Some(self.connect))
            .recycle_timeout(Some(self.checkout))
            .build()
            .map_err(|e| Error::Backend {
                store: STORE,
                source: BoxError::from(e.to_string()),
            })
    }
}

/// One server: its pool and the timeouts of each operation on it.
pub(crate) struct Node {
    pool: Pool,
    timeouts: Timeouts,
    command_timeout: Duration,
}

impl Node {
    pub(crate) fn new(pool: Pool, limits: &Limits) -> Self {
        Node {
            pool,
            timeouts: Timeouts {
                wait: Some(limits.checkout),
                create: Some(limits.connect),
                recycle: Some(limits.checkout),
            },
            command_timeout: limits.command,
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Takes a connection from the pool.
    async fn checkout(&self) -> Result<Object<Connector>, Error> {
        let timeouts = &self.timeouts;
        self.pool.timeout_get(timeouts).await.map_err(|e| {
            let checkout = timeouts.wait.unwrap_or_default();
            let connect = timeouts.create.unwrap_or_default();
            error::pool_error(e, checkout, connect).0
        })
    }

    /// Sends `sent` on a pooled connection in one round trip and returns one reply per call,
    /// within the command timeout. A connection-level failure (or a timeout, or the caller
    /// dropping this future) keeps the connection from being reused.
    ///
    /// The checkout lasts only as long as it takes to clone a handle on the connection: the
    /// connection is back in the pool while the reply is awaited, so concurrent operations share
    /// it, each reply matched to its own request by the multiplexer.
    pub(crate) async fn send(
        &self,
        operation: &'static str,
        sent: &[Sent<'_>],
    ) -> Result<Vec<Value>, Error> {
        let mut flight = self.checkout().await?.in_flight();
        let after = self.command_timeout;
        let replies = tokio::time::timeout(after, call::exchange(&mut flight.conn, sent)).await;
        match self.settle(&mut flight, operation, after, replies) {
            Ok(replies) if replies.len() == sent.len() => Ok(replies),
            Ok(replies) => Err(Error::Backend {
                store: STORE,
                source: format!(
                    "{operation}: {} replies to {} commands",
                    replies.len(),
                    sent.len()
                )
                .into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// The outcome of one exchange, and what it says about the connection it used.
    fn settle(
        &self,
        flight: &mut InFlight,
        operation: &'static str,
        after: Duration,
        replies: Result<Result<Vec<Value>, RedisError>, tokio::time::error::Elapsed>,
    ) -> Result<Vec<Value>, Error> {
        match replies {
            Ok(Ok(replies)) => {
                let moved = replies.iter().any(error::server_moved_on);
                flight.settle(moved);
                if moved {
                    // A failover: this and every other connection point at a replica now.
                    self.pool.manager().server_lost(flight.generation);
                }
                Ok(replies)
            }
            Ok(Err(e)) => {
                let (error, fate) = error::redis_error(e, operation, after);
                flight.settle(fate != Fate::Keep);
                if fate == Fate::DropAll {
                    self.pool.manager().server_lost(flight.generation);
                }
                Err(error)
            }
            Err(_elapsed) => {
                flight.settle(true);
                Err(Error::Timeout {
                    store: STORE,
                    operation,
                    after,
                })
            }
        }
    }
}

impl Transport for Node {
    async fn run(&self, operation: &'static str, calls: &[Call]) -> Vec<Result<Value, Error>> {
        let sent: Vec<Sent<'_>> = calls
            .iter()
            .map(|call| Sent {
                call,
                asking: false,
            })
            .collect();
        match self.send(operation, &sent).await {
            Ok(replies) => replies.into_iter().map(Ok).collect(),
            Err(e) => spread(e, calls.len()),
        }
    }
}
