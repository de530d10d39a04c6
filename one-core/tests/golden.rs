//! Golden vectors for key format v1 (`one-core/KEY_FORMAT.md`).
//!
//! `tests/vectors/v1.json` is an array of vectors, one per named input of [`table`]. Each has:
//!
//! - `name`: the vector's name, unique in the file;
//! - `rust`: the Rust expression that builds the input (the table entry's text, whitespace
//!   squashed; self-contained: local types are declared inside the expression's block; `Bytes`
//!   is the newtype below, whose `Serialize` calls `serialize_bytes`);
//! - `namespace`: the key space's namespace (`""` is the default one of `make_key`);
//! - `secret_hex`: the key space's 16-byte secret as 32 hex digits, or `null` for none (all zero);
//! - `encoding_hex`: `one_core::to_canonical_bytes` of the input, in lowercase hex;
//! - `key_hex`: the key, `KeySpace::new(namespace).with_secret(secret).key(&input)`, as displayed.
//!
//! The test builds every input in Rust and checks both its encoding and its key against the
//! file, and fails when the file and the table do not hold the same set of names. Another
//! implementation of the format can check itself against the file alone: the key is SipHash-2-4
//! (128-bit output) keyed by the secret over `b"one:v1"`, the encoded namespace and the encoding
//! (see [`file_keys_follow_from_the_file_alone`]).
//!
//! # Bless mode
//!
//! Run `ONE_BLESS=1 cargo test -p one-core --test golden` to (re)write `tests/vectors/v1.json`
//! from the table instead of checking it. Format v1 is frozen: only bless to *add* vectors, and
//! review the diff. A changed `encoding_hex` or `key_hex` of an existing vector is a format break,
//! which needs a new format version, never an edit of v1.

// The inputs declare their own local structs and enums so that each vector's `rust` text is
// self-contained; most of those enums have variants that one vector never constructs.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hasher as _;
use std::path::PathBuf;

use one_core::{Key, KeyError, KeySpace, make_key, to_canonical_bytes};
use serde::{Deserialize, Serialize};
use siphasher::sip128::{Hasher128, SipHasher24};

/// A byte string that reaches the encoder through `serialize_bytes` (like `serde_bytes::Bytes`),
/// so it takes the bytes row (tag `31`) of the format. `Vec<u8>` and `[u8; N]` do not: serde
/// serializes them as sequences of integers.
#[derive(Debug, Clone, Copy)]
struct Bytes(&'static [u8]);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// The secret of the secret-keyed vectors.
const SECRET: [u8; 16] = *b"sixteen byte key";

type Computed = (Result<Vec<u8>, KeyError>, Result<Key, KeyError>);

/// One named input of the table.
struct Vector {
    name: &'static str,
    rust: &'static str,
    namespace: &'static str,
    secret: Option<[u8; 16]>,
    /// Encodes the input and derives its key in the given space.
    compute: fn(&KeySpace) -> Computed,
}

impl Vector {
    fn space(&self) -> KeySpace {
        let space = KeySpace::new(self.namespace);
        match self.secret {
            Some(secret) => space.with_secret(secret),
            None => space,
        }
    }
}

/// A vector as stored in `tests/vectors/v1.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVector {
    name: String,
    rust: String,
    namespace: String,
    secret_hex: Option<String>,
    encoding_hex: String,
    key_hex: String,
}

/// `v!(name, expr)` in the default space, or `v!(name, ns = "..", secret = .., expr)`.
macro_rules! v {
    ($name:literal, $value:expr) => {
        v!($name, ns = "", secret = None, $value)
    };
    ($name:literal, ns = $ns:literal, secret = $secret:expr, $value:expr) => {
        Vector {
            name: $name,
            rust: stringify!($value),
            namespace: $ns,
            secret: $secret,
            compute: |space: &KeySpace| {
                let value = $value;
                (to_canonical_bytes(&value), space.key(&value))
            },
        }
    };
}

