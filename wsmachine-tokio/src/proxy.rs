//! The HTTP CONNECT tunnel on tokio, for `wss://` through a proxy, where TLS
//! goes between the tunnel and the handshake. (`ws://` needs none of this:
//! the core's client runs the tunnel itself.)

#[cfg(feature = "rustls")]
use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(feature = "rustls")]
use tokio::net::TcpStream;
#[cfg(feature = "rustls")]
use wsmachine::handshake::client::ClientConfig;
use wsmachine::proxy::ProxyRejection;
#[cfg(feature = "rustls")]
use wsmachine::proxy::{ProxyConfig, ProxyTunnel, TunnelEvent};

use crate::error::Error;

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
    let io = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Some(bytes) = tunnel.poll_transmit() {
                stream.write_all(&bytes).await?;
            }
            match tunnel.poll_event() {
                Some(TunnelEvent::Established { leftover, .. }) => {
                    // A TLS server speaks only after the client's hello:
                    // nothing can come through the tunnel before it.
                    if !leftover.is_empty() {
                        return Err(Error::Io(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "data from the target before the TLS handshake",
                        )));
                    }
                    return Ok(());
                }
                Some(TunnelEvent::Rejected(rejection)) => return Err(rejected(rejection)),
                None => {}
            }
            if let Some(error) = tunnel.error() {
                return Err(Error::Handshake(
                    wsmachine::handshake::HandshakeError::Proxy(error.clone()),
                ));
            }
            let read = match stream.read(&mut buf).await {
                Ok(n) => n,
                Err(error) if is_gone(&error) => 0,
                Err(error) => return Err(Error::Io(error)),
            };
            // A malformed or cut-off answer is reported just above.
            let _ = match buf.get(..read) {
                Some([]) | None => tunnel.receive_eof(),
                Some(bytes) => tunnel.receive(bytes),
            };
        }
    };
    match tokio::time::timeout_at(deadline, io).await {
        Ok(result) => result.map(|()| stream),
        Err(_) => Err(Error::Handshake(
            wsmachine::handshake::HandshakeError::Timeout,
        )),
    }
}

/// A reset or broken pipe: the proxy is gone, which is the end of its
/// answer.
#[cfg(feature = "rustls")]
fn is_gone(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    )
}
