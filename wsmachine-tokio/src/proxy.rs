//! The tunnels the driver opens before TLS and the handshake, on tokio:
//! SOCKS5 (`crate::socks`) for any URL, and HTTP CONNECT for `wss://`
//! through an HTTP proxy, where TLS goes between the tunnel and the
//! handshake. (`ws://` through an HTTP proxy needs neither: the core's
//! client runs that tunnel itself.) Both are the core's sans-I/O tunnels,
//! driven by one loop, [`open`].

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
#[cfg(feature = "rustls")]
use wsmachine::handshake::client::ClientConfig;
use wsmachine::proxy::ProxyRejection;
#[cfg(feature = "rustls")]
use wsmachine::proxy::{ProxyConfig, ProxyTunnel, TunnelEvent};

use crate::error::Error;

/// What the loop needs of a sans-I/O tunnel.
pub(crate) trait Tunnel {
    /// The next bytes to write to the proxy.
    fn transmit(&mut self) -> Option<Bytes>;
    /// The outcome, once there is one: the bytes that came after the
    /// proxy's answer, or why the tunnel failed.
    fn outcome(&mut self) -> Option<Result<Bytes, Error>>;
    /// Bytes read from the proxy; a failure is reported by `outcome`.
    fn feed(&mut self, data: &[u8]);
    /// The proxy's end of the stream; reported by `outcome`.
    fn feed_eof(&mut self);
}

/// Runs `tunnel` over `stream`, which goes to the proxy, until it is open.
/// The caller bounds it with its deadline.
pub(crate) async fn open(stream: &mut TcpStream, tunnel: &mut impl Tunnel) -> Result<(), Error> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while let Some(bytes) = tunnel.transmit() {
            stream.write_all(&bytes).await?;
        }
        if let Some(outcome) = tunnel.outcome() {
            // Neither a WebSocket server nor a TLS server speaks before
            // the client: nothing can come through the tunnel yet.
            if !outcome?.is_empty() {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "data from the target before the client spoke",
                )));
            }
            return Ok(());
        }
        let read = match stream.read(&mut buf).await {
            Ok(n) => n,
            // A reset is the proxy going away: the end of its answer.
            Err(error) if crate::socket::is_reset(&error) => 0,
            Err(error) => return Err(Error::Io(error)),
        };
        match buf.get(..read) {
            Some([]) | None => tunnel.feed_eof(),
            Some(bytes) => tunnel.feed(bytes),
        }
    }
}

/// The error for a proxy's refusal.
pub(crate) fn rejected(rejection: ProxyRejection) -> Error {
    Error::ProxyRejected {
        status: rejection.status,
        headers: Box::new(rejection.headers),
        body: rejection.body,
        body_error: rejection.body_error,
    }
}

/// Runs the CONNECT to `config`'s host and port over `stream`, which goes
/// to the proxy, and returns the stream once the tunnel is open.
///
/// The core's handshake deadline does not cover this part, so it has the
/// same deadline of its own.
#[cfg(feature = "rustls")]
pub(crate) async fn tunnel(
    mut stream: TcpStream,
    proxy: &ProxyConfig,
    config: &ClientConfig,
) -> Result<TcpStream, Error> {
    let mut tunnel = ProxyTunnel::new(proxy, config.host(), config.port()).map_err(|error| {
        Error::Config(wsmachine::handshake::client::ClientConfigError::Proxy(
            error,
        ))
    })?;
    let deadline = tokio::time::Instant::now() + config.config.handshake_timeout;
    match tokio::time::timeout_at(deadline, open(&mut stream, &mut tunnel)).await {
        Ok(result) => result.map(|()| stream),
        Err(_) => Err(Error::Handshake(
            wsmachine::handshake::HandshakeError::Timeout,
        )),
    }
}

#[cfg(feature = "rustls")]
impl Tunnel for ProxyTunnel {
    fn transmit(&mut self) -> Option<Bytes> {
        self.poll_transmit()
    }

    fn outcome(&mut self) -> Option<Result<Bytes, Error>> {
        match self.poll_event() {
            Some(TunnelEvent::Established { leftover, .. }) => Some(Ok(leftover)),
            Some(TunnelEvent::Rejected(rejection)) => Some(Err(rejected(rejection))),
            None => self.error().map(|error| {
                Err(Error::Handshake(
                    wsmachine::handshake::HandshakeError::Proxy(error.clone()),
                ))
            }),
        }
    }

    fn feed(&mut self, data: &[u8]) {
        let _ = self.receive(data);
    }

    fn feed_eof(&mut self) {
        let _ = self.receive_eof();
    }
}
