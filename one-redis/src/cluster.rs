//! [`RedisClusterStore`]: the [`Store`](one_core::Store) contract on a Redis Cluster, each
//! record on the master of its key's slot.
//!
//! The store keeps the cluster's slot map itself (from `CLUSTER SLOTS`) and one pool per master,
//! the same pools, timeouts and recovery as [`RedisStore`](crate::RedisStore)'s. A batch is split
//! by master: one pipeline per master, sent at the same time, answers put back in the caller's
//! order. `MOVED` and `ASK` replies (the command did not run) are followed; nothing else is
//! ever sent twice, because a command whose reply was lost may have run, and running `SET NX`
//! again would answer "duplicate" for a record this very call created.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use one_core::store::ttl_millis;
use one_core::{BoxError, Error, Key};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisError, Value};

use crate::call::{Call, Command, Sent};
use crate::error::{self, STORE};
use crate::node::{Limits, Node};
use crate::ops::{Records, Transport, same_failure, spread, store_on_records};
use crate::slot::{SLOTS, hash_slot};
use crate::store::{
    DEFAULT_CHECKOUT_TIMEOUT, DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE,
    DEFAULT_PREFIX, DEFAULT_TTL,
};

/// How many redirections (`MOVED`, `ASK`) one call follows before it fails.
const MAX_REDIRECTIONS: usize = 5;

/// The least time between two slot map refreshes that failures ask for.
const REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// A deduplication store on a Redis Cluster: the records of [`RedisStore`](crate::RedisStore),
/// each on the master that serves its key's hash slot.
///
/// Build it from one or more seed nodes; it learns the rest from the cluster. Cloning is cheap:
/// clones share the slot map and the pools. See the [crate docs](crate#redis-cluster).
#[derive(Clone)]
pub struct RedisClusterStore {
    inner: Arc<Records<Cluster>>,
}

impl fmt::Debug for RedisClusterStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClusterStore")
            .field("prefix", &self.inner.prefix)
            .field("default_ttl", &self.inner.default_ttl)
            .field("masters", &self.masters())
            .finish_non_exhaustive()
    }
}

/// Configures a [`RedisClusterStore`]: from [`RedisClusterStore::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisClusterStoreBuilder {
    seeds: Result<Vec<ConnectionInfo>, RedisError>,
    prefix: String,
    default_ttl: Duration,
    limits: Limits,
    #[cfg(feature = "tls")]
    tls: Option<redis::TlsCertificates>,
}

