//! A real Redis for tests (the `redis-fixture` feature): [`RedisServer`].
//!
//! Where the server comes from, in order:
//!
//! 1. `ONE_REDIS_URL`, if set: an existing server ([`RedisServer::shared`] only; tests must not
//!    reconfigure, restart or flush it, and every check works in its own key space).
//! 2. `redis-server` from `PATH`, spawned on a free loopback port in a temporary directory,
//!    without persistence, and killed when the [`RedisServer`] is dropped (the shared one, a
//!    `static`, when the test process exits, however it exits).
//! 3. With the `testcontainers` feature (off by default), for [`RedisServer::shared`] only: a
//!    `redis:7.0` container started through testcontainers, when a Docker daemon answers. It is
//!    removed when the test process ends (by `docker rm -f`, when the `docker` command is there).
//! 4. Otherwise the test is skipped with a loud notice on stderr, or fails when `CI` or
//!    `ONE_REQUIRE_REDIS` is set, so a CI run can never pass by skipping.
//!
//! A spawned server runs under a small `sh` wrapper that holds a pipe from the test process:
//! when the process ends, even by `SIGKILL`, the pipe closes and the wrapper stops
//! `redis-server`, so no server outlives its tests.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable naming an existing server for the shared fixture.
pub const URL_VAR: &str = "ONE_REDIS_URL";
/// The environment variable that turns a skip for want of Redis into a failure (as `CI` does).
pub const REQUIRE_VAR: &str = "ONE_REQUIRE_REDIS";

/// How long a spawned server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Stops `redis-server` when the test process (the other end of stdin) goes away or the
/// fixture closes the pipe. `$1` is "rm" to delete the directory `$2` afterwards.
const WRAPPER: &str = r#"
cleanup="$1"; dir="$2"; shift 2
redis-server "$@" &
pid=$!
cat >/dev/null
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [ "$cleanup" = rm ]; then rm -rf "$dir"; fi
"#;

/// Whether a missing Redis must fail the test rather than skip it: `CI` or
/// `ONE_REQUIRE_REDIS` is set (to anything but empty, `0` or `false`).
pub fn redis_required() -> bool {
    [REQUIRE_VAR, "CI"].iter().any(|var| {
        std::env::var(var)
            .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
    })
}

/// Reports that a test cannot run for want of Redis: a loud notice, or a panic when Redis is
/// [required](redis_required).
///
/// # Panics
///
/// When `CI` or `ONE_REQUIRE_REDIS` is set.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    if redis_required() {
        panic!(
            "{test}: needs Redis, and {REQUIRE_VAR} or CI is set, so it fails instead of \
             skipping: {why}"
        );
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of passing
    // tests, and a skip must be seen. The whole notice once per test binary, then a line per
    // distinct skip: a suite of a hundred tests sharing one fixture should not bury its
    // summary under a hundred notices.
    static SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.iter().any(|(t, w)| t == test && w == why) {
            return;
        }
        let first = seen.is_empty();
        seen.push((test.to_owned(), why.to_owned()));
        if !first {
            let _ = writeln!(std::io::stderr(), "=== SKIPPED {test}: needs Redis: {why}.");
            return;
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n=== SKIPPED {test}: needs Redis: {why}.\n=== Install redis-server (Debian: apt-get \
         install redis-server), set {URL_VAR}=redis://host:port, or run a Docker daemon and enable \
         one-testkit's `testcontainers` feature; set {REQUIRE_VAR}=1 to make this a failure.\n"
    );
}

/// A Redis server for tests: an existing one (`ONE_REDIS_URL`) or one spawned from `PATH`.
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    port: u16,
    cluster_port: Option<u16>,
    dir: Option<PathBuf>,
    args: Vec<String>,
    wrapper: Mutex<Option<Child>>,
    remove_dir_on_exit: bool,
    #[cfg(feature = "testcontainers")]
    container: Option<crate::redis_container::RedisContainer>,
}

/// Configures a spawned [`RedisServer`]: from [`RedisServer::builder`].
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct RedisServerBuilder {
    args: Vec<String>,
    tls: Option<TlsFiles>,
    userinfo: Option<String>,
    cluster_node: bool,
}

/// The files of a TLS server: its certificate and key, and the CA that signed them.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// The certificate of the CA that signed it (PEM).
    pub ca: PathBuf,
}

impl RedisServerBuilder {
    /// Passes `args` to `redis-server` as well, e.g. `["--requirepass", "secret"]`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Requires `password` of clients (`--requirepass`) and puts it in the URL.
    pub fn password(self, password: &str) -> Self {
        let mut this = self.args(["--requirepass", password]);
        this.userinfo = Some(format!(":{password}@"));
        this
    }

