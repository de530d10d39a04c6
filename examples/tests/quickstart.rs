//! The quickstart's numbers, checked against counts computed without `one` at all.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use futures::executor::block_on;
use one_examples::generate::{DEFAULT_COUNT, DEFAULT_SEED, generate, write_jsonl};
use one_examples::{Counts, Strictness, dedupe, read_events};
use one_memory::MemoryStore;
use serde_json::Value;

fn data_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/storage-events.jsonl")
}

/// The expected number of processed events per level, in [`Strictness::ALL`] order, and the
/// number of lines: distinct `(bucket, name)`, distinct `(bucket, name, generation)` and distinct
/// whole messages, counted with plain `HashSet`s over `serde_json::Value`s. No keys, no stores.
fn independent_counts() -> ([usize; 3], usize) {
    let text = std::fs::read_to_string(data_path()).unwrap();
    let mut objects = HashSet::new();
    let mut versions = HashSet::new();
    let mut messages = HashSet::new();
    let mut total = 0;
    for line in text.lines() {
        let message: Value = serde_json::from_str(line).unwrap();
        let data = &message["data"];
        let field = |name: &str| data[name].as_str().unwrap().to_owned();
        objects.insert((field("bucket"), field("name")));
        versions.insert((field("bucket"), field("name"), field("generation")));
        let mut canonical = String::new();
        canonical_json(&message, &mut canonical);
        messages.insert(canonical);
        total += 1;
    }
    ([objects.len(), versions.len(), messages.len()], total)
}

/// JSON with object members sorted by name, so equal messages give equal text whatever the
/// member order (and whatever serde_json features another crate enables).
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(name.as_str()).to_string());
                out.push(':');
                canonical_json(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn dedupe_all() -> Vec<Counts> {
    let events = read_events(data_path()).unwrap();
    Strictness::ALL
        .iter()
        .map(|&strictness| {
            let store = MemoryStore::new(Duration::from_secs(24 * 60 * 60)).unwrap();
            block_on(dedupe(&store, &events, strictness)).unwrap()
        })
        .collect()
}

#[test]
fn dedupe_processes_exactly_the_distinct_objects_versions_and_messages() {
    let (expected, total) = independent_counts();
    assert!(total >= 10_000, "the data file has only {total} lines");
    let counts = dedupe_all();
    for (i, strictness) in Strictness::ALL.iter().enumerate() {
        assert_eq!(counts[i].processed, expected[i], "{strictness}: processed");
        assert_eq!(
            counts[i].total(),
            total,
            "{strictness}: processed + skipped"
        );
    }
    assert!(
        expected[0] < expected[1] && expected[1] < expected[2] && expected[2] < total,
        "the levels should tell the stream apart: {expected:?} of {total}"
    );
}

#[test]
fn dedupe_works_through_dyn_store() {
    let events = read_events(data_path()).unwrap();
    let store = MemoryStore::new(Duration::from_secs(60)).unwrap();
    let store: &dyn one_core::Store = &store;
    let first = block_on(dedupe(store, &events, Strictness::Event)).unwrap();
    // Every key is now recorded: the whole stream again is all duplicates.
    let again = block_on(dedupe(store, &events, Strictness::Event)).unwrap();
    assert_eq!(
        again,
        Counts {
            processed: 0,
            skipped: first.total()
        }
    );
}

#[test]
fn the_quickstart_prints_each_levels_counts() {
    let mut quickstart = Command::new(env!("CARGO_BIN_EXE_quickstart"));
    quickstart
        .env_remove("ONE_REDIS_URL")
        .env_remove("ONE_REDIS_CLUSTER_URLS");
    assert_prints_each_levels_counts(&mut quickstart);
}

/// Issue 3: the quickstart gives the same counts on Redis as in memory.
#[test]
fn the_quickstart_gives_the_same_counts_on_redis() {
    let Some(server) = one_testkit::redis_server::RedisServer::shared("quickstart on Redis") else {
        return; // skipped loudly by `shared` (or it panicked, where Redis is required)
    };
    let mut quickstart = Command::new(env!("CARGO_BIN_EXE_quickstart"));
    quickstart
        .env_remove("ONE_REDIS_CLUSTER_URLS")
        .env("ONE_REDIS_URL", server.url());
    let stdout = assert_prints_each_levels_counts(&mut quickstart);
    assert!(stdout.contains("on redis"), "{stdout}");
}

/// Issue 6: the quickstart gives the same counts on a Redis Cluster of three masters.
#[test]
fn the_quickstart_gives_the_same_counts_on_a_redis_cluster() {
    let Some(cluster) = one_testkit::redis_cluster::RedisCluster::shared("quickstart on a cluster")
    else {
        return; // skipped loudly by `shared` (or it panicked, where Redis is required)
    };
    let mut quickstart = Command::new(env!("CARGO_BIN_EXE_quickstart"));
    quickstart.env_remove("ONE_REDIS_URL");
    quickstart.env("ONE_REDIS_CLUSTER_URLS", cluster.urls().join(","));
    let stdout = assert_prints_each_levels_counts(&mut quickstart);
    assert!(stdout.contains("on redis cluster"), "{stdout}");
}

/// Runs the quickstart and checks every level's row against counts made without the library;
/// returns what it printed.
fn assert_prints_each_levels_counts(quickstart: &mut Command) -> String {
    let (expected, total) = independent_counts();
    let output = quickstart.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quickstart failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{total} notifications")),
        "{stdout}"
    );
    for (i, strictness) in Strictness::ALL.iter().enumerate() {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(strictness.name()))
            .unwrap_or_else(|| panic!("no row for {strictness}:\n{stdout}"));
        let numbers: Vec<&str> = row.split_whitespace().collect();
        assert!(numbers.contains(&expected[i].to_string().as_str()), "{row}");
        assert!(
            numbers.contains(&(total - expected[i]).to_string().as_str()),
            "{row}"
        );
    }
    stdout
}

