//! [`MemoryStore`]: the sharded in-memory table and its [`Store`] implementation.

use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use hashbrown::HashMap;
use one_core::store::{lease_millis, ttl_millis};
use one_core::{Claim, Error, FencingToken, Key, Lease, Store};

use crate::clock::{Clock, MockClock};
use crate::table::{Probe, Slot, Table};

const STORE: &str = "memory";
const NANOS_PER_MILLI: u64 = 1_000_000;
const DEFAULT_SHARDS: usize = 128;
/// Slots each operation sweeps once records may have expired; see [`Shard::maybe_sweep`].
const SWEEP_STEP: usize = 8;
/// Slots swept before a full table grows.
const FULL_SWEEP_STEP: usize = 256;

/// What a full store does with a new record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CapacityPolicy {
    /// Refuse it with [`Error::Capacity`] (retryable: records expire and free room). Nothing is
    /// ever forgotten early, so no duplicate gets through; new work waits instead.
    Reject,
    /// Make room by evicting the record nearest its deadline in the new key's shard (one
    /// 128th of the store by default). **An evicted key is forgotten early: if it is delivered
    /// again it is processed again**, and an evicted claim's holder gets
    /// [`Error::LeaseLost`]. Choose this only where a rare duplicate beats refusing work.
    EvictSoonestExpiring,
}

/// The lease tier's part of a record, kept beside the table: a plain `add` record is 24 bytes
/// (its key and deadline) and only claims pay for this.
struct LeaseState {
    /// The live claim's token, or `None` once completed.
    holder: Option<u64>,
    fingerprint: Option<Key>,
    result: Option<Box<[u8]>>,
}

/// A live record as an operation sees it.
struct Record<'a> {
    /// Nanoseconds on the store's clock at which the record expires (it is expired at this
    /// instant, not after it).
    deadline: u64,
    lease: Option<&'a LeaseState>,
}

impl Record<'_> {
    fn holder(&self) -> Option<u64> {
        self.lease.and_then(|l| l.holder)
    }
}

/// A key as the table holds it: its bytes as two little-endian words.
#[inline]
fn words(key: &Key) -> [u64; 2] {
    let (low, high) = key.as_bytes().split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    [word(low), word(high)]
}

/// The lease map's key. Keys are already uniform hashes, so it is hashed by taking its first
/// word as it is (the second one's top bits pick the shard, so they are all alike here).
#[derive(Clone, Copy, PartialEq, Eq)]
struct LeaseKey([u64; 2]);

impl Hash for LeaseKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0[0]);
    }
}

#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if `LeaseKey::hash` changes; fold the bytes in rather than misbehave.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Leases = HashMap<LeaseKey, LeaseState, BuildHasherDefault<WordHasher>>;

struct Shard {
    table: Table,
    /// The lease state of the records that have one (claims, and what they completed into).
    leases: Leases,
    /// No record in the table expires before this (a lower bound), so a sweep before it
    /// would find nothing.
    earliest_deadline: u64,
    /// Entries removed since the store last collected this count (for its capacity bound).
    freed: usize,
}

impl Shard {
    fn new() -> Self {
        Shard {
            table: Table::default(),
            leases: Leases::default(),
            earliest_deadline: u64::MAX,
            freed: 0,
        }
    }

    /// Finds `key`'s live record, or where it would go; an expired one is removed on the way.
    #[inline]
    fn probe(&mut self, key: &[u64; 2], now: u64) -> Probe {
        match self.table.find(key) {
            Probe::Found(i) if now >= self.table.get(i).deadline => {
                self.remove_at(i);
                self.table.find(key)
            }
            probe => probe,
        }
    }

