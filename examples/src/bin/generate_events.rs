//! Writes the seeded stream of Cloud Storage notifications that the other examples read.
//!
//! ```text
//! cargo run -p one-examples --bin generate_events -- [--seed N] [--count N] [--out PATH]
//! ```
//!
//! Without arguments it rewrites `examples/data/storage-events.jsonl` exactly as shipped.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use one_examples::generate::{DEFAULT_COUNT, DEFAULT_SEED, generate, write_jsonl};

const USAGE: &str = "usage: generate_events [--seed N] [--count N] [--out PATH]
  --seed N    the generator's seed, decimal or 0x-hex (default: the shipped file's)
  --count N   how many notifications to write (default 10000)
  --out PATH  where to write them (default: examples/data/storage-events.jsonl)";

struct Args {
    seed: u64,
    count: usize,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seed: DEFAULT_SEED,
        count: DEFAULT_COUNT,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/storage-events.jsonl"),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => {
                let parsed = match value.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
                    None => value.replace('_', "").parse(),
                };
                args.seed = parsed.map_err(|_| format!("--seed: not a u64: {value:?}"))?;
            }
            "--count" => {
                args.count = value
                    .parse()
                    .map_err(|_| format!("--count: not a count: {value:?}"))?;
            }
            "--out" => args.out = PathBuf::from(value),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("generate_events: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let events = generate(args.seed, args.count);
    let written =
        File::create(&args.out).and_then(|file| write_jsonl(&events, BufWriter::new(file)));
    if let Err(err) = written {
        eprintln!(
            "generate_events: cannot write {}: {err}",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }

    let mut kinds = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut redeliveries = 0;
    for event in &events {
        *kinds
            .entry(event.attributes.event_type.as_str())
            .or_insert(0) += 1;
        if !seen.insert(&event.message_id) {
            redeliveries += 1;
        }
    }
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} notifications ({bytes} bytes, seed {:#x}) to {}",
        events.len(),
        args.seed,
        args.out.display()
    );
    for (kind, n) in kinds {
        println!("  {kind:<24} {n:>6}");
    }
    println!("  {:<24} {redeliveries:>6} (of the above)", "redelivered");
    ExitCode::SUCCESS
}
