//! Cloud Storage Pub/Sub notifications: the message, its attributes and the object resource.
//!
//! These follow Google's published schema (<https://cloud.google.com/storage/docs/pubsub-notifications>)
//! with the `JSON_API_V1` payload format: the message's `data` is the object's resource as the
//! Cloud Storage JSON API returns it. On the wire Pub/Sub carries `data` base64-encoded; here it is
//! the decoded JSON object, so the data file stays readable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One Pub/Sub message published by a Cloud Storage notification configuration.
///
/// Only the message itself is modelled: what a subscriber sees around it (`ackId`,
/// `deliveryAttempt`, the push envelope's `subscription`) changes from one delivery to the next and
/// is deliberately not part of it, so that [`Strictness::Event`](crate::Strictness::Event)
/// recognises a redelivery as the same message. Unknown fields are ignored when reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The Pub/Sub message ID, a decimal string. A redelivery carries the same ID.
    pub message_id: String,
    /// When Pub/Sub accepted the message (RFC 3339). A redelivery carries the same time.
    pub publish_time: String,
    /// The attributes Cloud Storage sets on every notification.
    pub attributes: Attributes,
    /// The object resource (JSON API v1), already decoded from base64.
    pub data: Object,
}

/// The attributes of a Cloud Storage notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attributes {
    /// The notification configuration that sent this message:
    /// `projects/_/buckets/{bucket}/notificationConfigs/{id}`.
    pub notification_config: String,
    /// What happened to the object.
    pub event_type: EventType,
    /// The payload format; only `JSON_API_V1` carries the object resource.
    pub payload_format: PayloadFormat,
    /// The bucket's name.
    pub bucket_id: String,
    /// The object's name.
    pub object_id: String,
    /// The generation of the object the event is about, a decimal string.
    pub object_generation: String,
    /// When the event happened (RFC 3339, microseconds).
    pub event_time: String,
    /// On `OBJECT_FINALIZE`, the generation of the live object this one replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrote_generation: Option<String>,
    /// On `OBJECT_ARCHIVE` or `OBJECT_DELETE`, the generation that replaced this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwritten_by_generation: Option<String>,
}

/// What happened to the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// A new object, or a new generation of an existing one, was written.
    ObjectFinalize,
    /// The metadata of an existing generation changed (its metageneration went up).
    ObjectMetadataUpdate,
    /// The object was deleted, or overwritten in a bucket without versioning.
    ObjectDelete,
    /// The live generation became noncurrent, in a bucket with versioning.
    ObjectArchive,
}

impl EventType {
    /// The name Cloud Storage uses, e.g. `"OBJECT_FINALIZE"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::ObjectFinalize => "OBJECT_FINALIZE",
            EventType::ObjectMetadataUpdate => "OBJECT_METADATA_UPDATE",
            EventType::ObjectDelete => "OBJECT_DELETE",
            EventType::ObjectArchive => "OBJECT_ARCHIVE",
        }
    }
}

/// The notification's payload format. `NONE` (no payload) is not supported by these examples,
/// which read the object resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PayloadFormat {
    /// The payload is the object resource of the JSON API, version 1.
    #[serde(rename = "JSON_API_V1")]
    JsonApiV1,
}

/// A Cloud Storage object resource (JSON API v1), the fields a notification carries.
///
/// As in the API, 64-bit integers (`generation`, `metageneration`, `size`) travel as decimal
/// strings; they are parsed here, so a malformed one is an error when reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    /// Always `"storage#object"`.
    pub kind: String,
    /// `{bucket}/{name}/{generation}`.
    pub id: String,
    /// The object's name within its bucket.
    pub name: String,
    /// The bucket's name.
    pub bucket: String,
    /// The content generation: a new one each time the object's data is written.
    #[serde(with = "int64")]
    pub generation: u64,
    /// The metadata generation within a content generation, from 1.
    #[serde(with = "int64")]
    pub metageneration: u64,
    /// The MIME type, if one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// When this generation was created (RFC 3339).
    pub time_created: String,
    /// When this generation's metadata last changed (RFC 3339).
    pub updated: String,
    /// When this generation was deleted or became noncurrent, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_deleted: Option<String>,
    /// `STANDARD`, `NEARLINE`, `COLDLINE` or `ARCHIVE`.
    pub storage_class: String,
    /// The size of the data in bytes.
    #[serde(with = "int64")]
    pub size: u64,
    /// Base64 MD5 of the data; composite objects have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_hash: Option<String>,
    /// Base64 CRC32C (big-endian) of the data.
    pub crc32c: String,
    /// The HTTP 1.1 entity tag of this generation and metageneration.
    pub etag: String,
    /// User-provided metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `int64` fields as the JSON API writes them: decimal strings.
mod int64 {
    use std::fmt;

    use serde::{Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        struct Visitor;

        impl de::Visitor<'_> for Visitor {
            type Value = u64;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an int64 as a decimal string, as the JSON API writes it")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
                match text.parse() {
                    Ok(value) if !text.starts_with('+') => Ok(value),
                    _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
                }
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}
