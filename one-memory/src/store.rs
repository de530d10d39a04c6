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

const STORE: &str = "memory";
const NANOS_PER_MILLI: u64 = 1_000_000;
const DEFAULT_SHARDS: usize = 128;

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

/// The record kept for a key. A plain `add` record is 16 bytes beside its key; only the lease
/// tier pays for the boxed state.
struct Entry {
    /// Nanoseconds on the store's clock at which the record expires (it is expired at this
    /// instant, not after it).
    deadline: u64,
    lease: Option<Box<LeaseState>>,
}

struct LeaseState {
    /// The live claim's token, or `None` once completed.
    holder: Option<u64>,
    fingerprint: Option<Key>,
    result: Option<Box<[u8]>>,
}

impl Entry {
    #[inline]
    fn live(&self, now: u64) -> bool {
        now < self.deadline
    }

    fn holder(&self) -> Option<u64> {
        self.lease.as_ref().and_then(|l| l.holder)
    }
}

/// The table's key: the [`Key`]'s bytes. Keys are already uniform hashes, so the table hashes
/// them by taking their first eight bytes as they are (see [`SlotHasher`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot([u8; 16]);

impl Hash for Slot {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(low));
    }
}

#[derive(Default)]
struct SlotHasher(u64);

impl Hasher for SlotHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached if `Slot::hash` changes; fold the bytes in rather than misbehave.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Table = HashMap<Slot, Entry, BuildHasherDefault<SlotHasher>>;

struct Shard {
    table: Table,
    /// No record in the table expires before this (a lower bound), so a sweep before it
    /// would find nothing.
    earliest_deadline: u64,
    /// Operations since the last sweep; sweeps are paced so each costs O(1) amortized.
    ops_since_sweep: usize,
    /// Entries removed since the store last collected this count (for its capacity bound).
    freed: usize,
}

impl Shard {
    fn new() -> Self {
        Shard {
            table: Table::default(),
            earliest_deadline: u64::MAX,
            ops_since_sweep: 0,
            freed: 0,
        }
    }

    /// The live entry of `slot`; an expired one is removed on the way.
    #[inline]
    fn live(&mut self, slot: &Slot, now: u64) -> Option<&mut Entry> {
        // Two lookups on the rare expired path keep the common path to one.
        match self.table.get(slot) {
            Some(e) if !e.live(now) => {
                self.table.remove(slot);
                self.freed += 1;
                None
            }
            Some(_) => self.table.get_mut(slot),
            None => None,
        }
    }

    /// Removes every expired entry; returns how many, and releases memory when the table has
    /// become mostly empty.
    fn sweep(&mut self, now: u64) -> usize {
        let before = self.table.len();
        let mut earliest = u64::MAX;
        self.table.retain(|_, e| {
            let keep = e.live(now);
            if keep {
                earliest = earliest.min(e.deadline);
            }
            keep
        });
        self.earliest_deadline = earliest;
        self.ops_since_sweep = 0;
        if self.table.capacity() > 64 && self.table.len() < self.table.capacity() / 4 {
            self.table.shrink_to(self.table.len() * 2);
        }
        let removed = before - self.table.len();
        self.freed += removed;
        removed
    }

    /// Reclaims expired entries incrementally: only once something may have expired, and no
    /// more often than every `len / 4` operations, so the work per operation stays constant.
    #[inline]
    fn maybe_sweep(&mut self, now: u64) {
        self.ops_since_sweep += 1;
        if now >= self.earliest_deadline && self.ops_since_sweep > self.table.len() / 4 + 16 {
            self.sweep(now);
        }
    }

    /// Inserts a new entry (the slot is known to be free of live records). Before the table
    /// would grow, expired entries are swept out, so memory follows the live records.
    #[inline]
    fn insert(&mut self, slot: Slot, entry: Entry, now: u64) {
        if self.table.len() == self.table.capacity() && now >= self.earliest_deadline {
            self.sweep(now);
        }
        self.earliest_deadline = self.earliest_deadline.min(entry.deadline);
        self.table.insert(slot, entry);
    }

    /// Removes `slot`'s entry, live or not.
    fn remove(&mut self, slot: &Slot) -> Option<Entry> {
        let entry = self.table.remove(slot);
        self.freed += usize::from(entry.is_some());
        entry
    }

