//! The simulated world the workers live in: virtual time, the broker, the effect log, and
//! [`Sim`], the handle through which a worker receives, sleeps, applies effects, acknowledges
//! and crashes.

use std::collections::BTreeMap;
use std::future::{Future, pending, poll_fn};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use one_core::Key;

use super::broker::{Broker, Delivery};
use super::exec::Rng;
use super::report::Tally;
use super::{Config, CrashPoint};

/// Something that happens at a point in virtual time.
pub(crate) enum Event {
    /// A sleeping task wakes.
    Wake(Waker),
    /// The broker makes message `m` available for delivery.
    Publish(usize),
    /// Delivery `d`'s ack deadline passes.
    AckDeadline(u64),
}

/// Everything the workers and the executor share.
pub(crate) struct World {
    pub(crate) now: Duration,
    pub(crate) rng: Rng,
    pub(crate) timers: BTreeMap<(Duration, u64), Event>,
    next_timer: u64,
    pub(crate) broker: Broker,
    /// How often each message's effect was applied.
    pub(crate) effects: Vec<u32>,
    pub(crate) tally: Tally,
    /// Tasks waiting for a delivery.
    receivers: Vec<Waker>,
    /// Set by a simulation primitive that returns `Pending` during the current poll: the task
    /// waits for the simulation, not for the outside world (a store's network reply).
    pub(crate) parked: bool,
    /// Set when the task being polled crashes: it does nothing more.
    pub(crate) crashed: bool,
}

impl World {
    pub(crate) fn new(seed: u64, broker: Broker, messages: usize) -> Self {
        World {
            now: Duration::ZERO,
            rng: Rng::new(seed),
            timers: BTreeMap::new(),
            next_timer: 0,
            broker,
            effects: vec![0; messages],
            tally: Tally::default(),
            receivers: Vec::new(),
            parked: false,
            crashed: false,
        }
    }

    /// Schedules `event` at `at` (events at one instant happen in the order scheduled).
    pub(crate) fn at(&mut self, at: Duration, event: Event) {
        self.timers.insert((at, self.next_timer), event);
        self.next_timer += 1;
    }

    /// Wakes every task waiting for a delivery.
    pub(crate) fn wake_receivers(&mut self) {
        for waker in self.receivers.drain(..) {
            waker.wake();
        }
    }

    /// Runs the event due now.
    pub(crate) fn fire(&mut self, event: Event) {
        match event {
            Event::Wake(waker) => waker.wake(),
            Event::Publish(message) => {
                self.broker.publish(message);
                self.wake_receivers();
            }
            Event::AckDeadline(delivery) => {
                if let Some(message) = self.broker.deadline_passed(delivery) {
                    self.tally.expired += 1;
                    self.broker.publish(message);
                    self.wake_receivers();
                }
            }
        }
    }
}

/// The shared world, locked briefly by whoever needs it (never across an `await`).
#[derive(Clone)]
pub(crate) struct Shared(Arc<Mutex<World>>);

