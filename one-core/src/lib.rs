#![doc = include_str!("../README.md")]

pub mod encode;
mod error;
mod key;
pub mod once;
pub mod store;

#[doc = include_str!("../KEY_FORMAT.md")]
pub mod key_format {}

#[doc = include_str!("../EXACTLY_ONCE.md")]
pub mod exactly_once {}

pub use async_trait::async_trait;

pub use crate::encode::to_canonical_bytes;
pub use crate::error::{BoxError, Error, KeyError, ParseKeyError};
pub use crate::key::{Key, KeySpace, make_key};
pub use crate::once::{Attempt, Claimed, Outcome, Replay, RunError, RunOnce};
pub use crate::store::{Claim, FencingToken, Lease, Store};