    /// Removes the entry nearest its deadline; returns whether there was one.
    fn evict_soonest(&mut self) -> bool {
        let victim = self
            .table
            .iter()
            .min_by_key(|(_, e)| e.deadline)
            .map(|(slot, _)| *slot);
        victim.is_some_and(|slot| self.remove(&slot).is_some())
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
        ttl_millis(self.default_ttl)?;
        let shards = self.shards.clamp(1, 1 << 16).next_power_of_two();
        Ok(MemoryStore {
            inner: Arc::new(Inner {
                shards: (0..shards)
                    .map(|_| Padded(Mutex::new(Shard::new())))
                    .collect(),
                shard_shift: 64 - shards.trailing_zeros(),
                clock: self.clock.map_or_else(Clock::monotonic, Clock::Mock),
                default_ttl: self.default_ttl,
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

    #[inline]
    fn shard(&self, key: &Key) -> MutexGuard<'_, Shard> {
        let mut high = [0u8; 8];
        high.copy_from_slice(&key.as_bytes()[8..]);
        let index = u64::from_le_bytes(high)
            .checked_shr(self.inner.shard_shift)
            .unwrap_or(0);
        Self::lock(&self.inner.shards[index as usize])
    }

    #[inline]
    fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    /// Unlocks a shard, first taking its count of removed entries off the capacity bound.
    #[inline]
    fn unlock(&self, mut shard: MutexGuard<'_, Shard>) {
        let freed = std::mem::take(&mut shard.freed);
        drop(shard);
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
        existing: impl FnOnce(&Entry, u64) -> T,
    ) -> Result<Option<T>, Error> {
        let slot = Slot(*key.as_bytes());
        loop {
            let now = self.now();
            let mut shard = self.shard(key);
            shard.maybe_sweep(now);
            if let Some(entry) = shard.live(&slot, now) {
                let answer = existing(entry, now);
                self.unlock(shard);
                return Ok(Some(answer));
            }
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
                Fresh::Claim { token, fingerprint } => Some(Box::new(LeaseState {
                    holder: Some(token),
                    fingerprint,
                    result: None,
                })),
            };
            shard.insert(slot, Entry { deadline, lease }, now);
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
                let mut shard = self.shard(key);
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
        self.add_with_ttl_sync(key, self.inner.default_ttl)
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
        let now = self.now();
        let mut shard = self.shard(key);
        shard.maybe_sweep(now);
        let live = shard.live(&Slot(*key.as_bytes()), now).is_some();
        self.unlock(shard);
        live
    }

    /// Forgets `key`'s record, if live; returns whether there was one.
    pub fn remove_sync(&self, key: &Key) -> bool {
        let now = self.now();
        let mut shard = self.shard(key);
        let entry = shard.remove(&Slot(*key.as_bytes()));
        self.unlock(shard);
        entry.is_some_and(|e| e.live(now))
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
        let existing = |entry: &Entry, now: u64| {
            let stored = entry.lease.as_ref();
            let stored_fingerprint = stored.and_then(|l| l.fingerprint.as_ref());
            if let (Some(asked), Some(stored)) = (fingerprint, stored_fingerprint)
                && asked != stored
            {
                return Claim::Mismatch;
            }
            match stored.map(|s| &**s) {
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
        f: impl FnOnce(&mut Shard, &Slot, u64) -> T,
    ) -> Result<T, Error> {
        let now = self.now();
        let slot = Slot(*lease.key().as_bytes());
        let mut shard = self.shard(lease.key());
        let held = shard
            .live(&slot, now)
            .is_some_and(|e| e.holder() == Some(lease.token().get()));
        let answer = held.then(|| f(&mut shard, &slot, now));
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
        self.with_lease(lease, |shard, slot, now| {
            let deadline = now.saturating_add(millis.saturating_mul(NANOS_PER_MILLI));
            if let Some(entry) = shard.table.get_mut(slot) {
                entry.deadline = deadline;
                if let Some(state) = entry.lease.as_mut() {
                    state.holder = None;
                    state.result = result.map(Box::from);
                }
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
        self.with_lease(lease, |shard, slot, _| {
            shard.remove(slot);
        })
    }

    /// Moves the lease deadline to `duration` from now; see [`Store::extend`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLease`]; [`Error::LeaseLost`] unless `lease` is the live claim.
    pub fn extend_sync(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        let millis = lease_millis(duration)?;
        self.with_lease(lease, |shard, slot, now| {
            let deadline = now.saturating_add(millis.saturating_mul(NANOS_PER_MILLI));
            if let Some(entry) = shard.table.get_mut(slot) {
                entry.deadline = deadline;
            }
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
