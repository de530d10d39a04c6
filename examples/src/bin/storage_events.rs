//! The Go library's README (catmullet/one), in Rust.
//!
//! ```text
//! cargo run -p one-examples --bin storage_events
//! ```
//!
//! Keys for an event from Cloud Storage at three strictness levels, `add` to decide whether to
//! process it, and `has_key` to look: here `MemoryStore`'s synchronous `add_sync` and
//! `has_key_sync`; through the async `Store` trait (as `quickstart` does) the calls are the same
//! on every backend. The four hand-written events are an upload, a redelivery of
//! it, a metadata update and a new version; each level processes a different subset of them.

use std::process::ExitCode;
use std::time::Duration;

use one_core::{Key, KeyError, key, make_key};
use one_memory::MemoryStore;
use serde::Serialize;

/// The README's event from Cloud Storage (Go: `Bucket`, `Object`, `Version`, `UpdateTime`).
#[derive(Clone, Serialize)]
struct Event {
    bucket: &'static str,
    object: &'static str,
    version: u64,
    update_time: &'static str,
}

/// A way to make a key from an event: the caller's choice of strictness.
type MakeKey = fn(&Event) -> Result<Key, KeyError>;

const LEVELS: [(&str, MakeKey); 3] = [
    // Never process this storage object again: one.MakeKey(event.Bucket, event.Object)
    ("key!(event.bucket, event.object)", |e| {
        key!(e.bucket, e.object)
    }),
    // Process every version: one.MakeKey(event.Bucket, event.Object, event.Version)
    ("key!(event.bucket, event.object, event.version)", |e| {
        key!(e.bucket, e.object, e.version)
    }),
    // Process any change to the object: one.MakeKey(event)
    ("make_key(&event)", |e| make_key(e)),
];

fn main() -> ExitCode {
    if let Err(err) = run() {
        eprintln!("storage_events: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run() -> Result<(), one_core::Error> {
    let upload = Event {
        bucket: "acme-in",
        object: "photos/cat.jpg",
        version: 1_709_542_800_837_442,
        update_time: "2024-03-04T09:00:00.837Z",
    };
    let relabelled = Event {
        update_time: "2024-03-04T09:05:12.004Z",
        ..upload.clone()
    };
    let new_version = Event {
        version: 1_709_546_400_120_001,
        update_time: "2024-03-04T10:00:00.120Z",
        ..upload.clone()
    };
    let never_seen = Event {
        object: "photos/dog.jpg",
        ..upload.clone()
    };
    let stream = [
        ("upload, version 1", &upload),
        ("the same message, redelivered", &upload),
        ("metadata update of version 1", &relabelled),
        ("upload, version 2", &new_version),
    ];

    for (how, make) in LEVELS {
        // Go: oneStore = redisstore.NewRedisOneStore(options, time.Second * 30)
        let store = MemoryStore::new(Duration::from_secs(30))?;
        println!("{how}");
        for (what, event) in stream {
            let key = make(event)?;
            // Go: ok, err := oneStore.Add(key); if !ok { /* key already exists */ }
            if store.add_sync(&key)? {
                println!("  process  {what}");
            } else {
                println!("  skip     {what} (key {key} already added)");
            }
        }
        // has_key only looks. To decide, always use add: it checks and records in one step, so
        // two consumers handed the same message cannot both see "new".
        println!(
            "  has_key(cat.jpg v1) = {}, has_key(dog.jpg) = {}\n",
            store.has_key_sync(&make(&upload)?),
            store.has_key_sync(&make(&never_seen)?)
        );
    }
    Ok(())
}
