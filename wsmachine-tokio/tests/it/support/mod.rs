//! What the driver's tests share: time bounds, loopback listeners,
//! payloads, and the echo and close checks of the HTTP/2 and HTTP/3 tests,
//! generic over the stream.

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

/// Sends `text`, expects it echoed, then closes with 1000 and expects the
/// peer's Close.
pub async fn echo_once<S>(ws: &mut wsmachine_tokio::WebSocket<S>, text: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use wsmachine_tokio::{CloseCode, Message};
    ws.send(Message::text(text)).await.expect("send");
    let echo = ws.next().await.expect("an echo").expect("no error");
    assert_eq!(echo.as_text(), Some(text));
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
}

/// For each of `sizes`, sends a text and a binary message of that size
/// (contents from `seed`) and expects each echoed as sent.
pub async fn echo_every_size<S>(
    socket: &mut wsmachine_tokio::WebSocket<S>,
    sizes: &[usize],
    seed: usize,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use wsmachine_tokio::Message;
    for (index, &size) in sizes.iter().enumerate() {
        let text = Message::text(text_of_len(size, seed + index));
        socket.send(text.clone()).await.expect("send text");
        assert_eq!(socket.next().await.expect("an echo").expect("text"), text);
        let binary = Message::binary(binary_of_len(size, seed + index));
        socket.send(binary.clone()).await.expect("send binary");
        let echo = socket.next().await.expect("an echo").expect("binary");
        assert_eq!(echo, binary);
    }
}

/// Sends a Close (1000) and reads to the end, which must be the peer's
/// Close answer with 1000 and then a clean end of the stream (over HTTP/3,
/// its FIN); the socket is then `Closed`.
pub async fn close_cleanly<S>(mut socket: wsmachine_tokio::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use wsmachine_tokio::{CloseCode, Message};
    socket
        .close(CloseCode::NORMAL, "done")
        .await
        .expect("close");
    let mut saw_close = false;
    while let Some(item) = socket.next().await {
        match item.expect("a clean close") {
            Message::Close(frame) => {
                assert_eq!(frame.expect("a code").code, CloseCode::NORMAL);
                saw_close = true;
            }
            other => panic!("after the close: {other:?}"),
        }
    }
    assert!(saw_close, "no Close answer");
    assert_eq!(socket.state(), wsmachine::State::Closed);
}

/// Sends a Close (1000) and reads the peer's answer, with 1000; then the
/// stream's end, which hypercorn never sends (see
/// `driver_client_against_hypercorn` in `h2_interop` and `h3_interop`), so
/// only the close timeout may come before it.
pub async fn close_handshake<S>(mut socket: wsmachine_tokio::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use wsmachine_tokio::{CloseCode, Error, Message, Timeout};
    socket
        .close(CloseCode::NORMAL, "done")
        .await
        .expect("close");
    match socket.next().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("not the Close answer: {other:?}"),
    }
    while let Some(item) = socket.next().await {
        assert!(
            matches!(item, Err(Error::Timeout(Timeout::Close))),
            "after the Close answer: {item:?}"
        );
    }
}

/// Checks what the `h2_client` and `h3_client` examples' `run(.., text,
/// count)` returned: no error, and the echo of `"{text} #{index}"` for
/// each of the `count` WebSockets, in order.
pub fn assert_example_answers(
    answers: Result<Vec<wsmachine_tokio::Message>, wsmachine_tokio::Error>,
    text: &str,
    count: usize,
) {
    let answers = answers.expect("the example's run");
    let expected: Vec<wsmachine_tokio::Message> = (0..count)
        .map(|i| wsmachine_tokio::Message::text(format!("{text} #{i}")))
        .collect();
    assert_eq!(answers, expected);
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

/// The tests' one frame builder: a frame with any first byte (FIN, RSV,
/// opcode), masked when `mask` is given, the length in its shortest form.
/// Written byte by byte, so that raw peers can break any rule.
pub fn raw_frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut frame = vec![first];
    match payload.len() {
        len @ 0..=125 => frame.push(mask_bit | len as u8),
        len @ 126..=65535 => {
            frame.push(mask_bit | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(mask_bit | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(mask) => {
            frame.extend_from_slice(&mask);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => frame.extend_from_slice(payload),
    }
    frame
}

/// A masked client frame (mask 1, 2, 3, 4), for raw peers.
pub fn masked_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(
        if fin { 0x80 } else { 0 } | opcode,
        Some([1, 2, 3, 4]),
        payload,
    )
}

/// An unmasked frame: a server's, or a client's that breaks the rules.
pub fn unmasked_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(if fin { 0x80 } else { 0 } | opcode, None, payload)
}

/// A server on a loopback port that answers every request with `response`
/// and closes; returns its address.
pub async fn answering_server(response: &'static [u8]) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listener, addr) = loopback().await;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = vec![0u8; 4096];
            let _ = stream.read(&mut head).await;
            let _ = stream.write_all(response).await;
            let _ = stream.shutdown().await;
        }
    });
    addr
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
