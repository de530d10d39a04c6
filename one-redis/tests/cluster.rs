//! The cluster store's own behaviour on real Redis Clusters of three masters: one command per
//! add on the key's master, batches split by master, keys spread over every master, a master
//! stopped mid-run, a hung master, a failover to a replica, a slot migrated mid-run (`ASK`, then
//! `MOVED`). Each test that stops, reshards or counts spawns a cluster of its own
//! (`RedisCluster::private`); the others share one.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use common::{admin, command_calls, promptly, run};
use one_core::{Claim, Error, Key, KeySpace, Store};
use one_redis::redis::aio::MultiplexedConnection;
use one_redis::{RedisClusterStore, hash_slot};
use one_testkit::fresh_space;
use one_testkit::redis_cluster::{RedisCluster, SLOTS};
use one_testkit::redis_server::RedisServer;

const MINUTE: Duration = Duration::from_secs(60);
const MASTERS: usize = 3;

fn key(space: &KeySpace, name: &str) -> Key {
    space.key(name).expect("a string has key material")
}

fn store(seeds: &[String]) -> RedisClusterStore {
    RedisClusterStore::builder(seeds.iter().map(String::as_str))
        .default_ttl(MINUTE)
        .build()
        .expect("a store")
}

/// The spawned master that serves `slot`: master `i` serves the `i`th equal share.
fn master_of(slot: u16) -> usize {
    (0..MASTERS)
        .find(|&i| usize::from(slot) < usize::from(SLOTS) * (i + 1) / MASTERS)
        .expect("a slot below 16384")
}

/// Keys named `"{prefix} {i}"`, `per_master` of them on each master.
fn keys_on_each_master(
    store: &RedisClusterStore,
    space: &KeySpace,
    prefix: &str,
    per_master: usize,
) -> Vec<Vec<Key>> {
    let mut keys = vec![Vec::new(); MASTERS];
    for i in 0.. {
        if keys.iter().all(|k: &Vec<Key>| k.len() == per_master) {
            break;
        }
        let k = key(space, &format!("{prefix} {i}"));
        let on = &mut keys[master_of(store.slot(&k))];
        if on.len() < per_master {
            on.push(k);
        }
    }
    keys
}

async fn admins(cluster: &RedisCluster) -> Vec<MultiplexedConnection> {
    let mut admins = Vec::new();
    for url in cluster.urls() {
        admins.push(admin(url).await);
    }
    admins
}

/// The answer must be an `Err`: never `Ok(false)` (work dropped) nor `Ok(true)` (done twice).
#[track_caller]
fn must_fail<T: std::fmt::Debug>(answer: Result<T, Error>, what: &str) -> Error {
    match answer {
        Err(e) => e,
        Ok(v) => panic!("{what}: expected Err, got Ok({v:?})"),
    }
}

/// Waits (blocking this worker) until every node of `cluster` reports it healthy.
fn wait_healthy(cluster: &RedisCluster) {
    tokio::task::block_in_place(|| cluster.wait_healthy()).expect("the cluster is healthy again");
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

/// The store computes the slot of each record as the cluster does (`CLUSTER KEYSLOT`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_match_cluster_keyslot() {
    let Some(cluster) = RedisCluster::shared("slots_match_cluster_keyslot") else {
        return;
    };
    let mut admin = admin(&cluster.urls()[0]).await;
    let space = fresh_space("keyslot");
    let store = store(cluster.urls());
    for i in 0..200 {
        let k = key(&space, &format!("k {i}"));
        let name = String::from_utf8(store.redis_key(&k)).unwrap();
        let server: i64 = run(&mut admin, &["CLUSTER", "KEYSLOT", &name]).await;
        assert_eq!(i64::from(store.slot(&k)), server, "{name}");
    }
    for name in [
        "{user1000}.following",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "{}",
        "a{b",
    ] {
        let server: i64 = run(&mut admin, &["CLUSTER", "KEYSLOT", name]).await;
        assert_eq!(i64::from(hash_slot(name.as_bytes())), server, "{name}");
    }
}

