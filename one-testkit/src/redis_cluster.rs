//! A real Redis Cluster for tests (the `redis-fixture` feature): [`RedisCluster`].
//!
//! Where the cluster comes from, in order:
//!
//! 1. `ONE_REDIS_CLUSTER_URLS`, if set: an existing cluster, given as comma-separated seed node
//!    URLs ([`RedisCluster::shared`] only; tests must not stop, reshard or flush it).
//! 2. Three `redis-server` processes from `PATH`, each a [cluster
//!    node](crate::redis_server::RedisServerBuilder::cluster_node) on free loopback ports in a
//!    temporary directory of its own, formed into a cluster of three masters without replicas
//!    (`CLUSTER SET-CONFIG-EPOCH`, `CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET`, and `CLUSTER
//!    REPLICATE` for [replicas](RedisClusterBuilder::replicas): no `redis-cli` needed), and used
//!    once every node reports `cluster_state:ok` and knows every other node and every slot, and
//!    every replica is in sync. Each process is stopped when the [`RedisCluster`] is dropped, and, for the
//!    shared cluster (a `static`, never dropped), when the test process ends however it ends
//!    (see [`redis_server`](crate::redis_server)).
//! 3. Otherwise the test is skipped with a loud notice on stderr, or fails when `CI` or
//!    `ONE_REQUIRE_REDIS` is set.
//!
//! The spawned nodes run with `cluster-require-full-coverage no`, so that while one master is
//! down the others keep serving their slots (the default, `yes`, makes every node refuse every
//! key once the cluster marks a master as failed), and with `cluster-node-timeout 3000`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::redis_server::{REQUIRE_VAR, RedisServer, RedisServerBuilder, redis_required};

/// The environment variable naming an existing cluster: comma-separated seed node URLs.
pub const CLUSTER_URLS_VAR: &str = "ONE_REDIS_CLUSTER_URLS";

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16384;

/// How long a spawned cluster may take to agree that it is healthy.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Reports that a test cannot run for want of a Redis Cluster: a loud notice, or a panic when
/// Redis is [required](redis_required).
///
/// # Panics
///
/// When `CI` or `ONE_REQUIRE_REDIS` is set.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    if redis_required() {
        panic!(
            "{test}: needs a Redis Cluster, and {REQUIRE_VAR} or CI is set, so it fails instead \
             of skipping: {why}"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n=== SKIPPED {test}: needs a Redis Cluster: {why}.\n=== Install redis-server (Debian: \
         apt-get install redis-server) or set {CLUSTER_URLS_VAR}=redis://host:port,redis://\
         host:port; set {REQUIRE_VAR}=1 to make this a failure.\n"
    );
}

/// A Redis Cluster for tests: an existing one (`ONE_REDIS_CLUSTER_URLS`) or masters spawned
/// from `PATH`.
#[derive(Debug)]
pub struct RedisCluster {
    urls: Vec<String>,
    nodes: Vec<RedisServer>,
    masters: usize,
}

/// Configures a spawned [`RedisCluster`]: from [`RedisCluster::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisClusterBuilder {
    masters: usize,
    replicas: usize,
    args: Vec<String>,
}

impl Default for RedisClusterBuilder {
    fn default() -> Self {
        RedisClusterBuilder {
            masters: 3,
            replicas: 0,
            args: Vec::new(),
        }
    }
}

impl RedisClusterBuilder {
    /// The number of masters (default 3), each serving an equal share of the slots.
    pub fn masters(mut self, masters: usize) -> Self {
        self.masters = masters.max(1);
        self
    }

    /// The number of replicas of each master (default 0). With replicas the cluster fails over
    /// by itself: `cluster-node-timeout` (3 s) after a master stops, one of its replicas takes
    /// its slots.
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    /// Passes `args` to every `redis-server` as well, e.g. `["--maxmemory", "1mb"]`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Spawns the nodes, forms the cluster and waits until every node reports it healthy.
    ///
    /// # Errors
    ///
    /// When `redis-server` is not on `PATH` (`ErrorKind::NotFound`), a node does not start, or
    /// the cluster does not become healthy within 30 s.
    pub fn spawn(self) -> std::io::Result<RedisCluster> {
        self.spawn_with(false)
    }

