//! The seeded generator behind `data/storage-events.jsonl`.
//!
//! It simulates a few buckets receiving uploads, new versions, metadata updates and deletes, and a
//! Pub/Sub subscription that delivers at least once: some messages arrive again, byte for byte,
//! soon after or much later. Everything is integer arithmetic on a [`SplitMix64`] stream, so one
//! seed gives the same bytes on every platform, Rust version and run; `tests/quickstart.rs` checks
//! the shipped file against a fresh run.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::event::{Attributes, EventType, Notification, Object, PayloadFormat};

/// The seed of the shipped data file.
pub const DEFAULT_SEED: u64 = 0x0BAD_CAFE_2024_0304;

/// The number of notifications in the shipped data file.
pub const DEFAULT_COUNT: usize = 10_000;

/// Percent of deliveries that repeat an earlier message.
const REDELIVERY_PERCENT: u64 = 15;
/// Of those, percent that repeat one of the last [`RECENT`] messages; the others may be far older.
const RECENT_PERCENT: u64 = 75;
const RECENT: u64 = 40;

/// 2024-03-04T09:00:00Z in microseconds since the Unix epoch: the simulated clock's start.
const START_MICROS: u64 = 1_709_542_800_000_000;

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, well-mixed 64-bit generator, written out
/// here so that the data never depends on another crate's algorithm choices.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (multiply-shift; `n` must be at least 1).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with the given probability in percent.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct Bucket {
    name: &'static str,
    /// Object versioning: an overwritten or deleted live object is archived, not deleted.
    versioned: bool,
    storage_class: &'static str,
    notification_config: u32,
    /// Relative share of new uploads.
    weight: u64,
    dirs: &'static [&'static str],
    /// File extension, MIME type, smallest and largest size in bytes.
    kinds: &'static [(&'static str, &'static str, u64, u64)],
}

const BUCKETS: &[Bucket] = &[
    Bucket {
        name: "acme-in",
        versioned: true,
        storage_class: "STANDARD",
        notification_config: 1,
        weight: 6,
        dirs: &["in"],
        kinds: &[
            ("jpg", "image/jpeg", 40_000, 6_000_000),
            ("png", "image/png", 20_000, 3_000_000),
            ("pdf", "application/pdf", 30_000, 9_000_000),
        ],
    },
    Bucket {
        name: "acme-thumb",
        versioned: false,
        storage_class: "STANDARD",
        notification_config: 3,
        weight: 2,
        dirs: &["t"],
        kinds: &[("webp", "image/webp", 2_000, 90_000)],
    },
    Bucket {
        name: "acme-out",
        versioned: false,
        storage_class: "STANDARD",
        notification_config: 2,
        weight: 1,
        dirs: &["day", "adhoc"],
        kinds: &[
            ("csv", "text/csv", 1_000, 80_000_000),
            ("json", "application/json", 200, 2_000_000),
        ],
    },
    Bucket {
        name: "acme-bak",
        versioned: true,
        storage_class: "NEARLINE",
        notification_config: 7,
        weight: 1,
        dirs: &["db"],
        kinds: &[("tar.gz", "application/gzip", 1_000_000, 900_000_000)],
    },
];

const LABELS: &[&str] = &["reviewed", "published", "flagged", "retained"];

/// How a notification relates to the generation it replaced or was replaced by.
#[derive(Clone, Copy)]
enum Link {
    None,
    /// A new generation replaced this live one (`overwroteGeneration`).
    Overwrote(u64),
    /// This generation was replaced by that one (`overwrittenByGeneration`).
    OverwrittenBy(u64),
}

/// A live object: its bucket and current resource.
struct Live {
    bucket: usize,
    object: Object,
}

struct Simulation {
    rng: SplitMix64,
    now: u64,
    next_message_id: u64,
    next_serial: u64,
    live: Vec<Live>,
    /// Names whose last generation was deleted: uploads sometimes reuse them.
    deleted: Vec<(usize, String)>,
    /// Every message published so far, for redeliveries.
    published: Vec<Notification>,
}

/// Generates `count` notifications from `seed`: the same seed and count always give the same
/// notifications.
pub fn generate(seed: u64, count: usize) -> Vec<Notification> {
    let mut rng = SplitMix64::new(seed);
    let next_message_id = rng.between(1_000_000_000_000_000, 9_000_000_000_000_000);
    let mut sim = Simulation {
        rng,
        now: START_MICROS,
        next_message_id,
        next_serial: 1,
        live: Vec::new(),
        deleted: Vec::new(),
        published: Vec::new(),
    };
    let mut delivered = Vec::with_capacity(count + 1);
    while delivered.len() < count {
        if !sim.published.is_empty() && sim.rng.percent(REDELIVERY_PERCENT) {
            let n = sim.published.len() as u64;
            let index = if sim.rng.percent(RECENT_PERCENT) {
                n - 1 - sim.rng.below(n.min(RECENT))
            } else {
                sim.rng.below(n)
            };
            delivered.push(sim.published[index as usize].clone());
        } else {
            let first = sim.published.len();
            sim.step();
            delivered.extend_from_slice(&sim.published[first..]);
        }
    }
    // An overwrite publishes two messages; the stream ends where it ends.
    delivered.truncate(count);
    delivered
}