    /// The record in slot `i`.
    #[inline]
    fn record(&self, i: usize) -> Record<'_> {
        let slot = self.table.get(i);
        let lease = if self.leases.is_empty() {
            None
        } else {
            self.leases.get(&LeaseKey(slot.key))
        };
        Record {
            deadline: slot.deadline,
            lease,
        }
    }

    /// Removes the record in slot `i`, with its lease state.
    fn remove_at(&mut self, i: usize) -> Slot {
        let slot = self.table.remove_at(i);
        if !self.leases.is_empty() {
            self.leases.remove(&LeaseKey(slot.key));
        }
        self.freed += 1;
        slot
    }

    /// Removes every expired entry at once; returns how many, and releases memory when the
    /// table has become mostly empty. For [`MemoryStore::purge_expired`] and a full store;
    /// ordinary operations reclaim a few slots at a time instead ([`maybe_sweep`]).
    ///
    /// [`maybe_sweep`]: Self::maybe_sweep
    fn sweep(&mut self, now: u64) -> usize {
        let before = self.table.len();
        let mut earliest = u64::MAX;
        let leases = &mut self.leases;
        self.table.retain(|slot| {
            let keep = now < slot.deadline;
            if keep {
                earliest = earliest.min(slot.deadline);
            } else if !leases.is_empty() {
                leases.remove(&LeaseKey(slot.key));
            }
            keep
        });
        self.earliest_deadline = earliest;
        self.table.shrink_if_sparse();
        if self.leases.capacity() > 64 && self.leases.len() < self.leases.capacity() / 4 {
            self.leases.shrink_to(self.leases.len() * 2);
        }
        let removed = before - self.table.len();
        self.freed += removed;
        removed
    }

    /// Reclaims expired entries incrementally: once something may have expired, every
    /// operation on the shard looks at the next [`SWEEP_STEP`] slots and removes the expired
    /// records there. The work per operation is small and bounded (no operation ever waits
    /// for a whole table to be swept), and a full pass takes about `slots / SWEEP_STEP`
    /// operations, so expired records never outnumber a small fraction of the live ones.
    #[inline]
    fn maybe_sweep(&mut self, now: u64) {
        if now >= self.earliest_deadline {
            self.sweep_step(now, SWEEP_STEP);
        }
    }

    fn sweep_step(&mut self, now: u64, budget: usize) {
        let leases = &mut self.leases;
        let mut removed = 0;
        let pass = self.table.sweep_step(budget, now, |slot| {
            removed += 1;
            if !leases.is_empty() {
                leases.remove(&LeaseKey(slot.key));
            }
        });
        self.freed += removed;
        if let Some(earliest) = pass {
            self.earliest_deadline = earliest;
            self.table.shrink_if_sparse();
        }
    }

    /// Inserts a new record where `probe` (from [`probe`](Self::probe), just now) says it
    /// goes. Before the table would grow, expired entries are swept out, so memory follows the
    /// live records.
    #[inline]
    fn insert(
        &mut self,
        key: [u64; 2],
        probe: Probe,
        deadline: u64,
        lease: Option<LeaseState>,
        now: u64,
    ) {
        let slot = Slot { key, deadline };
        match probe {
            Probe::Vacant(index) if !self.table.is_full() => {
                self.table.insert_at(index, slot);
            }
            _ => {
                // Full: reclaim a little more before growing, but never hold up this call
                // for a whole table.
                if now >= self.earliest_deadline {
                    self.sweep_step(now, FULL_SWEEP_STEP);
                }
                self.table.insert_new(slot);
            }
        }
        self.earliest_deadline = self.earliest_deadline.min(deadline);
        if let Some(lease) = lease {
            self.leases.insert(LeaseKey(key), lease);
        }
    }

    /// Removes the entry nearest its deadline; returns whether there was one.
    fn evict_soonest(&mut self) -> bool {
        let victim = self.table.iter().min_by_key(|s| s.deadline).map(|s| s.key);
        match victim.map(|key| self.table.find(&key)) {
            Some(Probe::Found(i)) => {
                self.remove_at(i);
                true
            }
            _ => false,
        }
    }
}

/// A cache line of its own for each shard's lock, so threads on different shards never slow
/// each other down.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

struct Capacity {
    max: usize,
    policy: CapacityPolicy,
    /// Records held (live or expired but not yet reclaimed), kept only when bounded.
    held: AtomicUsize,
}

struct Inner {
    shards: Box<[Padded]>,
    shard_shift: u32,
    clock: Clock,
    default_ttl: Duration,
    /// `default_ttl` checked and in milliseconds, once.
    default_millis: u64,
    capacity: Option<Capacity>,
    tokens: AtomicU64,
}