impl Shared {
    pub(crate) fn new(world: World) -> Self {
        Shared(Arc::new(Mutex::new(world)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the simulation decided, at delivery, that this delivery's worker will go through.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Where the worker crashes, if it does.
    pub(crate) crash: Option<CrashPoint>,
    /// How long the work takes.
    pub(crate) work: Duration,
}

/// One delivery as a worker sees it: the message's key, and the plan.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    pub(crate) delivery: Delivery,
    pub(crate) key: Key,
    pub(crate) plan: Plan,
}

impl Received {
    pub(crate) fn message(&self) -> usize {
        self.delivery.message
    }
}

/// A worker's handle on the world.
#[derive(Clone)]
pub(crate) struct Sim {
    pub(crate) shared: Shared,
    pub(crate) config: Arc<Config>,
    /// The key of each message.
    pub(crate) keys: Arc<Vec<Key>>,
}

impl Sim {
    /// Waits for deliveries and takes up to `max` of them, each from among the first few
    /// waiting (reordering).
    pub(crate) fn receive(&self, max: usize) -> impl Future<Output = Vec<Received>> + Send + use<> {
        let sim = self.clone();
        poll_fn(move |cx| {
            let mut w = sim.shared.lock();
            if w.crashed {
                return Poll::Pending;
            }
            if w.broker.choice() == 0 {
                w.receivers.push(cx.waker().clone());
                w.parked = true;
                return Poll::Pending;
            }
            let mut batch = Vec::new();
            while batch.len() < max.max(1) && w.broker.choice() > 0 {
                batch.push(sim.deliver(&mut w));
            }
            Poll::Ready(batch)
        })
    }

    /// Hands out one waiting message and decides what its worker will go through.
    fn deliver(&self, w: &mut World) -> Received {
        let c = &self.config;
        let index = w.rng.below(w.broker.choice() as u64) as usize;
        let taken = w.broker.take(index).expect("index < choice()");
        let message = taken.delivery.message;
        w.tally.deliveries += 1;
        w.tally.redeliveries += u64::from(taken.redelivery);
        w.tally.concurrent += u64::from(taken.concurrent);
        let deadline = w.now + c.ack_deadline;
        w.at(deadline, Event::AckDeadline(taken.delivery.id));
        if w.rng.chance(c.duplicate_rate) {
            // A copy of this delivery, handed out soon: in flight beside the original.
            let slot = w.rng.below(c.reorder as u64) as usize;
            w.broker.publish_copy(message, slot);
            w.wake_receivers();
        }
        let crash = w
            .rng
            .chance(c.crash_rate)
            .then(|| CrashPoint::ALL[w.rng.below(CrashPoint::ALL.len() as u64) as usize]);
        let work = if w.rng.chance(c.slow_rate) {
            w.tally.slow += 1;
            w.rng.between(c.lease * 3 / 2, c.lease * 3)
        } else {
            w.rng.between(c.work.0, c.work.1)
        };
        Received {
            delivery: taken.delivery,
            key: self.keys[message],
            plan: Plan { crash, work },
        }
    }

    /// Sleeps for `duration` of virtual time.
    pub(crate) fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + use<> {
        let shared = self.shared.clone();
        let mut deadline = None;
        poll_fn(move |cx| {
            let mut w = shared.lock();
            if w.crashed {
                return Poll::Pending;
            }
            match deadline {
                Some(at) if w.now >= at => Poll::Ready(()),
                Some(_) => {
                    w.parked = true;
                    Poll::Pending
                }
                None => {
                    let at = w.now + duration;
                    deadline = Some(at);
                    w.at(at, Event::Wake(cx.waker().clone()));
                    w.parked = true;
                    Poll::Pending
                }
            }
        })
    }

    /// A scheduling point: lets any other ready worker run first (chosen by the seed). In a
    /// crashed worker it never finishes, so a dead process calls no store.
    pub(crate) fn step(&self) -> impl Future<Output = ()> + Send + use<> {
        let shared = self.shared.clone();
        let mut stepped = false;
        poll_fn(move |cx| {
            let mut w = shared.lock();
            if w.crashed {
                return Poll::Pending;
            }
            if stepped {
                return Poll::Ready(());
            }
            stepped = true;
            w.parked = true;
            drop(w);
            cx.waker().wake_by_ref();
            Poll::Pending
        })
    }

    /// Crashes here if the plan says so: the process dies, and everything it holds in memory
    /// (its deliveries, its leases) is gone.
    pub(crate) async fn crash_at(&self, received: &Received, point: CrashPoint) {
        if received.plan.crash != Some(point) {
            return;
        }
        {
            let mut w = self.shared.lock();
            if !w.crashed {
                w.crashed = true;
                w.parked = true;
                w.tally.crashes[point as usize] += 1;
            }
        }
        pending::<()>().await;
    }

    /// The message's effect, in a system of its own (not committed with the store).
    pub(crate) fn apply(&self, message: usize) {
        let mut w = self.shared.lock();
        if !w.crashed {
            w.effects[message] += 1;
        }
    }

    /// The message's effect, committed in the same step as the store's `complete`.
    pub(crate) fn commit(&self, message: usize) {
        self.shared.lock().effects[message] += 1;
    }

    /// Acknowledges a delivery. Sometimes the broker delivers the message again later anyway
    /// (the ack was lost; a failover), within the redelivery window.
    pub(crate) fn ack(&self, received: &Received) {
        let mut w = self.shared.lock();
        if w.crashed {
            return;
        }
        if !w.broker.ack(received.delivery) {
            w.tally.late_acks += 1;
        }
        if w.rng.chance(self.config.redelivery_rate) {
            let later = w.now + w.rng.between(Duration::ZERO, self.config.redelivery_window);
            w.at(later, Event::Publish(received.message()));
        }
    }

    /// Negatively acknowledges a delivery: the broker redelivers it after `after`.
    pub(crate) fn nack(&self, received: &Received, after: Duration) {
        let mut w = self.shared.lock();
        if w.crashed {
            return;
        }
        if w.broker.nack(received.delivery) {
            let at = w.now + after;
            w.at(at, Event::Publish(received.message()));
        }
    }

    /// Counts something in the report.
    pub(crate) fn note(&self, count: impl FnOnce(&mut Tally)) {
        let mut w = self.shared.lock();
        if !w.crashed {
            count(&mut w.tally);
        }
    }
}