/// Writes notifications as JSON Lines: one compact JSON object and `\n` per notification.
///
/// # Errors
///
/// When `out` fails.
pub fn write_jsonl<W: Write>(events: &[Notification], mut out: W) -> io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut out, event)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

impl Simulation {
    /// One change to the buckets, published as one or two messages.
    fn step(&mut self) {
        // Between 1 ms and 3 s pass between changes; generations are microsecond timestamps,
        // so they never repeat.
        self.now += self.rng.between(1_000, 3_000_000);
        let roll = self.rng.below(100);
        if self.live.is_empty() || roll < 50 {
            self.upload();
        } else if roll < 60 {
            self.overwrite();
        } else if roll < 96 {
            self.update_metadata();
        } else {
            self.delete();
        }
    }

    fn upload(&mut self) {
        let (bucket, name) = if !self.deleted.is_empty() && self.rng.percent(20) {
            let index = self.rng.below(self.deleted.len() as u64) as usize;
            self.deleted.swap_remove(index)
        } else {
            let weights: u64 = BUCKETS.iter().map(|b| b.weight).sum();
            let mut ticket = self.rng.below(weights);
            let bucket = BUCKETS
                .iter()
                .position(|b| match ticket.checked_sub(b.weight) {
                    Some(rest) => {
                        ticket = rest;
                        false
                    }
                    None => true,
                })
                .unwrap_or(0);
            let spec = &BUCKETS[bucket];
            let dir = self.rng.pick(spec.dirs);
            let (ext, _, _, _) = self.rng.pick(spec.kinds);
            let name = format!("{dir}/{:05}.{ext}", self.next_serial);
            self.next_serial += 1;
            (bucket, name)
        };
        let object = self.new_generation(bucket, name);
        self.publish(bucket, EventType::ObjectFinalize, &object, Link::None);
        self.live.push(Live { bucket, object });
    }

    /// A new generation replaces a live object: the new one is finalized and the old one becomes
    /// noncurrent (versioned bucket) or is deleted.
    fn overwrite(&mut self) {
        let index = self.rng.below(self.live.len() as u64) as usize;
        let bucket = self.live[index].bucket;
        let name = self.live[index].object.name.clone();
        let new = self.new_generation(bucket, name);
        let old = std::mem::replace(&mut self.live[index].object, new.clone());
        let link = Link::Overwrote(old.generation);
        self.publish(bucket, EventType::ObjectFinalize, &new, link);
        self.retire(bucket, old, Link::OverwrittenBy(new.generation));
    }

    fn update_metadata(&mut self) {
        let index = self.rng.below(self.live.len() as u64) as usize;
        let bucket = self.live[index].bucket;
        let label = self.rng.pick(LABELS);
        let object = &mut self.live[index].object;
        object.metageneration += 1;
        object.updated = rfc3339_millis(self.now);
        object.etag = etag(object.generation, object.metageneration);
        object
            .metadata
            .get_or_insert_with(BTreeMap::new)
            .insert("label".into(), (*label).into());
        let object = object.clone();
        self.publish(bucket, EventType::ObjectMetadataUpdate, &object, Link::None);
    }

    fn delete(&mut self) {
        let index = self.rng.below(self.live.len() as u64) as usize;
        let Live { bucket, object } = self.live.swap_remove(index);
        self.deleted.push((bucket, object.name.clone()));
        self.retire(bucket, object, Link::None);
    }

    /// Publishes the end of a live generation: archived in a versioned bucket, deleted otherwise.
    fn retire(&mut self, bucket: usize, mut object: Object, link: Link) {
        let event_type = if BUCKETS[bucket].versioned {
            object.time_deleted = Some(rfc3339_millis(self.now));
            EventType::ObjectArchive
        } else {
            EventType::ObjectDelete
        };
        self.publish(bucket, event_type, &object, link);
    }

