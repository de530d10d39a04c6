//! The Redis store's own behaviour on real servers: round trips, outages, timeouts, auth,
//! prefixes, and the rows of case-16. Each test that reconfigures, fills or restarts a server
//! spawns its own (`RedisServer::private`); the others share one.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{PROMPTLY, admin, command_calls, promptly, run};
use one_core::{Claim, Error, Key, KeySpace, Store};
use one_redis::{DEFAULT_PREFIX, RedisStore};
use one_testkit::fresh_space;
use one_testkit::redis_server::RedisServer;

const MINUTE: Duration = Duration::from_secs(60);

fn keys(test: &str) -> KeySpace {
    fresh_space(test)
}

fn key(space: &KeySpace, name: &str) -> Key {
    space.key(name).expect("a string has key material")
}

fn store(url: &str) -> RedisStore {
    RedisStore::builder(url)
        .default_ttl(MINUTE)
        .build()
        .expect("a store")
}

/// The answer must be an `Err`: never `Ok(false)` (work dropped) nor `Ok(true)` (done twice).
#[track_caller]
fn must_fail<T: std::fmt::Debug>(answer: Result<T, Error>, what: &str) -> Error {
    match answer {
        Err(e) => e,
        Ok(v) => panic!("{what}: expected Err, got Ok({v:?})"),
    }
}

// ---------------------------------------------------------------------------------------------
// One round trip per operation
// ---------------------------------------------------------------------------------------------

/// N adds are exactly N `SET` commands on the server, and nothing else: no `PING`/`UNWATCH`
/// from recycling a pooled connection, sequential or concurrent. The other operations are one
/// command each too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_add_is_exactly_one_set_command() {
    let Some(server) = RedisServer::private(
        "each_add_is_exactly_one_set_command",
        RedisServer::builder(),
    ) else {
        return;
    };
    let space = keys("commandstats");
    let store = RedisStore::builder(server.url())
        .default_ttl(MINUTE)
        .pool_size(4)
        .build()
        .unwrap();
    let store = Arc::new(store);
    let mut admin = admin(server.url()).await;

    // Warm up: make every pooled connection (their handshake is not per operation) and load
    // the lease scripts.
    let warm: Vec<_> = (0..16)
        .map(|i| {
            let (store, k) = (Arc::clone(&store), key(&space, &format!("warm {i}")));
            tokio::spawn(async move { store.add(&k).await })
        })
        .collect();
    for task in warm {
        assert_eq!(task.await.unwrap().unwrap(), true);
    }
    for name in ["warm complete", "warm release"] {
        let Claim::Acquired(lease) = store.claim(&key(&space, name), MINUTE, None).await.unwrap()
        else {
            panic!("a fresh key is free");
        };
        store.extend(&lease, MINUTE).await.unwrap();
        match name {
            "warm complete" => store.complete(&lease, MINUTE, None).await.unwrap(),
            _ => store.release(&lease).await.unwrap(),
        }
    }

    let _: () = run(&mut admin, &["CONFIG", "RESETSTAT"]).await;
    let n = 200;
    for i in 0..n {
        assert_eq!(
            store.add(&key(&space, &format!("seq {i}"))).await.unwrap(),
            true
        );
    }
    // Duplicates are one SET too.
    for i in 0..n {
        assert_eq!(
            store.add(&key(&space, &format!("seq {i}"))).await.unwrap(),
            false
        );
    }
    let concurrent: Vec<_> = (0..n)
        .map(|i| {
            let (store, k) = (Arc::clone(&store), key(&space, &format!("par {i}")));
            tokio::spawn(async move { store.add(&k).await })
        })
        .collect();
    for task in concurrent {
        assert_eq!(task.await.unwrap().unwrap(), true);
    }
    let calls = command_calls(&mut admin).await;
    eprintln!("INFO commandstats after {} adds: {calls:?}", 3 * n);
    assert_eq!(
        calls.get("set"),
        Some(&(3 * n as u64)),
        "SET calls for {} adds: {calls:?}",
        3 * n
    );
    let others: Vec<_> = calls
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "set" | "config|resetstat"))
        .collect();
    assert!(
        others.is_empty(),
        "adds sent other commands too: {others:?}"
    );

    // The other operations: one command each.
    let _: () = run(&mut admin, &["CONFIG", "RESETSTAT"]).await;
    let k = key(&space, "others");
    assert_eq!(store.has_key(&k).await.unwrap(), false);
    assert_eq!(store.remove(&k).await.unwrap(), false);
    let batch: Vec<Key> = (0..10)
        .map(|i| key(&space, &format!("batch {i}")))
        .collect();
    assert!(
        store
            .add_many(&batch)
            .await
            .iter()
            .all(|a| matches!(a, Ok(true)))
    );
    let Claim::Acquired(lease) = store.claim(&k, MINUTE, None).await.unwrap() else {
        panic!("a fresh key is free");
    };
    store.extend(&lease, MINUTE).await.unwrap();
    store.complete(&lease, MINUTE, Some(b"r")).await.unwrap();
    let calls = command_calls(&mut admin).await;
    eprintln!(
        "INFO commandstats after has_key, remove, add_many(10), claim, extend, complete: {calls:?}"
    );
    // One command per operation from the client: EXISTS, DEL, ten SETs in one pipeline, and
    // an EVALSHA per lease operation. Redis also counts the commands its scripts run inside
    // that one round trip: claim's GET and SET, extend's GET and PEXPIRE, complete's GET and
    // SET.
    let expected = [
        ("config|resetstat", 1),
        ("del", 1),
        ("evalsha", 3),
        ("exists", 1),
        ("get", 3),
        ("pexpire", 1),
        ("set", 10 + 2),
    ];
    let expected: std::collections::BTreeMap<String, u64> = expected
        .iter()
        .map(|(n, c)| ((*n).to_owned(), *c))
        .collect();
    assert_eq!(calls, expected);
}

