//! Memory per live key: each structure filled with 1M keys (and `one-memory` and the
//! `Mutex<HashMap>` baseline at several sizes), each in a fresh process of its own.
//!
//! Two readings per structure, both taken around the filling only (the keys are made first):
//!
//! - **resident**: the growth of the process's resident set (`/proc/self/statm`), what the
//!   operating system sees, allocator overhead and freed-but-kept memory included;
//! - **heap**: the growth of live heap bytes, counted by a wrapping global allocator
//!   (`stats_alloc`), exactly what the structure holds.
//!
//! `cargo bench -p one-benches --bench memory_per_key`

use std::alloc::System;
use std::collections::BTreeMap;
use std::process::Command;

use one_benches::{DashSet, DedupSet, Moka, MutexMap, OneInherent, keys, resident_bytes};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PEERS: &[&str] = &["one-memory", "Mutex<HashMap>", "dashmap", "moka"];
const TARGET_KEYS: usize = 1_000_000;
/// Sizes at which `one-memory` and the baseline are also measured: memory per key depends on
/// where in its growth a table is, so one size alone could flatter either.
const SIZES: &[usize] = &[
    100_000, 250_000, 500_000, 750_000, 1_000_000, 1_500_000, 2_000_000,
];

fn make(peer: &str) -> Box<dyn DedupSet> {
    match peer {
        "one-memory" => Box::new(OneInherent::new()),
        "Mutex<HashMap>" => Box::new(MutexMap::default()),
        "dashmap" => Box::new(DashSet::default()),
        "moka" => Box::new(Moka::new()),
        other => panic!("unknown peer {other}"),
    }
}

/// In the child: fill one structure with `n` keys; print resident and heap bytes per key.
fn child(peer: &str, n: usize) {
    let keys = keys(7, n);
    let set = make(peer);
    let rss_before = resident_bytes().expect("/proc/self/statm");
    let region = Region::new(GLOBAL);
    for k in &keys {
        assert!(set.add(k));
    }
    set.settle();
    let stats = region.change();
    let rss_after = resident_bytes().expect("/proc/self/statm");
    let heap = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
        + stats.bytes_reallocated as i64;
    let rss = rss_after as i64 - rss_before as i64;
    println!("{} {}", rss as f64 / n as f64, heap as f64 / n as f64);
    std::hint::black_box(&set);
}

fn measure(peer: &str, n: usize) -> Option<(f64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["--child", peer, &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "{peer} at {n}: the child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some((it.next()??, it.next()??))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(&args[2], args[3].parse().expect("a key count"));
        return;
    }
    // `cargo bench -- FILTER` passes a filter; `--list` and flags are ignored.
    let filter = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_default();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let mut results = BTreeMap::new();
    println!("memory per live key, each structure in a fresh process");
    println!(
        "{:<16} {:>10} {:>16} {:>14}",
        "structure", "keys", "resident B/key", "heap B/key"
    );
    let mut runs: Vec<(&str, usize)> = PEERS.iter().map(|p| (*p, TARGET_KEYS)).collect();
    for &n in SIZES.iter().filter(|&&n| n != TARGET_KEYS) {
        runs.push(("one-memory", n));
        runs.push(("Mutex<HashMap>", n));
    }
    for (peer, n) in runs {
        let name = format!("memory_per_key/{peer}/{n}");
        if !name.contains(&filter) {
            continue;
        }
        if let Some((rss, heap)) = measure(peer, n) {
            println!("{peer:<16} {n:>10} {rss:>16.1} {heap:>14.1}");
            results.insert(format!("{name}/resident"), rss);
            results.insert(format!("{name}/heap"), heap);
        }
    }
    if filter.is_empty()
        && let Err(e) = one_benches::write_results("memory_per_key", &results)
    {
        eprintln!("could not write the results: {e}");
    }
}