    /// A new generation of `name`, created now, with random content.
    fn new_generation(&mut self, bucket: usize, name: String) -> Object {
        let spec = &BUCKETS[bucket];
        let (_, content_type, min_size, max_size) = spec
            .kinds
            .iter()
            .find(|(ext, ..)| name.ends_with(&format!(".{ext}")))
            .copied()
            .unwrap_or(spec.kinds[0]);
        let generation = self.now;
        let md5: [u8; 16] =
            (u128::from(self.rng.next_u64()) << 64 | u128::from(self.rng.next_u64())).to_be_bytes();
        let crc32c = (self.rng.next_u64() as u32).to_be_bytes();
        let created = rfc3339_millis(self.now);
        Object {
            kind: "storage#object".into(),
            id: format!("{}/{name}/{generation}", spec.name),
            bucket: spec.name.into(),
            name,
            generation,
            metageneration: 1,
            content_type: Some(content_type.into()),
            time_created: created.clone(),
            updated: created,
            time_deleted: None,
            storage_class: spec.storage_class.into(),
            size: self.rng.between(min_size, max_size),
            md5_hash: Some(base64(&md5)),
            crc32c: base64(&crc32c),
            etag: etag(generation, 1),
            metadata: None,
        }
    }

    /// Publishes a notification about `object`, now.
    fn publish(&mut self, bucket: usize, event_type: EventType, object: &Object, link: Link) {
        let spec = &BUCKETS[bucket];
        let event_time = self.now;
        let message_id = self.next_message_id;
        self.next_message_id += self.rng.between(1, 5_000);
        // Pub/Sub accepts the message a little after the event.
        let publish_time = event_time + self.rng.between(15_000, 400_000);
        self.published.push(Notification {
            message_id: message_id.to_string(),
            publish_time: rfc3339_millis(publish_time),
            attributes: Attributes {
                notification_config: format!(
                    "projects/_/buckets/{}/notificationConfigs/{}",
                    spec.name, spec.notification_config
                ),
                event_type,
                payload_format: PayloadFormat::JsonApiV1,
                bucket_id: spec.name.into(),
                object_id: object.name.clone(),
                object_generation: object.generation.to_string(),
                event_time: rfc3339_micros(event_time),
                overwrote_generation: match link {
                    Link::Overwrote(generation) => Some(generation.to_string()),
                    _ => None,
                },
                overwritten_by_generation: match link {
                    Link::OverwrittenBy(generation) => Some(generation.to_string()),
                    _ => None,
                },
            },
            data: object.clone(),
        });
    }
}

/// An object's etag in the JSON API: base64 of the protobuf varints of generation (field 1) and
/// metageneration (field 2).
fn etag(generation: u64, metageneration: u64) -> String {
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    let mut bytes = vec![0x08];
    varint(&mut bytes, generation);
    bytes.push(0x10);
    varint(&mut bytes, metageneration);
    base64(&bytes)
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `YYYY-MM-DDThh:mm:ss.ffffffZ` for microseconds since the Unix epoch.
fn rfc3339_micros(micros: u64) -> String {
    format!("{}.{:06}Z", seconds(micros / 1_000_000), micros % 1_000_000)
}

/// `YYYY-MM-DDThh:mm:ss.fffZ` for microseconds since the Unix epoch (truncated to milliseconds).
fn rfc3339_millis(micros: u64) -> String {
    format!(
        "{}.{:03}Z",
        seconds(micros / 1_000_000),
        micros % 1_000_000 / 1_000
    )
}

/// `YYYY-MM-DDThh:mm:ss` (UTC) for seconds since the Unix epoch, via Howard Hinnant's
/// `civil_from_days`.
fn seconds(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_outputs() {
        // The first outputs of the reference implementation (Vigna, splitmix64.c) from seed 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(START_MICROS + 1),
            "2024-03-04T09:00:00.000001Z"
        );
        assert_eq!(
            rfc3339_millis(951_782_400_123_999),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339_millis(4_107_542_399_999_000),
            "2100-02-28T23:59:59.999Z"
        );
    }

    #[test]
    fn base64_and_etags_match_the_json_api() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        // Protobuf varints of field 1 (generation) and field 2 (metageneration).
        assert_eq!(etag(1, 1), base64(&[0x08, 0x01, 0x10, 0x01]));
        assert_eq!(etag(300, 2), base64(&[0x08, 0xac, 0x02, 0x10, 0x02]));
    }

    #[test]
    fn the_stream_has_every_kind_of_event_and_redeliveries() {
        let events = generate(DEFAULT_SEED, 2_000);
        assert_eq!(events.len(), 2_000);
        for kind in [
            EventType::ObjectFinalize,
            EventType::ObjectMetadataUpdate,
            EventType::ObjectDelete,
            EventType::ObjectArchive,
        ] {
            assert!(
                events.iter().any(|e| e.attributes.event_type == kind),
                "no {kind:?}"
            );
        }
        let ids: std::collections::HashSet<_> = events.iter().map(|e| &e.message_id).collect();
        assert!(ids.len() < events.len(), "no redeliveries");
        assert_ne!(generate(DEFAULT_SEED ^ 1, 2_000), events);
    }
}