/// The commands as the server sees them (`MONITOR`): `add` is `SET key c NX PX <ms>` with the
/// TTL in whole milliseconds, rounded up, relative to the server's clock (never `PXAT`/`EXAT`
/// from the client's wall clock; case-10, case-11 b, c, d).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_sends_set_nx_px_in_milliseconds() {
    let Some(server) = RedisServer::private(
        "add_sends_set_nx_px_in_milliseconds",
        RedisServer::builder(),
    ) else {
        return;
    };
    let space = keys("monitor");
    let store = store(server.url());
    let (a, b, c) = (key(&space, "a"), key(&space, "b"), key(&space, "c"));
    // Make the store's connection before MONITOR starts, so only the adds show.
    assert_eq!(store.has_key(&a).await.unwrap(), false);

    let mut monitor = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port())).unwrap();
    monitor.write_all(b"MONITOR\r\n").unwrap();
    let mut reader = BufReader::new(monitor.try_clone().unwrap());
    let mut ok = String::new();
    reader.read_line(&mut ok).unwrap();
    assert_eq!(ok.trim_end(), "+OK");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&lines);
    let reading = std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { break };
            collected.lock().unwrap().push(line);
        }
    });

    assert_eq!(
        store
            .add_with_ttl(&a, Duration::from_millis(1900))
            .await
            .unwrap(),
        true
    );
    assert_eq!(
        store
            .add_with_ttl(&b, Duration::from_micros(500))
            .await
            .unwrap(),
        true
    );
    assert_eq!(
        store
            .add_with_ttl(&c, Duration::from_micros(2_000_001))
            .await
            .unwrap(),
        true
    );
    assert_eq!(store.add_with_ttl(&a, MINUTE).await.unwrap(), false);
    // MONITOR shows a command after it ran; give the reader a moment, then stop it.
    let mut admin = admin(server.url()).await;
    let _: String = run(&mut admin, &["PING"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    monitor.shutdown(Shutdown::Both).unwrap();
    reading.join().unwrap();

    let lines = lines.lock().unwrap();
    let sets: Vec<&String> = lines.iter().filter(|l| l.contains("\"SET\"")).collect();
    let expect = |k: &Key, ms: &str| {
        format!(
            "\"SET\" \"{}\" \"c\" \"NX\" \"PX\" \"{ms}\"",
            String::from_utf8(store.redis_key(k)).unwrap()
        )
    };
    let want = [
        expect(&a, "1900"),
        expect(&b, "1"),
        expect(&c, "2001"),
        expect(&a, "60000"),
    ];
    assert_eq!(
        sets.len(),
        want.len(),
        "one SET per add; MONITOR saw: {lines:#?}"
    );
    for (line, want) in sets.iter().zip(&want) {
        assert!(
            line.ends_with(want.as_str()),
            "MONITOR line {line:?} should end with {want}"
        );
    }
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("PXAT") || l.contains("EXAT") || l.contains("EXPIRE")),
        "expiry is relative PX in the SET itself: {lines:#?}"
    );
}

