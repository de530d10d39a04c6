//! The shared server's last resort (the `testcontainers` feature): a `redis` container, started
//! through testcontainers when `redis-server` is not on `PATH` and a Docker daemon answers.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

/// The image the container runs: the Redis line Debian's `redis-server` package ships.
pub(crate) const IMAGE: (&str, &str) = ("redis", "7.0");

/// How long the image may take to pull and start.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Removes the container when the test process ends (`docker rm -f`), even though the shared
/// server lives in a `static` that is never dropped. Waits on a pipe from the test process,
/// like the `redis-server` wrapper.
const REAPER: &str = r#"cat >/dev/null; docker rm -f "$1" >/dev/null 2>&1"#;

/// A running `redis` container and what removes it.
#[derive(Debug)]
pub(crate) struct RedisContainer {
    // Dropping it removes the container (testcontainers' own `Drop`).
    _container: Container<GenericImage>,
    // Holds the reaper's stdin: closing it (at exit) removes the container.
    _reaper: Option<Child>,
}

/// Starts a `redis` container and returns its URL and host port.
///
/// # Errors
///
/// When no Docker daemon answers, the image cannot be had, or the server does not say it is
/// ready within two minutes: testcontainers' error, as text.
pub(crate) fn start() -> Result<(String, u16, RedisContainer), String> {
    // testcontainers' synchronous runner blocks on a runtime of its own, which panics inside
    // another runtime's context: a test's `#[tokio::test]`, say. A fresh thread has none.
    let started = std::thread::spawn(|| {
        GenericImage::new(IMAGE.0, IMAGE.1)
            .with_exposed_port(6379.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Ready to accept connections"))
            .with_cmd(["redis-server", "--save", "", "--appendonly", "no"])
            .with_startup_timeout(START_TIMEOUT)
            .start()
    })
    .join()
    .map_err(|_| "testcontainers panicked while starting a redis container".to_owned())?;
    let container = started.map_err(|e| {
        format!("no redis container either (testcontainers: {e}; is a Docker daemon running?)")
    })?;
    let host = container
        .get_host()
        .map_err(|e| format!("the redis container has no host address: {e}"))?;
    let port = container
        .get_host_port_ipv4(6379.tcp())
        .map_err(|e| format!("the redis container's port 6379 is not published: {e}"))?;
    let reaper = reaper(container.id());
    Ok((
        format!("redis://{host}:{port}"),
        port,
        RedisContainer {
            _container: container,
            _reaper: reaper,
        },
    ))
}

/// Spawns the process that removes container `id` when the test process ends, if the `docker`
/// command is there to do it. Without it the container outlives the test process (a `static`
/// is never dropped): the notice says how to remove it.
fn reaper(id: &str) -> Option<Child> {
    let docker = Command::new("docker")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let reaper = docker
        .then(|| {
            Command::new("sh")
                .args(["-c", REAPER, "sh", id])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()
        })
        .flatten();
    if reaper.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "\n=== one-testkit: started redis container {id} for the shared Redis, and cannot \
             run `docker rm -f` when the tests end: remove it with your container tool.\n"
        );
    }
    reaper
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;

    /// With a Docker daemon the container serves Redis; without one (this project's CI) the
    /// failure says what was tried, promptly, instead of hanging or panicking.
    #[test]
    fn starts_a_serving_container_or_says_why_not() {
        match super::start() {
            Ok((url, port, container)) => {
                assert!(url.starts_with("redis://") && url.ends_with(&format!(":{port}")));
                let host = url.trim_start_matches("redis://");
                let mut stream = TcpStream::connect(host).expect("connect to the container");
                stream.write_all(b"PING\r\n").expect("send PING");
                let mut line = String::new();
                BufReader::new(stream).read_line(&mut line).expect("read");
                assert_eq!(line, "+PONG\r\n");
                drop(container);
            }
            Err(why) => {
                assert!(why.contains("testcontainers"), "{why}");
                assert!(why.contains("Docker daemon"), "{why}");
            }
        }
    }
}