    /// Serves TLS only, with these files (`--tls-port`, no plain port); the URL is
    /// `rediss://127.0.0.1:port`, so the certificate must be valid for IP 127.0.0.1.
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Puts `user:password@` (ACL credentials) in the URL; create the user with
    /// [`args`](Self::args), e.g. `["--user", "app on >pw ~* +@all"]`.
    pub fn url_credentials(mut self, user: &str, password: &str) -> Self {
        self.userinfo = Some(format!("{user}:{password}@"));
        self
    }

    /// Runs the server as a Redis Cluster node: `cluster-enabled yes`, its own
    /// `nodes.conf` in its directory (kept across [`stop`](RedisServer::stop) and
    /// [`start`](RedisServer::start), so a restarted node rejoins with its slots), and its
    /// cluster bus on a second free loopback port ([`RedisServer::cluster_port`]). The node
    /// serves no slot until a cluster is formed; see
    /// [`RedisCluster`](crate::redis_cluster::RedisCluster).
    pub fn cluster_node(mut self) -> Self {
        self.cluster_node = true;
        self
    }

    /// Spawns the server and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// When `redis-server` is not on `PATH` (`ErrorKind::NotFound`), or does not start.
    pub fn spawn(self) -> std::io::Result<RedisServer> {
        self.spawn_with(false)
    }

    /// Spawns the server; with `remove_dir_on_exit`, the wrapper deletes its directory when the
    /// test process ends (for servers in a `static`, which is never dropped).
    pub(crate) fn spawn_with(self, remove_dir_on_exit: bool) -> std::io::Result<RedisServer> {
        which_redis_server()?;
        let mut last_error = None;
        // A free port can be taken between finding it and the server binding it: try again.
        for _ in 0..3 {
            let (port, cluster_port) = if self.cluster_node {
                let [port, bus] = free_ports()?;
                (port, Some(bus))
            } else {
                (free_port()?, None)
            };
            let dir = temp_dir(port)?;
            let mut args = vec![
                "--bind".to_owned(),
                "127.0.0.1".to_owned(),
                "--dir".to_owned(),
                dir.display().to_string(),
                "--save".to_owned(),
                String::new(),
                "--appendonly".to_owned(),
                "no".to_owned(),
                "--daemonize".to_owned(),
                "no".to_owned(),
                "--logfile".to_owned(),
                dir.join("redis.log").display().to_string(),
            ];
            let scheme = match &self.tls {
                None => {
                    args.extend(["--port".to_owned(), port.to_string()]);
                    "redis"
                }
                Some(tls) => {
                    args.extend(["--port".to_owned(), "0".to_owned()]);
                    args.extend(["--tls-port".to_owned(), port.to_string()]);
                    for (flag, path) in [
                        ("--tls-cert-file", &tls.cert),
                        ("--tls-key-file", &tls.key),
                        ("--tls-ca-cert-file", &tls.ca),
                    ] {
                        args.extend([flag.to_owned(), path.display().to_string()]);
                    }
                    args.extend(["--tls-auth-clients".to_owned(), "no".to_owned()]);
                    "rediss"
                }
            };
            if let Some(bus) = cluster_port {
                args.extend(
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-port",
                    ]
                    .map(str::to_owned),
                );
                args.push(bus.to_string());
            }
            args.extend(self.args.iter().cloned());
            let userinfo = self.userinfo.as_deref().unwrap_or("");
            let server = RedisServer {
                url: format!("{scheme}://{userinfo}127.0.0.1:{port}"),
                port,
                cluster_port,
                dir: Some(dir),
                args,
                wrapper: Mutex::new(None),
                remove_dir_on_exit,
                #[cfg(feature = "testcontainers")]
                container: None,
            };
            match server.start() {
                Ok(()) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("redis-server did not start")))
    }
}