/// Every golden input. Add to the end; never change or remove an entry (see the module docs).
fn table() -> Vec<Vector> {
    vec![
        // Integers: by value, narrowest row (rule 1).
        v!("u8_zero", 0u8),
        v!("u8_seven", 7u8),
        v!("u8_max", u8::MAX),
        v!("u16_max", u16::MAX),
        v!("u32_max", u32::MAX),
        v!("u64_max", u64::MAX),
        v!("u128_seven", 7u128),
        v!("u128_u64_max_plus_one", u128::from(u64::MAX) + 1),
        v!("u128_max", u128::MAX),
        v!("i8_min", i8::MIN),
        v!("i8_max", i8::MAX),
        v!("i16_min", i16::MIN),
        v!("i32_min", i32::MIN),
        v!("i64_minus_one", -1i64),
        v!("i64_min", i64::MIN),
        v!("i64_max", i64::MAX),
        v!("i128_minus_one", -1i128),
        v!("i128_u64_max", i128::from(u64::MAX)),
        v!("i128_u64_max_plus_one", i128::from(u64::MAX) + 1),
        v!("i128_i64_min_minus_one", i128::from(i64::MIN) - 1),
        v!("i128_min", i128::MIN),
        v!("i128_max", i128::MAX),
        // Booleans.
        v!("bool_false", false),
        v!("bool_true", true),
        // Floats (rule 2).
        v!("f64_zero", 0.0f64),
        v!("f64_negative_zero", -0.0f64),
        v!("f64_one_and_a_half", 1.5f64),
        v!("f64_one", 1.0f64),
        v!("f32_half", 0.5f32),
        v!("f32_negative_zero", -0.0f32),
        v!("f64_nan", f64::NAN),
        v!(
            "f64_nan_negative_with_payload",
            f64::from_bits(0xfff8_0000_0000_0001)
        ),
        v!("f64_nan_signalling", f64::from_bits(0x7ff0_0000_0000_0001)),
        v!("f32_nan_negative", f32::from_bits(0xffc0_0000)),
        v!("f64_infinity", f64::INFINITY),
        v!("f64_negative_infinity", f64::NEG_INFINITY),
        v!("f32_infinity", f32::INFINITY),
        v!("f64_smallest_subnormal", f64::from_bits(1)),
        v!("f32_smallest_subnormal", f32::from_bits(1)),
        v!("f64_max", f64::MAX),
        v!("f64_min", f64::MIN),
        // Text (rule 3) and bytes (rule 4).
        v!("str_empty", ""),
        v!("str_ascii", "hello"),
        v!("str_multibyte", "h\u{e9}llo, \u{4e16}\u{754c} \u{1f980}"),
        v!("str_with_separators_and_nul", "a:b|c,d\0e"),
        v!("string_owned", String::from("hello")),
        v!("char_ascii", 'a'),
        v!("char_multibyte", '\u{1f980}'),
        v!("bytes_empty", Bytes(b"")),
        v!("bytes", Bytes(b"\x00\x01\xfe\xff")),
        v!("bytes_same_as_str_ab", Bytes(b"ab")),
        v!("vec_u8_is_a_sequence", vec![0u8, 255]),
        // Options (rule 8) and unit (rule 9).
        v!("option_none_nested", (None::<u8>,)),
        v!("option_some", Some(5u8)),
        v!("option_some_none", Some(None::<u8>)),
        v!("option_some_nested", (Some("x"),)),
        v!("unit_nested", ((),)),
        v!("unit_struct_nested", {
            #[derive(serde::Serialize)]
            struct Marker;
            (Marker,)
        }),
        v!("none_empty_unit_in_tuple", (None::<&str>, "", ())),
        // Newtypes (transparent), sequences (rule 5).
        v!("newtype_struct", {
            #[derive(serde::Serialize)]
            struct OrderId(u64);
            OrderId(42)
        }),
        v!("tuple_key_format_example", ("ab", 7u8)),
        v!("tuple_mixed", (1u8, -1i64, "x", true, 2.5f64)),
        v!("tuple_struct", {
            #[derive(serde::Serialize)]
            struct Pair(u8, &'static str);
            Pair(1, "a")
        }),
        v!("vec_u32", vec![1u32, 2, 3]),
        v!("array_u8", [1u8, 2, 3]),
        v!("vec_str", vec!["b", "a"]),
        v!("nested_vec", vec![vec!["a", "b"], vec!["c"]]),
        v!("nested_vec_shifted", vec![vec!["a"], vec!["b", "c"]]),
        v!(
            "nested_empty_collections",
            (Vec::<u8>::new(), BTreeMap::<String, u8>::new(), "")
        ),
        v!("btreeset", BTreeSet::from(["b", "a", "c"])),
        // Maps (rule 6) and structs (rule 7).
        v!(
            "hashmap_str",
            HashMap::from([("sku", "A-1"), ("qty", "2"), ("note", "")])
        ),
        v!(
            "btreemap_str",
            BTreeMap::from([("sku", "A-1"), ("qty", "2"), ("note", "")])
        ),
        v!(
            "map_integer_keys",
            BTreeMap::from([(1i64, "a"), (256, "b"), (-1, "c")])
        ),
        v!(
            "map_nested",
            BTreeMap::from([("outer", BTreeMap::from([("x", 0.0f64)]))])
        ),
        v!("struct", {
            #[derive(serde::Serialize)]
            struct Point {
                x: i32,
                y: i32,
            }
            Point { x: 1, y: -2 }
        }),
        v!("struct_nested", {
            #[derive(serde::Serialize)]
            struct Inner {
                a: u8,
            }
            #[derive(serde::Serialize)]
            struct Outer {
                name: &'static str,
                inner: Inner,
                list: Vec<Inner>,
            }
            Outer {
                name: "o",
                inner: Inner { a: 1 },
                list: vec![Inner { a: 2 }, Inner { a: 3 }],
            }
        }),
        v!("struct_with_skipped_fields", {
            #[derive(serde::Serialize)]
            struct Event {
                id: u64,
                #[serde(skip)]
                received_at: u64,
                #[serde(skip_serializing_if = "Option::is_none")]
                note: Option<&'static str>,
            }
            Event {
                id: 7,
                received_at: 1_700_000_000,
                note: None,
            }
        }),
        v!("struct_with_option_field", {
            #[derive(serde::Serialize)]
            struct Job {
                id: u32,
                note: Option<&'static str>,
            }
            Job {
                id: 7,
                note: Some("x"),
            }
        }),
        v!(
            "json_value_object",
            serde_json::json!({ "id": 7, "tags": ["x"], "price": 1.5, "gone": null })
        ),
        // Enums by variant name (rule 10).
        v!("enum_unit_variant", {
            #[derive(serde::Serialize)]
            enum Shape {
                Empty,
                Circle(f64),
                Rect(u32, u32),
                Named { name: &'static str, sides: u8 },
            }
            Shape::Empty
        }),
        v!("enum_newtype_variant", {
            #[derive(serde::Serialize)]
            enum Shape {
                Empty,
                Circle(f64),
                Rect(u32, u32),
                Named { name: &'static str, sides: u8 },
            }
            Shape::Circle(2.0)
        }),
        v!("enum_tuple_variant", {
            #[derive(serde::Serialize)]
            enum Shape {
                Empty,
                Circle(f64),
                Rect(u32, u32),
                Named { name: &'static str, sides: u8 },
            }
            Shape::Rect(3, 4)
        }),
        v!("enum_struct_variant", {
            #[derive(serde::Serialize)]
            enum Shape {
                Empty,
                Circle(f64),
                Rect(u32, u32),
                Named { name: &'static str, sides: u8 },
            }
            Shape::Named {
                name: "hexagon",
                sides: 6,
            }
        }),
        v!("enum_in_tuple", {
            #[derive(serde::Serialize)]
            enum Op {
                Create,
                Delete,
            }
            ("order", Op::Delete)
        }),
        // Key spaces: namespace and secret.
        v!("space_default", ("order", 42u64)),
        v!(
            "space_namespace_payments",
            ns = "payments",
            secret = None,
            ("order", 42u64)
        ),
        v!(
            "space_namespace_multibyte",
            ns = "\u{540d}\u{524d}",
            secret = None,
            ("order", 42u64)
        ),
        v!(
            "space_secret",
            ns = "",
            secret = Some(SECRET),
            ("order", 42u64)
        ),
        v!(
            "space_namespace_and_secret",
            ns = "payments",
            secret = Some(SECRET),
            ("order", 42u64)
        ),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair.len(), 2, "odd-length hex {text:?}");
            let pair = std::str::from_utf8(pair).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            u8::from_str_radix(pair, 16).unwrap_or_else(|e| panic!("{text:?}: {e}"))
        })
        .collect()
}

/// `stringify!`'s text in a form that survives `rustfmt` and Rust versions: every run of
/// whitespace made one space, and no trailing comma before `}` or `]` (one before `)` is kept:
/// `(x,)` is a tuple). No input has whitespace, `,}` or `,]` inside a literal.
fn squash(text: &str) -> String {
    let squashed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(squashed.len());
    let mut chars = squashed.chars();
    while let Some(c) = chars.next() {
        let next = chars.clone().find(|c| *c != ' ');
        if c == ',' && matches!(next, Some('}' | ']')) {
            continue;
        }
        out.push(c);
    }
    out
}

/// Whether two vectors agree. The `rust` texts are compared as [`squash`]ed and without
/// whitespace: that is all formatting may change.
fn same(a: &FileVector, b: &FileVector) -> bool {
    let bare = |s: &str| {
        squash(s)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
    };
    FileVector {
        rust: bare(&a.rust),
        ..a.clone()
    } == FileVector {
        rust: bare(&b.rust),
        ..b.clone()
    }
}

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("vectors")
        .join("v1.json")
}

fn compute(vector: &Vector) -> FileVector {
    let (encoding, key) = (vector.compute)(&vector.space());
    let encoding = encoding.unwrap_or_else(|e| panic!("{}: encoding failed: {e}", vector.name));
    let key = key.unwrap_or_else(|e| panic!("{}: key failed: {e}", vector.name));
    FileVector {
        name: vector.name.to_owned(),
        rust: squash(vector.rust),
        namespace: vector.namespace.to_owned(),
        secret_hex: vector.secret.map(|s| hex(&s)),
        encoding_hex: hex(&encoding),
        key_hex: key.to_string(),
    }
}

/// The message a key hashes, built by hand from the spec: `one:v1`, the namespace as a string
/// (tag `30`, `u64le` byte length, UTF-8), then the value's encoding.
fn message(namespace: &str, encoding: &[u8]) -> Vec<u8> {
    let mut message = b"one:v1".to_vec();
    message.push(0x30);
    message.extend_from_slice(&(namespace.len() as u64).to_le_bytes());
    message.extend_from_slice(namespace.as_bytes());
    message.extend_from_slice(encoding);
    message
}

/// SipHash-2-4 with 128-bit output, keyed by `secret`, over `message`, in one write.
fn siphash128(secret: &[u8; 16], message: &[u8]) -> [u8; 16] {
    let mut hasher = SipHasher24::new_with_key(secret);
    hasher.write(message);
    hasher.finish128().as_bytes()
}

/// Every vector of the table matches `tests/vectors/v1.json`, in encoding and in key, and the
/// file holds exactly the table's vectors. With `ONE_BLESS=1`, writes the file first.
#[test]
fn golden_vectors_v1() {
    let table = table();
    assert!(table.len() >= 45, "only {} vectors", table.len());
    let mut names = BTreeSet::new();
    for vector in &table {
        assert!(
            names.insert(vector.name),
            "duplicate vector name {:?} in the table",
            vector.name
        );
    }
    let computed: Vec<FileVector> = table.iter().map(compute).collect();

    let path = vectors_path();
    if std::env::var("ONE_BLESS").as_deref() == Ok("1") {
        let mut text = serde_json::to_string_pretty(&computed).expect("vectors serialize");
        text.push('\n');
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create vectors/");
        std::fs::write(&path, text).expect("write vectors");
        eprintln!("blessed {} vectors into {}", computed.len(), path.display());
    }

    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with ONE_BLESS=1 to create it)",
            path.display()
        )
    });
    let file: Vec<FileVector> = serde_json::from_str(&text).expect("v1.json parses");
    let mut by_name = BTreeMap::new();
    for vector in &file {
        assert!(
            by_name.insert(vector.name.as_str(), vector).is_none(),
            "duplicate vector name {:?} in v1.json",
            vector.name
        );
    }

    let mut problems = Vec::new();
    for expected in &computed {
        match by_name.remove(expected.name.as_str()) {
            None => problems.push(format!(
                "{}: in the table but not in v1.json",
                expected.name
            )),
            Some(stored) if !same(stored, expected) => {
                problems.push(format!(
                    "{}:\n  file:  {stored:?}\n  table: {expected:?}",
                    expected.name
                ));
            }
            Some(_) => {}
        }
    }
    for name in by_name.keys() {
        problems.push(format!("{name}: in v1.json but not in the table"));
    }
    assert!(
        problems.is_empty(),
        "golden vectors differ from {} (format v1 is frozen; bless only to add vectors):\n{}",
        path.display(),
        problems.join("\n")
    );
}

