//! `RunOnce` beyond the conformance suite: heartbeats, bounded waiting, the batch form and a
//! completion that fails, each on a mock clock or a store that misbehaves on purpose, so that
//! nothing here depends on real time.

use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::executor::block_on;
use one_core::{Claim, Claimed, Error, Key, Lease, Outcome, RunError, RunOnce, Store, async_trait};
use one_memory::{MemoryStore, MockClock};

const LEASE: Duration = Duration::from_secs(10);
const TTL: Duration = Duration::from_secs(3600);

fn key(name: &str) -> Key {
    one_core::make_key(&("once-tests", name)).unwrap()
}

fn mock_store() -> (MemoryStore, MockClock) {
    let clock = MockClock::new();
    let store = MemoryStore::builder()
        .default_ttl(TTL)
        .clock(clock.clone())
        .build()
        .unwrap();
    (store, clock)
}

/// A future that is pending once (waking itself), then ready: a scheduling point.
fn yield_once() -> impl Future<Output = ()> + Send {
    let mut yielded = false;
    poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// A memory store that counts heartbeats, and can answer them `LeaseLost` or fail completions.
struct Probe {
    inner: MemoryStore,
    extends: AtomicUsize,
    lose_on_extend: bool,
    fail_complete: bool,
}

impl Probe {
    fn new(inner: MemoryStore) -> Self {
        Probe {
            inner,
            extends: AtomicUsize::new(0),
            lose_on_extend: false,
            fail_complete: false,
        }
    }
}

#[async_trait]
impl Store for Probe {
    fn default_ttl(&self) -> Duration {
        self.inner.default_ttl()
    }
    async fn add_with_ttl(&self, key: &Key, ttl: Duration) -> Result<bool, Error> {
        self.inner.add_with_ttl(key, ttl).await
    }
    async fn has_key(&self, key: &Key) -> Result<bool, Error> {
        Store::has_key(&self.inner, key).await
    }
    async fn remove(&self, key: &Key) -> Result<bool, Error> {
        Store::remove(&self.inner, key).await
    }
    async fn claim(
        &self,
        key: &Key,
        lease: Duration,
        fingerprint: Option<&Key>,
    ) -> Result<Claim, Error> {
        self.inner.claim(key, lease, fingerprint).await
    }
    async fn complete(
        &self,
        lease: &Lease,
        ttl: Duration,
        result: Option<&[u8]>,
    ) -> Result<(), Error> {
        if self.fail_complete {
            return Err(Error::Unavailable {
                store: "probe",
                source: "connection reset".into(),
            });
        }
        self.inner.complete(lease, ttl, result).await
    }
    async fn release(&self, lease: &Lease) -> Result<(), Error> {
        self.inner.release(lease).await
    }
    async fn extend(&self, lease: &Lease, duration: Duration) -> Result<(), Error> {
        self.extends.fetch_add(1, Ordering::SeqCst);
        if self.lose_on_extend {
            return Err(Error::LeaseLost { key: *lease.key() });
        }
        self.inner.extend(lease, duration).await
    }
}

#[test]
fn heartbeats_extend_the_lease_while_the_work_runs_and_stop_after() {
    let (store, _clock) = mock_store();
    let probe = Probe::new(store);
    // Every heartbeat sleep is one scheduling point: the work yields 10 times, so the
    // heartbeat gets to beat between its steps.
    let once = RunOnce::new(LEASE, TTL).heartbeat(LEASE / 3, |_| yield_once());
    let outcome = block_on(once.run(&probe, &key("hb"), || async {
        for _ in 0..10 {
            yield_once().await;
        }
        Ok::<_, std::io::Error>(())
    }))
    .unwrap();
    assert_eq!(outcome, Outcome::Ran(()));
    let beats = probe.extends.load(Ordering::SeqCst);
    assert!(
        (4..=10).contains(&beats),
        "about one heartbeat per two steps of work, got {beats}"
    );
    // Finished work sends no more heartbeats.
    let _ = block_on(Store::has_key(&probe, &key("hb")));
    assert_eq!(probe.extends.load(Ordering::SeqCst), beats);
}

#[test]
fn a_heartbeat_that_finds_the_lease_lost_stops_beating() {
    let (store, _clock) = mock_store();
    let mut probe = Probe::new(store);
    probe.lose_on_extend = true;
    let once = RunOnce::new(LEASE, TTL).heartbeat(LEASE / 3, |_| yield_once());
    let outcome = block_on(once.run(&probe, &key("lost"), || async {
        for _ in 0..10 {
            yield_once().await;
        }
        Ok::<_, std::io::Error>(())
    }))
    .unwrap();
    // The probe only pretends the lease is lost; the store still lets the holder complete.
    assert_eq!(outcome, Outcome::Ran(()));
    assert_eq!(probe.extends.load(Ordering::SeqCst), 1);
}

#[test]
fn a_heartbeat_keeps_work_longer_than_the_lease() {
    // The work moves the mock clock 3 leases forward, a third of a lease per step; the
    // heartbeat extends between steps.
    let (store, clock) = mock_store();
    let lease = Duration::from_millis(300);
    let once = RunOnce::new(lease, TTL).heartbeat(lease / 3, |_| yield_once());
    let work_clock = clock.clone();
    let outcome = block_on(once.run(&store, &key("long"), || async move {
        for _ in 0..9 {
            work_clock.advance(lease / 3);
            yield_once().await;
        }
        Ok::<_, std::io::Error>("long".to_string())
    }))
    .unwrap();
    assert_eq!(outcome, Outcome::Ran("long".to_string()));

    // The same work without heartbeats outlives its lease.
    let plain = RunOnce::new(lease, TTL);
    let outcome = block_on(plain.run(&store, &key("long without"), || async move {
        for _ in 0..9 {
            clock.advance(lease / 3);
            yield_once().await;
        }
        Ok::<_, std::io::Error>("long".to_string())
    }))
    .unwrap();
    assert_eq!(outcome, Outcome::LeaseLost("long".to_string()));
}

#[test]
fn an_unusable_heartbeat_interval_is_refused_before_anything_is_written() {
    let (store, _clock) = mock_store();
    for interval in [Duration::ZERO, LEASE, LEASE * 2] {
        let once = RunOnce::new(LEASE, TTL).heartbeat(interval, |_| yield_once());
        let ran = AtomicBool::new(false);
        let answer = block_on(once.run(&store, &key("bad interval"), || async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, std::io::Error>(())
        }));
        assert!(
            matches!(answer, Err(RunError::Store(Error::InvalidLease { .. }))),
            "interval {interval:?}: {answer:?}"
        );
        assert!(!ran.load(Ordering::SeqCst));
        assert!(!store.has_key_sync(&key("bad interval")));
        let batch = block_on(once.claim_many(&store, &[key("bad interval")]));
        assert!(matches!(batch[..], [Err(Error::InvalidLease { .. })]));
    }
}

