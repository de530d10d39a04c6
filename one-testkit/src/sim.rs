//! A deterministic simulation of consumers under at-least-once delivery: does every message's
//! effect happen exactly once when workers crash, stall and race?
//!
//! A broker publishes [`Config::messages`] messages and delivers each at least once: with
//! reordering, immediate duplicates in flight beside the original, redelivery when an ack
//! deadline passes, and late redeliveries of messages already acknowledged (a lost ack, a
//! failover). [`Config::workers`] workers receive them and follow a [`Pattern`]; each delivery
//! may crash its worker at a random [`CrashPoint`], or be slow (its work outlives the lease). A
//! crashed worker is replaced by a new process after a short delay; everything it held in memory
//! is gone. An effect log counts how many times each message's effect was applied. The
//! [`Report`] says what was delivered, what went wrong, and how many messages were applied never,
//! once, or more than once after delivery stopped.
//!
//! # What "exactly once" means here
//!
//! No consumer can make an effect in another system happen exactly once on its own: between
//! "the effect happened" and "the store recorded it" there is always a moment when a crash (or
//! a lease running out) leaves the next worker unable to tell. What the patterns do with that
//! moment is what the simulation measures:
//!
//! - [`Pattern::AddThenProcess`] records first (`add`), then does the work: a crash in between
//!   **loses the message** (every redelivery is a "duplicate").
//! - [`Pattern::CheckThenAct`] looks (`has_key`), does the work, then records: two deliveries in
//!   flight at once both do it, and a crash in between does it again — **duplicates**.
//! - [`Pattern::LeaseSeparateEffect`] runs under a lease (`RunOnce`): nothing is lost (a crashed
//!   claim ends at its lease deadline and a redelivery runs the work) and no two workers hold a
//!   message at once, but an effect written to another system before `complete` is **repeated**
//!   when its worker crashes before completing, or when its lease runs out first
//!   ([`Outcome::LeaseLost`](one_core::Outcome::LeaseLost): compensate). Rarely, and each case
//!   is reported.
//! - [`Pattern::LeaseAtomicEffect`] also runs under a lease, and the effect **commits together
//!   with `complete`** (one transaction in the same database, or a downstream that deduplicates
//!   by the key; here, the effect log is written in the same step as a successful `complete`,
//!   and never otherwise). Then every message's effect is applied **exactly once**: the store
//!   lets exactly one `complete` succeed per key for the record's TTL, a stale holder's
//!   `complete` is refused (fencing token), and a message is only acknowledged once it is
//!   complete, so the broker redelivers it until it is.
//!
//! The last guarantee needs the completed record to outlive the broker's redelivery window
//! ([`Config::ttl`] against [`Config::redelivery_window`]): a redelivery after the record
//! expired runs the work again.
//!
//! # Determinism
//!
//! Workers are async tasks on a small executor of the simulation's own that runs one task at a
//! time, picking the next among those ready with the seeded random source; every store call
//! passes a scheduling point first, so any two workers' calls can interleave. Time is virtual:
//! when no task can run, the clock jumps to the next timer (a finished sleep, an ack deadline, a
//! publish) and the store's clock is moved by the same amount through the `advance` function
//! you pass. On a store whose calls finish at once, with a mock clock (`one-memory`'s
//! `MockClock`), a run is exactly replayable from its seed, and takes well under a second for
//! 10,000 messages. On a store that answers over the network, `advance` sleeps for real
//! ([`real_time`]), the run takes about [`Report::virtual_time`] of real time, and the schedule
//! is the seed's but what the server's clock does in between is not: the counts vary a little
//! from run to run, the guarantees do not.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use one_core::Store;
//! use one_testkit::sim::{self, Config, Pattern};
//!
//! # async fn example(store: Arc<dyn Store>) {
//! // A store on a real clock (a server): time really passes.
//! let config = Config {
//!     pattern: Pattern::LeaseAtomicEffect,
//!     tick: Duration::from_millis(5),
//!     ..Config::default()
//! };
//! let report = sim::run(store, sim::real_time(), &config).await;
//! println!("{report}");
//! assert_eq!((report.never_applied, report.applied_more), (0, 0));
//! # }
//! ```

mod broker;
mod exec;
mod report;
mod store;
mod worker;
mod world;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use one_core::{Key, RunOnce, Store};

use self::broker::Broker;
use self::exec::End;
pub use self::report::{Report, table};
use self::store::SimStore;
use self::worker::Worker;
use self::world::{Event, Shared, Sim, World};
use crate::Fixture;

/// What the workers do with each delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pattern {
    /// `add` the key; if it was new, do the work and its effect, then ack. (The Go library's
    /// pattern.) Loses a message whose worker crashes after the add.
    AddThenProcess,
    /// `has_key`; if absent, do the work and its effect, then `add`, then ack. Lets duplicates
    /// through.
    CheckThenAct,
    /// `RunOnce` (claim with a lease, work, complete); the work writes its effect to another
    /// system before `complete`. Nothing is lost; a crash between the effect and `complete`,
    /// or a lease that runs out, repeats the effect.
    LeaseSeparateEffect,
    /// `RunOnce`, with the effect committed together with `complete`: exactly once.
    LeaseAtomicEffect,
}

