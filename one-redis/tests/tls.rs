//! `rediss://` against a `redis-server` that serves TLS only, with a certificate made for the
//! test by the `openssl` command (a throwaway CA and a server certificate for IP 127.0.0.1).
#![cfg(feature = "tls")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::promptly;
use one_core::{Claim, Error, Store};
use one_redis::RedisStore;
use one_redis::redis::TlsCertificates;
use one_testkit::fresh_space;
use one_testkit::redis_server::{RedisServer, TlsFiles, skip};

/// Makes a CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certificates(dir: &Path) -> Result<TlsFiles, String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=one-redis test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    )?;
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    )?;
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n\
         extendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| e.to_string())?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ])?;
    Ok(TlsFiles {
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
        ca: dir.join("ca.crt"),
    })
}

/// The store speaks TLS to a TLS-only server that it trusts through the test CA: `add`, the
/// lease tier and a duplicate answer as on plain TCP. Without the CA the handshake fails: an
/// `Err`, never an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_generated_certificate() {
    const TEST: &str = "rediss_with_a_generated_certificate";
    let dir = std::env::temp_dir().join(format!("one-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = match make_certificates(&dir) {
        Ok(files) => files,
        Err(why) => {
            skip(TEST, &format!("cannot make a test certificate: {why}"));
            return;
        }
    };
    let ca = std::fs::read(&files.ca).unwrap();
    let Some(server) = RedisServer::private(TEST, RedisServer::builder().tls(files)) else {
        return;
    };
    assert!(
        server.url().starts_with("rediss://127.0.0.1:"),
        "{}",
        server.url()
    );

    let store = RedisStore::builder(server.url())
        .tls(TlsCertificates {
            client_tls: None,
            root_cert: Some(ca),
        })
        .default_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let space = fresh_space("tls");
    let (k, job) = (space.key("k").unwrap(), space.key("job").unwrap());
    assert_eq!(store.add(&k).await.unwrap(), true);
    assert_eq!(store.add(&k).await.unwrap(), false);
    assert_eq!(store.has_key(&k).await.unwrap(), true);
    let Claim::Acquired(lease) = store
        .claim(&job, Duration::from_secs(30), None)
        .await
        .unwrap()
    else {
        panic!("a fresh key is free");
    };
    store
        .complete(&lease, Duration::from_secs(60), Some(b"over tls"))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim(&job, Duration::from_secs(30), None)
            .await
            .unwrap(),
        Claim::Completed {
            result: Some(b"over tls".to_vec())
        }
    );

    // Not trusting the server's CA: the handshake fails, so does the operation.
    let untrusting = RedisStore::builder(server.url()).build().unwrap();
    let (answer, _) = promptly("add without trusting the CA", untrusting.add(&k)).await;
    match answer {
        Err(e @ (Error::Unavailable { .. } | Error::Backend { .. })) => {
            eprintln!("rediss:// without the CA: Err({e})");
        }
        other => panic!("expected an Err for an untrusted certificate, got {other:?}"),
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