/// A sleep on the mock clock that also records how long it slept in total (nanoseconds).
fn mock_sleep(
    clock: &MockClock,
) -> (
    impl Fn(Duration) -> std::future::Ready<()> + Send + Sync + 'static,
    Arc<AtomicU64>,
) {
    let slept = Arc::new(AtomicU64::new(0));
    let (clock, total) = (clock.clone(), slept.clone());
    let sleep = move |d: Duration| {
        clock.advance(d);
        total.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
        std::future::ready(())
    };
    (sleep, slept)
}

#[test]
fn waiting_replays_the_result_of_the_run_in_progress() {
    let (store, _clock) = mock_store();
    let k = key("wait for it");
    let Claim::Acquired(other) = store.claim_sync(&k, LEASE, None).unwrap() else {
        panic!("a fresh key is free");
    };
    // The other worker completes while this one sleeps for the first time.
    let holder = Arc::new(Mutex::new(Some((store.clone(), other))));
    let sleeps = Arc::new(AtomicUsize::new(0));
    let (h, n) = (holder.clone(), sleeps.clone());
    let once = RunOnce::new(LEASE, TTL).wait(Duration::from_secs(5), move |_| {
        n.fetch_add(1, Ordering::SeqCst);
        if let Some((store, lease)) = h.lock().unwrap().take() {
            store.complete_sync(&lease, TTL, Some(b"first")).unwrap();
        }
        std::future::ready(())
    });
    let outcome = block_on(once.run(&store, &k, || async {
        Ok::<_, std::io::Error>("second".to_string())
    }))
    .unwrap();
    assert_eq!(outcome, Outcome::Duplicate(Some(b"first".to_vec())));
    assert_eq!(sleeps.load(Ordering::SeqCst), 1);
}

