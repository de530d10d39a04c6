//! The in-memory store against its peers: 1M `add`s over 500k keys (each key twice, shuffled,
//! so half the calls are duplicates), then 1M `has_key`s (half hits), on 1 and 2 threads.
//!
//! Every peer runs the same operations in the same run; each iteration starts from an empty
//! store (`add`) or the same pre-filled one (`has_key`). Times are for all 1M operations.
//!
//! The peers: `one-memory`'s `add_sync`/`has_key_sync`; the same store through the `Store`
//! trait as `Arc<dyn Store>` (`store.add(&key).await`, which goes through the trait's
//! forwarding impl for `Arc`) and as `&dyn Store` (the store's own impl only), each future
//! polled once as an executor would; moka's `sync::Cache` (`entry().or_insert_with`, its
//! atomic insert-if-absent, and `contains_key`); dashmap and a `Mutex<HashMap>` from key to
//! expiry instant, as one would hand-roll them.
//!
//! `cargo bench -p one-benches --bench memory_store [-- FILTER]`

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
};
use one_benches::{
    DashSet, DedupSet, Moka, MutexMap, OneDyn, OneDynRef, OneInherent, add_workload, keys,
    run_split,
};

const DISTINCT: usize = 500_000;

type Make = fn() -> Box<dyn DedupSet>;

fn peers() -> Vec<(&'static str, Make)> {
    vec![
        ("one-memory", || Box::new(OneInherent::new())),
        ("one-memory as Arc<dyn Store>", || Box::new(OneDyn::new())),
        ("one-memory as &dyn Store", || Box::new(OneDynRef::new())),
        ("Mutex<HashMap>", || Box::new(MutexMap::default())),
        ("dashmap", || Box::new(DashSet::default())),
        ("moka", || Box::new(Moka::new())),
    ]
}

fn add_group(g: &mut BenchmarkGroup<'_, WallTime>, ops: &[one_core::Key], threads: usize) {
    for (name, make) in peers() {
        g.bench_function(name, |b| {
            b.iter_batched(
                make,
                |set| {
                    let created = run_split(&*set, ops, threads, |s, k| s.add(k));
                    assert_eq!(created, DISTINCT, "{name}: every key is new exactly once");
                    set
                },
                BatchSize::PerIteration,
            )
        });
    }
}

fn has_group(g: &mut BenchmarkGroup<'_, WallTime>, ops: &[one_core::Key], threads: usize) {
    for (name, make) in peers() {
        // Half of the keys are present: each lookup hits or misses with equal odds.
        let set = make();
        for k in keys(1, DISTINCT).iter().step_by(2) {
            set.add(k);
        }
        let hits = run_split(&*set, ops, 1, |s, k| s.has(k));
        assert_eq!(hits, ops.len() / 2, "{name}: half of the lookups hit");
        g.bench_function(name, |b| {
            b.iter(|| black_box(run_split(&*set, ops, threads, |s, k| s.has(k))))
        });
    }
}

fn memory_store(c: &mut Criterion) {
    let ops = add_workload(DISTINCT);
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("memory_add/{threads}_thread"));
        g.throughput(Throughput::Elements(ops.len() as u64));
        g.sample_size(10);
        add_group(&mut g, &ops, threads);
        g.finish();
    }
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("memory_has_key/{threads}_thread"));
        g.throughput(Throughput::Elements(ops.len() as u64));
        g.sample_size(10);
        has_group(&mut g, &ops, threads);
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = memory_store
}
criterion_main!(benches);