/// The record on the server: `prefix + 32 hex` holding `c`, with a PTTL within the TTL and
/// never -1 (case-11 c, d); a duplicate does not move the expiry (case-11 e).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_prefixed_keys_with_an_expiry() {
    let Some(server) = RedisServer::shared("records_are_prefixed_keys_with_an_expiry") else {
        return;
    };
    let space = keys("records");
    let store = store(server.url());
    let mut admin = admin(server.url()).await;
    let k = key(&space, "k");
    let redis_key = store.redis_key(&k);
    assert_eq!(store.prefix(), DEFAULT_PREFIX);
    assert_eq!(redis_key, format!("one:v1:{k}").into_bytes());

    assert_eq!(
        store
            .add_with_ttl(&k, Duration::from_millis(1900))
            .await
            .unwrap(),
        true
    );
    let key_text = String::from_utf8(redis_key).unwrap();
    let value: Vec<u8> = run(&mut admin, &["GET", &key_text]).await;
    assert_eq!(value, b"c");
    let pttl: i64 = run(&mut admin, &["PTTL", &key_text]).await;
    assert!(
        pttl > 1000 && pttl <= 1900,
        "PTTL {pttl} should be in (1000, 1900]"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.add_with_ttl(&k, MINUTE).await.unwrap(), false);
    let after: i64 = run(&mut admin, &["PTTL", &key_text]).await;
    assert!(
        after <= pttl - 250,
        "a duplicate add must not refresh the TTL: {pttl} then {after}"
    );

    let fresh: Vec<Key> = (0..100)
        .map(|i| space.key(&("fresh", i)).unwrap())
        .collect();
    for k in &fresh {
        assert_eq!(store.add(k).await.unwrap(), true);
    }
    for k in &fresh {
        let name = String::from_utf8(store.redis_key(k)).unwrap();
        let pttl: i64 = run(&mut admin, &["PTTL", &name]).await;
        assert!(
            pttl > 0 && pttl <= 60_000,
            "PTTL of {name} is {pttl}: every record expires"
        );
    }
}

/// The lease tier's records: in progress `p + token + fingerprint`, completed
/// `c + flags + fingerprint + result`, each with the expiry of its lease or TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_records_have_the_documented_layout() {
    let Some(server) = RedisServer::shared("lease_records_have_the_documented_layout") else {
        return;
    };
    let space = keys("layout");
    let store = store(server.url());
    let mut admin = admin(server.url()).await;
    let (k, fingerprint) = (key(&space, "k"), key(&space, "payload"));
    let name = String::from_utf8(store.redis_key(&k)).unwrap();

    let Claim::Acquired(lease) = store
        .claim(&k, Duration::from_secs(30), Some(&fingerprint))
        .await
        .unwrap()
    else {
        panic!("a fresh key is free");
    };
    let value: Vec<u8> = run(&mut admin, &["GET", &name]).await;
    let mut want = b"p".to_vec();
    want.extend_from_slice(&lease.token().get().to_be_bytes());
    want.extend_from_slice(fingerprint.as_bytes());
    assert_eq!(value, want);
    let pttl: i64 = run(&mut admin, &["PTTL", &name]).await;
    assert!(
        pttl > 29_000 && pttl <= 30_000,
        "the claim lives for its lease: PTTL {pttl}"
    );

    store
        .complete(&lease, Duration::from_secs(90), Some(b"\x00result"))
        .await
        .unwrap();
    let value: Vec<u8> = run(&mut admin, &["GET", &name]).await;
    let mut want = b"c\x03".to_vec();
    want.extend_from_slice(fingerprint.as_bytes());
    want.extend_from_slice(b"\x00result");
    assert_eq!(value, want);
    let pttl: i64 = run(&mut admin, &["PTTL", &name]).await;
    assert!(
        pttl > 89_000 && pttl <= 90_000,
        "the completed record lives for its TTL: {pttl}"
    );
}

/// A value under the store's key that is not one of its records (another program wrote it) is
/// an error for `claim`, never a guess; `add` sees a live record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_value_is_an_error_not_a_claim() {
    let Some(server) = RedisServer::shared("a_foreign_value_is_an_error_not_a_claim") else {
        return;
    };
    let space = keys("foreign");
    let store = store(server.url());
    let mut admin = admin(server.url()).await;
    let (text, hash) = (key(&space, "text"), key(&space, "hash"));
    let text_name = String::from_utf8(store.redis_key(&text)).unwrap();
    let hash_name = String::from_utf8(store.redis_key(&hash)).unwrap();
    let _: () = run(&mut admin, &["SET", &text_name, "hello", "PX", "60000"]).await;
    let _: () = run(&mut admin, &["HSET", &hash_name, "f", "v"]).await;
    let _: () = run(&mut admin, &["PEXPIRE", &hash_name, "60000"]).await;

    let e = must_fail(
        store.claim(&text, MINUTE, None).await,
        "claim of a foreign string",
    );
    assert!(matches!(e, Error::Backend { .. }), "{e:?}");
    // Strings that begin like a record ('c' completed, 'p' in progress) but do not have its
    // layout are foreign too, not a completed record with a made-up result.
    for value in ["cat", "c\u{0}", "c\u{1}short", "p", "pending"] {
        let _: () = run(&mut admin, &["SET", &text_name, value, "PX", "60000"]).await;
        let e = must_fail(
            store.claim(&text, MINUTE, None).await,
            &format!("claim of the foreign string {value:?}"),
        );
        assert!(matches!(e, Error::Backend { .. }), "{value:?}: {e:?}");
    }
    let e = must_fail(
        store.claim(&hash, MINUTE, None).await,
        "claim of a hash (WRONGTYPE)",
    );
    assert!(
        matches!(e, Error::Backend { .. }) && !e.is_retryable(),
        "{e:?}"
    );
    assert_eq!(store.add(&text).await.unwrap(), false);
}