impl fmt::Debug for RedisClusterStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClusterStoreBuilder")
            .field("prefix", &self.prefix)
            .field("default_ttl", &self.default_ttl)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl RedisClusterStoreBuilder {
    /// The prefix of every Redis key this store writes (default [`DEFAULT_PREFIX`],
    /// `"one:v1:"`). Stores with different prefixes never see each other's records. A hash tag
    /// in the prefix (`{...}`) would put every record in one slot, on one master: leave it out.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The TTL of records written by `add` and `add_many` (default [`DEFAULT_TTL`], one day).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// The limit on making one connection to a node (default [`DEFAULT_CONNECT_TIMEOUT`]).
    /// Past it an operation fails with [`Error::Timeout`] (`operation: "connect"`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect = timeout;
        self
    }

    /// The limit on waiting for a free pooled connection to a node (default
    /// [`DEFAULT_CHECKOUT_TIMEOUT`]). Past it an operation fails with [`Error::Timeout`]
    /// (`operation: "checkout"`).
    pub fn checkout_timeout(mut self, timeout: Duration) -> Self {
        self.limits.checkout = timeout;
        self
    }

    /// The limit on one round trip to a node (default [`DEFAULT_COMMAND_TIMEOUT`]). Past it
    /// the operation fails with [`Error::Timeout`] naming the operation. A call that a node
    /// redirects makes one more round trip, with a limit of its own.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.limits.command = timeout;
        self
    }

    /// The most connections kept to each master (default [`DEFAULT_POOL_SIZE`]); multiplexed
    /// and shared by concurrent operations, as
    /// [`RedisStoreBuilder::pool_size`](crate::RedisStoreBuilder::pool_size) tells.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.limits.pool_size = size;
        self
    }

    /// Trusts `certificates` for `rediss://` connections to every node (see
    /// [`RedisStoreBuilder::tls`](crate::RedisStoreBuilder::tls)).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, certificates: redis::TlsCertificates) -> Self {
        self.tls = Some(certificates);
        self
    }

    /// Builds the store. No connection is made yet: the first operation asks a seed node for
    /// the slot map, so a cluster that is down at start-up is an `Err` from that operation.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTtl`] for a zero or too long default TTL; [`Error::Backend`] for no
    /// seed, a seed that is not a Redis URL or is a unix socket (cluster nodes are reached over
    /// TCP), or a pool size of 0.
    pub fn build(self) -> Result<RedisClusterStore, Error> {
        ttl_millis(self.default_ttl)?;
        let backend = |source: BoxError| Error::Backend {
            store: STORE,
            source,
        };
        let seeds = self.seeds.map_err(|e| backend(Box::new(e)))?;
        let Some(template) = seeds.first().cloned() else {
            return Err(backend(
                "a cluster store needs at least one seed node".into(),
            ));
        };
        if seeds.iter().any(|s| {
            !matches!(
                s.addr(),
                ConnectionAddr::Tcp(..) | ConnectionAddr::TcpTls { .. }
            )
        }) {
            return Err(backend(
                "cluster nodes are reached over TCP: a seed cannot be a unix socket".into(),
            ));
        }
        if self.limits.pool_size == 0 {
            return Err(backend("the pool size must be at least 1".into()));
        }
        let shared = Shared {
            seeds,
            template,
            limits: self.limits,
            #[cfg(feature = "tls")]
            tls: self.tls,
            topology: RwLock::new(Arc::new(Topology::default())),
            loading: tokio::sync::Mutex::new(()),
            load_failures: AtomicU64::new(0),
            last_failure: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            last_refresh: Mutex::new(None),
        };
        Ok(RedisClusterStore {
            inner: Arc::new(Records {
                transport: Cluster {
                    shared: Arc::new(shared),
                },
                prefix: self.prefix.into_boxed_str(),
                default_ttl: self.default_ttl,
            }),
        })
    }
}

impl RedisClusterStore {
    /// Configures a store on the cluster that `seeds` belong to: URLs
    /// (`redis://[user:password@]host:port`, `rediss://` with the `tls` feature) or
    /// [`redis::ConnectionInfo`]s. One live seed is enough; give several so that the store can
    /// start while one is down. Nodes found in the cluster are reached with the first seed's
    /// credentials and TLS settings.
    pub fn builder<I>(seeds: I) -> RedisClusterStoreBuilder
    where
        I: IntoIterator,
        I::Item: IntoConnectionInfo,
    {
        RedisClusterStoreBuilder {
            seeds: seeds
                .into_iter()
                .map(IntoConnectionInfo::into_connection_info)
                .collect(),
            prefix: DEFAULT_PREFIX.to_owned(),
            default_ttl: DEFAULT_TTL,
            limits: Limits {
                connect: DEFAULT_CONNECT_TIMEOUT,
                checkout: DEFAULT_CHECKOUT_TIMEOUT,
                command: DEFAULT_COMMAND_TIMEOUT,
                pool_size: DEFAULT_POOL_SIZE,
            },
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The prefix of every Redis key this store writes.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The Redis key under which `key`'s record is stored: the prefix and 32 hex digits.
    pub fn redis_key(&self, key: &Key) -> Vec<u8> {
        self.inner.redis_key(key)
    }

    /// The hash slot of `key`'s record, which decides its master.
    pub fn slot(&self, key: &Key) -> u16 {
        hash_slot(&self.redis_key(key))
    }

    /// The masters in the slot map as the store knows it now (`host:port`), in slot order;
    /// empty before the first operation.
    pub fn masters(&self) -> Vec<String> {
        self.inner
            .transport
            .shared
            .current()
            .masters()
            .iter()
            .map(|m| m.address.to_string())
            .collect()
    }

    fn records(&self) -> &Records<Cluster> {
        &self.inner
    }
}

store_on_records!(RedisClusterStore);

/// A node's address as the cluster names it.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Address {
    host: String,
    port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Address {
    /// Parses `host:port` from a redirection or the slot map; an empty host is `default`'s (the
    /// node that answered does not know its own address).
    fn parse(text: &str, default: &Address) -> Option<Address> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Address {
            host: if host.is_empty() || host == "?" {
                default.host.clone()
            } else {
                host.to_owned()
            },
            port: port.parse().ok()?,
        })
    }

