//! Behaviour specific to the in-memory store: the exact expiry boundary on a mock clock,
//! reclamation, the capacity bound, and the monotonic clock.

use std::sync::Arc;
use std::time::Duration;

use one_core::{Claim, Error, Key, KeySpace, Store};
use one_memory::{CapacityPolicy, MemoryStore, MockClock};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn keys(space: &str, n: usize) -> Vec<Key> {
    let space = KeySpace::new(space);
    (0..n)
        .map(|i| space.key(&i).expect("an integer has key material"))
        .collect()
}

fn mock_store(ttl: Duration) -> (MemoryStore, MockClock) {
    let clock = MockClock::new();
    let store = MemoryStore::builder()
        .default_ttl(ttl)
        .clock(clock.clone())
        .build()
        .unwrap();
    (store, clock)
}

/// `shared/cases/case-09.md`: the exact timeline, with the boundary rule "a record is expired at
/// its deadline" (as Redis expires a key when its PX time is reached).
#[test]
fn case_09_expiry_timeline_is_exact_on_a_mock_clock() {
    let (store, clock) = mock_store(ms(100));
    let k = keys("case-09", 1)[0];
    let at = |t: u64| clock.advance(ms(t) - clock.elapsed());

    assert_eq!(store.add_sync(&k).unwrap(), true, "t=0");
    at(50);
    assert!(store.has_key_sync(&k), "t=50: a read");
    at(90);
    assert!(store.has_key_sync(&k), "t=90: reads must not extend life");
    at(99);
    assert_eq!(store.add_sync(&k).unwrap(), false, "t=99: still live");
    at(100);
    assert!(
        !store.has_key_sync(&k),
        "t=100: expired at the deadline itself"
    );
    at(101);
    assert!(!store.has_key_sync(&k), "t=101");
    assert_eq!(
        store.add_sync(&k).unwrap(),
        true,
        "t=101: a new window opens"
    );
    at(150);
    assert_eq!(
        store.add_sync(&k).unwrap(),
        false,
        "t=150: duplicate, must not refresh"
    );
    at(200);
    assert!(store.has_key_sync(&k), "t=200: second window ends at 201");
    at(201);
    assert!(
        !store.has_key_sync(&k),
        "t=201: 100 ms after its add, not later"
    );
}

/// `shared/cases/case-09.md`: expired records do not pile up, do not count against capacity,
/// and are reclaimed.
#[test]
fn case_09_expired_records_are_reclaimed_and_free_capacity() {
    for policy in [CapacityPolicy::Reject, CapacityPolicy::EvictSoonestExpiring] {
        let clock = MockClock::new();
        let store = MemoryStore::builder()
            .default_ttl(ms(10))
            .capacity(1000, policy)
            .clock(clock.clone())
            .build()
            .unwrap();
        let first = keys("reclaim-a", 100_000);
        let mut added = 0;
        let mut refused = 0;
        for k in &first {
            match store.add_sync(k) {
                Ok(true) => added += 1,
                Err(Error::Capacity { capacity: 1000, .. }) => refused += 1,
                other => panic!("{policy:?}: unexpected {other:?}"),
            }
        }
        match policy {
            CapacityPolicy::Reject => assert_eq!((added, refused), (1000, 99_000)),
            _ => assert_eq!((added, refused), (100_000, 0)),
        }
        assert_eq!(
            store.len(),
            1000,
            "{policy:?}: never more than the capacity held"
        );

        clock.advance(Duration::from_secs(1));
        assert_eq!(store.purge_expired(), 1000);
        assert_eq!(store.len(), 0);

        let second = keys("reclaim-b", 1000);
        for k in &second {
            assert_eq!(
                store.add_sync(k).unwrap(),
                true,
                "{policy:?}: room again after expiry"
            );
        }
        assert!(
            second.iter().all(|k| store.has_key_sync(k)),
            "{policy:?}: none evicted early"
        );
        assert_eq!(store.len(), 1000);
    }
}

