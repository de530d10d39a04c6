//! The canonical encoding "v1": the bytes a [`Key`](crate::Key) is hashed from.
//!
//! The rules are specified in [`crate::key_format`]; this module is their implementation as a
//! [`serde::Serializer`]. The encoder writes into a `Sink`, which is either a byte buffer
//! ([`to_canonical_bytes`], for tests and other implementations) or the SipHash state directly
//! (key derivation). Values without maps, structs or unknown-length sequences are hashed without
//! touching the heap at all; maps and structs are sorted in scratch buffers that each thread
//! keeps and reuses, so after a thread's first key no derivation allocates.

use std::cell::RefCell;
use std::fmt;

use serde::ser::{self, Serialize};

use crate::error::KeyError;

/// Type tags of the v1 encoding. Every encoded value starts with exactly one of these.
pub(crate) mod tag {
    pub(crate) const UNIT: u8 = 0x00;
    pub(crate) const NONE: u8 = 0x01;
    pub(crate) const SOME: u8 = 0x02;
    pub(crate) const BOOL: u8 = 0x03;
    pub(crate) const UINT64: u8 = 0x10;
    pub(crate) const UINT128: u8 = 0x11;
    pub(crate) const NEGINT64: u8 = 0x12;
    pub(crate) const NEGINT128: u8 = 0x13;
    pub(crate) const FLOAT: u8 = 0x20;
    pub(crate) const STR: u8 = 0x30;
    pub(crate) const BYTES: u8 = 0x31;
    pub(crate) const SEQ: u8 = 0x40;
    pub(crate) const MAP: u8 = 0x50;
    pub(crate) const VARIANT: u8 = 0x60;
}

/// The bit pattern every NaN is encoded as (the canonical quiet NaN).
pub(crate) const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// Where encoded bytes go.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Buffers for maps, structs and unknown-length sequences, reused across derivations on a thread.
#[derive(Default)]
struct Scratch {
    bytes: Vec<u8>,
    entries: Vec<MapEntry>,
    /// The order in which to write `entries`, as indices.
    order: Vec<u32>,
    orders: Orders,
}

/// The sorted orders of the last few map shapes seen, so that a struct encoded again (the usual
/// case: one type, many values) is written in order without sorting. A shape is the sequence of
/// its entries' key prefixes; an order is remembered only when those prefixes alone decide it
/// (all distinct), so a hit writes exactly what sorting would have.
#[derive(Default)]
struct Orders {
    shapes: Vec<(Vec<u128>, Vec<u32>)>,
    next: usize,
}

/// How many shapes each scratch buffer remembers, and the largest map remembered.
const ORDER_SHAPES: usize = 8;
const ORDER_MAX_ENTRIES: usize = 64;

impl Orders {
    #[inline]
    fn find(&self, entries: &[MapEntry]) -> Option<&[u32]> {
        self.shapes
            .iter()
            .find(|(prefixes, _)| {
                prefixes.len() == entries.len()
                    && prefixes.iter().zip(entries).all(|(p, e)| *p == e.prefix)
            })
            .map(|(_, order)| order.as_slice())
    }

    fn remember(&mut self, entries: &[MapEntry], order: &[u32]) {
        if entries.len() > ORDER_MAX_ENTRIES
            || order
                .windows(2)
                .any(|w| entries[w[0] as usize].prefix >= entries[w[1] as usize].prefix)
        {
            return;
        }
        let prefixes = entries.iter().map(|e| e.prefix);
        if self.shapes.len() < ORDER_SHAPES {
            self.shapes.push((prefixes.collect(), order.to_vec()));
        } else {
            let (kept_prefixes, kept_order) = &mut self.shapes[self.next];
            kept_prefixes.clear();
            kept_order.clear();
            // A recycled slot is sized for the largest shape at once, so that a thread that
            // keys more shapes than are remembered stops allocating after its first round.
            kept_prefixes.reserve_exact(ORDER_MAX_ENTRIES);
            kept_order.reserve_exact(ORDER_MAX_ENTRIES);
            kept_prefixes.extend(prefixes);
            kept_order.extend_from_slice(order);
            self.next = (self.next + 1) % ORDER_SHAPES;
        }
    }
}