/// N adds are exactly N `SET` commands, each on the master of its key's slot, and nothing
/// else on any node: no `CLUSTER SLOTS` per call, no `ASKING`, no health check, sequential or
/// 64 callers at once. The other operations are one command each too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_add_is_exactly_one_set_on_its_master() {
    let Some(cluster) = RedisCluster::private(
        "each_add_is_exactly_one_set_on_its_master",
        RedisCluster::builder(),
    ) else {
        return;
    };
    let space = fresh_space("cluster commandstats");
    let store = Arc::new(
        RedisClusterStore::builder(cluster.urls().iter().map(String::as_str))
            .default_ttl(MINUTE)
            .pool_size(4)
            .build()
            .unwrap(),
    );
    let mut admins = admins(&cluster).await;

    // Warm up: the slot map, every pooled connection of every master, and the lease scripts
    // on every master.
    let warm: Vec<_> = (0..64)
        .map(|i| {
            let (store, k) = (Arc::clone(&store), key(&space, &format!("warm {i}")));
            tokio::spawn(async move { store.add(&k).await })
        })
        .collect();
    for task in warm {
        assert_eq!(task.await.unwrap().unwrap(), true);
    }
    for (i, pair) in keys_on_each_master(&store, &space, "warm lease", 2)
        .into_iter()
        .enumerate()
    {
        for (j, k) in pair.into_iter().enumerate() {
            let Claim::Acquired(lease) = store.claim(&k, MINUTE, None).await.unwrap() else {
                panic!("a fresh key is free (master {i})");
            };
            store.extend(&lease, MINUTE).await.unwrap();
            if j == 0 {
                store.complete(&lease, MINUTE, None).await.unwrap();
            } else {
                store.release(&lease).await.unwrap();
            }
        }
    }

    for admin in &mut admins {
        let _: () = run(admin, &["CONFIG", "RESETSTAT"]).await;
    }
    let n = 200;
    let mut owned = [0u64; MASTERS];
    for i in 0..n {
        let k = key(&space, &format!("seq {i}"));
        owned[master_of(store.slot(&k))] += 2; // added, then added again
        assert_eq!(store.add(&k).await.unwrap(), true);
    }
    for i in 0..n {
        assert_eq!(
            store.add(&key(&space, &format!("seq {i}"))).await.unwrap(),
            false
        );
    }
    // 64 callers at once.
    let concurrent: Vec<_> = (0..64)
        .map(|caller| {
            let store = Arc::clone(&store);
            let keys: Vec<Key> = (0..n / 64 + 1)
                .map(|i| key(&space, &format!("par {caller} {i}")))
                .collect();
            tokio::spawn(async move {
                for k in keys {
                    assert_eq!(store.add(&k).await.unwrap(), true);
                }
            })
        })
        .collect();
    for caller in 0..64 {
        for i in 0..n / 64 + 1 {
            owned[master_of(store.slot(&key(&space, &format!("par {caller} {i}"))))] += 1;
        }
    }
    for task in concurrent {
        task.await.unwrap();
    }
    let mut total = 0;
    for (i, admin) in admins.iter_mut().enumerate() {
        let calls = command_calls(admin).await;
        eprintln!("master {i}: INFO commandstats after the adds: {calls:?}");
        assert_eq!(
            calls.get("set").copied().unwrap_or(0),
            owned[i],
            "master {i}: SET calls for the adds of its keys: {calls:?}"
        );
        let others: Vec<_> = calls
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "set" | "config|resetstat"))
            .collect();
        assert!(
            others.is_empty(),
            "master {i}: adds sent other commands too: {others:?}"
        );
        total += owned[i];
    }
    assert_eq!(total, 2 * n as u64 + 64 * (n as u64 / 64 + 1));
    eprintln!("{total} adds: {total} SETs, {owned:?} on the three masters, nothing else");

    // The other operations: one command each, on the key's master.
    for admin in &mut admins {
        let _: () = run(admin, &["CONFIG", "RESETSTAT"]).await;
    }
    let k = key(&space, "others");
    let home = master_of(store.slot(&k));
    assert_eq!(store.has_key(&k).await.unwrap(), false);
    assert_eq!(store.remove(&k).await.unwrap(), false);
    let Claim::Acquired(lease) = store.claim(&k, MINUTE, None).await.unwrap() else {
        panic!("a fresh key is free");
    };
    store.extend(&lease, MINUTE).await.unwrap();
    store.complete(&lease, MINUTE, Some(b"r")).await.unwrap();
    for (i, admin) in admins.iter_mut().enumerate() {
        let calls = command_calls(admin).await;
        let expected: BTreeMap<String, u64> = if i == home {
            // EXISTS, DEL and an EVALSHA per lease operation, plus the commands the scripts
            // run inside those round trips.
            [
                ("config|resetstat", 1),
                ("del", 1),
                ("evalsha", 3),
                ("exists", 1),
                ("get", 3),
                ("pexpire", 1),
                ("set", 2),
            ]
            .iter()
            .map(|(n, c)| ((*n).to_owned(), *c))
            .collect()
        } else {
            [("config|resetstat".to_owned(), 1)].into_iter().collect()
        };
        assert_eq!(calls, expected, "master {i} (the key's master is {home})");
    }
}

