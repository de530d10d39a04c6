//! Property tests of key derivation (`one-core/KEY_FORMAT.md`):
//!
//! - equal values give equal keys, whatever their representation (integer widths, `f32` against
//!   `f64`, `char` against `str`, known or unknown lengths, map and struct entry order, enum
//!   variant indices), and a JSON round trip keeps a `serde_json::Value`'s key;
//! - `HashMap` insertion order, capacity and seed never matter;
//! - `shared/cases/case-03.md`: over 100,000 random pairs of tuples of 0–4 strings, keys are
//!   equal iff the tuples are;
//! - over a corpus of more than 50,000 distinct values of mixed types, keys are distinct, and
//!   values that are equal (by an encoder-independent description) share their key.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use one_core::{Key, KeyError, make_key, to_canonical_bytes};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::ser::{
    SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleVariant,
};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// String pieces: would-be separators, NUL, the empty string, multi-byte UTF-8 (2, 3 and 4
/// bytes, and a combining sequence).
const ATOMS: &[&str] = &[
    "",
    ":",
    "|",
    ",",
    "\0",
    "a",
    "b",
    "ab",
    "a:b",
    " ",
    "\u{e9}",
    "e\u{301}",
    "\u{65e5}\u{672c}",
    "\u{1f980}",
];

/// Field names of generated structs.
const FIELDS: &[&str] = &["a", "b", "id", "name", "tags", "x", "\u{fc}", "\u{65e5}"];

/// Variant names of generated enums.
const VARIANTS: &[&str] = &["A", "B", "Created", "Deleted", "\u{fc}"];

// ---------------------------------------------------------------------------------------------
// A value of the serde data model, its description and its many representations