/// How many scratch buffers a thread keeps (one per level of nesting in use at once), and the
/// largest one it keeps (bytes, entries): an unusually large value's buffer is freed rather than
/// held forever.
const POOL_DEPTH: usize = 16;
const POOL_MAX_BYTES: usize = 64 * 1024;
const POOL_MAX_ENTRIES: usize = 4096;

thread_local! {
    // Boxed on purpose: a scratch buffer moves in and out of the pool as one pointer.
    #[allow(clippy::vec_box)]
    static POOL: RefCell<Vec<Box<Scratch>>> = const { RefCell::new(Vec::new()) };
}

/// A [`Scratch`] borrowed from this thread's pool; it goes back, emptied, when dropped (also
/// on the error paths). Boxed, so that taking and returning one moves a pointer.
struct Pooled(Option<Box<Scratch>>);

impl Pooled {
    #[inline]
    fn take() -> Pooled {
        // `try_with`: during thread teardown the pool may be gone; a fresh buffer still works.
        let reused = POOL.try_with(|pool| pool.borrow_mut().pop()).ok().flatten();
        Pooled(Some(reused.unwrap_or_default()))
    }
}

impl std::ops::Deref for Pooled {
    type Target = Scratch;

    #[inline]
    fn deref(&self) -> &Scratch {
        // Only `drop` takes the box out.
        self.0.as_deref().expect("a pooled scratch buffer")
    }
}

impl std::ops::DerefMut for Pooled {
    #[inline]
    fn deref_mut(&mut self) -> &mut Scratch {
        self.0.as_deref_mut().expect("a pooled scratch buffer")
    }
}

impl Drop for Pooled {
    #[inline]
    fn drop(&mut self) {
        let Some(mut scratch) = self.0.take() else {
            return;
        };
        if scratch.bytes.capacity() > POOL_MAX_BYTES
            || scratch.entries.capacity() > POOL_MAX_ENTRIES
        {
            return;
        }
        scratch.bytes.clear();
        scratch.entries.clear();
        scratch.order.clear();
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_DEPTH {
                pool.push(scratch);
            }
        });
    }
}

/// Encodes `value` with the v1 rules and returns the bytes.
///
/// This is exactly the byte string that [`make_key`](crate::make_key) hashes after the
/// namespace header (see [`crate::key_format`]). It is public so that other implementations can
/// compare their encoders byte by byte, and so that a surprising key can be explained.
///
/// # Errors
///
/// [`KeyError::Empty`] when the value carries no key material at all (unit, `None`, an empty
/// sequence, map or struct at the top level), [`KeyError::Serialize`] when the value's
/// `Serialize` implementation fails, and [`KeyError::LengthMismatch`] when it announces a length
/// it does not deliver.
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    encode_top(&mut out, value)?;
    Ok(out)
}

/// Encodes a top-level value: one that must carry key material.
pub(crate) fn encode_top<S: Sink, T: Serialize + ?Sized>(
    sink: &mut S,
    value: &T,
) -> Result<(), KeyError> {
    value.serialize(Encoder { sink, top: true })
}

/// Encodes a nested value: anything goes, including unit and empty collections.
fn encode_nested<S: Sink, T: Serialize + ?Sized>(sink: &mut S, value: &T) -> Result<(), KeyError> {
    value.serialize(Encoder { sink, top: false })
}

#[inline]
fn put_len<S: Sink>(sink: &mut S, tag: u8, len: usize) {
    let mut head = [0u8; 9];
    head[0] = tag;
    head[1..].copy_from_slice(&(len as u64).to_le_bytes());
    sink.put(&head);
}

#[inline]
pub(crate) fn put_str<S: Sink>(sink: &mut S, s: &str) {
    put_len(sink, tag::STR, s.len());
    sink.put(s.as_bytes());
}

