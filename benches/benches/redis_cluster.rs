//! Redis Cluster `add`: `one-redis`'s `RedisClusterStore` on a local cluster of three masters,
//! beside `RedisStore` on one local server, in the shapes of the `redis` bench: one by one,
//! from 64 concurrent callers, and in batches of 100 (which the cluster store splits into one
//! pipeline per master, sent at the same time). A cluster of one master shows the store's own
//! cost apart from the spreading over three server processes.
//!
//! The servers come from one-testkit's fixtures, as in the tests: `ONE_REDIS_CLUSTER_URLS` /
//! `ONE_REDIS_URL` if set, else `redis-server` processes from `PATH` on free loopback ports.
//! Without them the groups are skipped with a notice (and fail when `CI` or
//! `ONE_REQUIRE_REDIS` is set).
//!
//! Every call writes a fresh key (60 s TTL). Clients run on one current-thread tokio runtime.
//! On one machine a cluster shows its cost (more connections, a slot lookup, a batch split three
//! ways), not its gain (the masters share the machine's cores).
//!
//! `cargo bench -p one-benches --bench redis_cluster [-- FILTER]`

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use one_benches::SplitMix;
use one_core::{Key, Store};
use one_redis::{RedisClusterStore, RedisStore};
use one_testkit::redis_cluster::RedisCluster;
use one_testkit::redis_server::RedisServer;

const TTL: Duration = Duration::from_secs(60);
const CALLERS: u64 = 64;
const BATCH: usize = 100;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A key no call of this run has used.
fn fresh_key() -> Key {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut rng = SplitMix(n ^ 0xc105_7e75);
    Key::from_bytes((u128::from(rng.next_u64()) << 64 | u128::from(n)).to_le_bytes())
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

fn cluster_groups(c: &mut Criterion) {
    let Some(cluster) = RedisCluster::shared("one-benches: the Redis Cluster groups") else {
        println!("no Redis Cluster available: the Redis Cluster groups are skipped");
        return;
    };
    let Some(server) = RedisServer::shared("one-benches: the Redis Cluster groups") else {
        println!("no Redis server available: the Redis Cluster groups are skipped");
        return;
    };
    // A cluster of one master: the store's own cost (slot lookup, grouping) without the
    // spreading over three server processes.
    let Some(single) = RedisCluster::private(
        "one-benches: the Redis Cluster groups",
        RedisCluster::builder().masters(1),
    ) else {
        return;
    };
    println!(
        "Redis Cluster groups on {} (and one server on {})",
        cluster.urls().join(","),
        server.url()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let seeds = || cluster.urls().iter().map(String::as_str);
    let stores: Vec<(&str, Box<dyn Store>)> = vec![
        (
            "one server",
            Box::new(
                RedisStore::builder(server.url())
                    .default_ttl(TTL)
                    .prefix("one:bench:")
                    .build()
                    .expect("a store"),
            ),
        ),
        (
            "cluster of 1",
            Box::new(
                RedisClusterStore::builder(single.urls().iter().map(String::as_str))
                    .default_ttl(TTL)
                    .prefix("one:bench:")
                    .build()
                    .expect("a store"),
            ),
        ),
        (
            "cluster of 3",
            Box::new(
                RedisClusterStore::builder(seeds())
                    .default_ttl(TTL)
                    .prefix("one:bench:")
                    .build()
                    .expect("a store"),
            ),
        ),
    ];
    // Connect (every pooled connection of every master) and load the slot map before
    // measuring.
    rt.block_on(async {
        for (name, store) in &stores {
            let warm: Vec<Key> = (0..3 * CALLERS).map(|_| fresh_key()).collect();
            for answer in futures::future::join_all(warm.iter().map(|k| store.add(k))).await {
                answer.unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    });

    let mut g = c.benchmark_group("redis_cluster_add/one_by_one");
    g.throughput(Throughput::Elements(1));
    for (name, store) in &stores {
        g.bench_function(*name, |b| {
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
    }
    g.finish();

    let mut g = c.benchmark_group("redis_cluster_add/64_concurrent");
    g.throughput(Throughput::Elements(1));
    for (name, store) in &stores {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(concurrent(iters, CALLERS, || async {
                    assert!(store.add(&fresh_key()).await.expect("add"));
                }))
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("redis_cluster_add/batch_100");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, store) in &stores {
        g.bench_function(*name, |b| {
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
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = cluster_groups
}
criterion_main!(benches);
