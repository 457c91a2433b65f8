//! What the driver's tests share: time bounds, loopback listeners and
//! payloads.

#![allow(dead_code)]

pub mod h2_client;
pub mod raw;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

/// The bound on every test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a test body under [`TEST_TIMEOUT`].
pub async fn bounded<T>(body: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_TIMEOUT, body).await {
        Ok(value) => value,
        Err(_) => panic!("the test did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// A listener on an ephemeral loopback port.
pub async fn loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Sends back every text and binary message until the connection ends, as
/// the guide writes an echo.
pub async fn echo<S>(mut ws: wsmachine_tokio::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    while let Some(Ok(message)) = ws.next().await {
        if message.is_data() && ws.feed(message).await.is_err() {
            break;
        }
    }
}

/// An echo server on a loopback port, a task per connection; returns its
/// address.
pub async fn start_echo() -> SocketAddr {
    let (listener, addr) = loopback().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(ws) = wsmachine_tokio::accept(stream).await {
                    echo(ws).await;
                }
            });
        }
    });
    addr
}

/// Text of `len` bytes, mixing one-, two- and three-byte characters
/// without splitting one at the end.
pub fn text_of_len(len: usize, seed: usize) -> String {
    const PIECES: [&str; 4] = ["a", "é", "€", "z"];
    let mut text = String::with_capacity(len);
    let mut i = seed;
    while text.len() < len {
        let piece = PIECES[i % PIECES.len()];
        if text.len() + piece.len() > len {
            text.push('.');
        } else {
            text.push_str(piece);
        }
        i += 1;
    }
    text
}

/// Bytes of `len` that vary with the position and `seed`.
pub fn binary_of_len(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + seed) % 251) as u8).collect()
}

/// A masked client frame (mask 1, 2, 3, 4), for raw peers.
pub fn masked_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// An upgrade request for a raw client.
pub fn upgrade_request(target: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A TLS echo server whose certificate names `name` (a host name or an IP
/// address); returns its port and certificate.
#[cfg(feature = "rustls")]
pub async fn start_tls_echo(name: &str) -> (u16, rustls::pki_types::CertificateDer<'static>) {
    let (listener, addr) = loopback().await;
    (addr.port(), start_tls_echo_on(name, listener))
}

/// [`start_tls_echo`] on a listener of the caller's; returns the
/// certificate.
#[cfg(feature = "rustls")]
pub fn start_tls_echo_on(
    name: &str,
    listener: TcpListener,
) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::sync::Arc;
    use tokio_rustls::TlsAcceptor;
    let certified =
        rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("certificate");
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                if let Ok(ws) = wsmachine_tokio::accept(tls).await {
                    echo(ws).await;
                }
            });
        }
    });
    cert
}
