//! What the benchmarks of `one` share: the inputs, the workloads and the peers, each written the
//! way a user of that peer would write it.
//!
//! The benchmarks themselves are in `benches/`; `BENCHMARKS.md` at the repository root says how
//! to run them and what they found.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use one_core::{Key, Store, make_key};
use one_examples::Notification;
use one_memory::MemoryStore;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A typical Cloud Storage notification, as the quickstart reads them (no user metadata).
pub const STORAGE_EVENT_JSON: &str = r#"{"messageId":"7363857649117341","publishTime":"2024-03-04T09:00:01.105Z","attributes":{"notificationConfig":"projects/_/buckets/acme-out/notificationConfigs/2","eventType":"OBJECT_FINALIZE","payloadFormat":"JSON_API_V1","bucketId":"acme-out","objectId":"adhoc/00001.json","objectGeneration":"1709542800837442","eventTime":"2024-03-04T09:00:00.837442Z"},"data":{"kind":"storage#object","id":"acme-out/adhoc/00001.json/1709542800837442","name":"adhoc/00001.json","bucket":"acme-out","generation":"1709542800837442","metageneration":"1","contentType":"application/json","timeCreated":"2024-03-04T09:00:00.837Z","updated":"2024-03-04T09:00:00.837Z","storageClass":"STANDARD","size":"1938612","md5Hash":"7MiUr3/AwJdaUCuPwFedQw==","crc32c":"hd+LWQ==","etag":"CMKW/Zqf2oQDEAE="}}"#;

/// [`STORAGE_EVENT_JSON`] as the quickstart's event type.
///
/// # Panics
///
/// Never: the text is a valid notification.
pub fn storage_event() -> Notification {
    serde_json::from_str(STORAGE_EVENT_JSON).expect("a valid notification")
}

/// The 3-field tuple: `(bucket, object, generation)`.
pub fn tuple3() -> (&'static str, &'static str, u64) {
    ("acme-out", "adhoc/00001.json", 1_709_542_800_837_442)
}

/// A wide record: 20 fields, one of them a map of user metadata.
#[derive(Clone, Debug, Serialize)]
#[allow(missing_docs)]
pub struct Wide {
    pub tenant: String,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub attempt: u32,
    pub amount_minor: i64,
    pub currency: String,
    pub customer: String,
    pub idempotency_hint: Option<String>,
    pub created_at: u64,
    pub region: String,
    pub shard: u8,
    pub retries: u8,
    pub priority: i32,
    pub ratio: f64,
    pub live: bool,
    pub tags: Vec<String>,
    pub source: String,
    pub metadata: HashMap<String, String>,
}

/// A [`Wide`] record with five metadata entries.
pub fn wide() -> Wide {
    Wide {
        tenant: "acme".into(),
        request_id: "req_01HQ8Z3K7V4X2N5M6P7Q8R9S0T".into(),
        method: "POST".into(),
        path: "/v1/payments".into(),
        status: 201,
        attempt: 2,
        amount_minor: 12_999,
        currency: "EUR".into(),
        customer: "cus_9s8d7f6g5h4j".into(),
        idempotency_hint: Some("checkout-4711".into()),
        created_at: 1_709_542_800_837,
        region: "europe-west1".into(),
        shard: 17,
        retries: 0,
        priority: -1,
        ratio: 0.25,
        live: true,
        tags: vec!["web".into(), "checkout".into()],
        source: "api-gateway".into(),
        metadata: (0..5)
            .map(|i| (format!("key-{i}"), format!("value-{i}")))
            .collect(),
    }
}

/// The Go original's key, in Rust terms: JSON, SHA-256, hex.
///
/// # Panics
///
/// When `value` cannot be written as JSON.
pub fn json_sha256_hex<T: Serialize + ?Sized>(value: &T) -> String {
    let json = serde_json::to_vec(value).expect("serializable");
    hex::encode(Sha256::digest(&json))
}

