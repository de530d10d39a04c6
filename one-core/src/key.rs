//! The [`Key`]: a stable 128-bit name for "this object", and how it is derived.

use std::fmt;
use std::hash::Hasher as _;
use std::str::FromStr;

use serde::Serialize;
use siphasher::sip128::{Hasher128, SipHasher24};

use crate::encode::{self, Sink};
use crate::error::{KeyError, ParseKeyError};

/// The bytes every key derivation starts with: the format name and version. A future format
/// starts with other bytes, so its keys can never collide with these.
pub(crate) const FORMAT_HEADER: &[u8] = b"one:v1";

/// A stable 128-bit key: SipHash-2-4 (128-bit output) over the canonical v1 encoding of a value.
///
/// Equal values give equal keys in every process, on every platform and in every version of this
/// crate; the exact rules are in [`crate::key_format`]. A key shows as 32 lowercase hexadecimal
/// digits and parses back from them; with serde it is that hex string in human-readable formats
/// and 16 raw bytes in binary ones.
///
/// ```
/// use one_core::{Key, make_key};
///
/// let key = make_key(&("my-bucket", "photos/cat.jpg"))?;
/// let text = key.to_string();
/// assert_eq!(text.len(), 32);
/// assert_eq!(text.parse::<Key>()?, key);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 16]);

impl Key {
    /// The key's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A key from its 16 bytes, as returned by [`Key::as_bytes`].
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Key(bytes)
    }

    /// The key's bytes read as a little-endian `u128`: handy as a map key or a shard selector.
    pub const fn to_u128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }

    /// Writes the 32-digit lowercase hex form into `out` without allocating.
    pub fn write_hex<'a>(&self, out: &'a mut [u8; 32]) -> &'a str {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        // Only ASCII hex digits were written.
        std::str::from_utf8(out).unwrap_or_default()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.write_hex(&mut [0u8; 32]))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

impl FromStr for Key {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, ParseKeyError> {
        let err = || ParseKeyError {
            found: s.chars().take(64).collect(),
        };
        let digits = s.as_bytes();
        if digits.len() != 32 {
            return Err(err());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 16];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            bytes[i] = (nibble(pair[0]).ok_or_else(err)? << 4) | nibble(pair[1]).ok_or_else(err)?;
        }
        Ok(Key(bytes))
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(self.write_hex(&mut [0u8; 32]))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key: 32 hex digits or 16 bytes")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Key, E> {
                <[u8; 16]>::try_from(v)
                    .map(Key)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Key, A::Error> {
                let mut bytes = [0u8; 16];
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = seq
                        .next_element()?
                        .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(17, &self));
                }
                Ok(Key(bytes))
            }
        }

        if deserializer.is_human_readable() {
            deserializer.deserialize_str(Visitor)
        } else {
            deserializer.deserialize_bytes(Visitor)
        }
    }
}

/// Feeds the hash in blocks: the encoder writes many pieces of a few bytes (type tags, length
/// prefixes, integers), and gathering them first saves the hasher's per-call work on each.
/// The bytes hashed, and so the key, are exactly the same.
struct HashSink {
    hasher: SipHasher24,
    buf: [u8; HASH_BLOCK],
    len: usize,
}

const HASH_BLOCK: usize = 128;
/// Pieces at least this long are not gathered first.
const HASH_DIRECT: usize = 64;

impl HashSink {
    fn new(secret: &[u8; 16]) -> Self {
        HashSink {
            hasher: SipHasher24::new_with_key(secret),
            buf: [0; HASH_BLOCK],
            len: 0,
        }
    }

    fn finish(mut self) -> Key {
        self.hasher.write(&self.buf[..self.len]);
        Key(self.hasher.finish128().as_bytes())
    }
}

impl Sink for HashSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() >= HASH_DIRECT {
            // Long pieces (strings, whole map entries) go straight in, after what was gathered.
            self.hasher.write(&self.buf[..self.len]);
            self.len = 0;
            self.hasher.write(bytes);
        } else if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            self.hasher.write(&self.buf[..self.len]);
            self.buf[..bytes.len()].copy_from_slice(bytes);
            self.len = bytes.len();
        }
    }
}

/// Derives keys within a namespace, optionally keyed by a secret.
///
/// The namespace separates domains: the same value gives different keys in `"payments"` and
/// `"emails"`, so two uses of one store never see each other's records. The secret (16 bytes)
/// keys the hash, so nobody without it can predict a key or craft two values that share one.
/// Neither is global state: pass the `KeySpace` to where keys are made.
///
/// ```
/// use one_core::{KeySpace, make_key};
///
/// let payments = KeySpace::new("payments");
/// let emails = KeySpace::new("emails");
/// let order = ("order", 42);
/// assert_ne!(payments.key(&order)?, emails.key(&order)?);
/// // `make_key` is the default space: empty namespace, no secret.
/// assert_eq!(KeySpace::default().key(&order)?, make_key(&order)?);
///
/// let secret = KeySpace::new("payments").with_secret(*b"sixteen byte key");
/// assert_ne!(secret.key(&order)?, payments.key(&order)?);
/// # Ok::<(), one_core::KeyError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeySpace {
    namespace: String,
    secret: [u8; 16],
}

