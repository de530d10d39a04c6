//! The canonical encoding "v1": the bytes a [`Key`](crate::Key) is hashed from.
//!
//! The rules are specified in [`crate::key_format`]; this module is their implementation as a
//! [`serde::Serializer`]. The encoder writes into a [`Sink`], which is either a byte buffer
//! ([`to_canonical_bytes`], for tests and other implementations) or the SipHash state directly
//! (key derivation), so values without maps or structs are hashed without any heap allocation.

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
                    buf: Vec::new(),
                }
            }
            None => Seq {
                sink: self.sink,
                top,
                expected: None,
                count: 0,
                buf: Vec::new(),
            },
        }
    }

    fn map(self, len: Option<usize>) -> Map<'a, S> {
        Map {
            sink: self.sink,
            top: self.top,
            expected: len,
            buf: Vec::new(),
            entries: Vec::with_capacity(len.unwrap_or(0)),
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

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), KeyError> {
        self.serialize_str(&value.to_string())
    }
}

/// A sequence, tuple or array. With a known length the elements stream straight into the sink;
/// with an unknown one they are buffered so the count can still come first.
struct Seq<'a, S: Sink> {
    sink: &'a mut S,
    top: bool,
    expected: Option<usize>,
    count: usize,
    buf: Vec<u8>,
}

impl<S: Sink> Seq<'_, S> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        self.count += 1;
        if self.expected.is_some() {
            encode_nested(self.sink, value)
        } else {
            encode_nested(&mut self.buf, value)
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
                    self.sink.put(&self.buf);
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

/// A map or struct. Entries are encoded into one buffer, then written sorted by their encoded
/// key bytes (ties, which only a misbehaving `Serialize` can produce, by their value bytes), so
/// insertion order, `HashMap` seeds and field declaration order never reach the key.
struct Map<'a, S: Sink> {
    sink: &'a mut S,
    top: bool,
    expected: Option<usize>,
    buf: Vec<u8>,
    /// `(key_start, value_start, value_end)` offsets into `buf`.
    entries: Vec<(usize, usize, usize)>,
    pending_key: Option<usize>,
}

impl<S: Sink> Map<'_, S> {
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), KeyError> {
        let start = self.buf.len();
        encode_nested(&mut self.buf, key)?;
        self.pending_key = Some(start);
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), KeyError> {
        let key_start = self
            .pending_key
            .take()
            .ok_or_else(|| KeyError::Serialize("map value serialized before its key".to_owned()))?;
        let value_start = self.buf.len();
        encode_nested(&mut self.buf, value)?;
        self.entries.push((key_start, value_start, self.buf.len()));
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), KeyError> {
        let start = self.buf.len();
        put_str(&mut self.buf, name);
        self.pending_key = Some(start);
        self.value(value)
    }

    fn finish(mut self) -> Result<(), KeyError> {
        if self.pending_key.is_some() {
            return Err(KeyError::Serialize(
                "map key serialized without a value".to_owned(),
            ));
        }
        if let Some(expected) = self.expected
            && expected != self.entries.len()
        {
            return Err(KeyError::LengthMismatch {
                expected,
                actual: self.entries.len(),
            });
        }
        if self.top && self.entries.is_empty() {
            return Err(KeyError::Empty);
        }
        let buf = &self.buf;
        self.entries.sort_unstable_by(|a, b| {
            buf[a.0..a.1]
                .cmp(&buf[b.0..b.1])
                .then_with(|| buf[a.1..a.2].cmp(&buf[b.1..b.2]))
        });
        put_len(self.sink, tag::MAP, self.entries.len());
        for &(key_start, _, value_end) in &self.entries {
            self.sink.put(&buf[key_start..value_end]);
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