impl Pattern {
    /// Every pattern, the plain ones first.
    pub const ALL: [Pattern; 4] = [
        Pattern::AddThenProcess,
        Pattern::CheckThenAct,
        Pattern::LeaseSeparateEffect,
        Pattern::LeaseAtomicEffect,
    ];

    /// A short description, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Pattern::AddThenProcess => "add, then process",
            Pattern::CheckThenAct => "has_key, process, add",
            Pattern::LeaseSeparateEffect => "lease; effect before complete",
            Pattern::LeaseAtomicEffect => "lease; effect committed with complete",
        }
    }

    fn lease(self) -> bool {
        matches!(
            self,
            Pattern::LeaseSeparateEffect | Pattern::LeaseAtomicEffect
        )
    }
}

/// Where a worker may crash while handling a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// After receiving, before the store is asked anything.
    BeforeClaim,
    /// Right after the claim (or `add`, or `has_key`).
    AfterClaim,
    /// Half-way through the work.
    MidWork,
    /// After the work and its effect (when the effect is separate), before `complete` (or
    /// `add`, in check-then-act).
    BeforeComplete,
    /// After completing, before acknowledging the delivery.
    AfterComplete,
}

impl CrashPoint {
    /// Every crash point, in the order a delivery passes them.
    pub const ALL: [CrashPoint; 5] = [
        CrashPoint::BeforeClaim,
        CrashPoint::AfterClaim,
        CrashPoint::MidWork,
        CrashPoint::BeforeComplete,
        CrashPoint::AfterComplete,
    ];

    /// A short name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::BeforeClaim => "before claim",
            CrashPoint::AfterClaim => "after claim",
            CrashPoint::MidWork => "mid-work",
            CrashPoint::BeforeComplete => "before complete",
            CrashPoint::AfterComplete => "after complete",
        }
    }
}

/// A simulation: the seed, the load, the failure rates and the timings (all virtual time).
///
/// The default is the scenario of the exactly-once issue: 10,000 messages, 8 workers, 3% of
/// deliveries crash their worker and 3% are slow, with the lease at 100 ms and the ack deadline
/// at 150 ms, so a slow worker's lease runs out and its message is redelivered while it still
/// works.
#[derive(Clone, Debug)]
pub struct Config {
    /// The seed of every random choice: the same seed replays the same run.
    pub seed: u64,
    /// The pattern the workers follow.
    pub pattern: Pattern,
    /// Messages published (one every [`publish_interval`](Self::publish_interval)).
    pub messages: usize,
    /// Concurrent workers.
    pub workers: usize,
    /// Deliveries a worker takes at a time. Above 1, the lease patterns claim a batch with one
    /// `claim_many` (`RunOnce::run_many`) and run its work concurrently.
    pub batch: usize,
    /// The probability that a delivery crashes its worker, at a uniformly chosen
    /// [`CrashPoint`].
    pub crash_rate: f64,
    /// The probability that a delivery's work takes 1.5 to 3 leases.
    pub slow_rate: f64,
    /// The probability that a delivery comes with an immediate copy, in flight beside it.
    pub duplicate_rate: f64,
    /// The probability that an acknowledged message is delivered again later, within
    /// [`redelivery_window`](Self::redelivery_window).
    pub redelivery_rate: f64,
    /// How far apart publishes are.
    pub publish_interval: Duration,
    /// How long ordinary work takes: uniform between the two.
    pub work: (Duration, Duration),
    /// The lease of a claim.
    pub lease: Duration,
    /// The TTL of a completed record (and of an `add`).
    pub ttl: Duration,
    /// Whether the lease patterns send heartbeats (every third of the lease) while working.
    pub heartbeat: bool,
    /// Whether a lease pattern waits (up to this long) for an in-progress duplicate rather
    /// than nacking it at once.
    pub wait: Option<Duration>,
    /// How long a delivery may stay unacknowledged before the broker redelivers it.
    pub ack_deadline: Duration,
    /// How long after its ack a message may still be delivered again.
    pub redelivery_window: Duration,
    /// A receive chooses among this many of the first waiting messages.
    pub reorder: usize,
    /// How long a crashed worker takes to come back.
    pub restart_delay: Duration,
    /// Virtual time after which the run stops even if messages are still being delivered.
    pub time_limit: Duration,
    /// The granularity of virtual time: when not zero, time moves in whole ticks and every
    /// timer due within a tick fires at its end. Zero (the default) is exact, for a mock clock;
    /// on real time, a few milliseconds keep the number of sleeps (each at least a millisecond
    /// long in practice) from stretching the run.
    pub tick: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            pattern: Pattern::LeaseAtomicEffect,
            messages: 10_000,
            workers: 8,
            batch: 1,
            crash_rate: 0.03,
            slow_rate: 0.03,
            duplicate_rate: 0.05,
            redelivery_rate: 0.05,
            publish_interval: Duration::from_millis(1),
            work: (Duration::from_millis(1), Duration::from_millis(10)),
            lease: Duration::from_millis(100),
            ttl: Duration::from_secs(3600),
            heartbeat: false,
            wait: None,
            ack_deadline: Duration::from_millis(150),
            redelivery_window: Duration::from_secs(5),
            reorder: 8,
            restart_delay: Duration::from_millis(50),
            time_limit: Duration::from_secs(3600),
            tick: Duration::ZERO,
        }
    }
}