#[test]
fn the_quickstart_reports_a_missing_or_malformed_file_without_panicking() {
    let dir = std::env::temp_dir().join(format!("one-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(data_path()).unwrap();
    let first_line = good.lines().next().unwrap();
    let malformed = dir.join("malformed.jsonl");
    std::fs::write(&malformed, format!("{first_line}\n{{\"messageId\": 42}}\n")).unwrap();
    let missing = dir.join("missing.jsonl");

    for (path, expect) in [
        (&missing, "missing.jsonl: "),
        (&malformed, "malformed.jsonl, line 2: "),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_quickstart"))
            .arg(path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.starts_with("quickstart: "), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--help` prints the usage and runs nothing; a flag given a flag for its value is refused
/// with the usage, not read as a file or a number.
#[test]
fn the_examples_answer_help_and_refuse_bad_flags_with_their_usage() {
    for (bin, usage) in [
        (env!("CARGO_BIN_EXE_quickstart"), "usage: quickstart [PATH]"),
        (env!("CARGO_BIN_EXE_pubsub_worker"), "usage: pubsub_worker "),
    ] {
        for help in ["--help", "-h"] {
            let output = Command::new(bin).arg(help).output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{bin} {help}: {output:?}");
            assert!(stdout.starts_with(usage), "{bin} {help}: {stdout}");
            assert!(
                !stdout.contains("processed") && !stdout.contains("delivered"),
                "{bin} {help} ran: {stdout}"
            );
        }
    }
    let output = Command::new(env!("CARGO_BIN_EXE_pubsub_worker"))
        .args(["--batch", "--messages", "5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.starts_with("pubsub_worker: --batch --messages: invalid digit"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: pubsub_worker "), "{stderr}");
}

#[test]
fn the_shipped_file_is_exactly_what_the_generator_writes() {
    let mut regenerated = Vec::new();
    write_jsonl(&generate(DEFAULT_SEED, DEFAULT_COUNT), &mut regenerated).unwrap();
    let shipped = std::fs::read(data_path()).unwrap();
    if regenerated != shipped {
        let line = regenerated
            .split(|&b| b == b'\n')
            .zip(shipped.split(|&b| b == b'\n'))
            .position(|(a, b)| a != b)
            .map_or_else(
                || "none (one is a prefix of the other)".into(),
                |i| (i + 1).to_string(),
            );
        panic!(
            "data/storage-events.jsonl differs from the generator's output ({} against {} bytes; \
             first differing line: {line}); regenerate it with \
             `cargo run -p one-examples --bin generate_events`",
            shipped.len(),
            regenerated.len()
        );
    }
}
