//! The driver against tokio-tungstenite over loopback TCP, both ways:
//! messages at every length-encoding boundary up to the 1 MiB default
//! limit, fragments with pings between them, pings and pongs, closes
//! started by either side, a message over the limit, keepalive and a
//! silent peer. Subprotocols and rejections are in `handshake.rs`.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{binary_of_len, bounded, loopback, text_of_len};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tungstenite::Message as TMessage;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::coding::{CloseCode as TCloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame as TCloseFrame, Frame as TFrame};
use wsmachine::config::Keepalive;
use wsmachine::error::ProtocolError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::{CloseCode, CloseFrame, Decision, Error, Message, WebSocket};

const MIB: usize = 1 << 20;
/// RFC 6455 §5.2's length encodings and their edges, and the default limit.
const SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, MIB];

type Theirs = WebSocketStream<TcpStream>;
type Ours = WebSocket<TcpStream>;

fn their_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MIB))
        .max_frame_size(Some(MIB))
}

async fn their_client(addr: SocketAddr, offer: Option<&str>) -> (Theirs, Option<String>) {
    let mut request = format!("ws://{addr}/interop")
        .into_client_request()
        .expect("request");
    if let Some(offer) = offer {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", offer.parse().expect("value"));
    }
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(their_config()))
            .await
            .expect("tungstenite handshake");
    let chosen = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|value| value.to_str().expect("ascii").to_owned());
    (ws, chosen)
}

async fn their_server(listener: &TcpListener) -> Theirs {
    let (stream, _) = listener.accept().await.expect("accept");
    tokio_tungstenite::accept_async_with_config(stream, Some(their_config()))
        .await
        .expect("tungstenite handshake")
}

/// Our server and their client, through the handshake.
async fn pair_our_server(config: ServerConfig) -> (Ours, Theirs) {
    let (listener, addr) = loopback().await;
    let ours = async {
        let (stream, _) = listener.accept().await.expect("accept");
        wsmachine_tokio::accept_with(stream, config, |request| {
            assert_eq!(request.target(), "/interop");
            Decision::accept()
        })
        .await
        .expect("our handshake")
    };
    let (ours, (theirs, _)) = tokio::join!(ours, their_client(addr, None));
    (ours, theirs)
}

/// Our client and their server, through the handshake.
async fn pair_our_client(edit: impl FnOnce(&mut ClientConfig)) -> (Ours, Theirs) {
    let (listener, addr) = loopback().await;
    let mut config = ClientConfig::new(&format!("ws://{addr}/interop")).expect("url");
    edit(&mut config);
    let ours = async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (ws, accepted) = wsmachine_tokio::client(stream, config)
            .await
            .expect("our handshake");
        assert_eq!(accepted.protocol, None);
        ws
    };
    tokio::join!(ours, their_server(&listener))
}