    fn of(info: &ConnectionInfo) -> Option<Address> {
        match info.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                Some(Address {
                    host: host.clone(),
                    port: *port,
                })
            }
            _ => None,
        }
    }
}

/// One node the store talks to: a master, or a seed it asks for the slot map.
struct ClusterNode {
    address: Address,
    node: Node,
}

/// The slot map: which master serves each slot.
#[derive(Default, Clone)]
struct Topology {
    /// For each slot, the index of its master in `nodes`, or [`UNSERVED`].
    slots: Vec<u16>,
    /// The masters, and nodes that redirections pointed to (which may serve no slot yet).
    nodes: Vec<Arc<ClusterNode>>,
}

const UNSERVED: u16 = u16::MAX;

impl Topology {
    fn owner(&self, slot: u16) -> Option<&Arc<ClusterNode>> {
        let index = *self.slots.get(usize::from(slot))?;
        self.nodes.get(usize::from(index))
    }

    fn find(&self, address: &Address) -> Option<&Arc<ClusterNode>> {
        self.nodes.iter().find(|m| m.address == *address)
    }

    /// The nodes that serve at least one slot, in slot order.
    fn masters(&self) -> Vec<&Arc<ClusterNode>> {
        let mut seen = vec![false; self.nodes.len()];
        let mut masters = Vec::new();
        for &index in &self.slots {
            if let Some(node) = self.nodes.get(usize::from(index))
                && !std::mem::replace(&mut seen[usize::from(index)], true)
            {
                masters.push(node);
            }
        }
        masters
    }
}

/// The transport of [`RedisClusterStore`].
pub(crate) struct Cluster {
    shared: Arc<Shared>,
}

