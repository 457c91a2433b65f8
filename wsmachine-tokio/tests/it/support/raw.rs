//! Raw peers for the socket's tests: a hand-written client on the other
//! end of a pipe or a TCP connection, and a reader of the frames a server
//! sent.

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use wsmachine_tokio::{Config, Message, WebSocket};

use super::{loopback, upgrade_request};

/// Reads a raw peer's view up to the end of the 101's head.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("read the head");
        assert_eq!(
            n,
            1,
            "ended inside the head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    head
}

/// Writes the upgrade request for `target` as a raw client, and reads the
/// answer's head; returns it.
pub async fn raw_upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    target: &str,
) -> Vec<u8> {
    stream
        .write_all(upgrade_request(target).as_bytes())
        .await
        .expect("request");
    read_head(stream).await
}

/// A raw client through the handshake with a server socket on the other
/// end of `stream`.
pub async fn raw_client_with<S>(
    mut client: S,
    server: DuplexStream,
    config: Config,
) -> (S, WebSocket<DuplexStream>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let accept = wsmachine_tokio::accept_with_config(server, config);
    let raw = async {
        let head = raw_upgrade(&mut client, "/").await;
        assert!(head.starts_with(b"HTTP/1.1 101"));
        client
    };
    let (ws, client) = tokio::join!(accept, raw);
    (client, ws.expect("handshake"))
}

/// A raw client over TCP and our server socket.
pub async fn raw_tcp_pair() -> (TcpStream, WebSocket<TcpStream>) {
    let (listener, addr) = loopback().await;
    let accept = async {
        let (stream, _) = listener.accept().await.expect("accept");
        wsmachine_tokio::accept(stream).await.expect("handshake")
    };
    let raw = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = raw_upgrade(&mut stream, "/").await;
        assert!(head.starts_with(b"HTTP/1.1 101"));
        stream
    };
    let (ws, stream) = tokio::join!(accept, raw);
    (stream, ws)
}

/// The server frames a raw client got: (opcode, payload), up to the end.
pub async fn server_frames<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<(u8, Vec<u8>)> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 2 {
        let opcode = rest[0] & 0x0f;
        let (len, header) = match rest[1] & 0x7f {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(rest[2..10].try_into().expect("8")) as usize,
                10,
            ),
            len => (len as usize, 2),
        };
        frames.push((opcode, rest[header..header + len].to_vec()));
        rest = &rest[header + len..];
    }
    frames
}

pub async fn next_message<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Message {
    match ws.next().await {
        Some(Ok(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}
