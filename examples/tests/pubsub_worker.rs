//! `pubsub_worker` runs the simulation per pattern and prints its reports; on memory a seed
//! always prints the same report.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pubsub_worker"))
        .args(args)
        .env_remove("ONE_REDIS_URL")
        .output()
        .expect("pubsub_worker runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(
        output.status.success(),
        "pubsub_worker failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The table's line for a pattern: its numbers.
fn row(stdout: &str, pattern: &str) -> Vec<u64> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(pattern) && !l.contains('('))
        .unwrap_or_else(|| panic!("no table row for {pattern}:\n{stdout}"));
    line[pattern.len()..]
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect()
}

#[test]
fn prints_each_pattern_and_applies_every_message_once_under_a_lease() {
    let stdout = run(&["--messages", "2000", "--seed", "3"]);
    // delivered, redelivered, crashes, slow, never, once, twice+, extra
    let atomic = row(&stdout, "lease; effect committed with complete");
    assert_eq!(atomic[4..7], [0, 2000, 0], "{stdout}");
    let add = row(&stdout, "add, then process");
    assert!(add[4] > 0, "add, then process loses messages:\n{stdout}");
    let check = row(&stdout, "has_key, process, add");
    assert!(check[6] > 0, "check-then-act repeats messages:\n{stdout}");
    // The same seed prints the same report (all but the wall-clock times).
    let report = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("ran in"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        report(&stdout),
        report(&run(&["--messages", "2000", "--seed", "3"]))
    );
}

#[test]
fn refuses_a_bad_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_pubsub_worker"))
        .args(["--workers", "many"])
        .output()
        .expect("pubsub_worker runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--workers many"));
}