/// The in-memory store: the embedded default backend.
///
/// A table of records split into shards by the key's bytes, each behind its own lock, so
/// threads rarely wait for each other. Every operation on a key is atomic under its shard's
/// lock: of concurrent `add`s of one key exactly one wins. Records expire on a monotonic clock
/// (never the wall clock); expired records are invisible at once and reclaimed incrementally as
/// the store is used (and all at once by [`purge_expired`](Self::purge_expired)), so memory
/// follows the live records. No thread or task is started: the store works with any async
/// runtime or none, and dropping the last clone frees everything.
///
/// Use it through the async [`Store`] trait (generic code, `Arc<dyn Store>`), or, on a hot path
/// that holds the concrete type, through the synchronous `*_sync` methods, which the trait
/// calls: they never wait for I/O, only briefly for one shard's lock. Clones share one table.
///
/// ```
/// use std::time::Duration;
/// use one_core::make_key;
/// use one_memory::MemoryStore;
///
/// let store = MemoryStore::new(Duration::from_secs(3600))?;
/// let key = make_key(&("photos", "cat.jpg", 3u64))?;
/// assert!(store.add_sync(&key)?); // first delivery: process it
/// assert!(!store.add_sync(&key)?); // redelivery: skip it
///
/// // The same, through the trait:
/// use one_core::Store;
/// let again = futures::executor::block_on(store.add(&key))?;
/// assert!(!again);
/// # Ok::<(), one_core::Error>(())
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

/// Configures a [`MemoryStore`]; from [`MemoryStore::builder`].
#[derive(Debug, Clone)]
pub struct MemoryStoreBuilder {
    default_ttl: Duration,
    capacity: Option<(usize, CapacityPolicy)>,
    clock: Option<MockClock>,
    shards: usize,
}

impl MemoryStoreBuilder {
    /// The TTL of records written by [`Store::add`] (default: 24 hours).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Bounds the number of records held, with what to do when full (default: unbounded).
    pub fn capacity(mut self, max_records: usize, policy: CapacityPolicy) -> Self {
        self.capacity = Some((max_records, policy));
        self
    }

    /// Uses `clock` instead of the monotonic system clock, for tests.
    pub fn clock(mut self, clock: MockClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The number of shards, rounded up to a power of two (default: 128).
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// Builds the store.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`] when the default TTL is zero or over
    /// [`MAX_TTL`](one_core::store::MAX_TTL).
    pub fn build(self) -> Result<MemoryStore, Error> {
        let default_millis = ttl_millis(self.default_ttl)?;
        let shards = self.shards.clamp(1, 1 << 16).next_power_of_two();
        Ok(MemoryStore {
            inner: Arc::new(Inner {
                shards: (0..shards)
                    .map(|_| Padded(Mutex::new(Shard::new())))
                    .collect(),
                shard_shift: 64 - shards.trailing_zeros(),
                clock: self.clock.map_or_else(Clock::monotonic, Clock::Mock),
                default_ttl: self.default_ttl,
                default_millis,
                capacity: self.capacity.map(|(max, policy)| Capacity {
                    max,
                    policy,
                    held: AtomicUsize::new(0),
                }),
                tokens: AtomicU64::new(0),
            }),
        })
    }
}

/// What a write does once the key is known to be free.
enum Fresh {
    Record,
    Claim {
        token: u64,
        fingerprint: Option<Key>,
    },
}

impl MemoryStore {
    /// An unbounded store whose `add` keeps records for `default_ttl`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`] when `default_ttl` is zero or over
    /// [`MAX_TTL`](one_core::store::MAX_TTL).
    pub fn new(default_ttl: Duration) -> Result<Self, Error> {
        Self::builder().default_ttl(default_ttl).build()
    }

