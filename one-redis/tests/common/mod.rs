//! What the Redis tests share: an admin connection, `INFO commandstats`, time bounds.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use one_redis::redis::{self, aio::MultiplexedConnection};

/// The bound on "fails promptly": generous, so that it holds on a loaded 2-core machine, and
/// far below "hangs".
pub(crate) const PROMPTLY: Duration = Duration::from_secs(5);

/// A plain connection for administering the test server (not through the store).
pub(crate) async fn admin(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .expect("the test server's URL")
        .get_multiplexed_async_connection()
        .await
        .expect("an admin connection to the test server")
}

/// Runs one admin command and decodes its reply.
pub(crate) async fn run<T: redis::FromRedisValue>(
    conn: &mut MultiplexedConnection,
    args: &[&str],
) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(conn)
        .await
        .unwrap_or_else(|e| panic!("admin command {args:?} failed: {e}"))
}

/// `INFO commandstats` as `command -> calls`, e.g. `"set" -> 10`, `"client|setinfo" -> 2`.
pub(crate) async fn command_calls(conn: &mut MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = run(conn, &["INFO", "commandstats"]).await;
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|field| field.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

/// Awaits `f`, failing the test if it takes longer than [`PROMPTLY`] (a hang), and returns its
/// output with the time it took.
pub(crate) async fn promptly<T>(what: &str, f: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(PROMPTLY, f).await {
        Ok(out) => (out, started.elapsed()),
        Err(_) => panic!("{what}: no answer within {PROMPTLY:?}: it hangs instead of failing"),
    }
}
