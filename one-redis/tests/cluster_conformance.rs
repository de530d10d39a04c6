//! The whole `Store` contract (one-testkit's conformance suite) against a real Redis Cluster of
//! three masters, directly and as `Arc<dyn Store>`.
//!
//! The cluster is `ONE_REDIS_CLUSTER_URLS`, or three `redis-server` cluster nodes from `PATH`
//! spawned once for this test binary (see `one_testkit::redis_cluster`). Every check works in a
//! key space of its own, so its keys spread over all three masters, and the checks run in
//! parallel on the one cluster.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use one_redis::RedisClusterStore;
use one_testkit::redis_cluster::RedisCluster;
use one_testkit::{Fixture, Profile, async_trait};

struct ClusterFixture {
    /// The seed URLs, or `None` when there is no cluster here (and none is required).
    seeds: Option<Vec<String>>,
}

impl ClusterFixture {
    fn new() -> Self {
        // `shared` prints a loud notice and answers `None` when there is no cluster, or panics
        // when CI or ONE_REQUIRE_REDIS demands one.
        let cluster = RedisCluster::shared("one-redis cluster conformance suite");
        ClusterFixture {
            seeds: cluster.map(|c| c.urls().to_vec()),
        }
    }

    fn seeds(&self) -> &[String] {
        self.seeds
            .as_deref()
            .expect("checks run only when skip() is None")
    }
}

#[async_trait]
impl Fixture for ClusterFixture {
    type Store = RedisClusterStore;

    async fn store(&self, default_ttl: Duration) -> RedisClusterStore {
        RedisClusterStore::builder(self.seeds().iter().map(String::as_str))
            .default_ttl(default_ttl)
            .build()
            .expect("a store on the test cluster")
    }

    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    fn profile(&self) -> Profile {
        Profile::real_time()
    }

    fn skip(&self) -> Option<String> {
        self.seeds.is_none().then(|| {
            "no Redis Cluster: install redis-server or set ONE_REDIS_CLUSTER_URLS (CI and \
             ONE_REQUIRE_REDIS make this a failure)"
                .to_owned()
        })
    }

    /// A store whose seeds are loopback ports nobody listens on: every connection is refused.
    async fn failing_store(&self) -> Option<RedisClusterStore> {
        let ports: Vec<u16> = (0..2)
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|ls| ls.iter().map(|l| Ok(l.local_addr()?.port())).collect())
            .expect("free loopback ports");
        let seeds = ports.iter().map(|p| format!("redis://127.0.0.1:{p}"));
        let store = RedisClusterStore::builder(seeds)
            .build()
            .expect("a store on closed ports");
        Some(store)
    }
}

one_testkit::conformance_tests!(redis_cluster, ClusterFixture::new());
