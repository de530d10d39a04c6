#![doc = include_str!("../README.md")]

pub mod backend;
pub mod event;
pub mod generate;
pub mod payments;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use one_core::{Key, KeyError, Store, key, make_key};

pub use crate::event::{Attributes, EventType, Notification, Object, PayloadFormat};

/// How strict deduplication is: which fields of a notification make its key.
///
/// These are the three choices of the Go library's README, on a real notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strictness {
    /// `(bucket, name)`: process each object once, ever; later versions are skipped.
    Object,
    /// `(bucket, name, generation)`: process each version (content generation) once; metadata
    /// updates and the archive or delete of a version are skipped.
    Version,
    /// The whole message: skip only redeliveries of a message already seen.
    Event,
}

impl Strictness {
    /// The three levels, loosest first.
    pub const ALL: [Strictness; 3] = [Strictness::Object, Strictness::Version, Strictness::Event];

    /// The level's name: `object`, `version` or `event`.
    pub const fn name(self) -> &'static str {
        match self {
            Strictness::Object => "object",
            Strictness::Version => "version",
            Strictness::Event => "event",
        }
    }

    /// The fields the key is made of, for display.
    pub const fn fields(self) -> &'static str {
        match self {
            Strictness::Object => "bucket, name",
            Strictness::Version => "bucket, name, generation",
            Strictness::Event => "the whole message",
        }
    }

    /// The key of `event` at this level.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] if the key cannot be derived (it cannot for a notification read by
    /// [`read_events`], which refuses empty names).
    pub fn key(&self, event: &Notification) -> Result<Key, KeyError> {
        let object = &event.data;
        match self {
            Strictness::Object => key!(object.bucket, object.name),
            Strictness::Version => key!(object.bucket, object.name, object.generation),
            Strictness::Event => make_key(event),
        }
    }
}

impl fmt::Display for Strictness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`dedupe`] did with a stream of notifications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Notifications seen for the first time: these would be processed.
    pub processed: usize,
    /// Notifications whose key was already in the store: these would be skipped.
    pub skipped: usize,
}

impl Counts {
    /// All notifications seen.
    pub const fn total(&self) -> usize {
        self.processed + self.skipped
    }
}

/// Runs `events` through `store` at the given strictness, as a subscriber would: one
/// [`Store::add`] per event, processing it when the key is new and skipping it otherwise.
///
/// Works on any backend: `&MemoryStore`, `&dyn Store`, `Arc<dyn Store>`...
///
/// # Errors
///
/// The first error from the store (or from key derivation), as soon as it happens. A real
/// subscriber would not acknowledge that message, so that Pub/Sub delivers it again.
pub async fn dedupe<S: Store + ?Sized>(
    store: &S,
    events: &[Notification],
    strictness: Strictness,
) -> Result<Counts, one_core::Error> {
    let mut counts = Counts::default();
    for event in events {
        let key = strictness.key(event)?;
        if store.add(&key).await? {
            counts.processed += 1;
        } else {
            counts.skipped += 1;
        }
    }
    Ok(counts)
}

/// Reads a JSON Lines file of notifications, one per line; blank lines are ignored.
///
/// # Errors
///
/// [`ReadError`] naming the file, and the line for a line that is not a valid notification.
pub fn read_events(path: impl AsRef<Path>) -> Result<Vec<Notification>, ReadError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| ReadError::new(path, 0, source.into()))?;
    parse_events(BufReader::new(file)).map_err(|mut err| {
        err.path = Some(path.to_owned());
        err
    })
}

/// Parses notifications from JSON Lines, as [`read_events`] does for a file.
///
/// # Errors
///
/// [`ReadError`] with the number of the first bad line.
pub fn parse_events(reader: impl BufRead) -> Result<Vec<Notification>, ReadError> {
    let mut events = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|source| ReadError::at(number, source.into()))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Notification = serde_json::from_str(&line)
            .map_err(|source| ReadError::at(number, ReadErrorKind::Json(source)))?;
        check(&event).map_err(|reason| ReadError::at(number, ReadErrorKind::Invalid(reason)))?;
        events.push(event);
    }
    Ok(events)
}

/// Refuses notifications whose key fields are empty. Without this, every such message would
/// share one key and all but the first would be skipped as duplicates.
fn check(event: &Notification) -> Result<(), &'static str> {
    if event.message_id.is_empty() {
        return Err("the message has an empty messageId");
    }
    if event.data.bucket.is_empty() || event.data.name.is_empty() {
        return Err("the object resource has an empty bucket or name");
    }
    Ok(())
}

