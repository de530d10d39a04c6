//! The checks: one `pub async fn` per clause of the [`Store`](one_core::Store) contract.
//!
//! Each takes a [`Fixture`](crate::Fixture), asks it for the stores it needs, derives its keys
//! in a [fresh key space](crate::fresh_space), and panics with a message naming the clause (and
//! the field case, `shared/cases/case-NN.md`, where there is one) on the first violation.
//! [`conformance_tests!`](crate::conformance_tests) runs them all; call one directly with
//! [`run`](crate::run) to debug it.
//!
//! Timing follows the fixture's [`Profile`]: a record is expected gone once
//! `ttl + margin` has passed, and expected live only well before its deadline. The checks that
//! pin an exact boundary run only on an exact clock and otherwise return after printing a note.

mod add;
mod batch;
mod expect;
mod failure;
mod lease;
mod once;
mod race;

pub use add::*;
pub use batch::*;
pub use failure::*;
pub use lease::*;
pub use once::*;
pub use race::*;

use std::time::Duration;

use one_core::{Key, KeySpace};

use crate::Profile;

/// A TTL (or lease) that outlives every check, yet lets leftovers on a shared server expire
/// within a minute.
const LONG: Duration = Duration::from_secs(60);

/// One millisecond: the unit every backend expires in.
const MS: Duration = Duration::from_millis(1);

/// Concurrent callers in each race (case-08).
const RACERS: usize = 32;

/// The keys of one check, in a key space of their own.
struct Keys(KeySpace);

impl Keys {
    fn new(check: &str) -> Self {
        Keys(crate::fresh_space(check))
    }

    /// The key named `name`.
    fn key(&self, name: &str) -> Key {
        self.0.key(name).expect("a string always has key material")
    }

    /// The `i`-th key of the family `name`.
    fn nth(&self, name: &str, i: usize) -> Key {
        self.0
            .key(&(name, i))
            .expect("a tuple always has key material")
    }
}

/// The fixture's profile, checked for sense.
fn profile(fx: &impl crate::Fixture) -> Profile {
    let p = fx.profile();
    assert!(
        p.ttl >= 4 * p.margin && p.ttl >= 4 * MS,
        "Profile: ttl ({:?}) must be at least 4 x margin ({:?}) and at least 4 ms",
        p.ttl,
        p.margin
    );
    assert!(p.race_rounds > 0, "Profile: race_rounds must be at least 1");
    p
}

/// Prints why an exact-clock check is skipped; true when it should run.
fn needs_exact_clock(p: &Profile, check: &str) -> bool {
    if !p.exact_clock {
        eprintln!("note: {check} pins exact deadlines and needs an exact clock; skipped");
    }
    p.exact_clock
}