#[inline]
fn put_u128<S: Sink>(sink: &mut S, v: u128) {
    if let Ok(v) = u64::try_from(v) {
        let mut b = [0u8; 9];
        b[0] = tag::UINT64;
        b[1..].copy_from_slice(&v.to_le_bytes());
        sink.put(&b);
    } else {
        let mut b = [0u8; 17];
        b[0] = tag::UINT128;
        b[1..].copy_from_slice(&v.to_le_bytes());
        sink.put(&b);
    }
}

#[inline]
fn put_i128<S: Sink>(sink: &mut S, v: i128) {
    if v >= 0 {
        put_u128(sink, v as u128);
    } else if let Ok(v) = i64::try_from(v) {
        let mut b = [0u8; 9];
        b[0] = tag::NEGINT64;
        b[1..].copy_from_slice(&v.to_le_bytes());
        sink.put(&b);
    } else {
        let mut b = [0u8; 17];
        b[0] = tag::NEGINT128;
        b[1..].copy_from_slice(&v.to_le_bytes());
        sink.put(&b);
    }
}

#[inline]
fn put_f64<S: Sink>(sink: &mut S, v: f64) {
    let bits = if v.is_nan() {
        CANONICAL_NAN
    } else if v == 0.0 {
        0 // folds -0.0 into +0.0
    } else {
        v.to_bits()
    };
    let mut b = [0u8; 9];
    b[0] = tag::FLOAT;
    b[1..].copy_from_slice(&bits.to_le_bytes());
    sink.put(&b);
}

/// The serde serializer behind keys. `top` is true only for the outermost value, where an empty
/// value is refused instead of being hashed into a key shared by every empty input.
struct Encoder<'a, S: Sink> {
    sink: &'a mut S,
    top: bool,
}

impl<'a, S: Sink> Encoder<'a, S> {
    fn empty_at_top(&self) -> Result<(), KeyError> {
        if self.top {
            Err(KeyError::Empty)
        } else {
            Ok(())
        }
    }

    fn seq(self, len: Option<usize>) -> Seq<'a, S> {
        let top = self.top;
        match len {
            Some(n) => {
                put_len(self.sink, tag::SEQ, n);
                Seq {
                    sink: self.sink,
                    top,
                    expected: Some(n),
                    count: 0,
                    buf: None,
                }
            }
            None => Seq {
                sink: self.sink,
                top,
                expected: None,
                count: 0,
                buf: Some(Pooled::take()),
            },
        }
    }

    fn map(self, len: Option<usize>) -> Map<'a, S> {
        Map {
            sink: self.sink,
            top: self.top,
            expected: len,
            scratch: Pooled::take(),
            pending_key: None,
        }
    }

    fn variant_head(&mut self, variant: &str) {
        self.sink.put(&[tag::VARIANT]);
        put_str(self.sink, variant);
    }
}

impl<'a, S: Sink> ser::Serializer for Encoder<'a, S> {
    type Ok = ();
    type Error = KeyError;
    type SerializeSeq = Seq<'a, S>;
    type SerializeTuple = Seq<'a, S>;
    type SerializeTupleStruct = Seq<'a, S>;
    type SerializeTupleVariant = Seq<'a, S>;
    type SerializeMap = Map<'a, S>;
    type SerializeStruct = Map<'a, S>;
    type SerializeStructVariant = Map<'a, S>;