/// After `SCRIPT FLUSH` (or a restart) the scripts are sent again: the lease tier keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_survive_a_script_flush() {
    let Some(server) =
        RedisServer::private("scripts_survive_a_script_flush", RedisServer::builder())
    else {
        return;
    };
    let space = keys("flush");
    let store = store(server.url());
    let mut admin = admin(server.url()).await;
    let (a, b) = (key(&space, "a"), key(&space, "b"));

    let Claim::Acquired(lease) = store.claim(&a, MINUTE, None).await.unwrap() else {
        panic!("a fresh key is free");
    };
    let _: () = run(&mut admin, &["SCRIPT", "FLUSH"]).await;
    store.complete(&lease, MINUTE, Some(b"done")).await.unwrap();
    let _: () = run(&mut admin, &["SCRIPT", "FLUSH"]).await;
    assert_eq!(
        store.claim(&a, MINUTE, None).await.unwrap(),
        Claim::Completed {
            result: Some(b"done".to_vec())
        }
    );
    assert!(matches!(
        store.claim(&b, MINUTE, None).await.unwrap(),
        Claim::Acquired(_)
    ));
}

/// `claim_many` is one pipeline of claim scripts: answers in order, a repeated key acquired
/// once, a token per grant; it works the first time the server sees the script too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_many_claims_each_key_in_order() {
    let Some(server) = RedisServer::private(
        "claim_many_claims_each_key_in_order",
        RedisServer::builder(),
    ) else {
        return;
    };
    let space = keys("claim_many");
    let store = store(server.url());
    let mut admin = admin(server.url()).await;
    let (a, b, c) = (key(&space, "a"), key(&space, "b"), key(&space, "c"));
    assert_eq!(store.add(&c).await.unwrap(), true);

    for round in 0..2 {
        // Round 0 on a server that has no script cached, round 1 cached: either way one
        // pipeline, whose first claim carries the script's source (EVAL) and caches it for the
        // rest (EVALSHA), so no claim answers NOSCRIPT and runs late.
        let _: () = run(&mut admin, &["CONFIG", "RESETSTAT"]).await;
        let answers = store.claim_many(&[a, b, a, c], MINUTE).await;
        let calls = command_calls(&mut admin).await;
        assert_eq!(
            (calls.get("eval"), calls.get("evalsha")),
            (Some(&1), Some(&3)),
            "round {round}: {calls:?}"
        );
        let leases: Vec<_> = answers
            .iter()
            .filter_map(|answer| match answer {
                Ok(Claim::Acquired(lease)) => Some(lease.clone()),
                _ => None,
            })
            .collect();
        assert!(
            matches!(
                &answers[..],
                [
                    Ok(Claim::Acquired(_)),
                    Ok(Claim::Acquired(_)),
                    Ok(Claim::InProgress { .. }),
                    Ok(Claim::Completed { result: None })
                ]
            ),
            "round {round}: {answers:?}"
        );
        assert_eq!((leases[0].key(), leases[1].key()), (&a, &b));
        assert_ne!(leases[0].token(), leases[1].token());
        for lease in &leases {
            store.release(lease).await.unwrap();
        }
    }
    for answer in store.claim_many(&[a, b], Duration::ZERO).await {
        assert!(
            matches!(answer, Err(Error::InvalidLease { .. })),
            "{answer:?}"
        );
    }
    assert!(store.claim_many(&[], MINUTE).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Prefixes
// ---------------------------------------------------------------------------------------------

/// Stores with different prefixes on one server never see each other's records, in every
/// operation; the same prefix shares them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_isolate_stores() {
    let Some(server) = RedisServer::shared("prefixes_isolate_stores") else {
        return;
    };
    let space = keys("prefixes");
    let nonce = key(&space, "nonce").to_string();
    let build = |prefix: &str| {
        RedisStore::builder(server.url())
            .prefix(format!("one:v1:test-{nonce}:{prefix}:"))
            .default_ttl(MINUTE)
            .build()
            .unwrap()
    };
    let (a, b, a_again) = (build("a"), build("b"), build("a"));
    let (k, j) = (key(&space, "k"), key(&space, "j"));
    assert_ne!(a.redis_key(&k), b.redis_key(&k));

    assert_eq!(a.add(&k).await.unwrap(), true);
    assert_eq!(b.has_key(&k).await.unwrap(), false);
    assert_eq!(b.add(&k).await.unwrap(), true);
    assert_eq!(
        a_again.add(&k).await.unwrap(),
        false,
        "the same prefix is the same keyspace"
    );
    assert_eq!(b.remove(&k).await.unwrap(), true);
    assert_eq!(a.has_key(&k).await.unwrap(), true);
    assert!(matches!(
        b.claim(&j, MINUTE, None).await.unwrap(),
        Claim::Acquired(_)
    ));
    assert!(matches!(
        a.claim(&j, MINUTE, None).await.unwrap(),
        Claim::Acquired(_)
    ));
    let answers = b.add_many(&[k, j]).await;
    assert!(matches!(answers[..], [Ok(true), Ok(false)]), "{answers:?}");
}