/// A value of the serde data model, in a form that can be serialized in many equivalent ways.
#[derive(Clone, Debug)]
enum V {
    Unit,
    None,
    Some(Box<V>),
    Bool(bool),
    /// Serialized in the narrowest Rust integer type that holds it, or as `i128`.
    Int(i128),
    /// Above `i128::MAX`.
    BigUInt(u128),
    /// Serialized as `f32` when that is exact, or as `f64`.
    Float(f64),
    /// Serialized as `str`, `char` (one character) or through `collect_str`.
    Str(String),
    Bytes(Vec<u8>),
    Newtype(Box<V>),
    Seq(Vec<V>),
    /// Entries in any order (duplicates allowed).
    Map(Vec<(V, V)>),
    /// Field names are distinct.
    Struct(Vec<(&'static str, V)>),
    UnitVariant(&'static str),
    NewtypeVariant(&'static str, Box<V>),
    TupleVariant(&'static str, Vec<V>),
    StructVariant(&'static str, Vec<(&'static str, V)>),
}

/// The value's identity under the format's rules, computed without the encoder: integers by
/// value, floats after the NaN and zero rules, `char` as a string, structs as maps, map entries
/// as a multiset, a variant as its name and content (KEY_FORMAT.md's table).
fn describe(v: &V) -> String {
    fn entries<'a>(items: impl Iterator<Item = (String, &'a V)>) -> String {
        let mut list: Vec<String> = items
            .map(|(k, v)| format!("{k}=>{}", describe(v)))
            .collect();
        list.sort();
        format!("{{{}}}", list.join(","))
    }
    fn fields(items: &[(&'static str, V)]) -> String {
        entries(
            items
                .iter()
                .map(|(name, v)| (describe(&V::Str((*name).to_owned())), v)),
        )
    }
    fn seq(items: &[V]) -> String {
        format!(
            "[{}]",
            items.iter().map(describe).collect::<Vec<_>>().join(",")
        )
    }
    match v {
        V::Unit => "()".to_owned(),
        V::None => "None".to_owned(),
        V::Some(v) => format!("Some({})", describe(v)),
        V::Bool(b) => b.to_string(),
        V::Int(i) => format!("i{i}"),
        V::BigUInt(u) => format!("i{u}"),
        V::Float(f) if f.is_nan() => "fNaN".to_owned(),
        V::Float(f) if *f == 0.0 => "f0".to_owned(),
        V::Float(f) => format!("f{:#x}", f.to_bits()),
        V::Str(s) => format!("s{s:?}"),
        V::Bytes(b) => format!("b{b:?}"),
        V::Newtype(v) => describe(v),
        V::Seq(items) => seq(items),
        V::Map(items) => entries(items.iter().map(|(k, v)| (describe(k), v))),
        V::Struct(items) => fields(items),
        V::UnitVariant(name) => format!("V{name:?}:()"),
        V::NewtypeVariant(name, v) => format!("V{name:?}:{}", describe(v)),
        V::TupleVariant(name, items) => format!("V{name:?}:{}", seq(items)),
        V::StructVariant(name, items) => format!("V{name:?}:{}", fields(items)),
    }
}

/// Whether the value has no key material at the top level (KEY_FORMAT.md rule 12).
fn is_empty(v: &V) -> bool {
    match v {
        V::Unit | V::None => true,
        V::Newtype(v) => is_empty(v),
        V::Seq(items) => items.is_empty(),
        V::Map(items) => items.is_empty(),
        V::Struct(items) => items.is_empty(),
        _ => false,
    }
}

/// How to serialize a [`V`]: every choice gives the same logical value.
#[derive(Clone, Copy, Debug)]
struct Style {
    /// Narrowest integer types, `f32` when exact, `char` for one character, unit structs.
    narrow: bool,
    /// Unknown-length sequences and maps, `collect_str`.
    unknown_lengths: bool,
    /// Map and struct entries reversed, then rotated left by `rotate`.
    reverse: bool,
    rotate: usize,
    /// The variant index reported to serde (never part of the key).
    variant_index: u32,
}

struct Styled<'a>(&'a V, Style);

fn reorder<T>(items: &[T], style: Style) -> Vec<&T> {
    let mut order: Vec<&T> = items.iter().collect();
    if style.reverse {
        order.reverse();
    }
    if !order.is_empty() {
        let by = style.rotate % order.len();
        order.rotate_left(by);
    }
    order
}

fn narrowest<S: Serializer>(i: i128, s: S) -> Result<S::Ok, S::Error> {
    if let Ok(v) = u8::try_from(i) {
        s.serialize_u8(v)
    } else if let Ok(v) = i8::try_from(i) {
        s.serialize_i8(v)
    } else if let Ok(v) = u16::try_from(i) {
        s.serialize_u16(v)
    } else if let Ok(v) = i16::try_from(i) {
        s.serialize_i16(v)
    } else if let Ok(v) = u32::try_from(i) {
        s.serialize_u32(v)
    } else if let Ok(v) = i32::try_from(i) {
        s.serialize_i32(v)
    } else if let Ok(v) = u64::try_from(i) {
        s.serialize_u64(v)
    } else if let Ok(v) = i64::try_from(i) {
        s.serialize_i64(v)
    } else {
        s.serialize_i128(i)
    }
}

impl Serialize for Styled<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.1;
        let styled = |v| Styled(v, st);
        match self.0 {
            V::Unit if st.narrow => s.serialize_unit_struct("Marker"),
            V::Unit => s.serialize_unit(),
            V::None => s.serialize_none(),
            V::Some(v) => s.serialize_some(&styled(v)),
            V::Bool(b) => s.serialize_bool(*b),
            V::Int(i) if st.narrow => narrowest(*i, s),
            V::Int(i) => s.serialize_i128(*i),
            V::BigUInt(u) => s.serialize_u128(*u),
            V::Float(f) => {
                let narrow = *f as f32;
                if st.narrow && (f64::from(narrow) == *f || f.is_nan()) {
                    s.serialize_f32(narrow)
                } else {
                    s.serialize_f64(*f)
                }
            }
            V::Str(text) => {
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if st.narrow => s.serialize_char(c),
                    _ if st.unknown_lengths => s.collect_str(text),
                    _ => s.serialize_str(text),
                }
            }
            V::Bytes(b) => s.serialize_bytes(b),
            V::Newtype(v) => s.serialize_newtype_struct("Wrapper", &styled(v)),
            V::Seq(items) if st.unknown_lengths => {
                let mut seq = s.serialize_seq(None)?;
                for item in items {
                    seq.serialize_element(&styled(item))?;
                }
                seq.end()
            }
            V::Seq(items) => {
                let mut tuple = s.serialize_tuple(items.len())?;
                for item in items {
                    tuple.serialize_element(&styled(item))?;
                }
                tuple.end()
            }
            V::Map(items) => {
                let len = if st.unknown_lengths {
                    None
                } else {
                    Some(items.len())
                };
                let mut map = s.serialize_map(len)?;
                for (k, v) in reorder(items, st) {
                    map.serialize_entry(&styled(k), &styled(v))?;
                }
                map.end()
            }
            V::Struct(items) => {
                let mut strukt = s.serialize_struct("Struct", items.len())?;
                for (name, v) in reorder(items, st) {
                    strukt.serialize_field(name, &styled(v))?;
                }
                strukt.end()
            }
            V::UnitVariant(name) => s.serialize_unit_variant("Enum", st.variant_index, name),
            V::NewtypeVariant(name, v) => {
                s.serialize_newtype_variant("Enum", st.variant_index, name, &styled(v))
            }
            V::TupleVariant(name, items) => {
                let mut tv =
                    s.serialize_tuple_variant("Enum", st.variant_index, name, items.len())?;
                for item in items {
                    tv.serialize_field(&styled(item))?;
                }
                tv.end()
            }
            V::StructVariant(name, items) => {
                let mut sv =
                    s.serialize_struct_variant("Enum", st.variant_index, name, items.len())?;
                for (field, v) in reorder(items, st) {
                    sv.serialize_field(field, &styled(v))?;
                }
                sv.end()
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies (proptest) and generators (seeded rand)

fn string_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(select(ATOMS), 0..4).prop_map(|atoms| atoms.concat())
}

fn int_to_v(u: u128) -> V {
    match i128::try_from(u) {
        Ok(i) => V::Int(i),
        Err(_) => V::BigUInt(u),
    }
}

fn v_strategy() -> impl Strategy<Value = V> {
    let leaf = prop_oneof![
        Just(V::Unit),
        Just(V::None),
        any::<bool>().prop_map(V::Bool),
        (-300i128..300).prop_map(V::Int),
        any::<i64>().prop_map(|i| V::Int(i.into())),
        any::<i128>().prop_map(V::Int),
        any::<u128>().prop_map(int_to_v),
        prop::num::f64::ANY.prop_map(V::Float),
        prop::num::f32::ANY.prop_map(|f| V::Float(f.into())),
        select(
            &[
                0.0,
                -0.0,
                0.5,
                1.5,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY
            ][..]
        )
        .prop_map(V::Float),
        string_strategy().prop_map(V::Str),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(V::Bytes),
        select(VARIANTS).prop_map(V::UnitVariant),
    ];
    leaf.prop_recursive(3, 48, 5, |inner| {
        let fields = || {
            (
                subsequence(FIELDS, 0..4),
                prop::collection::vec(inner.clone(), 4),
            )
                .prop_map(|(names, values)| names.into_iter().zip(values).collect::<Vec<_>>())
        };
        prop_oneof![
            inner.clone().prop_map(|v| V::Some(Box::new(v))),
            inner.clone().prop_map(|v| V::Newtype(Box::new(v))),
            prop::collection::vec(inner.clone(), 0..5).prop_map(V::Seq),
            prop::collection::vec((inner.clone(), inner.clone()), 0..5).prop_map(V::Map),
            fields().prop_map(V::Struct),
            (select(VARIANTS), inner.clone())
                .prop_map(|(name, v)| V::NewtypeVariant(name, Box::new(v))),
            (select(VARIANTS), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(name, items)| V::TupleVariant(name, items)),
            (select(VARIANTS), fields()).prop_map(|(name, items)| V::StructVariant(name, items)),
        ]
    })
}

fn style_strategy() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..8,
        any::<u32>(),
    )
        .prop_map(
            |(narrow, unknown_lengths, reverse, rotate, variant_index)| Style {
                narrow,
                unknown_lengths,
                reverse,
                rotate,
                variant_index,
            },
        )
}

/// Floats a JSON round trip keeps exactly (serde_json without `float_roundtrip` parses short
/// decimals exactly), including `-0.0`.
fn json_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-100_000i32..100_000).prop_map(|n| Value::from(f64::from(n) / 4.0)),
        Just(Value::from(-0.0f64)),
        string_strategy().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(string_strategy(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn random_string(rng: &mut StdRng) -> String {
    let n = rng.random_range(0..=3);
    (0..n).map(|_| *ATOMS.choose(rng).expect("atoms")).collect()
}

fn random_int(rng: &mut StdRng) -> V {
    match rng.random_range(0..6) {
        0 => V::Int(rng.random_range(-300..300)),
        1 => V::Int(rng.random::<i64>().into()),
        2 => V::Int(rng.random::<u64>().into()),
        3 => V::Int(rng.random()),
        4 => int_to_v(rng.random()),
        _ => {
            let edges = [
                i128::from(u64::MAX),
                i128::from(u64::MAX) + 1,
                i128::from(i64::MIN),
                i128::from(i64::MIN) - 1,
                i128::MIN,
                i128::MAX,
            ];
            V::Int(*edges.choose(rng).expect("edges"))
        }
    }
}

fn random_float(rng: &mut StdRng) -> f64 {
    match rng.random_range(0..4) {
        0 => *[
            0.0,
            -0.0,
            0.5,
            1.0,
            1.5,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]
        .choose(rng)
        .expect("floats"),
        1 => f64::from_bits(rng.random()),
        2 => f64::from(f32::from_bits(rng.random())),
        _ => f64::from(rng.random_range(-1000i32..1000)) / 8.0,
    }
}

fn random_fields(rng: &mut StdRng, depth: u32) -> Vec<(&'static str, V)> {
    let mut names: Vec<&'static str> = FIELDS.to_vec();
    names.shuffle(rng);
    names.truncate(rng.random_range(0..=3));
    names
        .into_iter()
        .map(|name| (name, random_v(rng, depth)))
        .collect()
}

fn random_v(rng: &mut StdRng, depth: u32) -> V {
    let kinds = if depth == 0 { 10 } else { 17 };
    let next = depth.saturating_sub(1);
    match rng.random_range(0..kinds) {
        0 => V::Unit,
        1 => V::None,
        2 => V::Bool(rng.random()),
        3 | 4 => random_int(rng),
        5 => V::Float(random_float(rng)),
        6 | 7 => V::Str(random_string(rng)),
        8 => V::Bytes(
            (0..rng.random_range(0..4))
                .map(|_| rng.random_range(0..4))
                .collect(),
        ),
        9 => V::UnitVariant(VARIANTS.choose(rng).expect("variants")),
        10 => V::Some(Box::new(random_v(rng, next))),
        11 => V::Newtype(Box::new(random_v(rng, next))),
        12 => V::Seq(
            (0..rng.random_range(0..4))
                .map(|_| random_v(rng, next))
                .collect(),
        ),
        13 => V::Map(
            (0..rng.random_range(0..4))
                .map(|_| (random_v(rng, next), random_v(rng, next)))
                .collect(),
        ),
        14 => V::Struct(random_fields(rng, next)),
        15 => V::NewtypeVariant(
            VARIANTS.choose(rng).expect("variants"),
            Box::new(random_v(rng, next)),
        ),
        _ => {
            let name = VARIANTS.choose(rng).expect("variants");
            if rng.random() {
                V::TupleVariant(
                    name,
                    (0..rng.random_range(0..3))
                        .map(|_| random_v(rng, next))
                        .collect(),
                )
            } else {
                V::StructVariant(name, random_fields(rng, next))
            }
        }
    }
}

fn random_style(rng: &mut StdRng) -> Style {
    Style {
        narrow: rng.random(),
        unknown_lengths: rng.random(),
        reverse: rng.random(),
        rotate: rng.random_range(0..8),
        variant_index: rng.random(),
    }
}

// ---------------------------------------------------------------------------------------------
// (a) equal values, equal keys; (b) HashMap order

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A value gives the same encoding and key whatever its representation (two random
    /// styles), and as its clone; the key is refused exactly for values without key material.
    #[test]
    fn equal_values_give_equal_keys(v in v_strategy(), a in style_strategy(), b in style_strategy()) {
        let key_a = make_key(&Styled(&v, a));
        let key_b = make_key(&Styled(&v, b));
        prop_assert_eq!(&key_a, &key_b);
        prop_assert_eq!(&key_a, &make_key(&Styled(&v.clone(), a)));
        prop_assert_eq!(to_canonical_bytes(&Styled(&v, a)), to_canonical_bytes(&Styled(&v, b)));
        if is_empty(&v) {
            prop_assert_eq!(key_a, Err(KeyError::Empty));
        } else {
            prop_assert!(key_a.is_ok(), "{:?}: {:?}", v, key_a);
            // Nested, even an empty value is a key.
            prop_assert_eq!(make_key(&(Styled(&v, a),)), make_key(&(Styled(&v, b),)));
            prop_assert!(make_key(&(Styled(&v, a),)).is_ok());
        }
    }

    /// A `serde_json::Value` keeps its key through a clone and a JSON round trip.
    #[test]
    fn json_values_keep_their_key_through_json(v in json_strategy()) {
        let key = make_key(&v);
        prop_assert_eq!(&key, &make_key(&v.clone()));
        let text = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&key, &make_key(&back));
        let pretty: Value = serde_json::from_str(&serde_json::to_string_pretty(&v).unwrap()).unwrap();
        prop_assert_eq!(&key, &make_key(&pretty));
    }

    /// Building a `HashMap` from the same entries in the original, reversed and shuffled orders,
    /// with different capacities (and fresh seeds), gives one key, equal to the `BTreeMap`'s,
    /// at the top level and nested.
    #[test]
    fn hashmap_insertion_order_never_matters(
        entries in prop::collection::vec((string_strategy(), any::<i64>()), 1..40),
        capacity in 0usize..300,
        seed in any::<u64>(),
    ) {
        let mut seen = HashSet::new();
        let entries: Vec<(String, i64)> =
            entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).collect();
        let mut forward = HashMap::new();
        for (k, v) in &entries {
            forward.insert(k.clone(), *v);
        }
        let mut reversed = HashMap::with_capacity(capacity);
        for (k, v) in entries.iter().rev() {
            reversed.insert(k.clone(), *v);
        }
        let mut shuffled_entries = entries.clone();
        shuffled_entries.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut shuffled = HashMap::with_capacity(entries.len() * 3);
        shuffled.extend(shuffled_entries);
        let sorted: BTreeMap<String, i64> = entries.iter().cloned().collect();

        let key = make_key(&forward).unwrap();
        prop_assert_eq!(key, make_key(&reversed).unwrap());
        prop_assert_eq!(key, make_key(&shuffled).unwrap());
        prop_assert_eq!(key, make_key(&sorted).unwrap());
        let nested = |m: &HashMap<String, i64>| make_key(&("m", vec![m.clone()], Some(m.clone())));
        prop_assert_eq!(nested(&forward).unwrap(), nested(&shuffled).unwrap());
        prop_assert_eq!(nested(&reversed).unwrap(), nested(&forward).unwrap());
        // And the content counts: changing one value changes the key.
        let (first, value) = entries[0].clone();
        forward.insert(first, value.wrapping_add(1));
        prop_assert_ne!(key, make_key(&forward).unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// (c) case-03 injectivity; (d) a corpus of distinct values

/// The key of a tuple of 0–4 strings, as a real Rust tuple of that arity.
fn tuple_key(t: &[String]) -> Result<Key, KeyError> {
    match t {
        [] => make_key(&()),
        [a] => make_key(&(a,)),
        [a, b] => make_key(&(a, b)),
        [a, b, c] => make_key(&(a, b, c)),
        [a, b, c, d] => make_key(&(a, b, c, d)),
        _ => unreachable!("at most 4 strings"),
    }
}

fn random_tuple(rng: &mut StdRng) -> Vec<String> {
    (0..rng.random_range(0..=4))
        .map(|_| random_string(rng))
        .collect()
}

/// The same text as `t`, cut into 0–4 pieces at other character boundaries: the collision the
/// case is about.
fn shift_boundaries(rng: &mut StdRng, t: &[String]) -> Vec<String> {
    let text = t.concat();
    let arity = rng.random_range(if text.is_empty() { 0 } else { 1 }..=4);
    if arity == 0 {
        return Vec::new();
    }
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut cuts: Vec<usize> = (1..arity)
        .map(|_| *bounds.choose(rng).expect("bounds"))
        .collect();
    cuts.sort_unstable();
    let mut pieces = Vec::with_capacity(arity);
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(text.len())) {
        pieces.push(text[start..cut].to_owned());
        start = cut;
    }
    pieces
}

/// `shared/cases/case-03.md`, "Expected": 100,000 random pairs of tuples of 0–4 strings from an
/// alphabet with ':', '|', ',', '\0', "" and multi-byte UTF-8. A quarter of the pairs are equal,
/// over a third move the boundaries of the same text, a tenth change one string; the rest are
/// independent. Keys are equal iff the tuples are: zero collisions, across all 200,000 tuples.
#[test]
fn case_03_keys_are_equal_iff_tuples_are_equal() {
    const PAIRS: usize = 100_000;
    let mut rng = StdRng::seed_from_u64(0x0e03_c0de);
    let mut by_key: HashMap<Key, Vec<String>> = HashMap::new();
    let (mut equal_pairs, mut shifted_unequal_pairs, mut empty) = (0, 0, 0);
    for _ in 0..PAIRS {
        let a = random_tuple(&mut rng);
        let roll = rng.random_range(0..100);
        let b = match roll {
            0..25 => a.clone(),
            25..62 => shift_boundaries(&mut rng, &a),
            62..72 if !a.is_empty() => {
                let mut b = a.clone();
                let i = rng.random_range(0..b.len());
                b[i].push_str(ATOMS.choose(&mut rng).expect("atoms"));
                b
            }
            _ => random_tuple(&mut rng),
        };
        let (key_a, key_b) = (tuple_key(&a), tuple_key(&b));
        assert_eq!(key_a == key_b, a == b, "{a:?} vs {b:?}");
        if a == b {
            equal_pairs += 1;
        } else if (25..62).contains(&roll) {
            shifted_unequal_pairs += 1;
        }
        for (t, key) in [(a, key_a), (b, key_b)] {
            match key {
                Ok(key) => match by_key.entry(key) {
                    Entry::Occupied(seen) => assert_eq!(seen.get(), &t, "collision on {key}"),
                    Entry::Vacant(slot) => {
                        slot.insert(t);
                    }
                },
                Err(e) => {
                    assert_eq!((e, t.len()), (KeyError::Empty, 0));
                    empty += 1;
                }
            }
        }
    }
    // The generator exercised both sides of "iff", and many distinct tuples.
    assert!(equal_pairs > 25_000, "{equal_pairs}");
    assert!(shifted_unequal_pairs > 25_000, "{shifted_unequal_pairs}");
    assert!(empty > 1_000, "{empty}");
    assert!(by_key.len() > 50_000, "{}", by_key.len());
}

/// Over a corpus of mixed values (every kind of the data model, nested up to three deep, each
/// serialized in a random style), values that are equal by [`describe`] share a key and at
/// least 50,000 distinct ones have distinct keys: the `HashSet<Key>` holds exactly as many keys
/// as there are distinct values.
#[test]
fn distinct_values_give_distinct_keys() {
    const DISTINCT: usize = 50_000;
    let mut rng = StdRng::seed_from_u64(0xd15_71c7);
    let mut key_of: HashMap<String, Key> = HashMap::new();
    let mut keys: HashSet<Key> = HashSet::new();
    let (mut repeats, mut refused, mut attempts) = (0, 0, 0);
    while key_of.len() < DISTINCT {
        attempts += 1;
        assert!(
            attempts < 10 * DISTINCT,
            "the generator repeats itself too much"
        );
        let v = random_v(&mut rng, 3);
        let key = match make_key(&Styled(&v, random_style(&mut rng))) {
            Ok(key) => key,
            Err(e) => {
                assert!(is_empty(&v), "{v:?}: {e}");
                assert_eq!(e, KeyError::Empty);
                refused += 1;
                continue;
            }
        };
        assert!(!is_empty(&v), "{v:?} has no key material but got {key}");
        match key_of.entry(describe(&v)) {
            Entry::Occupied(seen) => {
                assert_eq!(*seen.get(), key, "equal values, different keys: {v:?}");
                repeats += 1;
            }
            Entry::Vacant(slot) => {
                slot.insert(key);
                assert!(
                    keys.insert(key),
                    "two different values share key {key}: {v:?}"
                );
            }
        }
    }
    assert_eq!(keys.len(), key_of.len());
    assert_eq!(keys.len(), DISTINCT);
    // The corpus exercised the "equal" direction and refusals too.
    assert!(repeats > 1_000, "{repeats}");
    assert!(refused > 100, "{refused}");
}
