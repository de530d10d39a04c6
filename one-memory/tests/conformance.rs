//! The whole `Store` contract, from `one-testkit`, on the in-memory store: one test per check,
//! on the store itself (`memory::direct::*`) and as `Arc<dyn Store>` (`memory::as_dyn::*`).

use std::time::Duration;

use one_memory::{CapacityPolicy, MemoryStore, MockClock};
use one_testkit::{Fixture, Profile, async_trait};

/// Stores that all follow one mock clock, so expiry is exact and no test sleeps.
#[derive(Default)]
struct MemoryFixture {
    clock: MockClock,
}

#[async_trait]
impl Fixture for MemoryFixture {
    type Store = MemoryStore;

    async fn store(&self, default_ttl: Duration) -> MemoryStore {
        MemoryStore::builder()
            .default_ttl(default_ttl)
            .clock(self.clock.clone())
            .build()
            .expect("the testkit asks for valid default TTLs")
    }

    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    fn profile(&self) -> Profile {
        Profile::mock_clock()
    }

    /// A full store that rejects new records: every write of a fresh key must fail closed.
    async fn failing_store(&self) -> Option<MemoryStore> {
        let store = MemoryStore::builder()
            .capacity(1, CapacityPolicy::Reject)
            .clock(self.clock.clone())
            .build()
            .expect("a valid configuration");
        let filler = one_core::make_key(&"the one record that fills the store").expect("key");
        store
            .add_with_ttl_sync(&filler, one_core::store::MAX_TTL)
            .expect("room for one");
        Some(store)
    }
}

one_testkit::conformance_tests!(memory, MemoryFixture::default());
