//! `wss://` on tokio-rustls (feature `rustls`).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wsmachine::handshake::client::ClientConfig;

use crate::error::Error;
use crate::transport::MaybeTlsStream;

/// The TLS configuration `connect` uses: the Mozilla roots of webpki-roots,
/// on the ring provider, made once.
pub(crate) fn default_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            build(roots).map(Arc::new)
        })
        .clone()
        .map_err(Error::Tls)
}

/// A rustls client configuration that trusts `roots`, on the ring
/// provider, for a caller's own certificate authority.
///
/// # Errors
/// [`Error::Tls`] when the provider cannot offer rustls' safe default
/// protocol versions. No configuration with fewer roots is made instead.
pub fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, Error> {
    build(roots).map_err(Error::Tls)
}

fn build(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Runs TLS over `stream` for `config`'s host: inside a CONNECT tunnel when
/// `config` has a proxy (which it then no longer has, since the core's
/// client must not tunnel again), so the proxy sees only the CONNECT.
pub(crate) async fn secure(
    stream: TcpStream,
    config: &mut ClientConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let stream = match config.proxy.take() {
        Some(proxy) => crate::proxy::tunnel(stream, &proxy, config).await?,
        None => stream,
    };
    wrap(stream, config.host(), tls).await
}

/// Runs TLS over `stream` for `host`.
pub(crate) async fn wrap(
    stream: TcpStream,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned()).map_err(|error| {
        Error::Tls(rustls::Error::General(format!(
            "{host:?} is not a server name: {error}"
        )))
    })?;
    let stream = TlsConnector::from(tls)
        .connect(name, stream)
        .await
        .map_err(tls_error)?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

/// A TLS handshake's failure: rustls' own error where it is one (tokio-rustls
/// carries it inside an `io::Error`), the transport's otherwise.
fn tls_error(error: std::io::Error) -> Error {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => Error::Tls(tls.clone()),
        None => Error::Io(error),
    }
}
