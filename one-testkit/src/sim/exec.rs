//! The simulation's machinery: a seeded random source, virtual time, and a single-threaded
//! executor that interleaves the workers in an order drawn from the seed.
//!
//! Every source of nondeterminism is the seed's: which ready worker runs next, what each
//! delivery does, when each timer fires. Store calls that finish at once (the in-memory store)
//! keep a run exactly replayable; a store that answers over the network only changes how long
//! the run takes in real time, and which answers come back when its own clock is real.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::world::Shared;

/// SplitMix64: small, fast, and the same numbers on every platform and version, so a seed
/// replays anywhere (unlike `rand`'s `StdRng`, whose algorithm may change).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `[low, high]`, to the microsecond.
    pub(crate) fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = high.saturating_sub(low).as_micros() as u64;
        low + Duration::from_micros(self.below(span + 1))
    }
}

pub(crate) type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Which tasks are ready to run, and whom to wake when one becomes ready.
#[derive(Default)]
struct Readiness {
    ready: BTreeSet<usize>,
    /// Each task's incarnation: a crashed task's leftover wakers must not wake its successor.
    generation: Vec<u64>,
    outer: Option<Waker>,
}

struct TaskWaker {
    id: usize,
    generation: u64,
    readiness: Arc<Mutex<Readiness>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut r = self.readiness.lock().unwrap_or_else(|p| p.into_inner());
        if r.generation[self.id] == self.generation {
            r.ready.insert(self.id);
        }
        if let Some(outer) = r.outer.take() {
            outer.wake();
        }
    }
}

/// `at`, rounded up to a multiple of `tick` (unless `tick` is zero).
fn round_up(at: Duration, tick: Duration) -> Duration {
    if tick.is_zero() {
        return at;
    }
    let (at, tick) = (at.as_nanos(), tick.as_nanos());
    let ticks = at.div_ceil(tick);
    Duration::from_nanos(u64::try_from(ticks * tick).unwrap_or(u64::MAX))
}

fn lock(readiness: &Mutex<Readiness>) -> MutexGuard<'_, Readiness> {
    readiness.lock().unwrap_or_else(|p| p.into_inner())
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Nothing is left to happen: no task can run and no timer is set.
    Quiet,
    /// Virtual time would pass the limit first.
    TimeLimit,
}

/// Runs `workers` tasks made by `spawn(i, restarted)`; a task that crashes is replaced by
/// `spawn(i, true)`. When no task can run, virtual time jumps to the next timer (rounded up to
/// a whole `tick`, when it is not zero: every timer due by then fires together), and the
/// store's clock follows through `advance`.
pub(crate) async fn execute<A, Fut>(
    shared: &Shared,
    workers: usize,
    spawn: &(dyn Fn(usize, bool) -> Task + Send + Sync),
    mut advance: A,
    tick: Duration,
    limit: Duration,
) -> End
where
    A: FnMut(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    let readiness = Arc::new(Mutex::new(Readiness {
        ready: (0..workers).collect(),
        generation: vec![0; workers],
        outer: None,
    }));
    let mut tasks: Vec<Task> = (0..workers).map(|i| spawn(i, false)).collect();
    // Tasks whose last poll waits on something outside the simulation (network I/O).
    let mut outside = vec![false; workers];
    loop {
        std::future::poll_fn(|cx| {
            lock(&readiness).outer = Some(cx.waker().clone());
            loop {
                let count = lock(&readiness).ready.len();
                if count == 0 {
                    break;
                }
                let pick = shared.lock().rng.below(count as u64) as usize;
                let (id, generation) = {
                    let mut r = lock(&readiness);
                    let id = *r.ready.iter().nth(pick).expect("pick < count");
                    r.ready.remove(&id);
                    (id, r.generation[id])
                };
                let waker = Waker::from(Arc::new(TaskWaker {
                    id,
                    generation,
                    readiness: Arc::clone(&readiness),
                }));
                {
                    let mut w = shared.lock();
                    w.parked = false;
                    w.crashed = false;
                }
                let polled = tasks[id].as_mut().poll(&mut Context::from_waker(&waker));
                let (parked, crashed) = {
                    let mut w = shared.lock();
                    let flags = (w.parked, w.crashed);
                    w.crashed = false;
                    flags
                };
                outside[id] = polled.is_pending() && !parked;
                if crashed || polled.is_ready() {
                    // The process died: nothing of it survives but what it wrote to the store,
                    // the broker and the effect log. A new one starts in its place.
                    tasks[id] = spawn(id, true);
                    outside[id] = false;
                    let mut r = lock(&readiness);
                    r.generation[id] += 1;
                    r.ready.insert(id);
                }
            }
            let r = lock(&readiness);
            let waiting_outside = (0..workers).any(|id| outside[id] && !r.ready.contains(&id));
            if waiting_outside {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;

        let next = shared
            .lock()
            .timers
            .first_key_value()
            .map(|(&(at, _), _)| at);
        let Some(at) = next.map(|at| round_up(at, tick)) else {
            return End::Quiet;
        };
        if at > limit {
            return End::TimeLimit;
        }
        let now = shared.lock().now;
        if at > now {
            advance(at - now).await;
        }
        let mut w = shared.lock();
        let now = w.now.max(at);
        w.now = now;
        while let Some(entry) = w.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let event = entry.remove();
            w.fire(event);
        }
    }
}
