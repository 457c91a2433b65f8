//! The client side: [`connect`], [`connect_with_config`] and [`client`].

use std::future::poll_fn;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wsmachine::config::Config;
use wsmachine::entropy::OsEntropy;
use wsmachine::handshake::Accepted;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::{Client, Event};

use crate::conn::Conn;
use crate::error::{Error, Timeout};
use crate::proxy_env::EnvProxy;
use crate::server::ended;
use crate::socket::WebSocket;
use crate::transport::MaybeTlsStream;

/// What [`connect`] and [`client`] take: a `ws://` or `wss://` URL, or a
/// whole [`ClientConfig`] (subprotocols, headers, a proxy, settings).
pub trait IntoClientConfig {
    /// The client configuration.
    ///
    /// # Errors
    /// [`Error::Url`] for a URL that is not a WebSocket URL.
    fn into_client_config(self) -> Result<ClientConfig, Error>;
}

impl IntoClientConfig for ClientConfig {
    fn into_client_config(self) -> Result<ClientConfig, Error> {
        Ok(self)
    }
}

impl IntoClientConfig for &str {
    fn into_client_config(self) -> Result<ClientConfig, Error> {
        ClientConfig::new(self).map_err(Error::Url)
    }
}

impl IntoClientConfig for String {
    fn into_client_config(self) -> Result<ClientConfig, Error> {
        self.as_str().into_client_config()
    }
}

impl IntoClientConfig for &String {
    fn into_client_config(self) -> Result<ClientConfig, Error> {
        self.as_str().into_client_config()
    }
}

/// Connects to a `ws://` (or, with the `rustls` feature, `wss://`) URL and
/// runs the opening handshake. Takes a URL, or a [`ClientConfig`] for
/// subprotocols, headers, an HTTP or SOCKS5 proxy and the connection's
/// settings.
///
/// Without a proxy in the config, and unless
/// [`ClientConfig::proxy_from_env`] is off, the proxy comes from the
/// environment (`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`; see
/// [`proxy_env`](crate::proxy_env)).
///
/// Connecting (name resolution, TCP, a SOCKS5 tunnel, a `wss://` HTTP
/// proxy tunnel, TLS) has [`ClientConfig::connect_timeout`]; the handshake,
/// and a `ws://` HTTP proxy tunnel, which the core runs with it, have
/// [`Config::handshake_timeout`].
///
/// # Errors
/// [`Error::Url`] for a bad URL; [`Error::Timeout`] when connecting takes
/// too long; [`Error::ProxyRejected`] when the HTTP proxy refuses the
/// tunnel; [`Error::Socks5`] when the SOCKS5 proxy refuses or fails;
/// [`Error::ProxyEnv`] for a proxy variable that holds no usable proxy;
/// [`Error::Rejected`] when the server answers with another status
/// than 101 (with its headers and decoded body); [`Error::Handshake`] for a
/// 101 that breaks RFC 6455; [`Error::Tls`](crate::Error) when TLS fails;
/// [`Error::Io`] when the connection fails; [`Error::TlsNotEnabled`] for
/// `wss://` without the `rustls` feature.
pub async fn connect(
    request: impl IntoClientConfig,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    let config = match request.into_client_config() {
        Ok(config) => config,
        Err(error) => {
            crate::trace::failure(&error);
            return Err(error);
        }
    };
    #[cfg(feature = "rustls")]
    let tls = match crate::tls::default_config() {
        Ok(tls) => Some(tls),
        Err(error) => {
            crate::trace::failure(&error);
            return Err(error);
        }
    };
    #[cfg(not(feature = "rustls"))]
    let tls = None;
    connect_transport(config, tls).await
}

/// [`connect`] with the connection's settings (limits, timers,
/// permessage-deflate) replaced by `config`.
///
/// # Errors
/// As [`connect`].
pub async fn connect_with_config(
    request: impl IntoClientConfig,
    config: Config,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    match request.into_client_config() {
        Ok(client) => connect(client.with_config(config)).await,
        Err(error) => {
            crate::trace::failure(&error);
            Err(error)
        }
    }
}

#[cfg(feature = "rustls")]
/// [`connect`](crate::connect) with a TLS configuration of the caller's
/// (its own roots, client certificates). A `ws://` URL ignores it.
///
/// # Errors
/// As [`connect`](crate::connect).
pub async fn connect_tls(
    request: impl IntoClientConfig,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    match request.into_client_config() {
        Ok(config) => connect_transport(config, Some(tls)).await,
        Err(error) => {
            crate::trace::failure(&error);
            Err(error)
        }
    }
}