/// The file is self-sufficient for other implementations: each `key_hex` is SipHash-2-4-128,
/// keyed by `secret_hex` (zero when null), over `one:v1` ‖ encoded namespace ‖ `encoding_hex`,
/// computed here from the file's text only, without `one_core`.
#[test]
fn file_keys_follow_from_the_file_alone() {
    if std::env::var("ONE_BLESS").as_deref() == Ok("1") {
        return; // the file is being rewritten by `golden_vectors_v1`, which checks it after
    }
    let text = std::fs::read_to_string(vectors_path()).expect("v1.json exists");
    let file: Vec<FileVector> = serde_json::from_str(&text).expect("v1.json parses");
    assert!(file.len() >= 45);
    for vector in &file {
        let secret: [u8; 16] = match &vector.secret_hex {
            Some(s) => unhex(s).try_into().expect("a secret is 16 bytes"),
            None => [0; 16],
        };
        let key = siphash128(
            &secret,
            &message(&vector.namespace, &unhex(&vector.encoding_hex)),
        );
        assert_eq!(hex(&key), vector.key_hex, "{}", vector.name);
        assert_eq!(vector.key_hex.len(), 32, "{}", vector.name);
    }
}

/// The hash step of the spec, checked independently of the file and of `one_core`'s hashing:
/// for every input of the table, SipHash-2-4-128 (the `siphasher` crate, one write) over
/// `b"one:v1"` ‖ namespace encoded by hand ‖ `to_canonical_bytes(input)` is the key.
#[test]
fn siphash_step_recomputed_with_siphasher() {
    for vector in table() {
        let space = vector.space();
        let (encoding, key) = (vector.compute)(&space);
        let encoding = encoding.expect("encodes");
        let expected = siphash128(
            &vector.secret.unwrap_or([0; 16]),
            &message(vector.namespace, &encoding),
        );
        assert_eq!(
            key.expect("derives").as_bytes(),
            &expected,
            "{}",
            vector.name
        );
    }
    // The same through the public entry points.
    let encoding = to_canonical_bytes(&("order", 42u64)).unwrap();
    assert_eq!(
        make_key(&("order", 42u64)).unwrap().as_bytes(),
        &siphash128(&[0; 16], &message("", &encoding))
    );
    let space = KeySpace::new("payments").with_secret(SECRET);
    assert_eq!(
        space.key(&("order", 42u64)).unwrap().as_bytes(),
        &siphash128(&SECRET, &message("payments", &encoding))
    );
}

