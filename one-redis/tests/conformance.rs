//! The whole `Store` contract (one-testkit's conformance suite) against a real Redis, directly
//! and as `Arc<dyn Store>`.
//!
//! The server is `ONE_REDIS_URL`, or a `redis-server` from `PATH` spawned once for this test
//! binary (see `one_testkit::redis_server`). Every check works in a key space of its own, so
//! they run in parallel on the one server.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use one_redis::RedisStore;
use one_testkit::redis_server::RedisServer;
use one_testkit::{Fixture, Profile, async_trait};

struct RedisFixture {
    /// The server's URL, or `None` when there is no Redis here (and none is required).
    url: Option<String>,
}

impl RedisFixture {
    fn new() -> Self {
        // `shared` prints a loud notice and answers `None` when there is no Redis, or panics
        // when CI or ONE_REQUIRE_REDIS demands one.
        let server = RedisServer::shared("one-redis conformance suite");
        RedisFixture {
            url: server.map(|s| s.url().to_owned()),
        }
    }

    fn url(&self) -> &str {
        self.url
            .as_deref()
            .expect("checks run only when skip() is None")
    }
}

#[async_trait]
impl Fixture for RedisFixture {
    type Store = RedisStore;

    async fn store(&self, default_ttl: Duration) -> RedisStore {
        RedisStore::builder(self.url())
            .default_ttl(default_ttl)
            .build()
            .expect("a store on the test server")
    }

    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    fn profile(&self) -> Profile {
        Profile::real_time()
    }

    fn skip(&self) -> Option<String> {
        self.url.is_none().then(|| {
            "no Redis: install redis-server or set ONE_REDIS_URL (CI and ONE_REQUIRE_REDIS \
             make this a failure)"
                .to_owned()
        })
    }

    /// A store on a loopback port nobody listens on: every connection is refused.
    async fn failing_store(&self) -> Option<RedisStore> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let store = RedisStore::builder(format!("redis://127.0.0.1:{port}"))
            .build()
            .expect("a store on a closed port");
        Some(store)
    }
}

one_testkit::conformance_tests!(redis, RedisFixture::new());