/// One batch whose keys land on all three masters: the answers come back in the caller's
/// order (a repeated key is new once), each record is on its slot's master, and nothing fails
/// with `CROSSSLOT`. The records spread over the masters (`DBSIZE`, `COUNTKEYSINSLOT`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_every_master_answers_in_order() {
    let Some(cluster) = RedisCluster::private(
        "a_batch_over_every_master_answers_in_order",
        RedisCluster::builder(),
    ) else {
        return;
    };
    let space = fresh_space("cluster batch");
    let store = store(cluster.urls());
    let mut admins = admins(&cluster).await;

    let mut batch: Vec<Key> = (0..300).map(|i| key(&space, &format!("b {i}"))).collect();
    // A repeated key, far apart in the batch.
    batch.push(batch[0]);
    batch.insert(150, batch[7]);
    let answers = store.add_many(&batch).await;
    let mut seen = HashSet::new();
    for (i, (k, answer)) in batch.iter().zip(&answers).enumerate() {
        let new = seen.insert(*k);
        assert_eq!(*answer.as_ref().unwrap(), new, "answer {i} for {k}");
    }

    let mut per_master = [0i64; MASTERS];
    for k in &seen {
        per_master[master_of(store.slot(k))] += 1;
    }
    for (i, admin) in admins.iter_mut().enumerate() {
        let size: i64 = run(admin, &["DBSIZE"]).await;
        eprintln!("master {i}: DBSIZE {size}");
        assert_eq!(size, per_master[i], "master {i} holds exactly its keys");
        assert!(
            size > 50,
            "300 keys spread over all three masters: {per_master:?}"
        );
    }
    for k in seen.iter().take(30) {
        let slot = store.slot(k).to_string();
        for (i, admin) in admins.iter_mut().enumerate() {
            let count: i64 = run(admin, &["CLUSTER", "COUNTKEYSINSLOT", &slot]).await;
            let home = master_of(store.slot(k));
            assert_eq!(count > 0, i == home, "slot {slot} on master {i}");
        }
    }

    // Old and new keys mixed: each answer for its own key, in order.
    let mixed: Vec<Key> = (0..60)
        .map(|i| {
            if i % 2 == 0 {
                batch[i]
            } else {
                key(&space, &format!("new {i}"))
            }
        })
        .collect();
    let answers = store.add_many(&mixed).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.unwrap(), i % 2 == 1, "mixed answer {i}");
    }

    // claim_many across the masters: acquired once per key, then in progress; a record
    // written by add reads as completed.
    let mut claims: Vec<Key> = (0..60).map(|i| key(&space, &format!("c {i}"))).collect();
    claims.push(claims[3]);
    claims.push(batch[1]);
    let answers = store.claim_many(&claims, MINUTE).await;
    let mut tokens = HashSet::new();
    for (i, answer) in answers.into_iter().enumerate() {
        match (i, answer.unwrap()) {
            (0..60, Claim::Acquired(lease)) => {
                assert_eq!(*lease.key(), claims[i]);
                assert!(tokens.insert(lease.token()), "a fresh token per lease");
            }
            (60, Claim::InProgress { .. }) | (61, Claim::Completed { result: None }) => {}
            (i, other) => panic!("claim_many answer {i}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outages and resharding
// ---------------------------------------------------------------------------------------------

/// A master stops mid-run: the operations on its keys fail promptly with a typed, retryable
/// error naming it, whole or inside a batch, while the keys of the other masters keep working;
/// once it is back (empty: it has no persistence) everything works with the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_stopped_mid_run() {
    let Some(cluster) = RedisCluster::private("a_master_stopped_mid_run", RedisCluster::builder())
    else {
        return;
    };
    let space = fresh_space("cluster outage");
    let store = Arc::new(
        RedisClusterStore::builder(cluster.urls().iter().map(String::as_str))
            .default_ttl(MINUTE)
            .pool_size(4)
            .build()
            .unwrap(),
    );
    let before = keys_on_each_master(&store, &space, "before", 4);
    let during = keys_on_each_master(&store, &space, "during", 3);
    let after = keys_on_each_master(&store, &space, "after", 2);
    // Several pooled connections to every master, all of which the stop kills on master 1.
    let warm: Vec<_> = before
        .iter()
        .flatten()
        .map(|k| {
            let (store, k) = (Arc::clone(&store), *k);
            tokio::spawn(async move { store.add(&k).await })
        })
        .collect();
    for task in warm {
        assert_eq!(task.await.unwrap().unwrap(), true);
    }

    let down = &cluster.nodes()[1];
    let port = down.port().to_string();
    down.stop();
    for k in &during[1] {
        let (answer, took) = promptly("add on the stopped master", store.add(k)).await;
        let e = must_fail(answer, "add on the stopped master");
        assert!(
            matches!(e, Error::Unavailable { .. }) && e.is_retryable(),
            "{e:?}"
        );
        assert!(e.to_string().contains(&port), "names the node: {e}");
        eprintln!("add on the stopped master: Err({e}) after {took:?}");
        let (answer, _) = promptly("has_key", store.has_key(k)).await;
        assert!(must_fail(answer, "has_key on the stopped master").is_retryable());
        let (answer, _) = promptly("claim", store.claim(k, MINUTE, None)).await;
        assert!(must_fail(answer, "claim on the stopped master").is_retryable());
    }
    for k in &before[1] {
        let (answer, _) = promptly("add of an old key", store.add(k)).await;
        must_fail(answer, "add of an old key on the stopped master");
    }
    // The other masters answer as if nothing happened.
    for m in [0, 2] {
        for k in &before[m] {
            assert_eq!(store.add(k).await.unwrap(), false, "master {m}: duplicate");
        }
        for k in &during[m] {
            assert_eq!(store.add(k).await.unwrap(), true, "master {m}: new");
            let Claim::Completed { result: None } = store.claim(k, MINUTE, None).await.unwrap()
            else {
                panic!("master {m}: an added key reads as completed");
            };
        }
    }
    // A batch over all three: answers for masters 0 and 2, errors for master 1's keys only.
    let batch: Vec<Key> = (0..MASTERS).map(|m| after[m][0]).collect();
    let (answers, took) = promptly("add_many over a stopped master", store.add_many(&batch)).await;
    eprintln!("add_many over a stopped master after {took:?}: {answers:?}");
    let mut answers = answers.into_iter();
    assert_eq!(answers.next().unwrap().unwrap(), true);
    let e = must_fail(answers.next().unwrap(), "master 1 in a batch");
    assert!(e.is_retryable() && e.to_string().contains(&port), "{e}");
    assert_eq!(answers.next().unwrap().unwrap(), true);

    down.start().expect("the master starts again");
    wait_healthy(&cluster);
    // Back, and empty (no persistence): its keys are new again; the others' are not.
    for k in &before[1] {
        assert_eq!(
            store.add(k).await.unwrap(),
            true,
            "master 1 restarted empty"
        );
    }
    for k in &during[1] {
        assert_eq!(store.add(k).await.unwrap(), true);
        assert_eq!(store.add(k).await.unwrap(), false);
    }
    let answers = store.add_many(&batch).await;
    let answers: Vec<bool> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers, [false, true, false]);
    for k in &after[1][1..] {
        let Claim::Acquired(lease) = store.claim(k, MINUTE, None).await.unwrap() else {
            panic!("a fresh key on the restarted master is free");
        };
        store.complete(&lease, MINUTE, Some(b"done")).await.unwrap();
    }
}

/// A master with a replica stops: its keys fail promptly until the cluster promotes the
/// replica, then the same store finds the new master by itself (no call answers a guess in
/// between), and the records the replica had received are still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_is_followed() {
    let Some(cluster) = RedisCluster::private(
        "a_failover_is_followed",
        RedisCluster::builder().replicas(1),
    ) else {
        return;
    };
    let space = fresh_space("cluster failover");
    let store = store(cluster.urls());
    let before = keys_on_each_master(&store, &space, "before", 5);
    let fresh = keys_on_each_master(&store, &space, "fresh", 250);
    for k in before.iter().flatten() {
        assert_eq!(store.add(k).await.unwrap(), true);
    }
    // Let the replica receive everything, so that the failover loses nothing here.
    let mut master = admin(cluster.masters()[1].url()).await;
    let mut replica = admin(cluster.replicas_of(1)[0].url()).await;
    let synced = tokio::time::Instant::now();
    loop {
        let offset = |info: String, field: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(field).map(str::to_owned))
                .unwrap_or_default()
        };
        let at_master = offset(
            run(&mut master, &["INFO", "replication"]).await,
            "master_repl_offset:",
        );
        let at_replica = offset(
            run(&mut replica, &["INFO", "replication"]).await,
            "slave_repl_offset:",
        );
        if !at_master.is_empty() && at_master == at_replica {
            break;
        }
        assert!(
            synced.elapsed() < Duration::from_secs(10),
            "the replica syncs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let promoted = cluster.replicas_of(1)[0].port().to_string();
    let old = cluster.masters()[1].port().to_string();
    assert!(store.masters().iter().any(|m| m.ends_with(&old)));

    cluster.masters()[1].stop();
    let stopped = tokio::time::Instant::now();
    let mut failures = 0;
    let mut fresh_keys = fresh[1].iter();
    loop {
        let k = fresh_keys.next().expect("enough fresh keys");
        let (answer, _) = promptly("add during the failover", store.add(k)).await;
        match answer {
            Ok(true) => break,
            Ok(false) => panic!("a fresh key answered Ok(false) during a failover"),
            Err(e) => {
                assert!(e.is_retryable(), "{e:?}");
                failures += 1;
            }
        }
        // The other masters are not held up.
        assert_eq!(store.has_key(&before[0][0]).await.unwrap(), true);
        assert_eq!(store.has_key(&before[2][0]).await.unwrap(), true);
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "the store follows the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "failover: master 1 stopped; {failures} failed adds on its keys, then the promoted \
         replica answered, {:?} after the stop; masters now {:?}",
        stopped.elapsed(),
        store.masters()
    );
    assert!(
        failures > 0,
        "the master's keys failed while nobody served them"
    );
    assert!(store.masters().iter().any(|m| m.ends_with(&promoted)));
    assert!(!store.masters().iter().any(|m| m.ends_with(&old)));
    // What the replica had received survived: duplicates stay duplicates.
    for k in &before[1] {
        assert_eq!(store.add(k).await.unwrap(), false);
    }
    let Claim::Acquired(lease) = store.claim(&fresh[1][249], MINUTE, None).await.unwrap() else {
        panic!("a fresh key on the new master is free");
    };
    store.complete(&lease, MINUTE, None).await.unwrap();

    // The old master comes back as a replica of the new one; nothing changes for the store.
    cluster.masters()[1]
        .start()
        .expect("the old master starts again");
    wait_healthy(&cluster);
    for k in before.iter().flatten() {
        assert_eq!(store.add(k).await.unwrap(), false);
    }
}