/// Without any explicit purge, ordinary use reclaims expired records: memory follows the live
/// records over a long run of short-TTL keys.
#[test]
fn expired_records_are_reclaimed_by_ordinary_use() {
    let (store, clock) = mock_store(ms(10));
    let mut peak = 0;
    for round in 0..50 {
        for k in keys(&format!("round-{round}"), 2_000) {
            assert!(store.add_sync(&k).unwrap());
        }
        clock.advance(ms(20));
        peak = peak.max(store.len());
    }
    eprintln!("peak held: {peak}");
    // 2,000 live at a time; without reclamation 100,000 would be held.
    assert!(peak <= 6_000, "held {peak} records for 2,000 live ones");
}

/// A full store that rejects answers `Err(Capacity)`, retryable, never a guess; a duplicate of
/// a held key is still `Ok(false)`.
#[test]
fn a_full_rejecting_store_fails_closed() {
    let store = MemoryStore::builder()
        .capacity(2, CapacityPolicy::Reject)
        .build()
        .unwrap();
    let k = keys("full", 3);
    assert!(store.add_sync(&k[0]).unwrap());
    assert!(store.add_sync(&k[1]).unwrap());
    let err = store.add_sync(&k[2]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Capacity {
                store: "memory",
                capacity: 2
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(matches!(
        store.claim_sync(&k[2], ms(100), None),
        Err(Error::Capacity { .. })
    ));
    assert_eq!(store.add_sync(&k[0]).unwrap(), false);
    assert!(!store.has_key_sync(&k[2]));
    assert!(store.remove_sync(&k[0]));
    assert!(store.add_sync(&k[2]).unwrap(), "room after a remove");
}

/// Records that an operation reclaims itself (the key's own expired record, or any that the
/// shard's incremental sweep removes on the way) are room for that same operation: a full store
/// whose records have expired takes a key again, with either policy and on every write path,
/// and never evicts a live record for want of room it already had.
#[test]
fn records_reclaimed_by_the_same_call_count_as_room() {
    for policy in [CapacityPolicy::Reject, CapacityPolicy::EvictSoonestExpiring] {
        let clock = MockClock::new();
        let store = MemoryStore::builder()
            .default_ttl(ms(1000))
            .clock(clock.clone())
            .capacity(2, policy)
            .shards(1)
            .build()
            .unwrap();
        let k = keys("reclaimed", 3);
        // k[0] expires soon, k[1] lives on: the store is full.
        assert!(store.add_with_ttl_sync(&k[0], ms(10)).unwrap());
        assert!(store.add_sync(&k[1]).unwrap());
        clock.advance(ms(10));
        // One live record of two: adding k[0] again reclaims its own expired record.
        assert_eq!(
            store.add_with_ttl_sync(&k[0], ms(10)).unwrap(),
            true,
            "{policy:?}"
        );
        assert!(
            store.has_key_sync(&k[1]),
            "{policy:?}: a live record was evicted"
        );
        clock.advance(ms(10));
        // The same through claim.
        assert!(
            matches!(
                store.claim_sync(&k[0], ms(10), None),
                Ok(Claim::Acquired(_))
            ),
            "{policy:?}"
        );
        assert!(
            store.has_key_sync(&k[1]),
            "{policy:?}: a live record was evicted"
        );
        clock.advance(ms(10));
        // A different key, into the room k[0]'s expired record leaves.
        assert_eq!(store.add_sync(&k[2]).unwrap(), true, "{policy:?}");
        assert!(
            store.has_key_sync(&k[1]),
            "{policy:?}: a live record was evicted"
        );
        assert_eq!(store.add_sync(&k[1]).unwrap(), false, "{policy:?}");
        assert_eq!(store.len(), 2, "{policy:?}");
    }
}

/// Eviction makes room with the record nearest its deadline, and documents that the evicted key
/// gets through again.
#[test]
fn eviction_takes_the_record_nearest_its_deadline() {
    let store = MemoryStore::builder()
        .capacity(2, CapacityPolicy::EvictSoonestExpiring)
        .shards(1)
        .build()
        .unwrap();
    let k = keys("evict", 3);
    assert!(
        store
            .add_with_ttl_sync(&k[0], Duration::from_secs(60))
            .unwrap()
    );
    assert!(
        store
            .add_with_ttl_sync(&k[1], Duration::from_secs(5))
            .unwrap()
    );
    assert!(
        store
            .add_with_ttl_sync(&k[2], Duration::from_secs(60))
            .unwrap()
    );
    assert!(store.has_key_sync(&k[0]));
    assert!(
        !store.has_key_sync(&k[1]),
        "the soonest-expiring record was evicted"
    );
    assert!(store.has_key_sync(&k[2]));
    assert!(
        store.add_sync(&k[1]).unwrap(),
        "an evicted key gets through again"
    );
}

/// `shared/cases/case-10.md`: expiry follows elapsed monotonic time only. The store has no
/// wall-clock reading at all: its sources never name `SystemTime`, so a wall-clock jump cannot
/// reach it; the timeline below is the case's, on the monotonic (mock) clock.
#[test]
fn case_10_expiry_follows_monotonic_time_only() {
    let (store, clock) = mock_store(Duration::from_secs(10));
    let k = keys("case-10", 1)[0];
    assert!(store.add_sync(&k).unwrap());
    clock.advance(Duration::from_millis(10_001)); // (the wall clock jumps back an hour here)
    assert!(!store.has_key_sync(&k), "expired by elapsed time");
    assert!(store.add_sync(&k).unwrap());
    clock.advance(ms(1)); // (the wall clock jumps forward a day here)
    assert!(store.has_key_sync(&k), "not expired early");

    let src = concat!(
        include_str!("../src/store.rs"),
        include_str!("../src/clock.rs")
    );
    assert!(
        !src.contains("SystemTime"),
        "the in-memory store must never read the wall clock"
    );
    assert!(
        src.contains("Instant::now()"),
        "it reads the monotonic clock"
    );
}

/// A store on the real monotonic clock expires records too (generous margins: no timing claim).
#[test]
fn the_system_clock_expires_records() {
    let store = MemoryStore::new(ms(30)).unwrap();
    let k = keys("system-clock", 1)[0];
    assert!(store.add_sync(&k).unwrap());
    std::thread::sleep(ms(200));
    assert!(!store.has_key_sync(&k));
    assert!(store.add_sync(&k).unwrap());
}

/// The store works with no async runtime: the trait's futures complete at once.
#[test]
fn works_without_a_runtime_through_the_trait() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(Duration::from_secs(60)).unwrap());
    let k = keys("no-runtime", 1)[0];
    futures::executor::block_on(async {
        assert!(store.add(&k).await.unwrap());
        assert!(!store.add(&k).await.unwrap());
        assert!(matches!(
            store.claim(&k, ms(10), None).await.unwrap(),
            Claim::Completed { result: None }
        ));
    });
}

