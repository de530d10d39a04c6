//! The workers: what a consumer of an at-least-once broker does in each [`Pattern`], written
//! as a consumer would write it. The simulation's hooks are the `crash_at(..)` lines (a process
//! may die there), `process` (the work takes time) and `apply` (the effect).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use one_core::{Outcome, RunError, RunOnce, Store};

use super::store::SimStore;
use super::world::{Received, Sim};
use super::{Config, CrashPoint, Pattern};

/// How long a worker waits before retrying after a store error.
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(100);

/// One worker process.
pub(crate) struct Worker {
    pub(crate) sim: Sim,
    pub(crate) store: Arc<SimStore>,
    pub(crate) once: RunOnce,
    pub(crate) config: Arc<Config>,
}

impl Worker {
    /// Receives and handles deliveries until the process crashes (the simulation then starts
    /// a new one).
    pub(crate) async fn run(self) {
        loop {
            match self.config.pattern {
                Pattern::AddThenProcess => self.add_then_process().await,
                Pattern::CheckThenAct => self.check_then_act().await,
                Pattern::LeaseSeparateEffect | Pattern::LeaseAtomicEffect => {
                    if self.config.batch > 1 {
                        self.lease_batch().await;
                    } else {
                        self.lease().await;
                    }
                }
            }
        }
    }

    fn atomic(&self) -> bool {
        self.config.pattern == Pattern::LeaseAtomicEffect
    }

    /// The work: takes its time, and may crash half-way.
    async fn process(&self, m: &Received) {
        let half = m.plan.work / 2;
        self.sim.sleep(half).await;
        self.sim.crash_at(m, CrashPoint::MidWork).await;
        self.sim.sleep(m.plan.work - half).await;
    }

    /// `add`, then process: the plain pattern. A crash after the add loses the message: every
    /// redelivery is skipped as a duplicate.
    async fn add_then_process(&self) {
        for m in self.sim.receive(1).await {
            self.sim.crash_at(&m, CrashPoint::BeforeClaim).await;
            match self.store.add_with_ttl(&m.key, self.config.ttl).await {
                Ok(true) => {
                    self.sim.crash_at(&m, CrashPoint::AfterClaim).await;
                    self.process(&m).await;
                    self.sim.apply(m.message());
                    self.sim.crash_at(&m, CrashPoint::BeforeComplete).await;
                    self.sim.note(|t| t.ran += 1);
                    self.sim.crash_at(&m, CrashPoint::AfterComplete).await;
                    self.sim.ack(&m);
                }
                Ok(false) => {
                    self.sim.note(|t| t.duplicates += 1);
                    self.sim.ack(&m);
                }
                Err(_) => {
                    self.sim.note(|t| t.store_errors += 1);
                    self.sim.nack(&m, RETRY_AFTER_ERROR);
                }
            }
        }
    }

    /// Look (`has_key`), process, then `add`: check-then-act. Two deliveries in flight at once
    /// both process; a crash between the effect and the add processes again.
    async fn check_then_act(&self) {
        for m in self.sim.receive(1).await {
            self.sim.crash_at(&m, CrashPoint::BeforeClaim).await;
            match self.store.has_key(&m.key).await {
                Ok(true) => {
                    self.sim.note(|t| t.duplicates += 1);
                    self.sim.ack(&m);
                }
                Ok(false) => {
                    self.sim.crash_at(&m, CrashPoint::AfterClaim).await;
                    self.process(&m).await;
                    self.sim.apply(m.message());
                    self.sim.crash_at(&m, CrashPoint::BeforeComplete).await;
                    // Whatever add answers now, the effect has happened.
                    let _ = self.store.add_with_ttl(&m.key, self.config.ttl).await;
                    self.sim.note(|t| t.ran += 1);
                    self.sim.crash_at(&m, CrashPoint::AfterComplete).await;
                    self.sim.ack(&m);
                }
                Err(_) => {
                    self.sim.note(|t| t.store_errors += 1);
                    self.sim.nack(&m, RETRY_AFTER_ERROR);
                }
            }
        }
    }

    /// The lease tier, one message at a time: `RunOnce::run` claims, runs the work, completes.
    async fn lease(&self) {
        for m in self.sim.receive(1).await {
            self.sim.crash_at(&m, CrashPoint::BeforeClaim).await;
            let outcome = self
                .once
                .run(&*self.store, &m.key, || self.lease_work(&m))
                .await;
            self.settle(&m, outcome).await;
        }
    }

    /// The lease tier, a batch at a time: `RunOnce::run_many` claims the batch in one call and
    /// runs the acquired messages' work concurrently.
    async fn lease_batch(&self) {
        let batch = self.sim.receive(self.config.batch).await;
        for m in &batch {
            self.sim.crash_at(m, CrashPoint::BeforeClaim).await;
        }
        let keys: Vec<_> = batch.iter().map(|m| m.key).collect();
        let outcomes = self
            .once
            .run_many(&*self.store, &keys, |i| self.lease_work(&batch[i]))
            .await;
        for (m, outcome) in batch.iter().zip(outcomes) {
            self.settle(m, outcome).await;
        }
    }

    /// The work under a lease. With [`Pattern::LeaseSeparateEffect`] the effect goes to
    /// another system here, before `complete`; with [`Pattern::LeaseAtomicEffect`] it commits
    /// with `complete` (see `SimStore`).
    async fn lease_work(&self, m: &Received) -> Result<(), Infallible> {
        self.sim.crash_at(m, CrashPoint::AfterClaim).await;
        self.process(m).await;
        if !self.atomic() {
            self.sim.apply(m.message());
        }
        self.sim.crash_at(m, CrashPoint::BeforeComplete).await;
        Ok(())
    }

    /// Acks or nacks a delivery by its outcome.
    async fn settle(&self, m: &Received, outcome: Result<Outcome<()>, RunError<Infallible>>) {
        match outcome {
            Ok(Outcome::Ran(())) => {
                self.sim.note(|t| t.ran += 1);
                self.sim.crash_at(m, CrashPoint::AfterComplete).await;
                self.sim.ack(m);
            }
            Ok(Outcome::Duplicate(_)) => {
                self.sim.note(|t| t.duplicates += 1);
                self.sim.ack(m);
            }
            Ok(Outcome::InProgress { retry_after }) => {
                self.sim.note(|t| t.in_progress += 1);
                self.sim.nack(m, retry_after);
            }
            Ok(Outcome::Mismatch) => {
                self.sim.note(|t| t.mismatches += 1);
                self.sim.ack(m);
            }
            Ok(Outcome::LeaseLost(())) => {
                self.sim.note(|t| t.lease_lost += 1);
                if self.atomic() {
                    // Nothing was committed: let a redelivery run it.
                    self.sim.nack(m, Duration::ZERO);
                } else {
                    // The effect happened (and may happen again: a real consumer would
                    // compensate here); the message itself is handled.
                    self.sim.ack(m);
                }
            }
            Err(RunError::Unrecorded { .. }) if !self.atomic() => {
                self.sim.note(|t| t.store_errors += 1);
                self.sim.ack(m);
            }
            Err(_) => {
                // The store failed before the work, or its commit is unknown: a redelivery
                // finds out.
                self.sim.note(|t| t.store_errors += 1);
                self.sim.nack(m, RETRY_AFTER_ERROR);
            }
        }
    }
}
