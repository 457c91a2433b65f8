//! `wss://` on tokio-rustls (feature `rustls`).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use wsmachine::handshake::Accepted;
use wsmachine::handshake::client::ClientConfig;

use crate::error::Error;
use crate::socket::WebSocket;
use crate::transport::MaybeTlsStream;

/// The TLS configuration `connect` uses: the Mozilla roots of webpki-roots,
/// on the ring provider, made once.
pub(crate) fn default_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(client_config(roots))
    }))
}

/// A rustls client configuration that trusts `roots`, on the ring
/// provider, for a caller's own certificate authority.
///
/// # Panics
/// Never: the ring provider supports rustls' default protocol versions.
pub fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The ring provider offers TLS 1.2 and 1.3; kept as a fallback
        // without a panic.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    }
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
    let name = ServerName::try_from(host.to_owned())
        .map_err(|error| Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, error)))?;
    let stream = TlsConnector::from(tls).connect(name, stream).await?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

/// [`connect_config`](crate::connect_config) with a TLS configuration of
/// the caller's (its own roots, client certificates). A `ws://` URL ignores
/// it.
///
/// # Errors
/// As [`connect`](crate::connect).
pub async fn connect_tls(
    mut config: ClientConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    let dialled = async {
        let stream = crate::client::dial(&config).await?;
        if config.is_secure() {
            secure(stream, &mut config, tls).await
        } else {
            Ok(MaybeTlsStream::Plain(stream))
        }
    }
    .await;
    match dialled {
        Ok(stream) => crate::connect_with(stream, config).await,
        Err(error) => {
            crate::trace::failure(&error);
            Err(error)
        }
    }
}