/// Opens the transport for `config` within its connect timeout, then runs
/// the handshake.
pub(crate) async fn connect_transport(
    #[cfg_attr(not(feature = "rustls"), allow(unused_mut))] mut config: ClientConfig,
    tls: Option<TlsConfig>,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    let timeout = config.connect_timeout;
    let opened = tokio::time::timeout(timeout, open(&mut config, tls)).await;
    let stream = match opened {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            crate::trace::failure(&error);
            return Err(error);
        }
        Err(_) => {
            let error = Error::Timeout(Timeout::Connect);
            crate::trace::failure(&error);
            return Err(error);
        }
    };
    client(stream, config).await
}

/// The TLS configuration `wss://` runs with.
#[cfg(feature = "rustls")]
pub(crate) type TlsConfig = std::sync::Arc<rustls::ClientConfig>;
/// Without the `rustls` feature there is none.
#[cfg(not(feature = "rustls"))]
pub(crate) type TlsConfig = std::convert::Infallible;

/// Picks a proxy from the environment when `config` has none and allows
/// it, dials `config`'s host (or its proxy), runs a SOCKS5 tunnel, and for
/// `wss://` an HTTP proxy's tunnel, if any, and TLS.
async fn open(
    config: &mut ClientConfig,
    #[cfg_attr(not(feature = "rustls"), allow(unused_variables))] tls: Option<TlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    if config.proxy.is_none() && config.socks5.is_none() && config.proxy_from_env {
        let vars = |name: &str| std::env::var(name).ok();
        match crate::proxy_env::proxy_from_env(
            vars,
            config.is_secure(),
            config.host(),
            config.port(),
        ) {
            Ok(Some(EnvProxy::Http(proxy))) => config.proxy = Some(proxy),
            Ok(Some(EnvProxy::Socks5(proxy))) => config.socks5 = Some(proxy),
            Ok(None) => {}
            Err(error) => return Err(Error::ProxyEnv(error)),
        }
    }
    let stream = dial(config).await?;
    // The core's client does not run a SOCKS5 tunnel: it is done here, and
    // the config goes on without it.
    let stream = match config.socks5.take() {
        Some(proxy) => crate::socks::tunnel(stream, &proxy, config.host(), config.port()).await?,
        None => stream,
    };
    if !config.is_secure() {
        return Ok(MaybeTlsStream::Plain(stream));
    }
    #[cfg(feature = "rustls")]
    match tls {
        Some(tls) => crate::tls::secure(stream, config, tls).await,
        None => Err(Error::TlsNotEnabled),
    }
    #[cfg(not(feature = "rustls"))]
    {
        drop(stream);
        Err(Error::TlsNotEnabled)
    }
}

/// Opens the TCP connection for `config`: to its proxy (HTTP, else
/// SOCKS5) when it has one, else to the URL's host and port.
pub(crate) async fn dial(config: &ClientConfig) -> Result<TcpStream, Error> {
    let (host, port) = match (&config.proxy, &config.socks5) {
        (Some(proxy), _) => (proxy.host(), proxy.port()),
        (None, Some(proxy)) => (proxy.host(), proxy.port()),
        (None, None) => (config.host(), config.port()),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((host, port)).await?;
    // Frames are small and interactive: send them as they are written.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Runs the client's opening handshake on an already connected transport
/// (TLS, if any, already done): for a URL, or a [`ClientConfig`].
///
/// # Errors
/// As [`connect`], and [`Error::Config`] for a configuration that cannot be
/// sent.
pub async fn client<S>(
    io: S,
    request: impl IntoClientConfig,
) -> Result<(WebSocket<S>, Accepted), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let result = match request.into_client_config() {
        Ok(config) => handshake(io, config).await,
        Err(error) => Err(error),
    };
    if let Err(error) = &result {
        crate::trace::failure(error);
    }
    result
}

async fn handshake<S>(io: S, config: ClientConfig) -> Result<(WebSocket<S>, Accepted), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let client = Client::new(config, OsEntropy::new()).map_err(Error::Config)?;
    let mut ws = WebSocket::new(Conn::Client(Box::new(client)), io, Instant::now());
    loop {
        match poll_fn(|cx| ws.poll_engine(cx)).await? {
            Some(Event::Accepted(accepted)) => {
                ws.set_protocol(accepted.protocol.clone());
                return Ok((ws, *accepted));
            }
            Some(Event::HandshakeRejected(rejection)) => {
                return Err(Error::Rejected {
                    status: rejection.status,
                    headers: Box::new(rejection.headers),
                    body: rejection.body,
                    body_error: rejection.body_error,
                });
            }
            Some(Event::ProxyRejected(rejection)) => {
                return Err(crate::proxy::rejected(*rejection));
            }
            Some(_) => {}
            None => return Err(ended(&ws)),
        }
    }
}