    fn spawn_with(self, remove_dir_on_exit: bool) -> std::io::Result<RedisCluster> {
        let total = self.masters * (1 + self.replicas);
        let mut nodes = Vec::with_capacity(total);
        for _ in 0..total {
            let node = RedisServerBuilder::default()
                .cluster_node()
                .args([
                    "--cluster-node-timeout",
                    "3000",
                    "--cluster-require-full-coverage",
                    "no",
                ])
                .args(self.args.iter().cloned())
                .spawn_with(remove_dir_on_exit)?;
            nodes.push(node);
        }
        form(&nodes, self.masters)?;
        Ok(RedisCluster {
            urls: nodes.iter().map(|n| n.url().to_owned()).collect(),
            nodes,
            masters: self.masters,
        })
    }
}

impl RedisCluster {
    /// The cluster every test of this process shares: `ONE_REDIS_CLUSTER_URLS`, or three
    /// masters spawned on first use. `None` after a loud [skip] notice when neither is
    /// available.
    ///
    /// # Panics
    ///
    /// When no cluster is available and Redis is [required](redis_required).
    #[track_caller]
    pub fn shared(test: &str) -> Option<&'static RedisCluster> {
        static SHARED: OnceLock<Result<RedisCluster, String>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| match std::env::var(CLUSTER_URLS_VAR) {
            Ok(urls) if !urls.trim().is_empty() => Ok(RedisCluster {
                urls: urls
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect(),
                nodes: Vec::new(),
                masters: 0,
            }),
            _ => RedisClusterBuilder::default()
                .spawn_with(true)
                .map_err(|e| format!("cannot spawn a Redis Cluster: {e}")),
        });
        match shared {
            Ok(cluster) => Some(cluster),
            Err(why) => {
                skip(test, why);
                None
            }
        }
    }

    /// A cluster of the test's own, spawned from `PATH` with `builder`'s settings, for tests
    /// that stop nodes, move slots or fill them. `None` after a loud [skip] notice when it
    /// cannot be spawned.
    ///
    /// # Panics
    ///
    /// When it cannot be spawned and Redis is [required](redis_required).
    #[track_caller]
    pub fn private(test: &str, builder: RedisClusterBuilder) -> Option<RedisCluster> {
        match builder.spawn() {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                skip(test, &format!("cannot spawn a Redis Cluster: {e}"));
                None
            }
        }
    }

    /// Configures a cluster to spawn.
    pub fn builder() -> RedisClusterBuilder {
        RedisClusterBuilder::default()
    }

    /// The seed URLs: every node of a spawned cluster, or those of `ONE_REDIS_CLUSTER_URLS`.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// The nodes of a spawned cluster: first the masters, in slot order (master `i` serves the
    /// `i`th equal share of the slots), then the replicas, those of master 0 first; empty for
    /// an external one.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The nodes spawned as masters, in slot order (a failover may have made one a replica
    /// since).
    pub fn masters(&self) -> &[RedisServer] {
        &self.nodes[..self.masters]
    }

    /// The nodes spawned as replicas of master `i` (a failover may have made one a master
    /// since).
    pub fn replicas_of(&self, i: usize) -> &[RedisServer] {
        let per = (self.nodes.len() / self.masters.max(1)).saturating_sub(1);
        let first = (self.masters + i * per).min(self.nodes.len());
        &self.nodes[first..(first + per).min(self.nodes.len())]
    }

    /// Whether this is an existing cluster from `ONE_REDIS_CLUSTER_URLS` (which tests must not
    /// stop or reconfigure).
    pub fn is_external(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Waits until every spawned node reports the cluster healthy again (after a node was
    /// restarted, say).
    ///
    /// # Errors
    ///
    /// When it is not healthy within 30 s.
    pub fn wait_healthy(&self) -> std::io::Result<()> {
        wait_healthy(&self.nodes)
    }
}

/// Forms a cluster of fresh nodes, as `redis-cli --cluster create` does: each node takes a
/// distinct config epoch, the first `masters` their shares of the slots; the first node meets
/// all the others; once every node knows every other, the rest become replicas, in turn, of
/// master 0, 1, ...
fn form(nodes: &[RedisServer], masters: usize) -> std::io::Result<()> {
    for (i, node) in nodes.iter().enumerate() {
        let epoch = (i + 1).to_string();
        expect_ok(node, &["CLUSTER", "SET-CONFIG-EPOCH", &epoch])?;
        if i < masters {
            let first = usize::from(SLOTS) * i / masters;
            let last = usize::from(SLOTS) * (i + 1) / masters - 1;
            expect_ok(
                node,
                &[
                    "CLUSTER",
                    "ADDSLOTSRANGE",
                    &first.to_string(),
                    &last.to_string(),
                ],
            )?;
        }
    }
    for node in &nodes[1..] {
        let port = node.port().to_string();
        let bus = node.cluster_port().unwrap_or(0).to_string();
        expect_ok(&nodes[0], &["CLUSTER", "MEET", "127.0.0.1", &port, &bus])?;
    }
    if nodes.len() > masters {
        let known = format!("cluster_known_nodes:{}", nodes.len());
        wait_for(nodes, "every node knows every other", |node| {
            info(node, &["CLUSTER", "INFO"], &[&known])
        })?;
        let replicas = (nodes.len() - masters) / masters;
        for (j, replica) in nodes[masters..].iter().enumerate() {
            let master = &nodes[j / replicas];
            let id = match command(master.port(), &["CLUSTER", "MYID"])? {
                Reply::Bulk(id) => id,
                other => {
                    return Err(std::io::Error::other(format!(
                        "CLUSTER MYID on node {}: {other:?}",
                        master.port()
                    )));
                }
            };
            expect_ok(replica, &["CLUSTER", "REPLICATE", &id])?;
        }
    }
    wait_healthy(nodes)
}

/// Waits until every node reports `cluster_state:ok`, knows every node and sees every slot
/// served, and every replica is in sync with its master.
fn wait_healthy(nodes: &[RedisServer]) -> std::io::Result<()> {
    let wanted = [
        "cluster_state:ok".to_owned(),
        format!("cluster_known_nodes:{}", nodes.len()),
        format!("cluster_slots_ok:{SLOTS}"),
    ];
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    wait_for(nodes, "the cluster is healthy", |node| {
        info(node, &["CLUSTER", "INFO"], &wanted)?;
        let replication = info(node, &["INFO", "replication"], &[])?;
        if replication.contains("role:slave") && !replication.contains("master_link_status:up") {
            return Err(format!("a replica out of sync: {replication}"));
        }
        Ok(String::new())
    })
}

/// Waits until `ready` holds for every node.
fn wait_for(
    nodes: &[RedisServer],
    what: &str,
    ready: impl Fn(&RedisServer) -> Result<String, String>,
) -> std::io::Result<()> {
    let started = Instant::now();
    loop {
        let mut last = String::new();
        let all = nodes.iter().all(|node| match ready(node) {
            Ok(_) => true,
            Err(why) => {
                last = format!("node {}: {why}", node.port());
                false
            }
        });
        if all {
            return Ok(());
        }
        if started.elapsed() > FORM_TIMEOUT {
            return Err(std::io::Error::other(format!(
                "not within {FORM_TIMEOUT:?}: {what}: {last}"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The text `args` answer on `node`, if it has every line of `wanted`.
fn info(node: &RedisServer, args: &[&str], wanted: &[&str]) -> Result<String, String> {
    match command(node.port(), args) {
        Ok(Reply::Bulk(text)) => {
            let text = text.replace("\r\n", "\n");
            if wanted.iter().all(|w| text.lines().any(|l| l.trim() == *w)) {
                Ok(text)
            } else {
                Err(text.replace('\n', " "))
            }
        }
        other => Err(format!("{args:?}: {other:?}")),
    }
}

fn expect_ok(node: &RedisServer, args: &[&str]) -> std::io::Result<()> {
    match command(node.port(), args)? {
        Reply::Simple(s) if s == "OK" => Ok(()),
        other => Err(std::io::Error::other(format!(
            "{args:?} on node {}: {other:?}",
            node.port()
        ))),
    }
}

/// A reply of the tiny RESP2 client below.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "some replies are only shown, through Debug, in error messages"
)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(String),
    Nil,
    Array(Vec<Reply>),
}

/// Sends one command to the node on `port` over a fresh connection and reads its reply.
fn command(port: u16, args: &[&str]) -> std::io::Result<Reply> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes())?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || std::io::Error::other(format!("unexpected reply line {line:?}"));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    let number = || rest.parse::<i64>().map_err(|_| bad());
    Ok(match kind {
        "+" => Reply::Simple(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Int(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Reply::Nil,
            Ok(len) => {
                let mut bytes = vec![0; len + 2];
                reader.read_exact(&mut bytes)?;
                bytes.truncate(len);
                Reply::Bulk(String::from_utf8_lossy(&bytes).into_owned())
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => Reply::Nil,
            Ok(len) => Reply::Array(
                (0..len)
                    .map(|_| read_reply(reader))
                    .collect::<std::io::Result<_>>()?,
            ),
        },
        _ => return Err(bad()),
    })
}