async fn our_next(ws: &mut Ours) -> Message {
    match ws.next().await {
        Some(Ok(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn their_next(ws: &mut Theirs) -> TMessage {
    match ws.next().await {
        Some(Ok(message)) => message,
        other => panic!("tungstenite: expected a message, got {other:?}"),
    }
}

/// Reads our stream to its end; the end must be clean.
async fn our_end(ws: &mut Ours) {
    while let Some(item) = ws.next().await {
        match item {
            Ok(Message::Close(_)) => {}
            other => panic!("expected the end, got {other:?}"),
        }
    }
}

/// Reads tungstenite's stream to its end.
async fn their_end(ws: &mut Theirs) {
    while let Some(item) = ws.next().await {
        if let Err(error) = item {
            // A reset after the closing handshake is an end.
            assert!(
                matches!(
                    error,
                    tungstenite::Error::ConnectionClosed
                        | tungstenite::Error::AlreadyClosed
                        | tungstenite::Error::Io(_)
                ),
                "{error:?}"
            );
            return;
        }
    }
}

// ---------------------------------------------------------------------------
// Messages of every size, echoed by the other side.

async fn their_echo(mut ws: Theirs) {
    while let Some(Ok(message)) = ws.next().await {
        match message {
            TMessage::Text(_) | TMessage::Binary(_) => ws.send(message).await.expect("echo"),
            TMessage::Close(_) => break,
            _ => {}
        }
    }
    their_end(&mut ws).await;
}

async fn exchange_every_size(mut ours: Ours) {
    for (seed, &len) in SIZES.iter().enumerate() {
        let text = text_of_len(len, seed);
        ours.send(Message::text(text.clone()))
            .await
            .expect("send text");
        assert_eq!(our_next(&mut ours).await.as_text(), Some(text.as_str()));
        let data = binary_of_len(len, seed);
        ours.send(Message::binary(data.clone()))
            .await
            .expect("send binary");
        assert_eq!(our_next(&mut ours).await, Message::Binary(data.into()));
    }
    ours.close(CloseCode::NORMAL, "sizes done")
        .await
        .expect("close");
    match our_next(&mut ours).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected the echoed Close, got {other:?}"),
    }
    our_end(&mut ours).await;
}

#[tokio::test]
async fn our_server_exchanges_every_size_with_their_client() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(their_echo(theirs));
        exchange_every_size(ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

#[tokio::test]
async fn our_client_exchanges_every_size_with_their_server() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        let theirs = tokio::spawn(their_echo(theirs));
        exchange_every_size(ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Over the limit: the stream ends with the core's typed error, after the
// message before it, and the peer gets 1009.

async fn their_oversized(mut ws: Theirs) {
    ws.send(TMessage::text("before")).await.expect("send");
    let big = vec![7u8; MIB + 1];
    // tungstenite's own limit is on what it receives, not what it sends.
    let _ = ws.send(TMessage::binary(big)).await;
    loop {
        match ws.next().await {
            Some(Ok(TMessage::Close(Some(frame)))) => {
                assert_eq!(frame.code, TCloseCode::Size);
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("tungstenite: expected a 1009 Close, got {other:?}"),
        }
    }
}

async fn our_oversized(mut ours: Ours) {
    assert_eq!(our_next(&mut ours).await.as_text(), Some("before"));
    match ours.next().await {
        Some(Err(Error::Protocol(
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. },
        ))) => {}
        other => panic!("expected the size error, got {other:?}"),
    }
    assert!(
        ours.next().await.is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test]
async fn our_server_refuses_one_byte_over_the_limit_with_1009() {
    bounded(async {
        let mut config = ServerConfig::default();
        config.config.max_message_size = MIB as u64;
        let (ours, theirs) = pair_our_server(config).await;
        let theirs = tokio::spawn(their_oversized(theirs));
        our_oversized(ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

#[tokio::test]
async fn our_client_refuses_one_byte_over_the_limit_with_1009() {
    bounded(async {
        let (ours, theirs) =
            pair_our_client(|config| config.config.max_message_size = MIB as u64).await;
        let theirs = tokio::spawn(their_oversized(theirs));
        our_oversized(ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Fragments with a ping between them; the ping is answered and yielded.

async fn their_fragments(mut ws: Theirs) {
    let frames = [
        // "é" is C3 A9: split between fragments.
        TFrame::message(
            Bytes::from_static(b"H\xc3"),
            OpCode::Data(Data::Text),
            false,
        ),
        TFrame::ping(Bytes::from_static(b"mid")),
        TFrame::message(
            Bytes::from_static(b"\xa9llo"),
            OpCode::Data(Data::Continue),
            false,
        ),
        TFrame::message(Bytes::new(), OpCode::Data(Data::Continue), true),
        TFrame::message(
            Bytes::from_static(b"\x01"),
            OpCode::Data(Data::Binary),
            false,
        ),
        TFrame::message(
            Bytes::from_static(b"\x02\x03"),
            OpCode::Data(Data::Continue),
            true,
        ),
    ];
    for frame in frames {
        ws.feed(TMessage::Frame(frame)).await.expect("feed");
    }
    ws.flush().await.expect("flush");
    match their_next(&mut ws).await {
        TMessage::Pong(payload) => assert_eq!(&payload[..], b"mid"),
        other => panic!("tungstenite: expected the pong, got {other:?}"),
    }
    match their_next(&mut ws).await {
        TMessage::Close(Some(frame)) => assert_eq!(frame.reason.as_str(), "fragments done"),
        other => panic!("tungstenite: expected our Close, got {other:?}"),
    }
    their_end(&mut ws).await;
}

async fn our_fragments(mut ours: Ours) {
    assert_eq!(
        our_next(&mut ours).await,
        Message::Ping(Bytes::from_static(b"mid"))
    );
    assert_eq!(our_next(&mut ours).await.as_text(), Some("Héllo"));
    assert_eq!(
        our_next(&mut ours).await,
        Message::Binary(Bytes::from_static(b"\x01\x02\x03"))
    );
    ours.close(CloseCode::NORMAL, "fragments done")
        .await
        .expect("close");
    our_end(&mut ours).await;
}

#[tokio::test]
async fn fragments_and_a_ping_between_them_from_their_client() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(their_fragments(theirs));
        our_fragments(ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

#[tokio::test]
async fn fragments_and_a_ping_between_them_from_their_server() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        let theirs = tokio::spawn(their_fragments(theirs));
        our_fragments(ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Pings and pongs we send.

#[tokio::test]
async fn our_pings_are_answered_and_our_pongs_arrive() {
    bounded(async {
        let (mut ours, mut theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(async move {
            // tungstenite answers the ping while reading; it sees both.
            assert_eq!(
                their_next(&mut theirs).await,
                TMessage::Ping(Bytes::from_static(b"p1"))
            );
            assert_eq!(
                their_next(&mut theirs).await,
                TMessage::Pong(Bytes::from_static(b"u1"))
            );
            their_echo(theirs).await;
        });
        ours.send(Message::Ping(Bytes::from_static(b"p1")))
            .await
            .expect("ping");
        ours.send(Message::Pong(Bytes::from_static(b"u1")))
            .await
            .expect("pong");
        assert_eq!(
            our_next(&mut ours).await,
            Message::Pong(Bytes::from_static(b"p1"))
        );
        // A ping over 125 bytes is refused before anything is sent.
        let refused = ours.send(Message::Ping(Bytes::from(vec![0u8; 126]))).await;
        assert!(matches!(refused, Err(Error::Send(_))), "{refused:?}");
        ours.close(CloseCode::NORMAL, "").await.expect("close");
        our_end(&mut ours).await;
        theirs.await.expect("their side");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Closes started by either side.

async fn we_close(mut ours: Ours, mut theirs: Theirs) {
    let theirs = tokio::spawn(async move {
        match their_next(&mut theirs).await {
            TMessage::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 4001);
                assert_eq!(frame.reason.as_str(), "bye now");
            }
            other => panic!("tungstenite: expected our Close, got {other:?}"),
        }
        their_end(&mut theirs).await;
    });
    ours.close(CloseCode(4001), "bye now").await.expect("close");
    // Sending after our Close is refused.
    let late = ours.send(Message::text("late")).await;
    assert!(matches!(late, Err(Error::Closed)), "{late:?}");
    match our_next(&mut ours).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode(4001)),
        other => panic!("expected the echo of our Close, got {other:?}"),
    }
    assert!(ours.next().await.is_none());
    theirs.await.expect("their side");
}

async fn they_close(mut ours: Ours, mut theirs: Theirs) {
    let theirs = tokio::spawn(async move {
        theirs
            .close(Some(TCloseFrame {
                code: TCloseCode::Away,
                reason: "going".into(),
            }))
            .await
            .expect("close");
        their_end(&mut theirs).await;
    });
    assert_eq!(
        our_next(&mut ours).await,
        Message::Close(Some(CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: "going".into()
        }))
    );
    assert!(ours.next().await.is_none());
    theirs.await.expect("their side");
}

#[tokio::test]
async fn our_server_closes_their_client() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        we_close(ours, theirs).await;
    })
    .await;
}

#[tokio::test]
async fn our_client_closes_their_server() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        we_close(ours, theirs).await;
    })
    .await;
}

#[tokio::test]
async fn their_client_closes_our_server() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        they_close(ours, theirs).await;
    })
    .await;
}

#[tokio::test]
async fn their_server_closes_our_client() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        they_close(ours, theirs).await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// Keepalive: answered pings, and a peer that stops answering.

fn keepalive(interval_ms: u64, timeout_ms: u64) -> Option<Keepalive> {
    Some(Keepalive {
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
    })
}

#[tokio::test]
async fn their_client_answers_our_keepalive_pings() {
    bounded(async {
        let mut config = ServerConfig::default();
        config.config.keepalive = keepalive(50, 5_000);
        let (mut ours, mut theirs) = pair_our_server(config).await;
        let theirs = tokio::spawn(async move {
            let mut pings = 0;
            while let Some(Ok(message)) = theirs.next().await {
                match message {
                    TMessage::Ping(_) => pings += 1,
                    TMessage::Close(_) => break,
                    _ => {}
                }
            }
            their_end(&mut theirs).await;
            pings
        });
        // The pings run on tokio::time inside the stream's polling: the
        // pongs come back as messages.
        for _ in 0..3 {
            assert!(matches!(our_next(&mut ours).await, Message::Pong(_)));
        }
        ours.close(CloseCode::NORMAL, "").await.expect("close");
        while let Some(Ok(_)) = ours.next().await {}
        assert!(theirs.await.expect("their side") >= 3);
    })
    .await;
}

#[tokio::test]
async fn a_silent_server_fails_our_client_with_1011() {
    bounded(async {
        let (mut ours, theirs) = pair_our_client(|config| {
            config.config.keepalive = keepalive(50, 200);
        })
        .await;
        // tungstenite only answers pings while read: it is never read.
        let _silent = theirs;
        match ours.next().await {
            Some(Err(Error::Timeout(wsmachine_tokio::Timeout::Pong))) => {}
            other => panic!("expected the pong timeout, got {other:?}"),
        }
        assert!(ours.next().await.is_none());
    })
    .await;
}