#[test]
fn waiting_takes_over_from_a_crashed_holder_at_its_lease_deadline() {
    let (store, clock) = mock_store();
    let k = key("crashed");
    let short = Duration::from_millis(200);
    let Claim::Acquired(_crashed) = store.claim_sync(&k, short, None).unwrap() else {
        panic!("a fresh key is free");
    };
    let (sleep, slept) = mock_sleep(&clock);
    let once = RunOnce::new(LEASE, TTL).wait(Duration::from_secs(5), sleep);
    let outcome = block_on(once.run(&store, &k, || async {
        Ok::<_, std::io::Error>("taken over".to_string())
    }))
    .unwrap();
    assert_eq!(outcome, Outcome::Ran("taken over".to_string()));
    // It never sleeps past the holder's deadline: 200 ms in all, pauses of 156.25 then 43.75 ms.
    assert_eq!(slept.load(Ordering::SeqCst), 200_000_000);
}

#[test]
fn waiting_is_bounded_by_its_timeout() {
    let (store, clock) = mock_store();
    let k = key("stuck");
    let Claim::Acquired(_holder) = store.claim_sync(&k, LEASE, None).unwrap() else {
        panic!("a fresh key is free");
    };
    let (sleep, slept) = mock_sleep(&clock);
    let once = RunOnce::new(LEASE, TTL).wait(Duration::from_secs(1), sleep);
    let outcome = block_on(once.run(&store, &k, || async {
        Ok::<_, std::io::Error>("never".to_string())
    }))
    .unwrap();
    assert!(
        matches!(outcome, Outcome::InProgress { retry_after } if retry_after == LEASE - Duration::from_secs(1)),
        "{outcome:?}"
    );
    assert_eq!(slept.load(Ordering::SeqCst), 1_000_000_000);
}

#[test]
fn a_batch_waits_only_for_keys_held_elsewhere() {
    let (store, clock) = mock_store();
    let (a, b, c) = (key("batch a"), key("batch b"), key("batch c"));
    let short = Duration::from_millis(100);
    let Claim::Acquired(_crashed) = store.claim_sync(&b, short, None).unwrap() else {
        panic!("a fresh key is free");
    };
    let (sleep, slept) = mock_sleep(&clock);
    let once = RunOnce::new(LEASE, TTL).wait(Duration::from_secs(5), sleep);
    let claims = block_on(once.claim_many(&store, &[a, b, a, c]));
    let shape: Vec<&str> = claims
        .iter()
        .map(|c| match c {
            Ok(Claimed::Acquired(_)) => "acquired",
            Ok(Claimed::InProgress { .. }) => "in progress",
            Ok(Claimed::Duplicate(_)) => "duplicate",
            Ok(Claimed::Mismatch) => "mismatch",
            Err(_) => "error",
        })
        .collect();
    // b is taken over once its crashed holder's lease ends; the copy of a stays in progress
    // (this batch holds a) and is not waited for.
    assert_eq!(shape, ["acquired", "acquired", "in progress", "acquired"]);
    assert_eq!(slept.load(Ordering::SeqCst), 100_000_000);

    // A batch whose only busy key is its own copy does not sleep at all.
    let before = slept.load(Ordering::SeqCst);
    let d = key("batch d");
    let claims = block_on(once.claim_many(&store, &[d, d]));
    assert!(matches!(
        claims[..],
        [Ok(Claimed::Acquired(_)), Ok(Claimed::InProgress { .. })]
    ));
    assert_eq!(slept.load(Ordering::SeqCst), before);
}

