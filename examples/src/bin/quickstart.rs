//! Deduplicates a stream of Cloud Storage notifications at the three strictness levels and prints
//! what each level would process and skip.
//!
//! ```text
//! cargo run -p one-examples --bin quickstart [-- PATH]
//! ```
//!
//! `PATH` defaults to the shipped `examples/data/storage-events.jsonl`. The store is the
//! in-memory one, Redis when `ONE_REDIS_URL` is set (`ONE_REDIS_URL=redis://127.0.0.1:6379`), or
//! Redis Cluster when `ONE_REDIS_CLUSTER_URLS` is (comma-separated seed URLs),
//! used through the `Store` trait: the same `dedupe` runs on any backend, with the same counts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use one_examples::backend::Backend;
use one_examples::{Strictness, dedupe, read_events};

/// How long a notification is remembered: Pub/Sub retains unacknowledged messages for 7 days by
/// default, but redeliveries come within hours, and a day comfortably covers this stream.
const TTL: Duration = Duration::from_secs(24 * 60 * 60);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quickstart: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: quickstart [PATH]

Deduplicates the Cloud Storage notifications in PATH (JSON Lines; default: the shipped
examples/data/storage-events.jsonl) at three strictness levels. The store is in memory, Redis
when ONE_REDIS_URL is set, or Redis Cluster when ONE_REDIS_CLUSTER_URLS is (comma-separated).";

fn run() -> Result<(), String> {
    let argument = std::env::args_os().nth(1).map(PathBuf::from);
    if argument
        .as_deref()
        .is_some_and(|a| a == "--help" || a == "-h")
    {
        println!("{USAGE}");
        return Ok(());
    }
    let shipped = argument.is_none();
    let path = argument.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/storage-events.jsonl")
    });
    let events = read_events(&path).map_err(|err| {
        let hint = "\n(regenerate it with `cargo run -p one-examples --bin generate_events`)";
        format!("{err}{}", if shipped { hint } else { "" })
    })?;
    let backend = Backend::from_env();
    println!(
        "{}: {} notifications, on {backend}\n",
        path.display(),
        events.len()
    );
    println!(
        "{:<8} {:<26} {:>9} {:>8} {:>10}",
        "level", "key fields", "processed", "skipped", "time"
    );
    for strictness in Strictness::ALL {
        // A fresh store per level (on Redis, a fresh key prefix), so that each level sees the
        // stream from the start.
        let store = backend
            .store("quickstart", TTL)
            .map_err(|err| format!("cannot create the store: {err}"))?;
        let started = Instant::now();
        let counts = block_on(&backend, dedupe(&*store, &events, strictness))
            .map_err(|err| format!("{strictness}: the store failed: {err}"))?;
        let elapsed = started.elapsed();
        println!(
            "{:<8} {:<26} {:>9} {:>8} {:>7.1} ms",
            strictness.name(),
            strictness.fields(),
            counts.processed,
            counts.skipped,
            elapsed.as_secs_f64() * 1e3
        );
    }
    println!();
    println!("object:  each object once; later versions, updates and deletes are skipped");
    println!("version: each generation once; its metadata updates, archive or delete are skipped");
    println!("event:   each distinct message once; only redeliveries are skipped");
    if cfg!(debug_assertions) {
        println!("(a debug build: run with --release for representative times)");
    }
    Ok(())
}

/// Runs `work` to completion: on the calling thread for the in-memory store, which needs no
/// runtime, and on a tokio runtime for Redis, whose connections need one.
fn block_on<T>(backend: &Backend, work: impl std::future::Future<Output = T>) -> T {
    if backend.is_remote() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(work)
    } else {
        futures::executor::block_on(work)
    }
}
