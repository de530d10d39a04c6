//! The store as the workers see it: the store under test, with a scheduling point before
//! every call, and, for [`Pattern::LeaseAtomicEffect`](super::Pattern::LeaseAtomicEffect), the
//! downstream's effect committed in the same step as `complete`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use one_core::{Claim, Error, Key, Lease, Store};

use super::world::Sim;

pub(crate) struct SimStore {
    inner: Arc<dyn Store>,
    sim: Sim,
    /// The message of each key.
    messages: HashMap<Key, usize>,
    /// Whether a successful `complete` commits the message's effect with it.
    atomic: bool,
}

impl SimStore {
    pub(crate) fn new(inner: Arc<dyn Store>, sim: Sim, atomic: bool) -> Self {
        let messages = sim.keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        SimStore {
            inner,
            sim,
            messages,
            atomic,
        }
    }
}

/// Counts a completion whose call was dropped (its worker crashed) before it answered.
struct InFlight<'a> {
    sim: &'a Sim,
    answered: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.sim.shared.lock().tally.interrupted_commits += 1;
        }
    }
}

/// Every call first passes a scheduling point (where another worker may run, and where a
/// crashed worker stops for good), then goes to the store under test.
#[async_trait]
impl Store for SimStore {
    fn default_ttl(&self) -> Duration {
        self.inner.default_ttl()
    }

    async fn add(&self, key: &Key) -> Result<bool, Error> {
        self.sim.step().await;
        self.inner.add(key).await
    }

    async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
        self.sim.step().await;
        self.inner.add_with_ttl(key, ttl).await
    }

    async fn has_key(&self, key: &Key) -> Result<bool, Error> {
        self.sim.step().await;
        self.inner.has_key(key).await
    }

    async fn remove(&self, key: &Key) -> Result<bool, Error> {
        self.sim.step().await;
        self.inner.remove(key).await
    }

    async fn add_many_with_ttl(&self, keys: &[Key], ttl: Duration) -> Vec<Result<bool, Error>> {
        self.sim.step().await;
        self.inner.add_many_with_ttl(keys, ttl).await
    }

    async fn claim(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error> {
        self.sim.step().await;
        self.inner.claim(key, lease, fingerprint).await
    }

    async fn claim_many(&self, keys: &[Key], lease: Duration) -> Vec<Result<Claim, Error>> {
        self.sim.step().await;
        self.inner.claim_many(keys, lease).await
    }

    async fn complete(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error> {
        self.sim.step().await;
        let mut in_flight = InFlight {
            sim: &self.sim,
            answered: !self.atomic,
        };
        let answer = self.inner.complete(lease, ttl, result).await;
        in_flight.answered = true;
        if self.atomic
            && answer.is_ok()
            && let Some(&message) = self.messages.get(lease.key())
        {
            // One transaction: the completed record and the effect commit together.
            self.sim.commit(message);
        }
        answer
    }

    async fn release(&self, lease: &Lease) -> Result<(), Error> {
        self.sim.step().await;
        self.inner.release(lease).await
    }

    async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        self.sim.step().await;
        self.inner.extend(lease, duration).await
    }
}
