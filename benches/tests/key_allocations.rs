//! Key derivation does not touch the heap: never for inputs without maps or structs, and, once a
//! thread has derived its first key, not for structs and maps either (they are sorted in
//! scratch buffers the thread keeps).
//!
//! A counting global allocator sees every allocation in this process; this file holds one test
//! so that no other test allocates at the same time.

use std::alloc::System;
use std::collections::{BTreeMap, HashMap};

use one_core::{Key, KeySpace, make_key};
use serde::Serialize;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Serialize)]
enum Kind {
    Plain,
    Sized(u32),
    Pair(i8, char),
}

#[derive(Serialize)]
struct Inner {
    id: u64,
    tag: &'static str,
}

#[derive(Serialize)]
struct Outer {
    name: String,
    inner: Inner,
    kinds: Vec<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// How many allocations `f` makes.
fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    let region = Region::new(GLOBAL);
    let out = f();
    let n = region.change().allocations + region.change().reallocations;
    drop(out);
    n
}

fn key_of<T: Serialize + ?Sized>(value: &T) -> Key {
    make_key(value).expect("key material")
}

#[test]
fn key_derivation_does_not_allocate() {
    let event = one_benches::storage_event();
    let wide = one_benches::wide();
    let outer = Outer {
        name: "order".into(),
        inner: Inner { id: 42, tag: "a" },
        kinds: vec![Kind::Plain, Kind::Sized(7), Kind::Pair(-1, 'x')],
        note: None,
    };
    let btree: BTreeMap<String, u32> = (0..8).map(|i| (format!("k{i}"), i)).collect();
    let hash: HashMap<u32, &str> = (0..8).map(|i| (i, "v")).collect();
    let space = KeySpace::new("payments").with_secret(*b"sixteen byte key");
    let list = vec![1u32, 2, 3];
    // More map shapes than a thread remembers the order of: still no allocation once warm.
    let shapes: Vec<BTreeMap<u32, u32>> = (0..12)
        .map(|j| (j..j + 3 + j % 5).map(|i| (i, i)).collect())
        .collect();

    // A fresh thread: nothing warmed up. Inputs without maps or structs never allocate.
    std::thread::spawn(move || {
        let cases: [(&str, usize); 7] = [
            ("tuple", allocations(|| key_of(&one_benches::tuple3()))),
            (
                "scalars",
                allocations(|| {
                    key_of(&(
                        1u8,
                        -2i64,
                        3.5f64,
                        'c',
                        "text",
                        true,
                        None::<u32>,
                        Some(7u16),
                    ))
                }),
            ),
            ("sequence", allocations(|| key_of(&list))),
            ("array", allocations(|| key_of(&[[1u8, 2], [3, 4]]))),
            (
                "enums",
                allocations(|| key_of(&(Kind::Plain, Kind::Sized(3), Kind::Pair(1, 'z')))),
            ),
            ("u128", allocations(|| key_of(&u128::MAX))),
            (
                "key space",
                allocations(|| space.key(&("order", 42)).expect("key")),
            ),
        ];
        for (name, n) in cases {
            assert_eq!(n, 0, "{name}: {n} allocations on a fresh thread");
        }

        // Structs and maps: the thread's first derivations fill its scratch pool; after that,
        // none allocates.
        for _ in 0..3 {
            key_of(&event);
            key_of(&wide);
            key_of(&outer);
            key_of(&btree);
            key_of(&hash);
            shapes.iter().for_each(|m| {
                key_of(m);
            });
        }
        let cases: [(&str, usize); 6] = [
            ("storage event", allocations(|| key_of(&event))),
            ("20-field struct with a map", allocations(|| key_of(&wide))),
            ("nested struct", allocations(|| key_of(&outer))),
            ("BTreeMap", allocations(|| key_of(&btree))),
            ("HashMap", allocations(|| key_of(&hash))),
            (
                "many shapes",
                allocations(|| {
                    shapes.iter().for_each(|m| {
                        key_of(m);
                    })
                }),
            ),
        ];
        for (name, n) in cases {
            assert_eq!(n, 0, "{name}: {n} allocations once warm");
        }
    })
    .join()
    .expect("no allocation");
}