/// The floor: SipHash-2-4 (128-bit) over bytes serialized beforehand, as `one`'s key is.
pub fn siphash128(bytes: &[u8]) -> u128 {
    use siphasher::sip128::{Hasher128, SipHasher24};
    use std::hash::Hasher;
    let mut h = SipHasher24::new();
    h.write(bytes);
    h.finish128().as_u128()
}

/// A deterministic pseudo-random sequence (SplitMix64), so every run shuffles alike.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` distinct keys, derived from `("bench", seed, i)`.
///
/// # Panics
///
/// Never: the tuples always make keys.
pub fn keys(seed: u64, n: usize) -> Vec<Key> {
    (0..n as u64)
        .map(|i| make_key(&("bench", seed, i)).expect("a key"))
        .collect()
}

/// The add workload: `2 * distinct` operations, each key twice, in a shuffled order, so half of
/// the operations are duplicates and every access lands at a random place in the table.
pub fn add_workload(distinct: usize) -> Vec<Key> {
    let keys = keys(1, distinct);
    let mut ops: Vec<Key> = keys.iter().chain(keys.iter()).copied().collect();
    let mut rng = SplitMix(42);
    for i in (1..ops.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        ops.swap(i, j);
    }
    ops
}

/// The TTL every store in the in-memory groups gives its records: long enough that none
/// expires during a run.
pub const TTL: Duration = Duration::from_secs(3600);

/// An expiring set of keys with an atomic insert-if-absent: what each peer is made to do.
pub trait DedupSet: Send + Sync {
    /// Inserts `key` unless a live record exists; `true` if this call inserted it.
    fn add(&self, key: &Key) -> bool;
    /// Whether a live record exists.
    fn has(&self, key: &Key) -> bool;
    /// Finishes work the structure defers (moka applies its bookkeeping lazily).
    fn settle(&self) {}
}

/// `one-memory` through its inherent synchronous methods.
#[derive(Debug)]
pub struct OneInherent(pub MemoryStore);

impl OneInherent {
    /// A fresh store with the default settings and [`TTL`].
    ///
    /// # Panics
    ///
    /// Never: the TTL is valid.
    pub fn new() -> Self {
        OneInherent(MemoryStore::new(TTL).expect("a valid TTL"))
    }
}

impl Default for OneInherent {
    fn default() -> Self {
        Self::new()
    }
}

impl DedupSet for OneInherent {
    #[inline]
    fn add(&self, key: &Key) -> bool {
        self.0.add_sync(key).expect("unbounded store")
    }
    #[inline]
    fn has(&self, key: &Key) -> bool {
        self.0.has_key_sync(key)
    }
}

/// Polls a future that is expected to be ready at once, as an executor's first poll does;
/// falls back to blocking if it is not.
#[inline]
pub fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => futures::executor::block_on(future),
    }
}

/// `one-memory` as `Arc<dyn Store>`, the way generic code holds a store.
pub struct OneDyn(pub Arc<dyn Store>);

impl OneDyn {
    /// A fresh default store behind `Arc<dyn Store>`.
    ///
    /// # Panics
    ///
    /// Never: the TTL is valid.
    pub fn new() -> Self {
        OneDyn(Arc::new(MemoryStore::new(TTL).expect("a valid TTL")))
    }
}

impl Default for OneDyn {
    fn default() -> Self {
        Self::new()
    }
}

impl DedupSet for OneDyn {
    #[inline]
    fn add(&self, key: &Key) -> bool {
        poll_ready(self.0.add(key)).expect("unbounded store")
    }
    #[inline]
    fn has(&self, key: &Key) -> bool {
        poll_ready(self.0.has_key(key)).expect("infallible")
    }
}

/// `one-memory` as `&dyn Store`: the store's own trait impl, without the forwarding impl for
/// `Arc` that `Arc<dyn Store>`'s method calls go through.
pub struct OneDynRef(pub Arc<dyn Store>);

impl OneDynRef {
    /// A fresh default store.
    ///
    /// # Panics
    ///
    /// Never: the TTL is valid.
    pub fn new() -> Self {
        OneDynRef(Arc::new(MemoryStore::new(TTL).expect("a valid TTL")))
    }
}