    /// A builder, for a capacity bound, a mock clock or the shard count.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            default_ttl: Duration::from_secs(24 * 60 * 60),
            capacity: None,
            clock: None,
            shards: DEFAULT_SHARDS,
        }
    }

    /// The TTL that [`add_sync`](Self::add_sync) gives new records.
    pub fn default_ttl(&self) -> Duration {
        self.inner.default_ttl
    }

    /// The shard of a key (as [`words`]): the top bits of its second word.
    #[inline]
    fn shard(&self, words: &[u64; 2]) -> MutexGuard<'_, Shard> {
        let index = words[1].checked_shr(self.inner.shard_shift).unwrap_or(0);
        Self::lock(&self.inner.shards[index as usize])
    }

    #[inline]
    fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    /// Unlocks a shard, first taking its count of removed entries off the capacity bound.
    #[inline]
    fn unlock(&self, mut shard: MutexGuard<'_, Shard>) {
        self.settle_freed(&mut shard);
        drop(shard);
    }

    /// Takes the records a locked shard has removed so far off the capacity bound: before a
    /// capacity check, so the records this very call reclaimed count as room.
    #[inline]
    fn settle_freed(&self, shard: &mut Shard) {
        let freed = std::mem::take(&mut shard.freed);
        if let (Some(cap), true) = (&self.inner.capacity, freed > 0) {
            cap.held.fetch_sub(freed, Ordering::Relaxed);
        }
    }

    fn lock(padded: &Padded) -> MutexGuard<'_, Shard> {
        // A poisoned lock only means another thread panicked while holding it; every update
        // leaves the shard consistent before anything can panic, so carry on.
        padded.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a fresh record for `key` unless a live one exists: the one atomic step behind
    /// `add` and `claim`. `Ok(None)` means it was written; `Ok(Some(..))` hands the live entry
    /// to `existing` under the lock.
    #[inline]
    fn insert_if_absent<T>(
        &self,
        key: &Key,
        millis: u64,
        fresh: impl Fn() -> Fresh,
        existing: impl FnOnce(Record<'_>, u64) -> T,
    ) -> Result<Option<T>, Error> {
        let words = words(key);
        loop {
            let now = self.now();
            let mut shard = self.shard(&words);
            shard.maybe_sweep(now);
            let probe = shard.probe(&words, now);
            if let Probe::Found(i) = probe {
                let answer = existing(shard.record(i), now);
                self.unlock(shard);
                return Ok(Some(answer));
            }
            // The sweep and the probe may have just removed expired records (the key's own,
            // say): that is room, so count it before asking whether the store is full.
            self.settle_freed(&mut shard);
            if let Some(cap) = &self.inner.capacity
                && cap.held.fetch_add(1, Ordering::Relaxed) >= cap.max
            {
                cap.held.fetch_sub(1, Ordering::Relaxed);
                // Full: reclaim this shard; failing that, the others (never holding two locks
                // at once), then look again from the start.
                let swept = if now >= shard.earliest_deadline {
                    shard.sweep(now)
                } else {
                    0
                };
                self.unlock(shard);
                if swept == 0 {
                    self.make_room(key, cap)?;
                }
                continue;
            }
            let deadline = now.saturating_add(millis.saturating_mul(NANOS_PER_MILLI));
            let lease = match fresh() {
                Fresh::Record => None,
                Fresh::Claim { token, fingerprint } => Some(LeaseState {
                    holder: Some(token),
                    fingerprint,
                    result: None,
                }),
            };
            shard.insert(words, probe, deadline, lease, now);
            self.unlock(shard);
            return Ok(None);
        }
    }

    /// Frees room for one record in a full store, or says why it cannot.
    fn make_room(&self, key: &Key, cap: &Capacity) -> Result<(), Error> {
        if self.purge_expired() > 0 {
            return Ok(());
        }
        match cap.policy {
            CapacityPolicy::Reject => Err(Error::Capacity {
                store: STORE,
                capacity: cap.max,
            }),
            CapacityPolicy::EvictSoonestExpiring => {
                if cap.max == 0 {
                    return Err(Error::Capacity {
                        store: STORE,
                        capacity: cap.max,
                    });
                }
                let mut shard = self.shard(&words(key));
                let evicted = shard.evict_soonest();
                self.unlock(shard);
                if evicted {
                    return Ok(());
                }
                // The key's shard is empty: evict from the first shard that has anything.
                for padded in self.inner.shards.iter() {
                    let mut shard = Self::lock(padded);
                    let evicted = shard.evict_soonest();
                    self.unlock(shard);
                    if evicted {
                        return Ok(());
                    }
                }
                Ok(()) // everything was removed concurrently: there is room now
            }
        }
    }

    /// Records `key` for the default TTL unless a live record exists: `Ok(true)` if this call
    /// created it. See [`Store::add`].
    ///
    /// # Errors
    ///
    /// [`Error::Capacity`] when the store is full and its policy is to reject.
    #[inline]
    pub fn add_sync(&self, key: &Key) -> Result<bool, Error> {
        Ok(self
            .insert_if_absent(key, self.inner.default_millis, || Fresh::Record, |_, _| ())?
            .is_none())
    }

    /// [`add_sync`](Self::add_sync) with a TTL for this record.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`] for a zero or too long TTL; [`Error::Capacity`] when full.
    #[inline]
    pub fn add_with_ttl_sync(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
        let millis = ttl_millis(ttl)?;
        Ok(self
            .insert_if_absent(key, millis, || Fresh::Record, |_, _| ())?
            .is_none())
    }

    /// Whether a live record exists for `key`. Advisory only: decide with `add` or `claim`.
    #[inline]
    pub fn has_key_sync(&self, key: &Key) -> bool {
        let words = words(key);
        let now = self.now();
        let mut shard = self.shard(&words);
        shard.maybe_sweep(now);
        let live = matches!(shard.probe(&words, now), Probe::Found(_));
        self.unlock(shard);
        live
    }

    /// Forgets `key`'s record, if live; returns whether there was one.
    pub fn remove_sync(&self, key: &Key) -> bool {
        let words = words(key);
        let now = self.now();
        let mut shard = self.shard(&words);
        let removed = match shard.table.find(&words) {
            Probe::Found(i) => Some(shard.remove_at(i)),
            Probe::Vacant(_) => None,
        };
        self.unlock(shard);
        removed.is_some_and(|slot| now < slot.deadline)
    }

    /// [`add_with_ttl_sync`](Self::add_with_ttl_sync) for each key, in order.
    pub fn add_many_with_ttl_sync(&self, keys: &[Key], ttl: Duration) -> Vec<Result<bool, Error>> {
        match ttl_millis(ttl) {
            Ok(_) => keys
                .iter()
                .map(|k| self.add_with_ttl_sync(k, ttl))
                .collect(),
            Err(_) => keys.iter().map(|_| Err(invalid_ttl(ttl))).collect(),
        }
    }

    /// Claims `key` for `lease`; see [`Store::claim`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLease`] for a zero or too long lease; [`Error::Capacity`] when full.
    pub fn claim_sync(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error> {
        let millis = lease_millis(lease)?;
        let token = std::cell::Cell::new(0);
        let fresh = || {
            token.set(self.inner.tokens.fetch_add(1, Ordering::Relaxed) + 1);
            Fresh::Claim {
                token: token.get(),
                fingerprint: fingerprint.copied(),
            }
        };
        let existing = |entry: Record<'_>, now: u64| {
            let stored = entry.lease;
            let stored_fingerprint = stored.and_then(|l| l.fingerprint.as_ref());
            if let (Some(asked), Some(stored)) = (fingerprint, stored_fingerprint)
                && asked != stored
            {
                return Claim::Mismatch;
            }
            match stored {
                Some(LeaseState {
                    holder: Some(_), ..
                }) => Claim::InProgress {
                    retry_after: Duration::from_nanos(entry.deadline - now),
                },
                Some(state) => Claim::Completed {
                    result: state.result.as_deref().map(<[u8]>::to_vec),
                },
                None => Claim::Completed { result: None },
            }
        };
        Ok(match self.insert_if_absent(key, millis, fresh, existing)? {
            Some(answer) => answer,
            None => Claim::Acquired(Lease::new(
                *key,
                FencingToken::new(token.get()),
                Duration::from_millis(millis),
            )),
        })
    }

    /// Runs `f` on the record held by `lease`, or answers [`Error::LeaseLost`].
    fn with_lease<T>(
        &self,
        lease: &Lease,
        f: impl FnOnce(&mut Shard, usize, u64) -> T,
    ) -> Result<T, Error> {
        let words = words(lease.key());
        let now = self.now();
        let mut shard = self.shard(&words);
        let answer = match shard.probe(&words, now) {
            Probe::Found(i) if shard.record(i).holder() == Some(lease.token().get()) => {
                Some(f(&mut shard, i, now))
            }
            _ => None,
        };
        self.unlock(shard);
        answer.ok_or(Error::LeaseLost { key: *lease.key() })
    }

    /// Completes the claim; see [`Store::complete`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`]; [`Error::LeaseLost`] unless `lease` is the live claim.
    pub fn complete_sync(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error> {
        let millis = ttl_millis(ttl)?;
        self.with_lease(lease, |shard, i, now| {
            let deadline = now.saturating_add(millis.saturating_mul(NANOS_PER_MILLI));
            shard.table.set_deadline(i, deadline);
            let key = LeaseKey(shard.table.get(i).key);
            if let Some(state) = shard.leases.get_mut(&key) {
                state.holder = None;
                state.result = result.map(Box::from);
            }
            shard.earliest_deadline = shard.earliest_deadline.min(deadline);
        })
    }

    /// Releases the claim so a retry can run; see [`Store::release`].
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] unless `lease` is the live claim.
    pub fn release_sync(&self, lease: &Lease) -> Result<(), Error> {
        self.with_lease(lease, |shard, i, _| {
            shard.remove_at(i);
        })
    }

    /// Moves the lease deadline to `duration` from now; see [`Store::extend`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLease`]; [`Error::LeaseLost`] unless `lease` is the live claim.
    pub fn extend_sync(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        let millis = lease_millis(duration)?;
        self.with_lease(lease, |shard, i, now| {
            let deadline = now.saturating_add(millis.saturating_mul(NANOS_PER_MILLI));
            shard.table.set_deadline(i, deadline);
            shard.earliest_deadline = shard.earliest_deadline.min(deadline);
        })
    }

    /// Removes every expired record now, shard by shard (each lock is held only for its own
    /// shard); returns how many were removed. The store also does this incrementally as it is
    /// used; call this after a burst when the store then goes idle.
    pub fn purge_expired(&self) -> usize {
        let now = self.now();
        let mut total = 0;
        for padded in self.inner.shards.iter() {
            let mut shard = Self::lock(padded);
            if now >= shard.earliest_deadline {
                total += shard.sweep(now);
            }
            self.unlock(shard);
        }
        total
    }

    /// The number of records held, including expired ones not yet reclaimed (they are
    /// invisible to every operation). After [`purge_expired`](Self::purge_expired), the number
    /// of live records.
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|p| Self::lock(p).table.len())
            .sum()
    }

    /// Whether no records are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn invalid_ttl(ttl: Duration) -> Error {
    match ttl_millis(ttl) {
        Err(e) => e,
        Ok(_) => Error::InvalidTtl {
            ttl,
            reason: "invalid",
        },
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("default_ttl", &self.inner.default_ttl)
            .field("shards", &self.inner.shards.len())
            .field(
                "capacity",
                &self.inner.capacity.as_ref().map(|c| (c.max, c.policy)),
            )
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn default_ttl(&self) -> Duration {
        self.inner.default_ttl
    }

    async fn add(&self, key: &Key) -> Result<bool, Error> {
        MemoryStore::add_sync(self, key)
    }

    async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
        MemoryStore::add_with_ttl_sync(self, key, ttl)
    }

    async fn has_key(&self, key: &Key) -> Result<bool, Error> {
        Ok(MemoryStore::has_key_sync(self, key))
    }

    async fn remove(&self, key: &Key) -> Result<bool, Error> {
        Ok(MemoryStore::remove_sync(self, key))
    }

    async fn add_many_with_ttl(&self, keys: &[Key], ttl: Duration) -> Vec<Result<bool, Error>> {
        MemoryStore::add_many_with_ttl_sync(self, keys, ttl)
    }

    async fn claim(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error> {
        MemoryStore::claim_sync(self, key, lease, fingerprint)
    }

    async fn complete(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error> {
        MemoryStore::complete_sync(self, lease, ttl, result)
    }

    async fn release(&self, lease: &Lease) -> Result<(), Error> {
        MemoryStore::release_sync(self, lease)
    }

    async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        MemoryStore::extend_sync(self, lease, duration)
    }
}
