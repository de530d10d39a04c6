//! Which store the programs run on: the in-memory store by default, Redis when `ONE_REDIS_URL`
//! is set, Redis Cluster when `ONE_REDIS_CLUSTER_URLS` is.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use one_core::Store;
use one_memory::{MemoryStore, MockClock};
use one_testkit::sim::{self, Config, Report};

/// The environment variable naming a Redis server: `redis://host:port`.
pub const REDIS_URL_VAR: &str = "ONE_REDIS_URL";

/// The environment variable naming Redis Cluster seed nodes, comma-separated:
/// `redis://host1:port,redis://host2:port`.
pub const REDIS_CLUSTER_URLS_VAR: &str = "ONE_REDIS_CLUSTER_URLS";

/// The store a program runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The in-memory store, in this process.
    Memory,
    /// A Redis server at this URL.
    Redis(String),
    /// A Redis Cluster, reached through these seed nodes.
    RedisCluster(Vec<String>),
}

impl Backend {
    /// Redis Cluster if `ONE_REDIS_CLUSTER_URLS` is set (and not empty), else Redis if
    /// `ONE_REDIS_URL` is, else memory.
    pub fn from_env() -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        if let Some(urls) = var(REDIS_CLUSTER_URLS_VAR) {
            let seeds = urls
                .split(',')
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty());
            return Backend::RedisCluster(seeds.collect());
        }
        match var(REDIS_URL_VAR) {
            Some(url) => Backend::Redis(url),
            None => Backend::Memory,
        }
    }

    /// Whether the store is on a server (and so needs an async runtime, and time passes for
    /// real).
    pub fn is_remote(&self) -> bool {
        !matches!(self, Backend::Memory)
    }

    /// A fresh store whose `add` keeps records for `ttl`. On Redis, its keys get a prefix of
    /// their own (`one-examples:{program}:{nonce}:`), so runs never see each other's records.
    ///
    /// # Errors
    ///
    /// An invalid TTL, or a Redis URL that cannot be parsed (or a build without the `redis`
    /// feature). Redis is not contacted yet: the first operation connects.
    pub fn store(&self, program: &str, ttl: Duration) -> Result<Arc<dyn Store>, one_core::Error> {
        Ok(match self {
            Backend::Memory => Arc::new(MemoryStore::new(ttl)?),
            Backend::Redis(url) => redis(url, program, ttl)?,
            Backend::RedisCluster(seeds) => redis_cluster(seeds, program, ttl)?,
        })
    }

    /// Runs the exactly-once simulation on a fresh store. On memory, the store's clock is a
    /// mock that follows the simulation's virtual time (fast, and replayable from the seed); on
    /// Redis, time passes for real, so the run takes about its virtual time.
    ///
    /// # Errors
    ///
    /// As [`store`](Self::store).
    pub async fn simulate(&self, config: &Config) -> Result<Report, one_core::Error> {
        match self {
            Backend::Memory => {
                let clock = MockClock::new();
                let store = MemoryStore::builder()
                    .default_ttl(config.ttl)
                    .clock(clock.clone())
                    .build()?;
                let advance = move |d| {
                    clock.advance(d);
                    std::future::ready(())
                };
                Ok(sim::run(Arc::new(store), advance, config).await)
            }
            Backend::Redis(_) | Backend::RedisCluster(_) => {
                let store = self.store("pubsub_worker", config.ttl)?;
                let config = Config {
                    tick: config.tick.max(Duration::from_millis(5)),
                    ..config.clone()
                };
                Ok(sim::run(store, sim::real_time(), &config).await)
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Memory => f.write_str("memory"),
            // Not the URL itself: it may hold a password.
            Backend::Redis(_) => write!(f, "redis (at {REDIS_URL_VAR})"),
            Backend::RedisCluster(seeds) => {
                write!(
                    f,
                    "redis cluster ({} seeds at {REDIS_CLUSTER_URLS_VAR})",
                    seeds.len()
                )
            }
        }
    }
}

#[cfg(feature = "redis")]
fn redis(url: &str, program: &str, ttl: Duration) -> Result<Arc<dyn Store>, one_core::Error> {
    let store = one_redis::RedisStore::builder(url)
        .prefix(format!("one-examples:{program}:{:x}:", nonce()))
        .default_ttl(ttl)
        .build()?;
    Ok(Arc::new(store))
}

#[cfg(feature = "redis")]
fn redis_cluster(
    seeds: &[String],
    program: &str,
    ttl: Duration,
) -> Result<Arc<dyn Store>, one_core::Error> {
    let store = one_redis::RedisClusterStore::builder(seeds.iter().map(String::as_str))
        .prefix(format!("one-examples:{program}:{:x}:", nonce()))
        .default_ttl(ttl)
        .build()?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis"))]
fn redis(_: &str, _: &str, _: Duration) -> Result<Arc<dyn Store>, one_core::Error> {
    Err(without_redis())
}

#[cfg(not(feature = "redis"))]
fn redis_cluster(_: &[String], _: &str, _: Duration) -> Result<Arc<dyn Store>, one_core::Error> {
    Err(without_redis())
}

#[cfg(not(feature = "redis"))]
fn without_redis() -> one_core::Error {
    one_core::Error::Unsupported {
        store: "one-examples",
        operation: "Redis (built without the `redis` feature)",
    }
}

/// Different in every run of a program.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
fn nonce() -> u128 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    now ^ u128::from(std::process::id()) << 64
}
