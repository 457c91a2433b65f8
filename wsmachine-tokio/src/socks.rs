//! The SOCKS5 tunnel on tokio, run before TLS and the handshake for both
//! `ws://` and `wss://`, within the connect timeout.

use std::net::IpAddr;

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
    crate::proxy::open(&mut stream, &mut tunnel).await?;
    Ok(stream)
}

impl crate::proxy::Tunnel for Socks5Tunnel {
    fn transmit(&mut self) -> Option<bytes::Bytes> {
        self.poll_transmit()
    }

    fn outcome(&mut self) -> Option<Result<bytes::Bytes, Error>> {
        if let Some(Socks5Event::Established { leftover, .. }) = self.poll_event() {
            return Some(Ok(leftover));
        }
        self.error().map(|error| Err(Error::Socks5(error.clone())))
    }

    fn feed(&mut self, data: &[u8]) {
        let _ = self.receive(data);
    }

    fn feed_eof(&mut self) {
        let _ = self.receive_eof();
    }
}