/// A master that hangs (paused) times out its own keys with a typed `Timeout`, alone or in a
/// batch, while the other masters answer at once; afterwards no late reply reaches anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_master_times_out_only_its_keys() {
    let Some(cluster) = RedisCluster::private(
        "a_hung_master_times_out_only_its_keys",
        RedisCluster::builder(),
    ) else {
        return;
    };
    let space = fresh_space("cluster hang");
    let store = RedisClusterStore::builder(cluster.urls().iter().map(String::as_str))
        .default_ttl(MINUTE)
        .command_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let keys = keys_on_each_master(&store, &space, "k", 3);
    for k in keys.iter().flatten() {
        assert_eq!(store.has_key(k).await.unwrap(), false);
    }
    let mut hung = admin(&cluster.urls()[2]).await;
    let _: () = run(&mut hung, &["CLIENT", "PAUSE", "1500", "ALL"]).await;

    let (answer, took) = promptly("add on the hung master", store.add(&keys[2][0])).await;
    let e = must_fail(answer, "add on the hung master");
    assert!(
        matches!(
            e,
            Error::Timeout {
                operation: "add",
                ..
            }
        ),
        "{e:?}"
    );
    eprintln!("add on a hung master: Err({e}) after {took:?}");
    let (answer, took) = promptly("add on a live master", store.add(&keys[0][0])).await;
    assert_eq!(answer.unwrap(), true);
    assert!(took < Duration::from_millis(250), "not held up: {took:?}");
    let batch = [keys[0][1], keys[1][0], keys[2][1]];
    let answers = store.add_many(&batch).await;
    let mut answers = answers.into_iter();
    assert_eq!(answers.next().unwrap().unwrap(), true);
    assert_eq!(answers.next().unwrap().unwrap(), true);
    assert!(must_fail(answers.next().unwrap(), "the hung master in a batch").is_timeout());

    tokio::time::sleep(Duration::from_millis(1600)).await;
    // Late replies are never anyone's answer: a fresh key is fresh, then a duplicate.
    // (Whether the timed-out adds took effect is unknown; here the connection was closed
    // before the paused server read them.)
    store.add(&keys[2][0]).await.unwrap();
    assert_eq!(store.has_key(&keys[2][2]).await.unwrap(), false);
    assert_eq!(store.add(&keys[2][2]).await.unwrap(), true);
    assert_eq!(store.add(&keys[2][2]).await.unwrap(), false);
}