/// Why notifications could not be read: the file, the line (from 1) and the cause.
#[derive(Debug)]
pub struct ReadError {
    path: Option<PathBuf>,
    line: usize,
    kind: ReadErrorKind,
}

#[derive(Debug)]
enum ReadErrorKind {
    Io(io::Error),
    Json(serde_json::Error),
    Invalid(&'static str),
}

impl From<io::Error> for ReadErrorKind {
    fn from(err: io::Error) -> Self {
        ReadErrorKind::Io(err)
    }
}

impl ReadError {
    fn new(path: &Path, line: usize, kind: ReadErrorKind) -> Self {
        ReadError {
            path: Some(path.to_owned()),
            line,
            kind,
        }
    }

    fn at(line: usize, kind: ReadErrorKind) -> Self {
        ReadError {
            path: None,
            line,
            kind,
        }
    }

    /// The file, when reading one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The line number (from 1) of the bad line, or `None` when the file could not be opened.
    pub fn line(&self) -> Option<usize> {
        (self.line > 0).then_some(self.line)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line()) {
            (Some(path), Some(line)) => write!(f, "{}, line {line}: ", path.display())?,
            (Some(path), None) => write!(f, "{}: ", path.display())?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        match &self.kind {
            ReadErrorKind::Io(err) => write!(f, "{err}"),
            ReadErrorKind::Json(err) => {
                // serde_json counts lines within the one line it was given: keep only the column.
                let text = err.to_string();
                let position = format!(" at line {} column {}", err.line(), err.column());
                let reason = text.strip_suffix(&position).unwrap_or(&text);
                write!(
                    f,
                    "not a Cloud Storage notification: {reason} (column {})",
                    err.column()
                )
            }
            ReadErrorKind::Invalid(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReadErrorKind::Io(err) => Some(err),
            ReadErrorKind::Json(err) => Some(err),
            ReadErrorKind::Invalid(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"messageId":"1","publishTime":"2024-03-04T09:00:00.100Z","attributes":{"notificationConfig":"projects/_/buckets/b/notificationConfigs/1","eventType":"OBJECT_FINALIZE","payloadFormat":"JSON_API_V1","bucketId":"b","objectId":"o","objectGeneration":"7","eventTime":"2024-03-04T09:00:00.000000Z"},"data":{"kind":"storage#object","id":"b/o/7","name":"o","bucket":"b","generation":"7","metageneration":"1","timeCreated":"2024-03-04T09:00:00.000Z","updated":"2024-03-04T09:00:00.000Z","storageClass":"STANDARD","size":"12","crc32c":"AAAAAA==","etag":"CAcQAQ=="}}"#;

    #[test]
    fn a_notification_round_trips_through_json() {
        let events = parse_events(format!("{LINE}\n\n{LINE}\n").as_bytes()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data.generation, 7);
        assert_eq!(events[0].attributes.event_type, EventType::ObjectFinalize);
        assert_eq!(serde_json::to_string(&events[0]).unwrap(), LINE);
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let bad = LINE.replace(r#""generation":"7""#, r#""generation":7"#);
        let err = parse_events(format!("{LINE}\n{bad}\n").as_bytes()).unwrap_err();
        assert_eq!(err.line(), Some(2));
        let text = err.to_string();
        assert!(
            text.starts_with("line 2: not a Cloud Storage notification: "),
            "{text}"
        );
        assert!(text.contains("decimal string"), "{text}");

        let err = parse_events("{not json".as_bytes()).unwrap_err();
        assert_eq!(err.line(), Some(1));
    }

    #[test]
    fn empty_key_fields_are_refused_not_hashed() {
        let bad = LINE.replace(r#""name":"o""#, r#""name":"""#);
        let err = parse_events(bad.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: the object resource has an empty bucket or name"
        );
    }

    #[test]
    fn a_missing_file_names_the_file() {
        let err = read_events("/nonexistent/events.jsonl").unwrap_err();
        assert_eq!(err.line(), None);
        assert!(
            err.to_string().starts_with("/nonexistent/events.jsonl: "),
            "{err}"
        );
    }

    #[test]
    fn the_levels_give_different_keys_for_one_event() {
        let event = &parse_events(LINE.as_bytes()).unwrap()[0];
        let keys: Vec<Key> = Strictness::ALL
            .iter()
            .map(|s| s.key(event).unwrap())
            .collect();
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[1], keys[2]);
        assert_eq!(keys[1], make_key(&("b", "o", 7u64)).unwrap());
    }
}

/// The repository's README, compiled and run as doctests so its examples stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadme;
