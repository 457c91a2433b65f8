//! The client side: [`connect`] and [`connect_with`].

use std::future::poll_fn;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wsmachine::entropy::OsEntropy;
use wsmachine::handshake::Accepted;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::{Client, Event};

use crate::config::Config;
use crate::conn::Conn;
use crate::error::Error;
use crate::server::ended;
use crate::socket::WebSocket;
use crate::transport::MaybeTlsStream;

/// Connects to a `ws://` (or, with the `rustls` feature, `wss://`) URL and
/// runs the opening handshake.
///
/// # Errors
/// [`Error::Url`] for a bad URL; [`Error::ProxyRejected`] when the
/// configured proxy refuses the tunnel; [`Error::Rejected`] when the server
/// answers with another status than 101 (with its headers and decoded
/// body); [`Error::Handshake`] for a 101 that breaks RFC 6455;
/// [`Error::Io`] when the connection or TLS fails;
/// [`Error::TlsNotEnabled`] for `wss://` without the `rustls` feature.
pub async fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    let config = ClientConfig::new(url).map_err(Error::Url)?;
    connect_config(config).await
}

/// [`connect`] with a client configuration: subprotocols, headers, limits,
/// permessage-deflate, and an HTTP proxy (`ClientConfig::with_proxy`). Through
/// a proxy, `ws://` runs the tunnel and the handshake in the core's one
/// machine; `wss://` runs the core's `ProxyTunnel` first, then TLS over the
/// tunnel, then the handshake.
///
/// # Errors
/// As [`connect`].
pub async fn connect_config(
    config: ClientConfig,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, Accepted), Error> {
    #[cfg_attr(not(feature = "rustls"), allow(unused_mut))]
    let mut config = config;
    let result = async {
        let stream = dial(&config).await?;
        let stream = if config.is_secure() {
            #[cfg(feature = "rustls")]
            {
                crate::tls::secure(stream, &mut config, crate::tls::default_config()).await?
            }
            #[cfg(not(feature = "rustls"))]
            {
                drop(stream);
                return Err(Error::TlsNotEnabled);
            }
        } else {
            MaybeTlsStream::Plain(stream)
        };
        Ok(stream)
    }
    .await;
    let stream = match result {
        Ok(stream) => stream,
        Err(error) => {
            crate::trace::failure(&error);
            return Err(error);
        }
    };
    connect_with(stream, config).await
}

/// Opens the TCP connection for `config`: to its proxy when it has one,
/// else to the URL's host and port.
pub(crate) async fn dial(config: &ClientConfig) -> Result<TcpStream, Error> {
    let (host, port) = match &config.proxy {
        Some(proxy) => (proxy.host(), proxy.port()),
        None => (config.host(), config.port()),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((host, port)).await?;
    // Frames are small and interactive: send them as they are written.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Runs the client's opening handshake on an already connected transport.
///
/// # Errors
/// As [`connect`], and [`Error::Config`] for a configuration that cannot be
/// sent.
pub async fn connect_with<S>(io: S, config: ClientConfig) -> Result<(WebSocket<S>, Accepted), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    connect_with_config(io, config, Config::default()).await
}

/// [`connect_with`], with driver settings.
///
/// # Errors
/// As [`connect_with`].
pub async fn connect_with_config<S>(
    io: S,
    config: ClientConfig,
    driver: Config,
) -> Result<(WebSocket<S>, Accepted), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let result = handshake(io, config, driver).await;
    if let Err(error) = &result {
        crate::trace::failure(error);
    }
    result
}

async fn handshake<S>(
    io: S,
    config: ClientConfig,
    driver: Config,
) -> Result<(WebSocket<S>, Accepted), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let client = Client::new(config, OsEntropy::new()).map_err(Error::Config)?;
    let mut ws = WebSocket::new(Conn::Client(Box::new(client)), io, driver, Instant::now());
    loop {
        match poll_fn(|cx| ws.poll_engine(cx)).await? {
            Some(Event::Accepted(accepted)) => return Ok((ws, accepted)),
            Some(Event::HandshakeRejected(rejection)) => {
                return Err(Error::Rejected {
                    status: rejection.status,
                    headers: Box::new(rejection.headers),
                    body: rejection.body,
                    body_error: rejection.body_error,
                });
            }
            Some(Event::ProxyRejected(rejection)) => return Err(crate::proxy::rejected(rejection)),
            Some(_) => {}
            None => return Err(ended(&ws)),
        }
    }
}
