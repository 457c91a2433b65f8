//! The SOCKS5 tunnel on tokio, run before TLS and the handshake for both
//! `ws://` and `wss://`, within the connect timeout.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsmachine::handshake::client::ClientConfigError;
use wsmachine::proxy::{Socks5Config, Socks5Event, Socks5Target, Socks5Tunnel};

use crate::error::Error;

/// Runs a SOCKS5 CONNECT to `host:port` over `stream`, which goes to the
/// proxy, and returns the stream once the tunnel is open. With
/// `remote_dns` (`socks5h://`) the proxy gets the name; otherwise it is
/// resolved here and the proxy gets the first address.
pub(crate) async fn tunnel(
    mut stream: TcpStream,
    proxy: &Socks5Config,
    host: &str,
    port: u16,
) -> Result<TcpStream, Error> {
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    let target = match unbracketed.parse::<IpAddr>() {
        Ok(ip) => Socks5Target::Ip(ip),
        Err(_) if proxy.remote_dns => Socks5Target::from_host(host)
            .map_err(|error| Error::Config(ClientConfigError::Socks5(error)))?,
        Err(_) => {
            let mut addresses = tokio::net::lookup_host((unbracketed, port)).await?;
            let address = addresses.next().ok_or_else(|| {
                Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host} resolves to no address"),
                ))
            })?;
            Socks5Target::Ip(address.ip())
        }
    };
    let mut tunnel = Socks5Tunnel::new(proxy, target, port)
        .map_err(|error| Error::Config(ClientConfigError::Socks5(error)))?;
    // The reply is at most 262 bytes; the tunnel keeps what follows it.
    let mut buf = [0u8; 512];
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            stream.write_all(&bytes).await?;
        }
        if let Some(Socks5Event::Established { leftover, .. }) = tunnel.poll_event() {
            // Neither a WebSocket server nor a TLS server speaks before the
            // client: nothing can come through the tunnel yet.
            if !leftover.is_empty() {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "data from the target before the client spoke",
                )));
            }
            return Ok(stream);
        }
        if let Some(error) = tunnel.error() {
            return Err(Error::Socks5(error.clone()));
        }
        let read = match stream.read(&mut buf).await {
            Ok(n) => n,
            // A reset is the proxy going away: the end of its answer.
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                0
            }
            Err(error) => return Err(Error::Io(error)),
        };
        // A failure is the tunnel's error, reported just above.
        let _ = match buf.get(..read) {
            Some([]) | None => tunnel.receive_eof(),
            Some(bytes) => tunnel.receive(bytes),
        };
    }
}
