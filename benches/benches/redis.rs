//! Redis `add`: `one-redis` against the raw `redis` crate on one multiplexed connection, one by
//! one, from 64 concurrent callers, and in batches of 100, with `redis-benchmark`'s figures
//! for the same command (`SET key value NX PX ms`) from the same server in the same run.
//!
//! The server comes from one-testkit's fixture, as in the tests: `ONE_REDIS_URL` if set, else
//! `redis-server` from `PATH` on a free loopback port; without either the groups are skipped
//! with a notice (and fail when `CI` or `ONE_REQUIRE_REDIS` is set).
//!
//! Every call writes a fresh key (60 s TTL), as the first delivery of each message does.
//! Clients run on one current-thread tokio runtime, leaving the other core to the server.
//!
//! `cargo bench -p one-benches --bench redis [-- FILTER]`

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use one_benches::{SplitMix, write_results};
use one_core::{Key, Store};
use one_redis::RedisStore;
use one_testkit::redis_server::RedisServer;
use redis::aio::MultiplexedConnection;
use redis::{Cmd, ConnectionAddr, IntoConnectionInfo, Value};

const TTL: Duration = Duration::from_secs(60);
const CALLERS: u64 = 64;
const BATCH: usize = 100;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A key no call of this run has used.
fn fresh_key() -> Key {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut rng = SplitMix(n ^ 0x5eed);
    Key::from_bytes((u128::from(rng.next_u64()) << 64 | u128::from(n)).to_le_bytes())
}

/// The raw client: the command `one-redis` sends for `add`, on one multiplexed connection.
#[derive(Clone)]
struct Raw {
    conn: MultiplexedConnection,
    store: RedisStore,
}

impl Raw {
    fn set_nx(&self, key: &Key) -> Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.store.redis_key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(TTL.as_millis() as u64);
        cmd
    }

    async fn add(&mut self, key: &Key) -> bool {
        let reply: Value = self
            .set_nx(key)
            .query_async(&mut self.conn)
            .await
            .expect("SET");
        matches!(reply, Value::Okay)
    }

    async fn add_many(&mut self, keys: &[Key]) -> usize {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.add_command(self.set_nx(key));
        }
        let replies: Vec<Value> = pipe.query_async(&mut self.conn).await.expect("pipeline");
        replies.iter().filter(|r| matches!(r, Value::Okay)).count()
    }
}

/// Runs `iters` adds through `callers` concurrent loops of `add`, and returns the time taken
/// per `iters` operations.
async fn concurrent<F, Fut>(iters: u64, callers: u64, add: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let per = iters.div_ceil(callers).max(1);
    let start = Instant::now();
    futures::future::join_all((0..callers).map(|_| {
        let add = &add;
        async move {
            for _ in 0..per {
                add().await;
            }
        }
    }))
    .await;
    start
        .elapsed()
        .mul_f64(iters as f64 / (per * callers) as f64)
}

/// `redis-benchmark`'s figures, from `benches/scripts/redis-benchmark.sh`, on the same server.
fn redis_benchmark(url: &str) -> BTreeMap<String, f64> {
    let mut figures = BTreeMap::new();
    let address = url.into_connection_info().map(|info| info.addr().clone());
    let Ok(ConnectionAddr::Tcp(host, port)) = address else {
        eprintln!("redis-benchmark: not run: {url} is not a plain TCP address");
        return figures;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-benchmark.sh");
    match Command::new("bash")
        .args([script, &host, &port.to_string()])
        .output()
    {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((shape, rps)) = line.split_once(',')
                    && let Ok(rps) = rps.trim().parse::<f64>()
                {
                    println!("redis-benchmark {shape}: {rps:.0} requests/s");
                    figures.insert(format!("redis/redis-benchmark/{shape}/rps"), rps);
                }
            }
        }
        Ok(out) => eprintln!(
            "redis-benchmark: not run ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("redis-benchmark: cannot run the script: {e}"),
    }
    figures
}

fn redis_groups(c: &mut Criterion) {
    let Some(server) = RedisServer::shared("one-benches: the Redis groups") else {
        println!("no Redis server available: the Redis groups are skipped");
        return;
    };
    println!("Redis groups on {}", server.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let store = RedisStore::builder(server.url())
        .default_ttl(TTL)
        .prefix("one:bench:")
        .build()
        .expect("a store");
    let wide = RedisStore::builder(server.url())
        .default_ttl(TTL)
        .prefix("one:bench:")
        .pool_size(CALLERS as usize)
        .build()
        .expect("a store");
    let raw = rt.block_on(async {
        let client = redis::Client::open(server.url()).expect("a client");
        Raw {
            conn: client
                .get_multiplexed_async_connection()
                .await
                .expect("a connection"),
            store: store.clone(),
        }
    });
    // Connect and load everything once before measuring.
    rt.block_on(async {
        let warm: Vec<Key> = (0..CALLERS).map(|_| fresh_key()).collect();
        futures::future::join_all(warm.iter().map(|k| wide.add(k))).await;
        store.add(&fresh_key()).await.expect("Redis answers");
    });

    let mut g = c.benchmark_group("redis_add/one_by_one");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one-redis", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert!(store.add(&fresh_key()).await.expect("add"));
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("redis multiplexed", |b| {
        let mut raw = raw.clone();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert!(raw.add(&fresh_key()).await);
                }
                start.elapsed()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("redis_add/64_concurrent");
    g.throughput(Throughput::Elements(1));
    for (name, store) in [("one-redis", &store), ("one-redis pool 64", &wide)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(concurrent(iters, CALLERS, || async {
                    assert!(store.add(&fresh_key()).await.expect("add"));
                }))
            })
        });
    }
    g.bench_function("redis multiplexed", |b| {
        b.iter_custom(|iters| {
            rt.block_on(concurrent(iters, CALLERS, || {
                let mut raw = raw.clone();
                async move {
                    assert!(raw.add(&fresh_key()).await);
                }
            }))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("redis_add/batch_100");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("one-redis", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let keys: Vec<Key> = (0..BATCH).map(|_| fresh_key()).collect();
                    let start = Instant::now();
                    let answers = store.add_many(&keys).await;
                    elapsed += start.elapsed();
                    assert!(answers.into_iter().all(|a| a.expect("add")));
                }
                elapsed
            })
        })
    });
    g.bench_function("redis multiplexed", |b| {
        let mut raw = raw.clone();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let keys: Vec<Key> = (0..BATCH).map(|_| fresh_key()).collect();
                    let start = Instant::now();
                    let created = raw.add_many(&keys).await;
                    elapsed += start.elapsed();
                    assert_eq!(created, BATCH);
                }
                elapsed
            })
        })
    });
    g.finish();

    let figures = redis_benchmark(server.url());
    if let Err(e) = write_results("redis", &figures) {
        eprintln!("could not write the results: {e}");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = redis_groups
}
criterion_main!(benches);
