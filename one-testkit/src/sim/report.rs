//! What a simulation run counted, and how it is shown.

use std::fmt;
use std::time::Duration;

use super::{Config, CrashPoint, Pattern};

/// The counters the workers and the broker keep during a run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) deliveries: u64,
    pub(crate) redeliveries: u64,
    pub(crate) concurrent: u64,
    pub(crate) expired: u64,
    pub(crate) late_acks: u64,
    pub(crate) crashes: [u64; CrashPoint::ALL.len()],
    pub(crate) slow: u64,
    pub(crate) ran: u64,
    pub(crate) duplicates: u64,
    pub(crate) in_progress: u64,
    pub(crate) mismatches: u64,
    pub(crate) lease_lost: u64,
    pub(crate) store_errors: u64,
    pub(crate) interrupted_commits: u64,
}

/// What one simulation run did: what the broker delivered, what went wrong on the way, what the
/// workers were told, and — the point of it all — how many times each message's effect was
/// applied once delivery stopped.
///
/// Two runs with the same [`Config`](super::Config) on a store whose calls finish at once (the
/// in-memory store on a mock clock) give equal reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The pattern the workers followed.
    pub pattern: Pattern,
    /// The seed.
    pub seed: u64,
    /// Messages published.
    pub messages: usize,
    /// Concurrent workers.
    pub workers: usize,
    /// Deliveries handed to workers, in all.
    pub deliveries: u64,
    /// Deliveries of a message that had been delivered before.
    pub redeliveries: u64,
    /// Deliveries handed out while another delivery of the same message was in flight.
    pub concurrent_duplicates: u64,
    /// Deliveries redelivered because their ack deadline passed (their worker crashed or was
    /// slow).
    pub expired_deliveries: u64,
    /// Worker crashes at each [`CrashPoint`], in [`CrashPoint::ALL`] order.
    pub crashes: [u64; CrashPoint::ALL.len()],
    /// Deliveries whose work took longer than the lease.
    pub slow: u64,
    /// Deliveries whose work ran and was recorded (for `add`: whose add won).
    pub ran: u64,
    /// Deliveries skipped as duplicates.
    pub duplicates: u64,
    /// Deliveries answered "in progress" and nacked.
    pub in_progress: u64,
    /// Runs whose lease was lost before they completed.
    pub lease_lost: u64,
    /// Store calls that failed.
    pub store_errors: u64,
    /// Completions cut off by a crash while the store call was in flight: whether the effect
    /// committed with them is unknown to the effect log. Always 0 for a store whose calls finish
    /// at once.
    pub interrupted_commits: u64,
    /// Messages whose effect was never applied.
    pub never_applied: usize,
    /// Messages whose effect was applied exactly once.
    pub applied_once: usize,
    /// Messages whose effect was applied more than once.
    pub applied_more: usize,
    /// Applications beyond the first, over all messages.
    pub extra_applications: u64,
    /// Messages the broker never saw acknowledged.
    pub unacked: usize,
    /// Virtual time from the first publish until nothing was left to happen.
    pub virtual_time: Duration,
    /// False when the run hit [`Config::time_limit`](super::Config::time_limit) before delivery
    /// stopped (a store that never lets a message through, say).
    pub finished: bool,
}

impl Report {
    /// Crashes at all points.
    pub fn crashes_total(&self) -> u64 {
        self.crashes.iter().sum()
    }

    /// Crashes at `point`.
    pub fn crashes_at(&self, point: CrashPoint) -> u64 {
        self.crashes[point as usize]
    }

    pub(crate) fn new(
        config: &Config,
        tally: &Tally,
        effects: &[u32],
        unacked: usize,
        virtual_time: Duration,
        finished: bool,
    ) -> Self {
        let count = |f: fn(u32) -> bool| effects.iter().filter(|&&n| f(n)).count();
        Report {
            pattern: config.pattern,
            seed: config.seed,
            messages: effects.len(),
            workers: config.workers,
            deliveries: tally.deliveries,
            redeliveries: tally.redeliveries,
            concurrent_duplicates: tally.concurrent,
            expired_deliveries: tally.expired,
            crashes: tally.crashes,
            slow: tally.slow,
            ran: tally.ran,
            duplicates: tally.duplicates,
            in_progress: tally.in_progress,
            lease_lost: tally.lease_lost,
            store_errors: tally.store_errors,
            interrupted_commits: tally.interrupted_commits,
            never_applied: count(|n| n == 0),
            applied_once: count(|n| n == 1),
            applied_more: count(|n| n > 1),
            extra_applications: effects
                .iter()
                .map(|&n| u64::from(n.saturating_sub(1)))
                .sum(),
            unacked,
            virtual_time,
            finished,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (seed {}, {} messages, {} workers)",
            self.pattern.describe(),
            self.seed,
            self.messages,
            self.workers
        )?;
        writeln!(
            f,
            "  delivered      {:>6}  ({} redeliveries, {} while another copy was in flight, {} past their ack deadline)",
            self.deliveries, self.redeliveries, self.concurrent_duplicates, self.expired_deliveries
        )?;
        let points: Vec<String> = CrashPoint::ALL
            .iter()
            .map(|&p| format!("{} {}", p.name(), self.crashes_at(p)))
            .collect();
        writeln!(
            f,
            "  crashes        {:>6}  ({})",
            self.crashes_total(),
            points.join(", ")
        )?;
        writeln!(
            f,
            "  slow           {:>6}  (work longer than the lease)",
            self.slow
        )?;
        writeln!(
            f,
            "  answers        ran {}, duplicate {}, in progress {}, lease lost {}, store errors {}",
            self.ran, self.duplicates, self.in_progress, self.lease_lost, self.store_errors
        )?;
        writeln!(
            f,
            "  effects        applied once {}, NEVER {}, MORE THAN ONCE {} ({} extra)",
            self.applied_once, self.never_applied, self.applied_more, self.extra_applications
        )?;
        write!(
            f,
            "  end            {} unacked, {:.1} s of virtual time{}{}",
            self.unacked,
            self.virtual_time.as_secs_f64(),
            if self.finished {
                ""
            } else {
                ", STOPPED AT THE TIME LIMIT"
            },
            if self.interrupted_commits > 0 {
                format!(
                    ", {} completions cut off in flight",
                    self.interrupted_commits
                )
            } else {
                String::new()
            }
        )
    }
}

/// The reports side by side, one line each: delivery, crashes, and effects applied 0, 1 and
/// more than once.
pub fn table(reports: &[Report]) -> String {
    let mut out = format!(
        "{:<44} {:>9} {:>8} {:>7} {:>5} {:>6} {:>6} {:>6} {:>6}\n",
        "pattern", "delivered", "redeliv.", "crashes", "slow", "never", "once", "twice+", "extra"
    );
    for r in reports {
        out.push_str(&format!(
            "{:<44} {:>9} {:>8} {:>7} {:>5} {:>6} {:>6} {:>6} {:>6}\n",
            r.pattern.describe(),
            r.deliveries,
            r.redeliveries,
            r.crashes_total(),
            r.slow,
            r.never_applied,
            r.applied_once,
            r.applied_more,
            r.extra_applications
        ));
    }
    out
}