    fn serialize_bool(self, v: bool) -> Result<(), KeyError> {
        self.sink.put(&[tag::BOOL, u8::from(v)]);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), KeyError> {
        put_i128(self.sink, v.into());
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), KeyError> {
        put_i128(self.sink, v.into());
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), KeyError> {
        put_i128(self.sink, v.into());
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), KeyError> {
        put_i128(self.sink, v.into());
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), KeyError> {
        put_i128(self.sink, v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), KeyError> {
        put_u128(self.sink, v.into());
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), KeyError> {
        put_u128(self.sink, v.into());
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), KeyError> {
        put_u128(self.sink, v.into());
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), KeyError> {
        put_u128(self.sink, v.into());
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), KeyError> {
        put_u128(self.sink, v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), KeyError> {
        put_f64(self.sink, v.into());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), KeyError> {
        put_f64(self.sink, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), KeyError> {
        put_str(self.sink, v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), KeyError> {
        put_str(self.sink, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), KeyError> {
        put_len(self.sink, tag::BYTES, v.len());
        self.sink.put(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), KeyError> {
        self.empty_at_top()?;
        self.sink.put(&[tag::NONE]);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        self.sink.put(&[tag::SOME]);
        encode_nested(self.sink, value)
    }

    fn serialize_unit(self) -> Result<(), KeyError> {
        self.empty_at_top()?;
        self.sink.put(&[tag::UNIT]);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), KeyError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), KeyError> {
        self.variant_head(variant);
        self.sink.put(&[tag::UNIT]);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        // Transparent: `struct OrderId(u64)` keys like the `u64` it wraps.
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.variant_head(variant);
        encode_nested(self.sink, value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a, S>, KeyError> {
        Ok(self.seq(len))
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, S>, KeyError> {
        Ok(self.seq(Some(len)))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Seq<'a, S>, KeyError> {
        Ok(self.seq(Some(len)))
    }

    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'a, S>, KeyError> {
        self.variant_head(variant);
        self.top = false;
        Ok(self.seq(Some(len)))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Map<'a, S>, KeyError> {
        Ok(self.map(len))
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Map<'a, S>, KeyError> {
        // A struct is a map from field name to value; `len` may count fields that are then
        // skipped, so it is not checked.
        let mut map = self.map(Some(len));
        map.expected = None;
        Ok(map)
    }

    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Map<'a, S>, KeyError> {
        self.variant_head(variant);
        self.top = false;
        let mut map = self.map(Some(len));
        map.expected = None;
        Ok(map)
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        // The length goes first, so the text is formatted into a reused buffer, not a String.
        struct Text<'b>(&'b mut Vec<u8>);
        impl fmt::Write for Text<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                self.0.extend_from_slice(s.as_bytes());
                Ok(())
            }
        }
        let mut scratch = Pooled::take();
        fmt::write(&mut Text(&mut scratch.bytes), format_args!("{value}"))
            .expect("a Display implementation returned an error unexpectedly");
        put_len(self.sink, tag::STR, scratch.bytes.len());
        self.sink.put(&scratch.bytes);
        Ok(())
    }
}

/// A sequence, tuple or array. With a known length the elements stream straight into the sink;
/// with an unknown one they are buffered so the count can still come first.
struct Seq<'a, S: Sink> {
    sink: &'a mut S,
    top: bool,
    expected: Option<usize>,
    count: usize,
    /// Only for an unknown length.
    buf: Option<Pooled>,
}

impl<S: Sink> Seq<'_, S> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.count += 1;
        match &mut self.buf {
            None => encode_nested(self.sink, value),
            Some(buf) => encode_nested(&mut buf.bytes, value),
        }
    }

    fn finish(self) -> Result<(), KeyError> {
        match self.expected {
            Some(expected) if expected != self.count => {
                return Err(KeyError::LengthMismatch {
                    expected,
                    actual: self.count,
                });
            }
            Some(_) => {}
            None => {
                if !(self.top && self.count == 0) {
                    put_len(self.sink, tag::SEQ, self.count);
                    if let Some(buf) = &self.buf {
                        self.sink.put(&buf.bytes);
                    }
                }
            }
        }
        if self.top && self.count == 0 {
            Err(KeyError::Empty)
        } else {
            Ok(())
        }
    }
}

impl<S: Sink> ser::SerializeSeq for Seq<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.element(value)
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeTuple for Seq<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.element(value)
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeTupleStruct for Seq<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.element(value)
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeTupleVariant for Seq<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.element(value)
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

/// One entry of a map being encoded: where its key and value are in the scratch bytes, and the
/// first 16 bytes of its encoded key (zero-padded, big-endian) so most comparisons while sorting
/// are one integer comparison.
#[derive(Clone, Copy)]
struct MapEntry {
    prefix: u128,
    key_start: usize,
    value_start: usize,
    value_end: usize,
}