// ---------------------------------------------------------------------------------------------
// Outages and timeouts
// ---------------------------------------------------------------------------------------------

/// A server that is down from the start: every operation is a prompt, retryable `Err`
/// (connection refused), never an answer and never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_from_the_start_fails_promptly() {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = store(&format!("redis://127.0.0.1:{port}"));
    let space = keys("down");
    let k = key(&space, "k");

    let (answer, took) = promptly("add", store.add(&k)).await;
    let e = must_fail(answer, "add on a server that is down");
    assert!(
        matches!(e, Error::Unavailable { .. }) && e.is_retryable(),
        "{e:?}"
    );
    eprintln!("add on a closed port: Err({e}) after {took:?}");
    let (answer, _) = promptly("has_key", store.has_key(&k)).await;
    must_fail(answer, "has_key");
    let (answer, _) = promptly("claim", store.claim(&k, MINUTE, None)).await;
    must_fail(answer, "claim");
    let (answers, _) = promptly("add_many", store.add_many(&[k, k])).await;
    assert_eq!(answers.len(), 2);
    for answer in answers {
        let e = must_fail(answer, "add_many");
        assert!(e.is_retryable(), "{e:?}");
    }
}

/// A server that accepts the TCP connection but never answers: the connect timeout ends the
/// wait with a typed, retryable `Timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out() {
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let store = RedisStore::builder(format!("redis://127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(300))
        .command_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let k = key(&keys("silent"), "k");
    let (answer, took) = promptly("add", store.add(&k)).await;
    let e = must_fail(answer, "add on a server that never answers");
    assert!(
        matches!(e, Error::Timeout { .. }) && e.is_retryable(),
        "{e:?}"
    );
    eprintln!("add on a silent server: Err({e}) after {took:?}");
    drop(silent);
}

/// A command that times out (the server is paused) is a `Timeout` naming the operation; the
/// same pool then answers every later call correctly: no late reply reaches another caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_timeout_then_correct_answers_on_the_same_pool() {
    let Some(server) = RedisServer::private(
        "command_timeout_then_correct_answers_on_the_same_pool",
        RedisServer::builder(),
    ) else {
        return;
    };
    let space = keys("timeout");
    let store = RedisStore::builder(server.url())
        .default_ttl(MINUTE)
        .pool_size(1)
        .command_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut admin = admin(server.url()).await;
    let (present, stuck, cancelled, fresh) = (
        key(&space, "present"),
        key(&space, "stuck"),
        key(&space, "cancelled"),
        key(&space, "fresh"),
    );
    assert_eq!(store.add(&present).await.unwrap(), true);

    let _: () = run(&mut admin, &["CLIENT", "PAUSE", "1500", "ALL"]).await;
    let (answer, _) = promptly("add during a pause", store.add(&stuck)).await;
    let e = must_fail(answer, "add while the server is paused");
    assert!(
        matches!(
            e,
            Error::Timeout {
                operation: "add",
                ..
            }
        ) && e.is_retryable(),
        "expected Timeout {{ operation: \"add\" }}, got {e:?}"
    );
    // A caller that gives up by itself (its future dropped mid-command).
    let gave_up = tokio::time::timeout(Duration::from_millis(100), store.add(&cancelled)).await;
    assert!(
        gave_up.is_err(),
        "the server is paused: the add cannot have finished"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;

    // The late replies ("OK" for `stuck` and `cancelled`) must not become anyone's answer.
    assert_eq!(
        store.add(&present).await.unwrap(),
        false,
        "present: a duplicate"
    );
    assert_eq!(
        store.has_key(&fresh).await.unwrap(),
        false,
        "fresh: never written"
    );
    assert_eq!(store.add(&fresh).await.unwrap(), true, "fresh: new");
    assert_eq!(
        store.add(&fresh).await.unwrap(),
        false,
        "fresh: now a duplicate"
    );
    assert_eq!(store.remove(&fresh).await.unwrap(), true);
}

/// Concurrent operations share a pooled connection instead of queueing for one each: with a
/// pool of one connection and a checkout limit far below the time the server is paused, 16
/// operations started together all wait on that one connection and all get their answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_operations_share_a_pooled_connection() {
    let Some(server) = RedisServer::private(
        "concurrent_operations_share_a_pooled_connection",
        RedisServer::builder(),
    ) else {
        return;
    };
    let space = keys("share");
    let store = Arc::new(
        RedisStore::builder(server.url())
            .default_ttl(MINUTE)
            .pool_size(1)
            .checkout_timeout(Duration::from_millis(100))
            .command_timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    // Make the one connection before the pause (its handshake would wait too).
    assert_eq!(store.add(&key(&space, "warm")).await.unwrap(), true);
    let mut admin = admin(server.url()).await;

    let _: () = run(&mut admin, &["CLIENT", "PAUSE", "800", "ALL"]).await;
    let racing: Vec<_> = (0..16)
        .map(|i| {
            let (store, k) = (Arc::clone(&store), key(&space, &format!("k{i}")));
            tokio::spawn(async move { (store.add(&k).await, store.add(&k).await) })
        })
        .collect();
    for (i, task) in racing.into_iter().enumerate() {
        let (first, again) = task.await.unwrap();
        assert_eq!(first.unwrap(), true, "k{i}: new");
        assert_eq!(again.unwrap(), false, "k{i}: then a duplicate");
    }
    let status = store.pool().status();
    assert_eq!(
        status.size, 1,
        "one connection carried them all: {status:?}"
    );
}

/// The server restarts mid-run: while it is down every operation fails promptly with a typed,
/// retryable error; once it is back the same store works again without a restart of ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_mid_run_recovers() {
    let Some(server) =
        RedisServer::private("server_restart_mid_run_recovers", RedisServer::builder())
    else {
        return;
    };
    let space = keys("restart");
    let store = Arc::new(
        RedisStore::builder(server.url())
            .default_ttl(MINUTE)
            .pool_size(4)
            .build()
            .unwrap(),
    );
    // Several pooled connections, all of which the restart kills.
    let warm: Vec<_> = (0..8)
        .map(|i| {
            let (store, k) = (Arc::clone(&store), key(&space, &format!("before {i}")));
            tokio::spawn(async move { store.add(&k).await })
        })
        .collect();
    for task in warm {
        assert_eq!(task.await.unwrap().unwrap(), true);
    }

    server.stop();
    for i in 0..3 {
        let k = key(&space, &format!("down {i}"));
        let (answer, took) = promptly("add while down", store.add(&k)).await;
        let e = must_fail(answer, "add while the server is down");
        assert!(e.is_retryable(), "{e:?}");
        eprintln!("add while down: Err({e}) after {took:?}");
        let (answer, _) = promptly("claim while down", store.claim(&k, MINUTE, None)).await;
        assert!(must_fail(answer, "claim while down").is_retryable());
    }

    server.start().unwrap();
    // The outage already retired the old connections: the first call after it works.
    let k = key(&space, "after");
    assert_eq!(store.add(&k).await.unwrap(), true);
    assert_eq!(store.add(&k).await.unwrap(), false);
    assert!(matches!(
        store
            .claim(&key(&space, "claim"), MINUTE, None)
            .await
            .unwrap(),
        Claim::Acquired(_)
    ));

    // A restart nobody noticed (no call while it was down): at most one call fails, then the
    // store works again; never a wrong answer.
    server.stop();
    server.start().unwrap();
    let mut answers = Vec::new();
    for i in 0..3 {
        let k = key(&space, &format!("unnoticed {i}"));
        let (answer, _) = promptly("add after an unnoticed restart", store.add(&k)).await;
        assert!(
            !matches!(answer, Ok(false)),
            "a fresh key answered Ok(false) after a restart"
        );
        answers.push(answer.is_ok());
    }
    assert_eq!(
        answers[1..],
        [true, true],
        "recovered within two calls: {answers:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// case-16: a duplicate is Ok(false), a failure is Err, never the other way round
// ---------------------------------------------------------------------------------------------

/// case-16 (a)-(d) with RESP2 and RESP3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_16_failures_are_errors_never_duplicates() {
    let Some(server) = RedisServer::private(
        "case_16_failures_are_errors_never_duplicates",
        RedisServer::builder(),
    ) else {
        return;
    };
    let mut admin = admin(server.url()).await;
    for protocol in ["resp2", "resp3"] {
        let space = keys(&format!("case-16 {protocol}"));
        let k = |name: &str| key(&space, name);
        let store = Arc::new(
            RedisStore::builder(format!("{}/?protocol={protocol}", server.url()))
                .default_ttl(MINUTE)
                .pool_size(4)
                .build()
                .unwrap(),
        );
        let warm = |tag: &'static str| {
            let store = Arc::clone(&store);
            let space = space.clone();
            async move {
                let tasks: Vec<_> = (0..8)
                    .map(|i| {
                        let (store, k) = (Arc::clone(&store), key(&space, &format!("{tag} {i}")));
                        tokio::spawn(async move { store.add(&k).await })
                    })
                    .collect();
                for task in tasks {
                    assert_eq!(task.await.unwrap().unwrap(), true);
                }
            }
        };

        // (a) nil is a duplicate, not an error.
        assert_eq!(store.add(&k("a")).await.unwrap(), true, "{protocol} (a)");
        assert_eq!(
            store.add(&k("a")).await.unwrap(),
            false,
            "{protocol} (a): nil -> Ok(false)"
        );

        // (b) out of memory: an error reply, never "duplicate".
        let _: () = run(
            &mut admin,
            &["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        )
        .await;
        let _: () = run(&mut admin, &["CONFIG", "SET", "maxmemory", "1"]).await;
        let e = must_fail(store.add(&k("b")).await, "case-16 (b): add under OOM");
        assert!(matches!(e, Error::Backend { .. }), "{protocol} (b): {e:?}");
        assert!(e.to_string().contains("OOM"), "{protocol} (b): {e}");
        for answer in store.add_many(&[k("b1"), k("b2")]).await {
            assert!(matches!(
                must_fail(answer, "add_many under OOM"),
                Error::Backend { .. }
            ));
        }
        let e = must_fail(store.claim(&k("b3"), MINUTE, None).await, "claim under OOM");
        assert!(
            matches!(e, Error::Backend { .. }),
            "{protocol} (b): claim {e:?}"
        );
        assert_eq!(
            store.has_key(&k("a")).await.unwrap(),
            true,
            "reads work under OOM"
        );
        let _: () = run(&mut admin, &["CONFIG", "SET", "maxmemory", "0"]).await;
        assert_eq!(
            store.add(&k("b")).await.unwrap(),
            true,
            "{protocol} (b): after OOM"
        );

        // (c) every connection of the pool killed.
        warm("c warm").await;
        let _: i64 = run(&mut admin, &["CLIENT", "KILL", "TYPE", "normal"]).await;
        let first = store.add(&k("c new2")).await;
        assert!(
            !matches!(first, Ok(false)),
            "{protocol} (c): Ok(false) after CLIENT KILL"
        );
        if let Err(e) = &first {
            assert!(e.is_retryable(), "{protocol} (c): {e:?}");
        }
        let mut recovered = false;
        for i in 0..2 {
            let answer = store.add(&k(&format!("c new3 {i}"))).await;
            assert!(
                !matches!(answer, Ok(false)),
                "{protocol} (c): Ok(false) after CLIENT KILL"
            );
            if matches!(answer, Ok(true)) {
                recovered = true;
                break;
            }
        }
        assert!(
            recovered,
            "{protocol} (c): the pool recovers within 2 further calls"
        );

        // (d) the server closes idle connections.
        warm("d warm").await;
        let _: () = run(&mut admin, &["CONFIG", "SET", "timeout", "1"]).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // The idle admin connection was closed too.
        admin = common::admin(server.url()).await;
        let _: () = run(&mut admin, &["CONFIG", "SET", "timeout", "0"]).await;
        let first = store.add(&k("d new4")).await;
        assert!(
            !matches!(first, Ok(false)),
            "{protocol} (d): Ok(false) after idle close"
        );
        let second = store.add(&k("d new5")).await;
        assert!(
            matches!(first, Ok(true)) || matches!(second, Ok(true)),
            "{protocol} (d): one Err at most, then Ok(true): {first:?}, {second:?}"
        );
    }
}

/// case-16 (e): a pool of one connection, held by someone else: a checkout `Timeout` within
/// the wait limit, not a hang; once released, the store works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_16_exhausted_pool_times_out() {
    let Some(server) = RedisServer::shared("case_16_exhausted_pool_times_out") else {
        return;
    };
    let space = keys("exhausted");
    let store = RedisStore::builder(server.url())
        .pool_size(1)
        .checkout_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let k = key(&space, "k");
    assert_eq!(store.has_key(&k).await.unwrap(), false);

    let held = store.pool().get().await.expect("the only connection");
    let (answer, took) = promptly("add with the pool exhausted", store.add(&k)).await;
    let e = must_fail(answer, "case-16 (e): add with the only connection held");
    assert!(
        matches!(
            e,
            Error::Timeout {
                operation: "checkout",
                ..
            }
        ) && e.is_retryable(),
        "expected Timeout {{ operation: \"checkout\" }}, got {e:?}"
    );
    assert!(took < PROMPTLY, "{took:?}");
    eprintln!("add with the pool exhausted: Err({e}) after {took:?}");
    drop(held);
    assert_eq!(store.add(&k).await.unwrap(), true);
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

/// A server with a password: the URL's password works; none or a wrong one is an `Err` that
/// is not retryable (a configuration problem), never an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth() {
    let Some(server) =
        RedisServer::private("password_auth", RedisServer::builder().password("s3cret"))
    else {
        return;
    };
    let space = keys("password");
    let k = key(&space, "k");
    assert!(
        server.url().starts_with("redis://:s3cret@"),
        "{}",
        server.url()
    );
    let good = store(server.url());
    assert_eq!(good.add(&k).await.unwrap(), true);
    assert_eq!(good.add(&k).await.unwrap(), false);

    let port = server.port();
    for (what, url) in [
        ("no password", format!("redis://127.0.0.1:{port}")),
        (
            "a wrong password",
            format!("redis://:wrong@127.0.0.1:{port}"),
        ),
    ] {
        let store = store(&url);
        let (answer, _) = promptly(what, store.add(&key(&space, what))).await;
        let e = must_fail(answer, what);
        assert!(!e.is_retryable(), "{what}: {e:?} should not be retryable");
        assert!(matches!(e, Error::Backend { .. }), "{what}: {e:?}");
    }
}

/// A server with ACL users: a user whose key pattern covers the store's prefix works; a store
/// whose prefix the user may not touch gets `NOPERM` as a `Backend` error, never an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_auth() {
    let builder = RedisServer::builder()
        .args(["--user", "app", "on", ">app-pw", "~one:v1:*", "+@all"])
        .args(["--user", "default", "off"])
        .url_credentials("app", "app-pw");
    let Some(server) = RedisServer::private("acl_user_auth", builder) else {
        return;
    };
    let space = keys("acl");
    let k = key(&space, "k");
    assert!(
        server.url().starts_with("redis://app:app-pw@"),
        "{}",
        server.url()
    );
    let allowed = store(server.url());
    assert_eq!(allowed.add(&k).await.unwrap(), true);
    let Claim::Acquired(lease) = allowed
        .claim(&key(&space, "c"), MINUTE, None)
        .await
        .unwrap()
    else {
        panic!("a fresh key is free");
    };
    allowed.complete(&lease, MINUTE, None).await.unwrap();

    let elsewhere = RedisStore::builder(server.url())
        .prefix("other:")
        .build()
        .unwrap();
    let e = must_fail(
        elsewhere.add(&k).await,
        "add outside the user's key pattern",
    );
    assert!(
        matches!(e, Error::Backend { .. }) && e.to_string().contains("NOPERM"),
        "{e:?}"
    );
    let e = must_fail(
        elsewhere.claim(&k, MINUTE, None).await,
        "claim outside the key pattern",
    );
    assert!(matches!(e, Error::Backend { .. }), "{e:?}");

    let port = server.port();
    let anonymous = store(&format!("redis://127.0.0.1:{port}"));
    let e = must_fail(anonymous.add(&k).await, "add as the disabled default user");
    assert!(!e.is_retryable(), "{e:?}");
}

