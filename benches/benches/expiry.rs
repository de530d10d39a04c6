//! Expiry under load: one thread adds fresh keys with a short TTL as fast as it can for a while
//! (default 10 s, `ONE_EXPIRY_SECS` to change), so records expire all the time and the store
//! must reclaim them as it goes, with no sweeper thread.
//!
//! Reported: the records held and the process's resident memory every 250 ms (flat once the
//! first TTL has passed means reclamation keeps up), and the latency of every `add` (median,
//! 99.9th and 99.99th percentiles, worst) in the first second, while the tables grow, and
//! after it, while every operation also reclaims expired records. For scale, the same timing
//! around no work at all shows the machine's own jitter (interrupts, preemption).
//!
//! `cargo bench -p one-benches --bench expiry`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use one_benches::{SplitMix, resident_bytes, write_results};
use one_core::Key;
use one_memory::MemoryStore;

const TTL: Duration = Duration::from_millis(100);
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Latencies in power-of-two buckets of nanoseconds ([2^i, 2^(i+1))), and the worst.
#[derive(Default)]
struct Latencies {
    buckets: [u64; 32],
    count: u64,
    worst: Duration,
    /// When recording started and stopped, to count slow calls per second.
    span: Duration,
}

impl Latencies {
    fn record(&mut self, took: Duration) {
        self.worst = self.worst.max(took);
        let nanos = took.as_nanos().clamp(1, 1 << 31) as u64;
        self.buckets[(63 - nanos.leading_zeros()) as usize] += 1;
        self.count += 1;
    }

    /// An upper bound of the `p` quantile: the top of its bucket.
    fn quantile(&self, p: f64) -> u64 {
        let target = (self.count as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return 1u64 << (i + 1);
            }
        }
        u64::MAX
    }

    /// How many calls per second took 8 µs or more.
    fn slow_per_second(&self) -> f64 {
        let slow: u64 = self.buckets[13..].iter().sum();
        slow as f64 / self.span.as_secs_f64().max(1e-9)
    }

    fn summary(&self) -> String {
        format!(
            "median <= {} ns, p99.9 <= {} ns, p99.99 <= {} ns, worst {:.1} us, \
             {:.0} calls/s over 8 us",
            self.quantile(0.5),
            self.quantile(0.999),
            self.quantile(0.9999),
            self.worst.as_secs_f64() * 1e6,
            self.slow_per_second()
        )
    }
}

fn fresh_key(rng: &mut SplitMix) -> Key {
    Key::from_bytes((u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())).to_le_bytes())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let secs: u64 = std::env::var("ONE_EXPIRY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let run_for = Duration::from_secs(secs);
    let settle = Duration::from_secs(1);

    // The machine's own jitter: the same timed loop around no work at all.
    let mut rng = SplitMix(1);
    let mut floor = Latencies::default();
    let start = Instant::now();
    while start.elapsed() < settle {
        for _ in 0..1024 {
            let key = fresh_key(&mut rng);
            let t = Instant::now();
            std::hint::black_box(&key);
            floor.record(t.elapsed());
        }
    }
    floor.span = start.elapsed();

    let store = MemoryStore::new(TTL).expect("a valid TTL");
    let mut rng = SplitMix(2024);
    let mut warming = Latencies::default();
    let mut steady = Latencies::default();
    let mut adds = 0u64;
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut next_sample = start;
    loop {
        let now = Instant::now();
        if now >= next_sample {
            samples.push((now - start, store.len(), resident_bytes().unwrap_or(0)));
            next_sample += SAMPLE_EVERY;
            if now - start >= run_for {
                break;
            }
        }
        let latencies = if now - start < settle {
            &mut warming
        } else {
            &mut steady
        };
        for _ in 0..1024 {
            let key = fresh_key(&mut rng);
            let t = Instant::now();
            let created = store.add_sync(&key).expect("unbounded store");
            latencies.record(t.elapsed());
            assert!(created, "fresh keys are new");
        }
        adds += 1024;
    }
    let elapsed = start.elapsed();
    warming.span = settle;
    steady.span = elapsed.saturating_sub(settle);
    let rate = adds as f64 / elapsed.as_secs_f64();
    let expected_live = rate * TTL.as_secs_f64();
    println!(
        "expiry under load: {adds} adds in {:.1} s ({:.2} M adds/s, each timed), TTL {} ms: \
         about {expected_live:.0} live records at any time",
        elapsed.as_secs_f64(),
        rate / 1e6,
        TTL.as_millis(),
    );
    println!("{:>8} {:>12} {:>12}", "t (s)", "held", "resident MB");
    for (t, held, rss) in &samples {
        println!(
            "{:>8.2} {:>12} {:>12.1}",
            t.as_secs_f64(),
            held,
            *rss as f64 / 1e6
        );
    }
    // Flat: after the first second, how far the records held and resident memory move.
    let settled: Vec<_> = samples.iter().filter(|s| s.0 >= settle).collect();
    let held_max = settled.iter().map(|s| s.1).max().unwrap_or(0);
    let held_min = settled.iter().map(|s| s.1).min().unwrap_or(0);
    let rss_max = settled.iter().map(|s| s.2).max().unwrap_or(0);
    let rss_min = settled.iter().map(|s| s.2).min().unwrap_or(0);
    println!(
        "after 1 s: records held {held_min}..{held_max} (at most {:.2}x the live records), \
         resident {:.1}..{:.1} MB",
        held_max as f64 / expected_live,
        rss_min as f64 / 1e6,
        rss_max as f64 / 1e6
    );
    println!(
        "add latency, first second (tables growing): {}",
        warming.summary()
    );
    println!(
        "add latency, after it (reclaiming all the time): {}",
        steady.summary()
    );
    println!(
        "the machine's floor (the same timing around no work): {}",
        floor.summary()
    );

    let mut results = BTreeMap::new();
    results.insert("expiry/adds_per_second".into(), rate);
    results.insert("expiry/expected_live".into(), expected_live);
    results.insert("expiry/held_max".into(), held_max as f64);
    results.insert("expiry/held_min".into(), held_min as f64);
    results.insert("expiry/resident_max_bytes".into(), rss_max as f64);
    results.insert("expiry/resident_min_bytes".into(), rss_min as f64);
    for (name, l) in [
        ("warming", &warming),
        ("steady", &steady),
        ("floor", &floor),
    ] {
        results.insert(
            format!("expiry/{name}/p50_ns_at_most"),
            l.quantile(0.5) as f64,
        );
        results.insert(
            format!("expiry/{name}/p999_ns_at_most"),
            l.quantile(0.999) as f64,
        );
        results.insert(
            format!("expiry/{name}/p9999_ns_at_most"),
            l.quantile(0.9999) as f64,
        );
        results.insert(format!("expiry/{name}/worst_ns"), l.worst.as_nanos() as f64);
        results.insert(format!("expiry/{name}/over_8us_per_s"), l.slow_per_second());
    }
    for (t, held, rss) in &samples {
        let ms = t.as_millis();
        results.insert(format!("expiry/series/{ms:06}/held"), *held as f64);
        results.insert(format!("expiry/series/{ms:06}/resident_bytes"), *rss as f64);
    }
    if let Err(e) = write_results("expiry", &results) {
        eprintln!("could not write the results: {e}");
    }
}
