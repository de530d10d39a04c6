//! TLS through rustls (the `tls` feature).

/// Makes rustls's `ring` provider the process default, unless one is installed already.
///
/// redis builds its rustls configuration with the process-default crypto provider; when more
/// than one provider is compiled in (another crate enabled `aws-lc-rs`), rustls cannot pick one
/// by itself and would panic. Installing fails harmlessly when the application chose one.
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A client for `info`: trusting `certificates` when given, else the system's roots for
/// `rediss://` addresses.
pub(crate) fn client(
    info: redis::ConnectionInfo,
    certificates: Option<redis::TlsCertificates>,
) -> redis::RedisResult<redis::Client> {
    match certificates {
        Some(certificates) => {
            install_crypto_provider();
            redis::Client::build_with_tls(info, certificates)
        }
        None => {
            if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
                install_crypto_provider();
            }
            redis::Client::open(info)
        }
    }
}