/// Zero and huge default TTLs are refused when the store is built.
#[test]
fn invalid_default_ttls_are_refused_up_front() {
    assert!(matches!(
        MemoryStore::new(Duration::ZERO),
        Err(Error::InvalidTtl { .. })
    ));
    assert!(matches!(
        MemoryStore::new(Duration::MAX),
        Err(Error::InvalidTtl { .. })
    ));
}

/// Fencing tokens increase with every grant on a key.
#[test]
fn fencing_tokens_increase() {
    let (store, clock) = mock_store(ms(100));
    let k = keys("tokens", 1)[0];
    let mut last = 0;
    for _ in 0..5 {
        let Claim::Acquired(lease) = store.claim_sync(&k, ms(10), None).unwrap() else {
            panic!("the key is free");
        };
        assert!(lease.token().get() > last);
        last = lease.token().get();
        clock.advance(ms(10));
    }
}

/// Many threads on many keys: every key is added exactly once.
#[test]
fn concurrent_threads_add_each_key_exactly_once() {
    let store = MemoryStore::new(Duration::from_secs(60)).unwrap();
    let all = Arc::new(keys("threads", 20_000));
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (store, all) = (store.clone(), Arc::clone(&all));
                s.spawn(move || all.iter().filter(|k| store.add_sync(k).unwrap()).count())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 20_000);
    assert_eq!(store.len(), 20_000);
}