struct Shared {
    seeds: Vec<ConnectionInfo>,
    /// The settings (credentials, TLS, protocol) of connections to every node.
    template: ConnectionInfo,
    limits: Limits,
    #[cfg(feature = "tls")]
    tls: Option<redis::TlsCertificates>,
    topology: RwLock<Arc<Topology>>,
    /// Held while the first slot map loads, so that concurrent first calls wait for one load.
    loading: tokio::sync::Mutex<()>,
    /// Failed first loads so far, and the last one's error: a call that waited for a load that
    /// failed fails with it, rather than trying again in turn.
    load_failures: AtomicU64,
    last_failure: Mutex<Option<Error>>,
    /// A refresh is running in the background.
    refreshing: AtomicBool,
    last_refresh: Mutex<Option<Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn current(&self) -> Arc<Topology> {
        Arc::clone(&self.topology.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The slot map, loaded from the cluster on first use.
    async fn topology(&self) -> Result<Arc<Topology>, Error> {
        let current = self.current();
        if !current.nodes.is_empty() {
            return Ok(current);
        }
        let failures = self.load_failures.load(Ordering::Acquire);
        let _loading = self.loading.lock().await;
        let current = self.current();
        if !current.nodes.is_empty() {
            return Ok(current);
        }
        if self.load_failures.load(Ordering::Acquire) != failures
            && let Some(e) = lock(&self.last_failure).as_ref()
        {
            return Err(same_failure(e));
        }
        match self.refresh().await {
            Ok(topology) => Ok(topology),
            Err(e) => {
                *lock(&self.last_failure) = Some(same_failure(&e));
                self.load_failures.fetch_add(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    /// A node at `address`: the master the slot map knows there, or a new one.
    fn node_at(&self, address: &Address, topology: &Topology) -> Result<Arc<ClusterNode>, Error> {
        if let Some(node) = topology.find(address) {
            return Ok(Arc::clone(node));
        }
        let addr = match self.template.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: address.host.clone(),
                port: address.port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(address.host.clone(), address.port),
        };
        self.node_for(self.template.clone().set_addr(addr))
    }

    /// A new node (and its pool, which connects on first use) for `info`.
    fn node_for(&self, info: ConnectionInfo) -> Result<Arc<ClusterNode>, Error> {
        let address = Address::of(&info).ok_or_else(|| Error::Backend {
            store: STORE,
            source: "cluster nodes are reached over TCP".into(),
        })?;
        #[cfg(feature = "tls")]
        let client = crate::tls::client(info, self.tls.clone());
        #[cfg(not(feature = "tls"))]
        let client = redis::Client::open(info);
        let client = client.map_err(|e| Error::Backend {
            store: STORE,
            source: Box::new(e),
        })?;
        Ok(Arc::new(ClusterNode {
            address,
            node: Node::new(self.limits.pool(client)?, &self.limits),
        }))
    }

    /// Asks the known masters, then the seeds, for the slot map, until one answers; installs
    /// and returns it.
    async fn refresh(&self) -> Result<Arc<Topology>, Error> {
        *lock(&self.last_refresh) = Some(Instant::now());
        let current = self.current();
        let mut candidates = current.nodes.clone();
        if !candidates.is_empty() {
            // Spread the asking over the masters.
            let start = rand::random_range(0..candidates.len());
            candidates.rotate_left(start);
        }
        for seed in &self.seeds {
            if Address::of(seed).is_some_and(|a| current.find(&a).is_none()) {
                candidates.push(self.node_for(seed.clone())?);
            }
        }
        let mut last = None;
        for candidate in &candidates {
            let call = Call::new(Vec::new(), Command::ClusterSlots);
            let sent = [Sent {
                call: &call,
                asking: false,
            }];
            let reply = match candidate.node.send("cluster_slots", &sent).await {
                Ok(mut replies) => replies.pop().unwrap_or_default(),
                Err(e) => {
                    last = Some(at_node(e, &candidate.address));
                    continue;
                }
            };
            match slot_map(reply, &candidate.address) {
                Ok((slots, addresses)) => {
                    let known = Topology {
                        slots: Vec::new(),
                        nodes: candidates.clone(),
                    };
                    let nodes = addresses
                        .iter()
                        .map(|address| self.node_at(address, &known))
                        .collect::<Result<Vec<_>, Error>>()?;
                    let topology = Arc::new(Topology { slots, nodes });
                    *self
                        .topology
                        .write()
                        .unwrap_or_else(PoisonError::into_inner) = Arc::clone(&topology);
                    return Ok(topology);
                }
                Err(e) => last = Some(at_node(e, &candidate.address)),
            }
        }
        Err(last.unwrap_or_else(|| Error::Unavailable {
            store: STORE,
            source: "no node of the cluster to ask for the slot map".into(),
        }))
    }

    /// Refreshes the slot map in the background, unless that happened just now or is
    /// happening: after a redirection, or a failure that may mean a failover.
    fn refresh_soon(self: &Arc<Self>) {
        if lock(&self.last_refresh).is_some_and(|at| at.elapsed() < REFRESH_INTERVAL) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            // A failure leaves the map as it was; the next failure asks again.
            let _ = shared.refresh().await;
            shared.refreshing.store(false, Ordering::Release);
        });
    }

    /// The node at `address` that a redirection points to, kept with the slot map so that
    /// later redirections reuse its pool; with `moved`, the slot is recorded as served there
    /// now (a `MOVED` reply; an `ASK` is for its one call only).
    fn redirected(&self, address: &Address, moved: Option<u16>) -> Result<Arc<ClusterNode>, Error> {
        let known = |topology: &Topology| {
            let node = topology.find(address)?;
            let owns = |slot| {
                topology
                    .owner(slot)
                    .is_some_and(|owner| Arc::ptr_eq(owner, node))
            };
            moved.is_none_or(owns).then(|| Arc::clone(node))
        };
        if let Some(node) = known(&self.current()) {
            return Ok(node);
        }
        let mut guard = self
            .topology
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(node) = known(&guard) {
            return Ok(node);
        }
        let node = self.node_at(address, &guard)?;
        let mut topology = Topology::clone(&guard);
        let index = match topology.nodes.iter().position(|m| Arc::ptr_eq(m, &node)) {
            Some(index) => index,
            None => {
                topology.nodes.push(Arc::clone(&node));
                topology.nodes.len() - 1
            }
        };
        if let Some(slot) = moved
            && let Some(owner) = topology.slots.get_mut(usize::from(slot))
        {
            *owner = u16::try_from(index).unwrap_or(UNSERVED);
        }
        *guard = Arc::new(topology);
        Ok(node)
    }
}

/// The slot map in a `CLUSTER SLOTS` reply from the node at `queried`: each slot's index into
/// the masters' addresses, and those addresses.
fn slot_map(reply: Value, queried: &Address) -> Result<(Vec<u16>, Vec<Address>), Error> {
    let bad = |what: String| Error::Backend {
        store: STORE,
        source: format!("unexpected reply to CLUSTER SLOTS: {what}").into(),
    };
    let ranges = match reply {
        Value::ServerError(e) => return Err(error::server_error(e).0),
        Value::Array(ranges) => ranges,
        other => return Err(bad(format!("{other:?}"))),
    };
    let mut slots = vec![UNSERVED; usize::from(SLOTS)];
    let mut masters: Vec<Address> = Vec::new();
    for range in ranges {
        let Value::Array(items) = range else {
            return Err(bad(format!("{range:?}")));
        };
        let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(master))) =
            (items.first(), items.get(1), items.get(2))
        else {
            return Err(bad(format!("{items:?}")));
        };
        let host = match master.first() {
            Some(Value::BulkString(host)) => String::from_utf8_lossy(host).into_owned(),
            Some(Value::SimpleString(host)) => host.clone(),
            _ => String::new(),
        };
        let (Some(Value::Int(port)), Ok(first), Ok(last)) = (
            master.get(1),
            usize::try_from(*first),
            usize::try_from(*last),
        ) else {
            return Err(bad(format!("{items:?}")));
        };
        let address = Address::parse(&format!("{host}:{port}"), queried)
            .ok_or_else(|| bad(format!("{master:?}")))?;
        let index = match masters.iter().position(|a| *a == address) {
            Some(index) => index,
            None => {
                masters.push(address);
                masters.len() - 1
            }
        };
        let index = u16::try_from(index).unwrap_or(UNSERVED);
        for slot in slots.iter_mut().take(last.saturating_add(1)).skip(first) {
            *slot = index;
        }
    }
    if masters.is_empty() {
        return Err(Error::Unavailable {
            store: STORE,
            source: "the cluster serves no slot yet".into(),
        });
    }
    Ok((slots, masters))
}

/// Where a node sent a call instead of running it.
#[derive(Debug, PartialEq, Eq)]
enum Redirection {
    /// `MOVED slot host:port`: the slot is served there now.
    Moved(u16, Address),
    /// `ASK slot host:port`: the slot is being migrated there and the key is not here; ask
    /// there once, after `ASKING`.
    Ask(u16, Address),
}

/// The redirection in `reply`, if it is one, from the node at `from`.
fn redirection(reply: &Value, from: &Address) -> Option<Redirection> {
    let Value::ServerError(e) = reply else {
        return None;
    };
    let moved = match e.code() {
        "MOVED" => true,
        "ASK" => false,
        _ => return None,
    };
    let (slot, address) = e.details()?.trim().split_once(' ')?;
    let slot: u16 = slot.parse().ok().filter(|s| *s < SLOTS)?;
    let address = Address::parse(address.trim(), from)?;
    Some(if moved {
        Redirection::Moved(slot, address)
    } else {
        Redirection::Ask(slot, address)
    })
}

/// Server errors after which the slot map may be stale: the cluster is failing over or
/// resharding.
fn calls_for_refresh(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(e)
        if matches!(e.code(), "CLUSTERDOWN" | "TRYAGAIN" | "MASTERDOWN" | "READONLY"))
}