/// The `siphasher` primitive is the standard SipHash-2-4-128 with the spec's byte order: the
/// reference implementation's first 128-bit test vector (key `00..0f`, empty message), read as
/// the spec's key bytes (two little-endian `u64`s) and output bytes (`h1 ‖ h2`, little-endian).
#[test]
fn siphasher_matches_the_reference_vector() {
    let key: [u8; 16] = std::array::from_fn(|i| i as u8);
    assert_eq!(
        hex(&siphash128(&key, b"")),
        "a3817f04ba25a8e66df67214c7550293"
    );
}

/// The example at the end of KEY_FORMAT.md, byte for byte.
#[test]
fn key_format_example() {
    let encoding = to_canonical_bytes(&("ab", 7u8)).unwrap();
    #[rustfmt::skip]
    let expected_encoding: &[u8] = &[
        0x40, 0x02, 0, 0, 0, 0, 0, 0, 0,               // sequence of 2
        0x30, 0x02, 0, 0, 0, 0, 0, 0, 0, b'a', b'b',   // "ab"
        0x10, 0x07, 0, 0, 0, 0, 0, 0, 0,               // 7
    ];
    assert_eq!(encoding, expected_encoding);
    #[rustfmt::skip]
    let expected_message: &[u8] = &[
        0x6f, 0x6e, 0x65, 0x3a, 0x76, 0x31,            // "one:v1"
        0x30, 0, 0, 0, 0, 0, 0, 0, 0,                  // namespace "" (string, length 0)
        0x40, 0x02, 0, 0, 0, 0, 0, 0, 0,               // sequence of 2
        0x30, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62,   // "ab"
        0x10, 0x07, 0, 0, 0, 0, 0, 0, 0,               // 7
    ];
    assert_eq!(message("", &encoding), expected_message);
    assert_eq!(
        make_key(&("ab", 7u8)).unwrap().as_bytes(),
        &siphash128(&[0; 16], expected_message)
    );
}