impl Default for OneDynRef {
    fn default() -> Self {
        Self::new()
    }
}

impl DedupSet for OneDynRef {
    #[inline]
    fn add(&self, key: &Key) -> bool {
        let store: &dyn Store = &*self.0;
        poll_ready(store.add(key)).expect("unbounded store")
    }
    #[inline]
    fn has(&self, key: &Key) -> bool {
        let store: &dyn Store = &*self.0;
        poll_ready(store.has_key(key)).expect("infallible")
    }
}

/// moka's synchronous cache with a time-to-live, inserting with `entry().or_insert_with`, its
/// atomic insert-if-absent.
pub struct Moka(pub moka::sync::Cache<Key, ()>);

impl Moka {
    /// A fresh cache with [`TTL`].
    pub fn new() -> Self {
        Moka(moka::sync::Cache::builder().time_to_live(TTL).build())
    }
}

impl Default for Moka {
    fn default() -> Self {
        Self::new()
    }
}

impl DedupSet for Moka {
    #[inline]
    fn add(&self, key: &Key) -> bool {
        self.0.entry(*key).or_insert_with(|| ()).is_fresh()
    }
    #[inline]
    fn has(&self, key: &Key) -> bool {
        self.0.contains_key(key)
    }
    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}

/// dashmap from key to expiry instant, as one would hand-roll it.
#[derive(Default)]
pub struct DashSet(pub DashMap<Key, Instant>);

impl DedupSet for DashSet {
    #[inline]
    fn add(&self, key: &Key) -> bool {
        use dashmap::mapref::entry::Entry;
        let now = Instant::now();
        match self.0.entry(*key) {
            Entry::Occupied(mut e) if *e.get() <= now => {
                e.insert(now + TTL);
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(e) => {
                e.insert(now + TTL);
                true
            }
        }
    }
    #[inline]
    fn has(&self, key: &Key) -> bool {
        let now = Instant::now();
        self.0.get(key).is_some_and(|d| *d > now)
    }
}

/// The baseline: one `Mutex<HashMap>` from key to expiry instant, std's default hasher.
#[derive(Default)]
pub struct MutexMap(pub Mutex<HashMap<Key, Instant>>);

impl DedupSet for MutexMap {
    #[inline]
    fn add(&self, key: &Key) -> bool {
        use std::collections::hash_map::Entry;
        let now = Instant::now();
        let mut map = self.0.lock().expect("not poisoned");
        match map.entry(*key) {
            Entry::Occupied(mut e) if *e.get() <= now => {
                e.insert(now + TTL);
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(e) => {
                e.insert(now + TTL);
                true
            }
        }
    }
    #[inline]
    fn has(&self, key: &Key) -> bool {
        let now = Instant::now();
        let map = self.0.lock().expect("not poisoned");
        map.get(key).is_some_and(|d| *d > now)
    }
}

/// Runs `op` over `ops` split evenly across `threads` threads; returns how many calls answered
/// `true`.
pub fn run_split<S: DedupSet + ?Sized>(
    set: &S,
    ops: &[Key],
    threads: usize,
    op: fn(&S, &Key) -> bool,
) -> usize {
    if threads <= 1 {
        return ops.iter().filter(|k| op(set, k)).count();
    }
    let chunk = ops.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = ops
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().filter(|k| op(set, k)).count()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker panicked"))
            .sum()
    })
}

/// The process's resident set size in bytes, from `/proc/self/statm` (Linux), if readable.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // Every Linux platform these benchmarks run on uses 4 KiB pages; /proc/self/smaps would
    // say otherwise, and `getconf PAGESIZE` is not worth a process per reading.
    4096
}

/// A `BTreeMap` of results written as a small JSON file under `target/one-benches/`, for the
/// plot script and `BENCHMARKS.md`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_results(name: &str, results: &BTreeMap<String, f64>) -> std::io::Result<()> {
    let dir = target_dir().join("one-benches");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Cargo's target directory: `CARGO_TARGET_DIR`, or `target/` at the workspace root.
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        })
}
