#![doc = include_str!("../README.md")]

mod clock;
mod store;
mod table;

pub use crate::clock::MockClock;
pub use crate::store::{CapacityPolicy, MemoryStore, MemoryStoreBuilder};
pub use one_core;