/// A failure on one node, naming it.
#[derive(Debug)]
struct AtNode {
    node: String,
    source: BoxError,
}

impl fmt::Display for AtNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}: {}", self.node, self.source)
    }
}

impl std::error::Error for AtNode {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The source's own message is part of this one's; skip to what caused it.
        self.source.source()
    }
}

/// `e`, naming the node it happened on.
fn at_node(e: Error, node: &Address) -> Error {
    let wrap = |source: BoxError| -> BoxError {
        Box::new(AtNode {
            node: node.to_string(),
            source,
        })
    };
    match e {
        Error::Unavailable { store, source } => Error::Unavailable {
            store,
            source: wrap(source),
        },
        Error::Backend { store, source } => Error::Backend {
            store,
            source: wrap(source),
        },
        other => other,
    }
}

/// Where a call goes next: its index among the calls, its node, and whether that node wants
/// `ASKING` first.
struct Route {
    call: usize,
    node: Arc<ClusterNode>,
    asking: bool,
}

/// The calls for one node, in the caller's order: one pipeline.
struct Group {
    node: Arc<ClusterNode>,
    routes: Vec<Route>,
}

impl Group {
    /// `routes` grouped by node, in order within each group.
    fn by_node(routes: Vec<Route>) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for route in routes {
            match groups
                .iter_mut()
                .find(|g| Arc::ptr_eq(&g.node, &route.node))
            {
                Some(group) => group.routes.push(route),
                None => groups.push(Group {
                    node: Arc::clone(&route.node),
                    routes: vec![route],
                }),
            }
        }
        groups
    }

    /// Sends the group's calls (with `ASKING` where asked) to its node in one round trip.
    async fn send(&self, operation: &'static str, calls: &[Call]) -> Result<Vec<Value>, Error> {
        let sent: Vec<Sent<'_>> = self
            .routes
            .iter()
            .map(|route| Sent {
                call: &calls[route.call],
                asking: route.asking,
            })
            .collect();
        self.node.node.send(operation, &sent).await
    }
}

