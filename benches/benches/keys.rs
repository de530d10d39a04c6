//! Key derivation: `one`'s key against the Go original's JSON + SHA-256 hex, and against
//! SipHash over bytes serialized beforehand (the floor: hashing alone).
//!
//! `cargo bench -p one-benches --bench keys`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use one_benches::{json_sha256_hex, siphash128, storage_event, tuple3, wide};
use one_core::{make_key, to_canonical_bytes};
use serde::Serialize;

fn group<T: Serialize>(c: &mut Criterion, name: &str, value: &T) {
    let canonical = to_canonical_bytes(value).expect("key material");
    let json = serde_json::to_vec(value).expect("serializable");
    eprintln!(
        "key/{name}: {} canonical bytes, {} JSON bytes",
        canonical.len(),
        json.len()
    );
    let mut g = c.benchmark_group(format!("key/{name}"));
    g.bench_function("one make_key", |b| {
        b.iter(|| make_key(black_box(value)).expect("a key"))
    });
    g.bench_function("serde_json + sha256 hex", |b| {
        b.iter(|| json_sha256_hex(black_box(value)))
    });
    g.bench_function("siphash128 of pre-serialized bytes", |b| {
        b.iter(|| siphash128(black_box(&canonical)))
    });
    g.finish();
}

fn keys(c: &mut Criterion) {
    group(c, "storage_event", &storage_event());
    group(c, "tuple3", &tuple3());
    group(c, "wide20_map", &wide());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = keys
}
criterion_main!(benches);