/// The first 16 bytes of an encoded key, zero-padded, as a big-endian integer.
#[inline]
fn key_prefix(key: &[u8]) -> u128 {
    if let Some(head) = key.first_chunk::<16>() {
        u128::from_be_bytes(*head)
    } else if let (Some(head), Some(tail)) = (key.first_chunk::<8>(), key.last_chunk::<8>()) {
        // 8 to 15 bytes (a short string, an integer): the tail's last `len - 8` bytes
        // follow the head, then zeros.
        let low = u64::from_be_bytes(*tail)
            .checked_shl(8 * (16 - key.len() as u32))
            .unwrap_or(0);
        (u128::from(u64::from_be_bytes(*head)) << 64) | u128::from(low)
    } else {
        key.iter()
            .enumerate()
            .fold(0, |p, (i, &b)| p | (u128::from(b) << (8 * (15 - i))))
    }
}

/// [`key_prefix`] of the encoding of the string `name`, from `name` itself: the tag, the length
/// (little-endian) and the first seven bytes. A struct's field names are static, so this reads
/// nothing that was just written.
#[inline]
fn str_key_prefix(name: &str) -> u128 {
    let bytes = name.as_bytes();
    let head = match bytes.first_chunk::<8>() {
        Some(head) => u64::from_be_bytes(*head),
        None => bytes
            .iter()
            .enumerate()
            .fold(0, |p, (i, &b)| p | (u64::from(b) << (8 * (7 - i)))),
    };
    (u128::from(tag::STR) << 120)
        | (u128::from((bytes.len() as u64).swap_bytes()) << 56)
        | u128::from(head >> 8)
}

/// A map or struct. Entries are encoded into one scratch buffer, then written sorted by their
/// encoded key bytes (ties, which only a misbehaving `Serialize` can produce, by their value
/// bytes), so insertion order, `HashMap` seeds and field declaration order never reach the key.
struct Map<'a, S: Sink> {
    sink: &'a mut S,
    top: bool,
    expected: Option<usize>,
    scratch: Pooled,
    pending_key: Option<usize>,
}