impl RedisServer {
    /// The server every test of this process shares: `ONE_REDIS_URL`, or one spawned on first
    /// use (or, with the `testcontainers` feature, a container). `None` after a loud [skip]
    /// notice when none is available.
    ///
    /// # Panics
    ///
    /// When no server is available and Redis is [required](redis_required).
    #[track_caller]
    pub fn shared(test: &str) -> Option<&'static RedisServer> {
        static SHARED: OnceLock<Result<RedisServer, String>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Ok(RedisServer::external(url)),
            _ => {
                let spawned = RedisServerBuilder::default()
                    .spawn_with(true)
                    .map_err(|e| format!("cannot spawn redis-server: {e}"));
                #[cfg(feature = "testcontainers")]
                let spawned = spawned.or_else(RedisServer::in_container);
                spawned
            }
        });
        match shared {
            Ok(server) => Some(server),
            Err(why) => {
                skip(test, why);
                None
            }
        }
    }

    /// A server of the test's own, spawned from `PATH` with `builder`'s settings, for tests
    /// that reconfigure, restart or fill it. `None` after a loud [skip] notice when
    /// `redis-server` cannot be spawned.
    ///
    /// # Panics
    ///
    /// When it cannot be spawned and Redis is [required](redis_required).
    #[track_caller]
    pub fn private(test: &str, builder: RedisServerBuilder) -> Option<RedisServer> {
        match builder.spawn() {
            Ok(server) => Some(server),
            Err(e) => {
                skip(test, &format!("cannot spawn redis-server: {e}"));
                None
            }
        }
    }

    /// Configures a server to spawn.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    fn external(url: String) -> Self {
        RedisServer {
            url,
            port: 0,
            cluster_port: None,
            dir: None,
            args: Vec::new(),
            wrapper: Mutex::new(None),
            remove_dir_on_exit: false,
            #[cfg(feature = "testcontainers")]
            container: None,
        }
    }

    /// The shared server in a `redis` container, when `redis-server` could not be spawned.
    #[cfg(feature = "testcontainers")]
    fn in_container(spawn_error: String) -> Result<Self, String> {
        let (url, port, container) =
            crate::redis_container::start().map_err(|why| format!("{spawn_error}; {why}"))?;
        let mut server = RedisServer::external(url);
        server.port = port;
        server.container = Some(container);
        Ok(server)
    }

    /// The server's URL, e.g. `redis://127.0.0.1:39017` (with credentials, if any).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port of a spawned server or a container (0 for `ONE_REDIS_URL`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster bus port of a spawned [cluster node](RedisServerBuilder::cluster_node).
    pub fn cluster_port(&self) -> Option<u16> {
        self.cluster_port
    }

    /// The working directory of a spawned server (its log is `redis.log` there).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Whether this is a server the fixture cannot stop or reconfigure: an existing one from
    /// `ONE_REDIS_URL`, or a container.
    pub fn is_external(&self) -> bool {
        self.dir.is_none()
    }

    /// Stops a spawned server (`SIGTERM`) and waits for it to exit. Its port and directory are
    /// kept for [`start`](Self::start).
    pub fn stop(&self) {
        let child = self
            .wrapper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut child) = child {
            // Closing the pipe makes the wrapper stop redis-server and exit.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// Starts a spawned server (again) on its port, and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// When it is external, or does not start within 15 s (its log is in [`dir`](Self::dir)).
    pub fn start(&self) -> std::io::Result<()> {
        let Some(dir) = &self.dir else {
            return Err(std::io::Error::other(
                "an external server cannot be started",
            ));
        };
        self.stop();
        let cleanup = if self.remove_dir_on_exit {
            "rm"
        } else {
            "keep"
        };
        let child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("sh")
            .arg(cleanup)
            .arg(dir)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        *self.wrapper.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
        let started = Instant::now();
        loop {
            if self.answers() {
                return Ok(());
            }
            let exited = {
                let mut guard = self.wrapper.lock().unwrap_or_else(|e| e.into_inner());
                guard
                    .as_mut()
                    .is_some_and(|c| c.try_wait().ok().flatten().is_some())
            };
            if exited || started.elapsed() > START_TIMEOUT {
                self.stop();
                let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(std::io::Error::other(format!(
                    "redis-server on port {} did not start: {}",
                    self.port,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server accepts a connection (and, without TLS, answers `PING`).
    fn answers(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            // Also the case while redis-server is still reading its config and binding
            // (the wrapper's `cat` holds no port).
            return false;
        };
        if self.url.starts_with("rediss://") {
            return true;
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut line = String::new();
        // `+PONG`, or `-NOAUTH` from a server with a password: either way it is serving.
        BufReader::new(stream).read_line(&mut line).is_ok()
            && (line.starts_with('+') || line.starts_with('-'))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn which_redis_server() -> std::io::Result<()> {
    match Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(std::io::Error::other(format!(
            "redis-server --version exited with {status}"
        ))),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("redis-server is not on PATH ({e})"),
        )),
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Two distinct free loopback ports (both held until both are chosen).
fn free_ports() -> std::io::Result<[u16; 2]> {
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok([a.local_addr()?.port(), b.local_addr()?.port()])
}

fn temp_dir(port: u16) -> std::io::Result<PathBuf> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "one-testkit-redis-{}-{port}-{}-{nanos}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