/// A slot migrates from one master to another mid-run. While it is migrating, keys the old
/// master no longer has are redirected with `ASK` (followed with `ASKING`, scripts included);
/// once it has moved, the old master answers `MOVED`, which the store follows and remembers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_migrated_mid_run_is_followed() {
    let Some(cluster) = RedisCluster::private(
        "a_slot_migrated_mid_run_is_followed",
        RedisCluster::builder(),
    ) else {
        return;
    };
    let space = fresh_space("cluster migration");
    let store = store(cluster.urls());
    let mut admins = admins(&cluster).await;

    // Five keys of one slot, on master 0; the slot moves to master 1.
    let old = key(&space, "old");
    let slot = store.slot(&old);
    let (from, to) = (master_of(slot), (master_of(slot) + 1) % MASTERS);
    let mut same_slot = (0..)
        .map(|i| key(&space, &format!("same slot {i}")))
        .filter(|k| store.slot(k) == slot);
    let [asked, claimed, migrated, moved, later] =
        std::array::from_fn(|_| same_slot.next().unwrap());
    let slot = slot.to_string();
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for admin in &mut admins {
            ids.push(run(admin, &["CLUSTER", "MYID"]).await);
        }
        ids
    };
    assert_eq!(store.add(&old).await.unwrap(), true);
    assert_eq!(store.add(&migrated).await.unwrap(), true);

    let _: () = run(
        &mut admins[to],
        &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &ids[from]],
    )
    .await;
    let _: () = run(
        &mut admins[from],
        &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &ids[to]],
    )
    .await;

    // Migrating: a key the old master has is answered there; a new one goes to the new
    // master (ASK), for add, has_key, a batch and the lease scripts.
    assert_eq!(store.add(&old).await.unwrap(), false);
    assert_eq!(store.add(&asked).await.unwrap(), true);
    assert_eq!(store.has_key(&asked).await.unwrap(), true);
    assert_eq!(
        store
            .add_many(&[asked, old, later])
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        [false, false, true]
    );
    let Claim::Acquired(lease) = store.claim(&claimed, MINUTE, None).await.unwrap() else {
        panic!("a fresh key in a migrating slot is free");
    };
    store.complete(&lease, MINUTE, Some(b"r")).await.unwrap();
    let to_port = cluster.nodes()[to].port().to_string();
    let count: i64 = run(&mut admins[to], &["CLUSTER", "COUNTKEYSINSLOT", &slot]).await;
    assert_eq!(count, 3, "the new keys are on the importing master");
    let count: i64 = run(&mut admins[from], &["CLUSTER", "COUNTKEYSINSLOT", &slot]).await;
    assert_eq!(count, 2, "the old keys are still on the migrating master");

    // A key moves while the slot migrates: the old master no longer has it, the new one does.
    let name = String::from_utf8(store.redis_key(&migrated)).unwrap();
    let _: () = run(
        &mut admins[from],
        &[
            "MIGRATE",
            "127.0.0.1",
            &to_port,
            "",
            "0",
            "5000",
            "KEYS",
            &name,
        ],
    )
    .await;
    assert_eq!(store.add(&migrated).await.unwrap(), false);
    assert_eq!(store.has_key(&migrated).await.unwrap(), true);

    // The rest of the slot's keys move, and the slot is the new master's: the old one answers
    // MOVED.
    let name = String::from_utf8(store.redis_key(&old)).unwrap();
    let _: () = run(
        &mut admins[from],
        &[
            "MIGRATE",
            "127.0.0.1",
            &to_port,
            "",
            "0",
            "5000",
            "KEYS",
            &name,
        ],
    )
    .await;
    for admin in [to, from, 3 - to - from] {
        let _: () = run(
            &mut admins[admin],
            &["CLUSTER", "SETSLOT", &slot, "NODE", &ids[to]],
        )
        .await;
    }
    assert_eq!(store.add(&moved).await.unwrap(), true);
    let owner_count: i64 = run(&mut admins[to], &["CLUSTER", "COUNTKEYSINSLOT", &slot]).await;
    let old_count: i64 = run(&mut admins[from], &["CLUSTER", "COUNTKEYSINSLOT", &slot]).await;
    assert_eq!(
        (old_count, owner_count),
        (0, 6),
        "every key of the slot moved"
    );
    // Remembered: the next calls on the slot go straight to the new master.
    let _: () = run(&mut admins[from], &["CONFIG", "RESETSTAT"]).await;
    assert_eq!(store.add(&moved).await.unwrap(), false);
    assert_eq!(store.has_key(&later).await.unwrap(), true);
    let Claim::Completed { result } = store.claim(&claimed, MINUTE, None).await.unwrap() else {
        panic!("the completed claim moved with its slot");
    };
    assert_eq!(result.as_deref(), Some(&b"r"[..]));
    let calls = command_calls(&mut admins[from]).await;
    assert_eq!(
        calls.keys().collect::<Vec<_>>(),
        ["config|resetstat"],
        "the old master saw no more calls for the slot: {calls:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Misconfiguration and clusters that are down
// ---------------------------------------------------------------------------------------------

/// Every seed down from the start: every operation is a prompt, retryable `Err`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_down_from_the_start_fail_promptly() {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
        .collect();
    let seeds: Vec<String> = listeners
        .iter()
        .map(|l| format!("redis://127.0.0.1:{}", l.local_addr().unwrap().port()))
        .collect();
    drop(listeners);
    let store = store(&seeds);
    let k = key(&fresh_space("cluster down"), "k");
    let (answer, took) = promptly("add", store.add(&k)).await;
    let e = must_fail(answer, "add on a cluster that is down");
    assert!(
        matches!(e, Error::Unavailable { .. }) && e.is_retryable(),
        "{e:?}"
    );
    eprintln!("add with every seed down: Err({e}) after {took:?}");
    // Concurrent first calls wait for one attempt and share its failure.
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.add_many(&[k, k]).await })
        })
        .collect();
    for task in tasks {
        let (answers, _) = promptly("add_many", task).await;
        for answer in answers.unwrap() {
            assert!(must_fail(answer, "add_many").is_retryable());
        }
    }
}