/// Runs the simulation `config` describes against `store`, moving the store's clock with
/// `advance` whenever virtual time moves: `|d| { clock.advance(d); async {} }` for a mock
/// clock, `tokio::time::sleep` for a store on real time.
///
/// Keys live in a fresh key space, so a shared server needs no cleanup. The workers are polled
/// on the calling task; the future is `Send` when `advance`'s futures are.
///
/// On the in-memory store, with a mock clock (as `one-memory`'s tests do):
///
/// ```text
/// let clock = MockClock::new();
/// let store = MemoryStore::builder().default_ttl(config.ttl).clock(clock.clone()).build()?;
/// let report = sim::run(Arc::new(store), move |d| { clock.advance(d); async {} }, &config).await;
/// ```
pub async fn run<A, Fut>(store: Arc<dyn Store>, advance: A, config: &Config) -> Report
where
    A: FnMut(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    let config = Arc::new(config.clone());
    let space = crate::fresh_space("sim");
    let keys: Vec<Key> = (0..config.messages)
        .map(|i| {
            space
                .key(&("message", i))
                .expect("a tuple has key material")
        })
        .collect();
    let mut world = World::new(
        config.seed,
        Broker::new(config.messages, config.reorder),
        config.messages,
    );
    for (i, at) in (0..config.messages).map(|i| (i, config.publish_interval * i as u32)) {
        world.at(at, Event::Publish(i));
    }
    let shared = Shared::new(world);
    let sim = Sim {
        shared: shared.clone(),
        config: Arc::clone(&config),
        keys: Arc::new(keys),
    };
    let atomic = config.pattern == Pattern::LeaseAtomicEffect;
    let store = Arc::new(SimStore::new(store, sim.clone(), atomic));
    let mut once = RunOnce::new(config.lease, config.ttl);
    if config.pattern.lease() {
        if config.heartbeat {
            let timer = sim.clone();
            once = once.heartbeat(config.lease / 3, move |d| timer.sleep(d));
        }
        if let Some(timeout) = config.wait {
            let timer = sim.clone();
            once = once.wait(timeout, move |d| timer.sleep(d));
        }
    }
    let spawn = |_worker: usize, restarted: bool| -> exec::Task {
        let worker = Worker {
            sim: sim.clone(),
            store: Arc::clone(&store),
            once: once.clone(),
            config: Arc::clone(&config),
        };
        Box::pin(async move {
            if restarted {
                worker.sim.sleep(worker.config.restart_delay).await;
            }
            worker.run().await;
        })
    };
    let end = exec::execute(
        &shared,
        config.workers,
        &spawn,
        advance,
        config.tick,
        config.time_limit,
    )
    .await;
    let w = shared.lock();
    Report::new(
        &config,
        &w.tally,
        &w.effects,
        w.broker.unacked(),
        w.now,
        end == End::Quiet,
    )
}

/// An `advance` for a store on real time (a server): sleeps (on tokio) until the simulation's
/// virtual time, counted from the first call, so that oversleeping never accumulates.
pub fn real_time() -> impl FnMut(Duration) -> tokio::time::Sleep + Send {
    let mut start = None;
    let mut elapsed = Duration::ZERO;
    move |by| {
        let start = *start.get_or_insert_with(tokio::time::Instant::now);
        elapsed += by;
        tokio::time::sleep_until(start + elapsed)
    }
}

/// [`run`] on a store from `fixture` (with [`Config::ttl`] as its default TTL): the way a
/// backend's tests run the simulation, beside [`conformance_tests!`](crate::conformance_tests).
///
/// On an exact clock ([`Profile::exact_clock`](crate::Profile::exact_clock)), time moves by
/// [`Fixture::advance`]; otherwise by [`real_time`], in ticks of at least 5 ms.
pub async fn run_on<F: Fixture>(fixture: &F, config: &Config) -> Report {
    let store: Arc<dyn Store> = Arc::new(fixture.store(config.ttl).await);
    if fixture.profile().exact_clock {
        return run(store, |d| fixture.advance(d), config).await;
    }
    let config = Config {
        tick: config.tick.max(REAL_TIME_TICK),
        ..config.clone()
    };
    run(store, real_time(), &config).await
}

/// The least tick [`run_on`] uses on real time.
const REAL_TIME_TICK: Duration = Duration::from_millis(5);