impl<S: Sink> Map<'_, S> {
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), KeyError> {
        let bytes = &mut self.scratch.bytes;
        let start = bytes.len();
        encode_nested(bytes, key)?;
        self.pending_key = Some(start);
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        let key_start = self
            .pending_key
            .take()
            .ok_or_else(|| KeyError::Serialize("map value serialized before its key".to_owned()))?;
        let Scratch { bytes, entries, .. } = &mut *self.scratch;
        let value_start = bytes.len();
        encode_nested(bytes, value)?;
        entries.push(MapEntry {
            prefix: key_prefix(&bytes[key_start..value_start]),
            key_start,
            value_start,
            value_end: bytes.len(),
        });
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), KeyError> {
        let Scratch { bytes, entries, .. } = &mut *self.scratch;
        let key_start = bytes.len();
        put_str(bytes, name);
        let value_start = bytes.len();
        let prefix = str_key_prefix(name);
        debug_assert_eq!(prefix, key_prefix(&bytes[key_start..value_start]));
        encode_nested(bytes, value)?;
        entries.push(MapEntry {
            prefix,
            key_start,
            value_start,
            value_end: bytes.len(),
        });
        Ok(())
    }

    fn finish(mut self) -> Result<(), KeyError> {
        if self.pending_key.is_some() {
            return Err(KeyError::Serialize(
                "map key serialized without a value".to_owned(),
            ));
        }
        let Scratch {
            bytes,
            entries,
            order,
            orders,
        } = &mut *self.scratch;
        if let Some(expected) = self.expected
            && expected != entries.len()
        {
            return Err(KeyError::LengthMismatch {
                expected,
                actual: entries.len(),
            });
        }
        if self.top && entries.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = &*bytes;
        let order = match orders.find(entries) {
            Some(known) => known,
            None => {
                // Offsets fit in u32 for any map that fits in memory as a key's input; a
                // larger one would have failed to allocate long before.
                order.extend(0..entries.len() as u32);
                order.sort_unstable_by(|&a, &b| {
                    let (a, b) = (&entries[a as usize], &entries[b as usize]);
                    a.prefix.cmp(&b.prefix).then_with(|| {
                        bytes[a.key_start..a.value_start]
                            .cmp(&bytes[b.key_start..b.value_start])
                            .then_with(|| {
                                bytes[a.value_start..a.value_end]
                                    .cmp(&bytes[b.value_start..b.value_end])
                            })
                    })
                });
                orders.remember(entries, order);
                order
            }
        };
        put_len(self.sink, tag::MAP, entries.len());
        for &i in order {
            let e = &entries[i as usize];
            self.sink.put(&bytes[e.key_start..e.value_end]);
        }
        Ok(())
    }
}
impl<S: Sink> ser::SerializeMap for Map<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), KeyError> {
        self.key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.value(value)
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeStruct for Map<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.field(name, value)
    }

    fn skip_field(&mut self, _name: &'static str) -> Result<(), KeyError> {
        Ok(()) // a skipped field is absent, exactly as if the struct never had it
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeStructVariant for Map<'_, S> {
    type Ok = ();
    type Error = KeyError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), KeyError> {
        self.field(name, value)
    }

    fn skip_field(&mut self, _name: &'static str) -> Result<(), KeyError> {
        Ok(())
    }

    fn end(self) -> Result<(), KeyError> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(v: &[u8]) -> String {
        v.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn integers_encode_by_value_in_the_narrowest_form() {
        assert_eq!(
            hex(&to_canonical_bytes(&7u8).unwrap()),
            "100700000000000000"
        );
        assert_eq!(
            to_canonical_bytes(&7u8).unwrap(),
            to_canonical_bytes(&7i128).unwrap()
        );
        assert_eq!(
            hex(&to_canonical_bytes(&-1i8).unwrap()),
            "12ffffffffffffffff"
        );
        assert_eq!(
            to_canonical_bytes(&-1i8).unwrap(),
            to_canonical_bytes(&-1i128).unwrap()
        );
        assert_eq!(
            to_canonical_bytes(&(u128::from(u64::MAX) + 1)).unwrap()[0],
            tag::UINT128
        );
        assert_eq!(
            to_canonical_bytes(&(i128::from(i64::MIN) - 1)).unwrap()[0],
            tag::NEGINT128
        );
        assert_eq!(to_canonical_bytes(&i64::MIN).unwrap()[0], tag::NEGINT64);
    }

    #[test]
    fn a_lying_length_is_an_error_not_a_key() {
        struct Liar;
        impl Serialize for Liar {
            fn serialize<Z: ser::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
                use ser::SerializeSeq;
                let mut seq = s.serialize_seq(Some(3))?;
                seq.serialize_element(&1u8)?;
                seq.end()
            }
        }
        assert_eq!(
            to_canonical_bytes(&Liar),
            Err(KeyError::LengthMismatch {
                expected: 3,
                actual: 1
            })
        );
    }

    #[test]
    fn unknown_length_sequences_encode_like_known_ones() {
        struct Unsized(Vec<u32>);
        impl Serialize for Unsized {
            fn serialize<Z: ser::Serializer>(&self, s: Z) -> Result<Z::Ok, Z::Error> {
                use ser::SerializeSeq;
                let mut seq = s.serialize_seq(None)?;
                for v in &self.0 {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
        }
        assert_eq!(
            to_canonical_bytes(&Unsized(vec![1, 2, 3])).unwrap(),
            to_canonical_bytes(&vec![1u32, 2, 3]).unwrap()
        );
        assert_eq!(to_canonical_bytes(&Unsized(vec![])), Err(KeyError::Empty));
        assert_eq!(
            to_canonical_bytes(&(Unsized(vec![]),)).unwrap(),
            to_canonical_bytes(&(Vec::<u32>::new(),)).unwrap()
        );
    }
}