impl KeySpace {
    /// A key space named `namespace`, without a secret.
    pub fn new(namespace: impl Into<String>) -> Self {
        KeySpace {
            namespace: namespace.into(),
            secret: [0; 16],
        }
    }

    /// Keys the hash with `secret`. Keep it stable: a new secret gives every value a new key.
    pub fn with_secret(mut self, secret: [u8; 16]) -> Self {
        self.secret = secret;
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key of `value` in this space. See [`make_key`] for what counts as the same value.
    ///
    /// # Errors
    ///
    /// As [`make_key`].
    pub fn key<T: Serialize + ?Sized>(&self, value: &T) -> Result<Key, KeyError> {
        let mut sink = HashSink::new(&self.secret);
        sink.put(FORMAT_HEADER);
        encode::put_str(&mut sink, &self.namespace);
        encode::encode_top(&mut sink, value)?;
        Ok(sink.finish())
    }
}

impl fmt::Debug for KeySpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is never printed.
        f.debug_struct("KeySpace")
            .field("namespace", &self.namespace)
            .field(
                "secret",
                &if self.secret == [0; 16] {
                    "none"
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

/// The key of `value`: Rust's `one.MakeKey`.
///
/// `value` is anything `serde` can serialize; how strict deduplication is, is the caller's choice
/// of value: `(bucket, object)` treats every version of an object as one, `(bucket, object,
/// generation)` each version, and the whole event each delivery that differs in any field.
/// Use [`key!`](crate::key!) to list fields without building the tuple yourself.
///
/// The same logical value gives the same key whatever its Rust type or field order: `7u8` and
/// `7i64`, `String` and `&str`, a `HashMap` and a `BTreeMap` with the same entries, a struct and
/// the same struct read back from JSON as a `serde_json::Value`. Different values give different
/// keys. [`crate::key_format`] specifies every rule.
///
/// ```
/// use one_core::make_key;
///
/// let by_object = make_key(&("my-bucket", "photos/cat.jpg"))?;
/// let by_version = make_key(&("my-bucket", "photos/cat.jpg", 1_700_000_000_123_456u64))?;
/// assert_ne!(by_object, by_version);
/// assert_eq!(make_key(&("my-bucket", String::from("photos/cat.jpg")))?, by_object);
/// # Ok::<(), one_core::KeyError>(())
/// ```
///
/// # Errors
///
/// [`KeyError::Empty`] for a value without key material: `()`, `None`, or an empty sequence,
/// map or struct. Every request whose key field is missing would otherwise share one key, and
/// all but the first would be dropped as duplicates. When a field may be absent, check it
/// before deriving a key (and do not deduplicate, or refuse the request, without it).
/// [`KeyError::Serialize`] when the value's `Serialize` implementation fails.
pub fn make_key<T: Serialize + ?Sized>(value: &T) -> Result<Key, KeyError> {
    static DEFAULT: KeySpace = KeySpace {
        namespace: String::new(),
        secret: [0; 16],
    };
    DEFAULT.key(value)
}

/// Makes a [`Key`] from a list of fields, like Go's `one.MakeKey(a, b, c)`.
///
/// `key!(a, b, c)` is `make_key(&(a, b, c))` and `key!(a)` is `make_key(&a)`: the fields are
/// borrowed, never moved. Prefix a [`KeySpace`] and a semicolon to derive in that space:
/// `key!(space; a, b)`.
///
/// ```
/// use one_core::{KeySpace, key, make_key};
///
/// let bucket = String::from("my-bucket");
/// let k = key!(bucket, "photos/cat.jpg", 3u64)?;
/// assert_eq!(k, make_key(&(&bucket, "photos/cat.jpg", 3u64))?);
/// assert_eq!(key!(bucket)?, make_key(&bucket)?);
///
/// let space = KeySpace::new("thumbnails");
/// assert_eq!(key!(space; bucket, 3u64)?, space.key(&(&bucket, 3u64))?);
/// # Ok::<(), one_core::KeyError>(())
/// ```
#[macro_export]
macro_rules! key {
    ($space:expr; $field:expr $(,)?) => {
        $space.key(&$field)
    };
    ($space:expr; $($field:expr),+ $(,)?) => {
        $space.key(&($(&$field,)+))
    };
    ($field:expr $(,)?) => {
        $crate::make_key(&$field)
    };
    ($($field:expr),+ $(,)?) => {
        $crate::make_key(&($(&$field,)+))
    };
}
