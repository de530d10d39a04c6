#![doc = include_str!("../README.md")]

mod call;
mod cluster;
mod error;
mod node;
mod ops;
mod pool;
mod record;
mod slot;
mod store;
#[cfg(feature = "tls")]
mod tls;

pub use crate::cluster::{RedisClusterStore, RedisClusterStoreBuilder};
pub use crate::pool::{Connection, Connector, Pool};
pub use crate::slot::hash_slot;
pub use crate::store::{
    DEFAULT_CHECKOUT_TIMEOUT, DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE,
    DEFAULT_PREFIX, DEFAULT_TTL, RedisStore, RedisStoreBuilder,
};
pub use deadpool;
pub use deadpool_redis;
pub use one_core;
pub use redis;