/// A lease script that another client loads while a server works through a `claim_many`
/// pipeline (a fresh server, a restart, `SCRIPT FLUSH`, a promoted replica) never puts the
/// answers out of order: a repeated key is `Acquired` at its first index and `InProgress` at
/// every later one, as sequential `claim`s answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_many_keeps_order_while_another_client_loads_the_script() {
    let Some(server) = RedisServer::private(
        "claim_many_keeps_order_while_another_client_loads_the_script",
        RedisServer::builder(),
    ) else {
        return;
    };
    // What another process's first claim sends, in one round trip: the claim script's source.
    let record = include_str!("../src/record.rs");
    let (_, rest) = record
        .split_once("const CLAIM: &str = r\"")
        .expect("record.rs defines the claim script as `const CLAIM: &str = r\"...\"`");
    let (claim_source, _) = rest
        .split_once("\";")
        .expect("the claim script ends with `\";`");
    let store = store(server.url());
    let mut admin = admin(server.url()).await;
    let mut loader = admin.clone();
    let space = keys("claim_many_order");
    for attempt in 0..40u32 {
        let _: () = run(&mut admin, &["SCRIPT", "FLUSH"]).await;
        let k = key(&space, &format!("repeated {attempt}"));
        let batch = vec![k; 4000];
        let delay = Duration::from_micros(u64::from(attempt % 20) * 250);
        let (answers, _) = tokio::join!(store.claim_many(&batch, MINUTE), async {
            tokio::time::sleep(delay).await;
            let _: String = run(&mut loader, &["SCRIPT", "LOAD", claim_source]).await;
        });
        assert!(
            matches!(answers[0], Ok(Claim::Acquired(_))),
            "attempt {attempt} (delay {delay:?}): answers[0] = {:?}",
            answers[0]
        );
        let later: Vec<_> = answers[1..]
            .iter()
            .enumerate()
            .filter(|(_, a)| !matches!(a, Ok(Claim::InProgress { .. })))
            .take(3)
            .collect();
        assert!(
            later.is_empty(),
            "attempt {attempt} (delay {delay:?}): later copies of the key must be in progress: \
             {later:?}"
        );
    }
}