/// One live seed is enough: the dead ones before it are skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_live_seed_is_enough() {
    let Some(cluster) = RedisCluster::shared("one_live_seed_is_enough") else {
        return;
    };
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let seeds = [
        format!("redis://127.0.0.1:{closed}"),
        cluster.urls()[cluster.urls().len() - 1].clone(),
    ];
    let store = store(&seeds);
    let k = key(&fresh_space("one seed"), "k");
    assert_eq!(store.add(&k).await.unwrap(), true);
    assert_eq!(store.add(&k).await.unwrap(), false);
    assert!(store.masters().len() >= MASTERS.min(cluster.urls().len()));
}

/// A cluster store pointed at a server that is not a cluster node fails with a `Backend`
/// error that says so, promptly, never an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_server_is_not_a_cluster() {
    let Some(server) = RedisServer::shared("a_plain_server_is_not_a_cluster") else {
        return;
    };
    let store = store(&[server.url().to_owned()]);
    let k = key(&fresh_space("not a cluster"), "k");
    let (answer, _) = promptly("add", store.add(&k)).await;
    let e = must_fail(answer, "add on a plain server");
    assert!(matches!(e, Error::Backend { .. }), "{e:?}");
    assert!(e.to_string().contains("cluster"), "{e}");
    eprintln!("a cluster store on a plain server: Err({e})");
}
