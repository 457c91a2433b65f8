//! How a socket ends: half-closed and reset transports, an end without a
//! Close, a violation after the messages before it, the close timeout; and
//! both roles on already upgraded streams.

use crate::support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use support::raw::{next_message, raw_tcp_pair, read_head, server_frames};
use support::{bounded, loopback, masked_frame, upgrade_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsmachine::error::ProtocolError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::{CloseCode, CloseFrame, Decision, Error, Message, WebSocket};

#[tokio::test]
async fn a_half_closed_peer_gets_our_close_after_its_own() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        let mut bytes = masked_frame(0x1, true, b"last words");
        bytes.extend(masked_frame(0x8, true, &[0x03, 0xe8]));
        stream.write_all(&bytes).await.expect("write");
        // Its write side ends; it still reads.
        stream.shutdown().await.expect("half-close");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("last words"));
        assert_eq!(
            next_message(&mut ws).await,
            Message::Close(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: String::new()
            }))
        );
        assert!(ws.next().await.is_none());
        assert_eq!(server_frames(&mut stream).await, [(0x8, vec![0x03, 0xe8])]);
    })
    .await;
}

#[tokio::test]
async fn an_end_without_a_close_comes_after_the_messages_as_1006() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        let mut bytes = masked_frame(0x1, true, b"one");
        bytes.extend(masked_frame(0x2, true, b"two"));
        stream.write_all(&bytes).await.expect("write");
        stream.shutdown().await.expect("half-close");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("one"));
        assert_eq!(
            next_message(&mut ws).await,
            Message::Binary(Bytes::from_static(b"two"))
        );
        match ws.next().await {
            Some(Err(Error::UnexpectedEof)) => {}
            other => panic!("expected the unexpected end, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    })
    .await;
}

/// Resets the connection: SO_LINGER 0 makes the close send RST.
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    stream.set_linger(Some(Duration::ZERO)).expect("linger");
    drop(stream);
}

#[tokio::test]
async fn a_reset_after_the_peers_close_is_a_clean_end() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        stream
            .write_all(&masked_frame(0x8, true, &[0x03, 0xe9, b'o', b'k']))
            .await
            .expect("write");
        reset(stream);
        assert_eq!(
            next_message(&mut ws).await,
            Message::Close(Some(CloseFrame {
                code: CloseCode::GOING_AWAY,
                reason: "ok".into()
            }))
        );
        assert!(
            ws.next().await.is_none(),
            "a reset after the Close is no error"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_while_we_are_closing_is_a_clean_end() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        // The peer reads our Close and resets instead of answering.
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.expect("read our close");
        assert_eq!(buf[0], 0x88, "{:?}", &buf[..n]);
        reset(stream);
        assert!(
            ws.next().await.is_none(),
            "a reset after our Close is no error"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_before_any_close_is_an_unexpected_end() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        stream
            .write_all(&masked_frame(0x1, true, b"hi"))
            .await
            .expect("write");
        stream.flush().await.expect("flush");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("hi"));
        reset(stream);
        match ws.next().await {
            Some(Err(Error::UnexpectedEof)) => {}
            other => panic!("expected the unexpected end, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn a_violation_ends_the_stream_after_the_messages_before_it() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        let mut bytes = masked_frame(0x1, true, b"a");
        bytes.extend(masked_frame(0x1, true, b"b"));
        // Unmasked: a client must mask (RFC 6455 §5.1).
        bytes.extend([0x81, 0x01, b'c']);
        bytes.extend(masked_frame(0x1, true, b"never"));
        stream.write_all(&bytes).await.expect("write");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("a"));
        assert_eq!(next_message(&mut ws).await.as_text(), Some("b"));
        match ws.next().await {
            Some(Err(Error::Protocol(ProtocolError::UnmaskedFrame))) => {}
            other => panic!("expected the violation, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
        let sent = ws.send(Message::text("after")).await;
        assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
        let frames = server_frames(&mut stream).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].0, 0x8);
        assert_eq!(&frames[0].1[..2], &1002u16.to_be_bytes());
    })
    .await;
}

#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn wss_without_the_rustls_feature_is_a_typed_error() {
    bounded(async {
        let (_listener, addr) = loopback().await;
        let result = wsmachine_tokio::connect(&format!("wss://{addr}/")).await;
        assert!(matches!(result, Err(Error::TlsNotEnabled)), "{result:?}");
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_never_answers_our_close_ends_at_the_close_timeout() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let accept = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut config = ServerConfig::default();
            config.config.close_timeout = Duration::from_millis(200);
            wsmachine_tokio::accept_with(stream, config, |_| Decision::accept())
                .await
                .expect("handshake")
        };
        let raw = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(upgrade_request("/").as_bytes())
                .await
                .expect("request");
            read_head(&mut stream).await;
            stream
        };
        let (mut ws, _silent) = tokio::join!(accept, raw);
        let started = tokio::time::Instant::now();
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        match ws.next().await {
            Some(Err(Error::Timeout(wsmachine_tokio::Timeout::Close))) => {}
            other => panic!("expected the close timeout, got {other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(ws.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn both_roles_run_on_already_upgraded_streams() {
    use wsmachine::handshake::Negotiated;
    bounded(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server_config = ServerConfig::default();
        let client_config = ClientConfig::new("ws://example.com/").expect("url");
        let mut server = WebSocket::from_upgraded_server(a, &server_config, &Negotiated::none());
        let mut client = WebSocket::from_upgraded_client(b, &client_config, &Negotiated::none());
        let echo = tokio::spawn(async move {
            while let Some(Ok(message)) = server.next().await {
                if message.is_data() {
                    server.send(message).await.expect("echo");
                }
            }
        });
        // The server fails unmasked frames (1002), so the echo shows the
        // client masks.
        client.send(Message::text("upgraded")).await.expect("send");
        assert_eq!(next_message(&mut client).await.as_text(), Some("upgraded"));
        client.close(CloseCode::NORMAL, "").await.expect("close");
        assert!(matches!(
            next_message(&mut client).await,
            Message::Close(Some(_))
        ));
        assert!(client.next().await.is_none());
        echo.await.expect("server");
    })
    .await;
}

#[tokio::test]
async fn closing_after_the_peers_close_does_nothing() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        stream
            .write_all(&masked_frame(0x8, true, &[0x03, 0xe8]))
            .await
            .expect("write");
        assert!(matches!(
            next_message(&mut ws).await,
            Message::Close(Some(_))
        ));
        assert!(ws.next().await.is_none());
        ws.close(CloseCode::NORMAL, "late").await.expect("a no-op");
        // Only the echo of the peer's Close went out.
        assert_eq!(server_frames(&mut stream).await, [(0x8, vec![0x03, 0xe8])]);
    })
    .await;
}