#[test]
fn run_many_runs_what_it_acquired_and_answers_the_rest() {
    let (store, _clock) = mock_store();
    let keys: Vec<Key> = ["new", "done", "held", "new 2", "new"]
        .into_iter()
        .map(key)
        .collect();
    let Claim::Acquired(done) = store.claim_sync(&keys[1], LEASE, None).unwrap() else {
        panic!("free");
    };
    store.complete_sync(&done, TTL, Some(b"earlier")).unwrap();
    let Claim::Acquired(_held) = store.claim_sync(&keys[2], LEASE, None).unwrap() else {
        panic!("free");
    };
    let once = RunOnce::new(LEASE, TTL);
    let ran = AtomicUsize::new(0);
    let outcomes = block_on(once.run_many(&store, &keys, |i| {
        let ran = &ran;
        async move {
            ran.fetch_add(1, Ordering::SeqCst);
            yield_once().await;
            if i == 3 {
                return Err(std::io::Error::other("downstream refused"));
            }
            Ok(format!("ran {i}"))
        }
    }));
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert!(matches!(&outcomes[0], Ok(Outcome::Ran(s)) if s == "ran 0"));
    assert!(matches!(&outcomes[1], Ok(Outcome::Duplicate(Some(r))) if r == b"earlier"));
    assert!(matches!(&outcomes[2], Ok(Outcome::InProgress { .. })));
    assert!(matches!(&outcomes[3], Err(RunError::Work(_))));
    assert!(matches!(&outcomes[4], Ok(Outcome::InProgress { .. })));
    // The failed one was released, the others completed.
    assert!(!store.has_key_sync(&keys[3]));
    assert!(matches!(
        store.claim_sync(&keys[0], LEASE, None),
        Ok(Claim::Completed { result: Some(r) }) if r == b"ran 0"
    ));

    let fingerprinted = RunOnce::new(LEASE, TTL).fingerprint(key("payload"));
    let outcomes = block_on(fingerprinted.run_many(&store, &[key("fp")], |_| async {
        Ok::<_, std::io::Error>(())
    }));
    assert!(matches!(
        &outcomes[..],
        [Err(RunError::Store(Error::Unsupported { .. }))]
    ));
    assert!(
        block_on(once.run_many(&store, &[], |_| async { Ok::<_, std::io::Error>(()) })).is_empty()
    );
}

#[test]
fn a_failed_completion_keeps_the_claim_and_returns_the_result() {
    let (store, _clock) = mock_store();
    let mut probe = Probe::new(store.clone());
    probe.fail_complete = true;
    let k = key("unrecorded");
    let once = RunOnce::new(LEASE, TTL);
    let answer = block_on(once.run(&probe, &k, || async {
        Ok::<_, std::io::Error>("charged".to_string())
    }));
    match answer {
        Err(RunError::Unrecorded { result, source }) => {
            assert_eq!(result.as_deref(), Some(b"charged".as_slice()));
            assert!(source.is_retryable());
        }
        other => panic!("expected Unrecorded, got {other:?}"),
    }
    // Not released: a redelivery must not run the charge again before the lease ends.
    assert!(matches!(
        store.claim_sync(&k, LEASE, None),
        Ok(Claim::InProgress { .. })
    ));
}

#[test]
fn the_steps_by_hand() {
    let (store, _clock) = mock_store();
    let once = RunOnce::new(LEASE, TTL);
    let k = key("by hand");
    let Claimed::Acquired(attempt) = block_on(once.claim(&store, &k)).unwrap() else {
        panic!("a fresh key is free");
    };
    assert_eq!(attempt.lease().key(), &k);
    block_on(attempt.extend()).unwrap();
    let token = attempt.lease().token();
    block_on(attempt.complete(Some(format!("token {token}").as_bytes()))).unwrap();
    assert!(block_on(attempt.release()).unwrap_err().is_lease_lost());
    let again = block_on(once.claim(&store, &k)).unwrap();
    assert!(
        matches!(&again, Claimed::Duplicate(Some(r)) if *r == format!("token {token}").into_bytes()),
        "{again:?}"
    );
}