impl Transport for Cluster {
    async fn run(&self, operation: &'static str, calls: &[Call]) -> Vec<Result<Value, Error>> {
        let shared = &self.shared;
        let topology = match shared.topology().await {
            Ok(topology) => topology,
            Err(e) => return spread(e, calls.len()),
        };
        let mut answers: Vec<Option<Result<Value, Error>>> = calls.iter().map(|_| None).collect();
        let mut pending: Vec<Route> = Vec::with_capacity(calls.len());
        for (i, call) in calls.iter().enumerate() {
            let slot = hash_slot(&call.key);
            match topology.owner(slot) {
                Some(node) => pending.push(Route {
                    call: i,
                    node: Arc::clone(node),
                    asking: false,
                }),
                None => {
                    shared.refresh_soon();
                    answers[i] = Some(Err(Error::Unavailable {
                        store: STORE,
                        source: format!("no master of the cluster serves slot {slot}").into(),
                    }));
                }
            }
        }
        for _ in 0..=MAX_REDIRECTIONS {
            if pending.is_empty() {
                break;
            }
            let groups = Group::by_node(std::mem::take(&mut pending));
            // The nodes' pipelines at the same time.
            let results = match groups.as_slice() {
                [group] => vec![group.send(operation, calls).await],
                _ => {
                    let sends = groups.iter().map(|group| group.send(operation, calls));
                    futures::future::join_all(sends).await
                }
            };
            for (group, result) in groups.into_iter().zip(results) {
                let from = &group.node.address;
                let replies = match result {
                    Ok(replies) => replies,
                    Err(e) => {
                        if e.is_retryable() {
                            // The node may be gone for good: a replica may serve its slots soon.
                            shared.refresh_soon();
                        }
                        let failures = spread(at_node(e, from), group.routes.len());
                        for (route, failure) in group.routes.iter().zip(failures) {
                            answers[route.call] = Some(failure);
                        }
                        continue;
                    }
                };
                for (route, reply) in group.routes.iter().zip(replies) {
                    // A redirected call did not run: it is sent again, where the node says.
                    let (target, asking) = match redirection(&reply, from) {
                        Some(Redirection::Moved(slot, address)) => {
                            shared.refresh_soon();
                            (shared.redirected(&address, Some(slot)), false)
                        }
                        Some(Redirection::Ask(_, address)) => {
                            (shared.redirected(&address, None), true)
                        }
                        None => {
                            if calls_for_refresh(&reply) {
                                shared.refresh_soon();
                            }
                            answers[route.call] = Some(Ok(reply));
                            continue;
                        }
                    };
                    match target {
                        Ok(node) => pending.push(Route {
                            call: route.call,
                            node,
                            asking,
                        }),
                        Err(e) => answers[route.call] = Some(Err(e)),
                    }
                }
            }
        }
        for route in pending {
            answers[route.call] = Some(Err(Error::Unavailable {
                store: STORE,
                source: format!(
                    "still redirected after {MAX_REDIRECTIONS} redirections (last to {})",
                    route.node.address
                )
                .into(),
            }));
        }
        answers
            .into_iter()
            .map(|answer| answer.unwrap_or_else(|| Err(error::unexpected(operation, &Value::Nil))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &[u8]) -> Value {
        redis::parse_redis_value(line).expect("a reply")
    }

    #[test]
    fn redirections_are_parsed() {
        let from = Address {
            host: "10.0.0.1".to_owned(),
            port: 7000,
        };
        let at = |host: &str, port| Address {
            host: host.to_owned(),
            port,
        };
        assert_eq!(
            redirection(&reply(b"-MOVED 3999 127.0.0.1:6381\r\n"), &from),
            Some(Redirection::Moved(3999, at("127.0.0.1", 6381)))
        );
        assert_eq!(
            redirection(&reply(b"-ASK 3999 127.0.0.1:6381\r\n"), &from),
            Some(Redirection::Ask(3999, at("127.0.0.1", 6381)))
        );
        // A node that does not know its own address leaves the host empty.
        assert_eq!(
            redirection(&reply(b"-MOVED 1 :6381\r\n"), &from),
            Some(Redirection::Moved(1, at("10.0.0.1", 6381)))
        );
        assert_eq!(
            redirection(&reply(b"-MOVED 1 ::1:6381\r\n"), &from),
            Some(Redirection::Moved(1, at("::1", 6381)))
        );
        assert_eq!(redirection(&reply(b"-ERR MOVED 1 a:1\r\n"), &from), None);
        assert_eq!(redirection(&reply(b"-MOVED 16384 a:1\r\n"), &from), None);
        assert_eq!(redirection(&reply(b"+OK\r\n"), &from), None);
    }

    #[test]
    fn slot_maps_are_parsed() {
        let queried = Address {
            host: "127.0.0.1".to_owned(),
            port: 7000,
        };
        let reply = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(8191),
                Value::Array(vec![
                    Value::BulkString(b"127.0.0.1".to_vec()),
                    Value::Int(7000),
                    Value::BulkString(b"id0".to_vec()),
                ]),
            ]),
            Value::Array(vec![
                Value::Int(8192),
                Value::Int(16383),
                Value::Array(vec![
                    Value::BulkString(Vec::new()),
                    Value::Int(7001),
                    Value::BulkString(b"id1".to_vec()),
                ]),
                // A replica: not a master.
                Value::Array(vec![
                    Value::BulkString(b"127.0.0.1".to_vec()),
                    Value::Int(7002),
                ]),
            ]),
        ]);
        let (slots, masters) = slot_map(reply, &queried).unwrap();
        assert_eq!(masters.len(), 2);
        assert_eq!(masters[1].to_string(), "127.0.0.1:7001");
        assert_eq!(
            (slots[0], slots[8191], slots[8192], slots[16383]),
            (0, 0, 1, 1)
        );
        assert!(slot_map(Value::Array(Vec::new()), &queried).is_err());
    }
}
