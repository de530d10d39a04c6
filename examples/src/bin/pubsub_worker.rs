//! Consumers of an at-least-once subscription that crash, stall and race: how many times does
//! each message's effect happen? The simulation from `one_testkit::sim`, run once per pattern
//! under one seed, with its report.
//!
//! ```text
//! cargo run -p one-examples --bin pubsub_worker [-- --seed N --messages N --workers N
//!                                                   --crash-rate P --slow-rate P --batch N --heartbeat]
//! ONE_REDIS_URL=redis://127.0.0.1:6379 cargo run -p one-examples --bin pubsub_worker
//! ```
//!
//! Each worker of the lease patterns does what a real consumer does with `one`:
//!
//! ```text
//! loop {
//!     let message = subscription.receive().await;
//!     let key = make_key(&message.id)?;
//!     match once.run(&store, &key, || handle(&message)).await {
//!         Ok(Outcome::Ran(_) | Outcome::Duplicate(_)) => message.ack(),
//!         Ok(Outcome::InProgress { retry_after }) => message.nack_after(retry_after),
//!         Ok(Outcome::LeaseLost(_)) => { /* effect committed with complete: nack; else compensate, ack */ }
//!         Ok(Outcome::Mismatch) | Err(_) => message.nack(),
//!     }
//! }
//! ```
//!
//! and the simulation crashes it at random points, makes some work outlive its lease, and has
//! the broker deliver duplicates, reorder, and redeliver. On memory (the default) the store runs
//! on a mock clock that follows the simulation's virtual time: a run takes well under a second
//! and the same seed prints the same report. On Redis, time passes for real: a run takes its
//! virtual time (about 25 s for 10,000 messages); lower `--messages` for a quick look.

use std::process::ExitCode;
use std::time::Instant;

use one_examples::backend::Backend;
use one_testkit::sim::{self, Config, Pattern};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "pubsub_worker: the lease with a committed effect did not apply every message once"
            );
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("pubsub_worker: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads `--name value` flags into `config`.
fn parse(config: &mut Config, args: impl IntoIterator<Item = String>) -> Result<(), String> {
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--heartbeat" {
            config.heartbeat = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--seed" => config.seed = value.parse().map_err(|e| bad(&e))?,
            "--messages" => config.messages = value.parse().map_err(|e| bad(&e))?,
            "--workers" => config.workers = value.parse().map_err(|e| bad(&e))?,
            "--batch" => config.batch = value.parse().map_err(|e| bad(&e))?,
            "--crash-rate" => config.crash_rate = value.parse().map_err(|e| bad(&e))?,
            "--slow-rate" => config.slow_rate = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if config.workers == 0 || config.messages == 0 {
        return Err("--workers and --messages must be at least 1".into());
    }
    Ok(())
}

const USAGE: &str = "usage: pubsub_worker [--seed N] [--messages N] [--workers N] \
[--crash-rate R] [--slow-rate R] [--batch N] [--heartbeat]

Runs the at-least-once simulation once per consumer pattern and prints each report. The store is
in memory, Redis when ONE_REDIS_URL is set, or Redis Cluster when ONE_REDIS_CLUSTER_URLS is.";

fn run() -> Result<bool, String> {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(true);
    }
    let mut config = Config::default();
    parse(&mut config, std::env::args().skip(1)).map_err(|e| format!("{e}\n{USAGE}"))?;
    let backend = Backend::from_env();
    println!(
        "{} messages, {} workers, seed {}, on {backend}: {:.0}% of deliveries crash their worker, \
         {:.0}% are slow (lease {:?}, ack deadline {:?}){}\n",
        config.messages,
        config.workers,
        config.seed,
        config.crash_rate * 100.0,
        config.slow_rate * 100.0,
        config.lease,
        config.ack_deadline,
        if config.heartbeat {
            ", with heartbeats"
        } else {
            ""
        }
    );
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no tokio runtime: {e}"))?;
    let mut reports = Vec::new();
    for pattern in Pattern::ALL {
        let config = Config {
            pattern,
            ..config.clone()
        };
        let started = Instant::now();
        let report = runtime
            .block_on(backend.simulate(&config))
            .map_err(|e| format!("cannot create the store: {e}"))?;
        println!(
            "{report}\n  (ran in {:.2} s)\n",
            started.elapsed().as_secs_f64()
        );
        reports.push(report);
    }
    println!("{}", sim::table(&reports));
    println!("never:  messages whose effect never happened, after delivery stopped");
    println!("twice+: messages whose effect happened more than once; extra: the repeats");
    let exact = reports
        .iter()
        .find(|r| r.pattern == Pattern::LeaseAtomicEffect)
        .is_some_and(|r| r.never_applied == 0 && r.applied_more == 0 && r.finished);
    Ok(exact)
}