/// Encodings written by hand from KEY_FORMAT.md's table, so the blessed file cannot silently
/// pin a wrong encoding.
#[test]
fn hand_checked_encodings_match_the_key_format_table() {
    fn enc<T: Serialize + ?Sized>(value: &T) -> String {
        hex(&to_canonical_bytes(value).unwrap())
    }
    // Integers.
    assert_eq!(enc(&0u8), "100000000000000000");
    assert_eq!(enc(&u64::MAX), "10ffffffffffffffff");
    assert_eq!(enc(&i128::from(u64::MAX)), "10ffffffffffffffff");
    assert_eq!(
        enc(&(u128::from(u64::MAX) + 1)),
        "1100000000000000000100000000000000"
    );
    assert_eq!(enc(&u128::MAX), "11ffffffffffffffffffffffffffffffff");
    assert_eq!(enc(&i128::MAX), "11ffffffffffffffffffffffffffffff7f");
    assert_eq!(enc(&-1i8), "12ffffffffffffffff");
    assert_eq!(enc(&i8::MIN), "1280ffffffffffffff");
    assert_eq!(enc(&i64::MIN), "120000000000000080");
    assert_eq!(
        enc(&(i128::from(i64::MIN) - 1)),
        "13ffffffffffffff7fffffffffffffffff"
    );
    assert_eq!(enc(&i128::MIN), "1300000000000000000000000000000080");
    // Booleans.
    assert_eq!(enc(&false), "0300");
    assert_eq!(enc(&true), "0301");
    // Floats.
    assert_eq!(enc(&0.0f64), "200000000000000000");
    assert_eq!(enc(&-0.0f64), "200000000000000000");
    assert_eq!(enc(&-0.0f32), "200000000000000000");
    assert_eq!(enc(&1.5f64), "20000000000000f83f");
    assert_eq!(enc(&0.5f32), "20000000000000e03f");
    assert_eq!(enc(&f64::NAN), "20000000000000f87f");
    assert_eq!(
        enc(&f64::from_bits(0xfff8_0000_0000_0001)),
        "20000000000000f87f"
    );
    assert_eq!(enc(&f32::from_bits(0xffc0_0001)), "20000000000000f87f");
    assert_eq!(enc(&f64::INFINITY), "20000000000000f07f");
    assert_eq!(enc(&f64::NEG_INFINITY), "20000000000000f0ff");
    assert_eq!(enc(&f64::from_bits(1)), "200100000000000000");
    assert_eq!(enc(&f64::MAX), "20ffffffffffffef7f");
    // f32's smallest subnormal, 2^-149, is a normal f64: exponent 1023-149 = 874 = 0x36a.
    assert_eq!(enc(&f32::from_bits(1)), "20000000000000a036");
    // Text and bytes.
    assert_eq!(enc(""), "300000000000000000");
    assert_eq!(enc(&'\u{e9}'), "300200000000000000c3a9");
    assert_eq!(enc("\u{e9}"), "300200000000000000c3a9");
    assert_eq!(enc(&Bytes(b"\x00\xff")), "31020000000000000000ff");
    assert_eq!(enc(&Bytes(b"")), "310000000000000000");
    // Options and unit.
    assert_eq!(enc(&(None::<u8>,)), "40010000000000000001");
    assert_eq!(enc(&Some(5u8)), "02100500000000000000");
    assert_eq!(enc(&Some(None::<u8>)), "0201");
    assert_eq!(enc(&((),)), "40010000000000000000");
    // Structs are maps sorted by encoded field name; the name of the struct is not hashed.
    #[derive(Serialize)]
    struct Point {
        y: i32,
        x: i32,
    }
    assert_eq!(
        enc(&Point { y: -2, x: 1 }),
        concat!(
            "500200000000000000",
            "300100000000000000",
            "78",
            "100100000000000000",
            "300100000000000000",
            "79",
            "12feffffffffffffff",
        )
    );
    // Integer map keys sort by their encoded bytes: 256 (`10 00 01 ..`) before 1 (`10 01 ..`),
    // and the negative -1 (tag `12`) last.
    assert_eq!(
        enc(&BTreeMap::from([(1i64, "a"), (256, "b"), (-1, "c")])),
        concat!(
            "500300000000000000",
            "100001000000000000",
            "30010000000000000062",
            "100100000000000000",
            "30010000000000000061",
            "12ffffffffffffffff",
            "30010000000000000063",
        )
    );
    // Enums: tag 60, the variant name as a string, then the content.
    #[derive(Serialize)]
    enum Shape {
        Empty,
        Circle(u8),
        Rect(u8, u8),
        Named { sides: u8 },
    }
    assert_eq!(
        enc(&Shape::Empty),
        concat!("60", "300500000000000000", "456d707479", "00")
    );
    assert_eq!(
        enc(&Shape::Circle(2)),
        concat!(
            "60",
            "300600000000000000",
            "436972636c65",
            "100200000000000000"
        )
    );
    assert_eq!(
        enc(&Shape::Rect(3, 4)),
        concat!(
            "60",
            "300400000000000000",
            "52656374",
            "400200000000000000",
            "100300000000000000",
            "100400000000000000",
        )
    );
    assert_eq!(
        enc(&Shape::Named { sides: 6 }),
        concat!(
            "60",
            "300500000000000000",
            "4e616d6564",
            "500100000000000000",
            "300500000000000000",
            "7369646573",
            "100600000000000000",
        )
    );
}
