//! Interoperability with tokio-tungstenite as a real peer over loopback TCP:
//! its client against our server and our client against its server, with
//! subprotocols, messages around every length-encoding boundary up to the
//! 1 MiB default limit, fragmentation, pings and pongs, closes started by
//! either side, size-limit failures and handshake rejections.
//!
//! Our side runs on [`interop_support::Driver`]; tungstenite's side runs in
//! a spawned task with its own script. The two scripts synchronise only
//! through the socket, and every test is bounded by [`TEST_TIMEOUT`].

mod interop_support;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use interop_support::{Driver, TEST_TIMEOUT, binary_of_len, text_of_len};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tungstenite::Message as TMessage;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::coding::{CloseCode as TCloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame as TFrame};
use wsmachine::config::Keepalive;
use wsmachine::entropy::OsEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::http::Headers;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{
    ClientRole, CloseCode, DataKind, Error, Event, Fragment, Initiator, Opcode, Role, ServerRole,
    State,
};

const MIB: usize = 1 << 20;

/// Every payload-length encoding and its edges (RFC 6455 §5.2: 7-bit up to
/// 125, 16-bit from 126 to 65535, 64-bit from 65536), and the default limit.
const SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, MIB];

type Theirs = WebSocketStream<TcpStream>;
type OurClient = Driver<ClientRole<OsEntropy>>;
type OurServer = Driver<ServerRole>;

/// Runs a test body under the time bound.
async fn bounded<F: Future<Output = ()>>(body: F) {
    if tokio::time::timeout(TEST_TIMEOUT, body).await.is_err() {
        panic!("the test did not finish within {TEST_TIMEOUT:?}");
    }
}

/// tungstenite with its limits at exactly 1 MiB, so the largest test
/// message sits on the boundary on its side too.
fn their_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MIB))
        .max_frame_size(Some(MIB))
}

async fn loopback_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

// ---------------------------------------------------------------------------
// Setting up the four kinds of ends.

/// Our server on the next connection: waits for the request, checks the
/// offered subprotocols and accepts with `choose`.
async fn our_server(
    listener: &TcpListener,
    config: ServerConfig,
    expected_offer: &[&str],
    choose: Option<&str>,
) -> OurServer {
    let (stream, _) = listener.accept().await.expect("accept");
    let mut driver = Driver::new(wsmachine::Server::new(config), stream);
    match driver.expect_event().await {
        Event::Request(request) => {
            assert_eq!(request.protocols, expected_offer, "offered subprotocols");
            assert_eq!(request.target(), "/interop?case=1");
        }
        other => panic!("expected a request, got {other:?}"),
    }
    let mut accept = Accept::default();
    if let Some(protocol) = choose {
        accept = accept.with_protocol(protocol);
    }
    let now = driver.now();
    driver.conn.accept(now, accept).expect("accept");
    driver.flush().await.expect("write the 101");
    driver
}

/// Our client connected to `addr`, after the server's 101.
async fn our_client(
    addr: SocketAddr,
    config: ClientConfig,
    expected_protocol: Option<&str>,
) -> OurClient {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let client = wsmachine::Client::new(config, OsEntropy::new()).expect("client");
    let mut driver = Driver::new(client, stream);
    match driver.expect_event().await {
        Event::Accepted(accepted) => {
            assert_eq!(
                accepted.protocol.as_deref(),
                expected_protocol,
                "chosen subprotocol"
            );
        }
        other => panic!("expected the 101, got {other:?}"),
    }
    assert_eq!(driver.conn.state(), State::Open);
    driver
}

fn our_client_config(addr: SocketAddr, offer: &[&str]) -> ClientConfig {
    let mut config = ClientConfig::new(&format!("ws://{addr}/interop?case=1")).expect("url");
    for protocol in offer {
        config = config.with_protocol(*protocol);
    }
    config
}

/// tungstenite's client offering `offer`; checks the subprotocol in the 101.
async fn their_client(addr: SocketAddr, offer: &[&str], expected_protocol: Option<&str>) -> Theirs {
    let mut request = format!("ws://{addr}/interop?case=1")
        .into_client_request()
        .expect("request");
    if !offer.is_empty() {
        let value = offer.join(", ").parse().expect("header value");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(their_config()))
            .await
            .expect("tungstenite client handshake");
    let chosen = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|value| value.to_str().expect("ascii"));
    assert_eq!(chosen, expected_protocol, "subprotocol tungstenite saw");
    ws
}

/// tungstenite's server on the next connection: records the offered
/// subprotocols and picks `choose`.
async fn their_server(
    listener: &TcpListener,
    expected_offer: &[&str],
    choose: Option<&str>,
) -> Theirs {
    let (stream, _) = listener.accept().await.expect("accept");
    let offered = Arc::new(Mutex::new(None));
    let record = Arc::clone(&offered);
    let choose = choose.map(str::to_owned);
    // tungstenite's `Callback` trait fixes the closure's large error type.
    #[allow(clippy::result_large_err)]
    let callback = move |request: &Request, mut response: Response| {
        assert_eq!(request.uri().path(), "/interop");
        let header = request
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|value| value.to_str().expect("ascii").to_owned());
        *record.lock().expect("lock") = Some(header);
        if let Some(protocol) = choose {
            let value = protocol.parse().expect("header value");
            response
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", value);
        }
        Ok::<_, ErrorResponse>(response)
    };
    let ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(their_config()))
            .await
            .expect("tungstenite server handshake");
    let offered = offered.lock().expect("lock").clone().flatten();
    let expected = (!expected_offer.is_empty()).then(|| expected_offer.join(", "));
    assert_eq!(
        offered, expected,
        "Sec-WebSocket-Protocol tungstenite received"
    );
    ws
}

/// Our server with tungstenite's client, both through the handshake.
async fn pair_our_server(config: ServerConfig) -> (OurServer, Theirs) {
    let (listener, addr) = loopback_listener().await;
    let offer = ["chat.v1", "chat.v2"];
    tokio::join!(
        our_server(&listener, config, &offer, Some("chat.v2")),
        their_client(addr, &offer, Some("chat.v2")),
    )
}

/// Our client with tungstenite's server, both through the handshake.
async fn pair_our_client(config: impl FnOnce(&mut ClientConfig)) -> (OurClient, Theirs) {
    let (listener, addr) = loopback_listener().await;
    let offer = ["chat.v1", "chat.v2"];
    let mut client_config = our_client_config(addr, &offer);
    config(&mut client_config);
    let (theirs, ours) = tokio::join!(
        their_server(&listener, &offer, Some("chat.v2")),
        our_client(addr, client_config, Some("chat.v2")),
    );
    (ours, theirs)
}

// ---------------------------------------------------------------------------
// Helpers for tungstenite's side.

async fn their_next(ws: &mut Theirs) -> TMessage {
    match ws.next().await {
        Some(Ok(message)) => message,
        Some(Err(error)) => panic!("tungstenite read error: {error}"),
        None => panic!("tungstenite's stream ended early"),
    }
}

/// Reads until the stream ends, which must come with no error.
async fn their_end(ws: &mut Theirs) {
    match ws.next().await {
        None => {}
        Some(other) => panic!("tungstenite: expected the end of the stream, got {other:?}"),
    }
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: TCloseCode::from(code),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Messages of every size, both ways, both roles.

#[derive(Clone, PartialEq)]
enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

impl Payload {
    fn describe(&self) -> String {
        match self {
            Payload::Text(text) => format!("text of {} bytes", text.len()),
            Payload::Binary(data) => format!("binary of {} bytes", data.len()),
        }
    }

    fn to_tungstenite(&self) -> TMessage {
        match self {
            Payload::Text(text) => TMessage::text(text.clone()),
            Payload::Binary(data) => TMessage::binary(data.clone()),
        }
    }

    fn from_tungstenite(message: TMessage) -> Payload {
        match message {
            TMessage::Text(text) => Payload::Text(text.as_str().to_owned()),
            TMessage::Binary(data) => Payload::Binary(data.to_vec()),
            other => panic!("tungstenite: expected a data message, got {other:?}"),
        }
    }

    fn from_ours(message: Message) -> Payload {
        match message {
            Message::Text(text) => Payload::Text(text.as_str().to_owned()),
            Message::Binary(data) => Payload::Binary(data.to_vec()),
            other => panic!("wsmachine: expected a data message, got {other:?}"),
        }
    }

    fn send_ours<R: Role>(&self, driver: &mut Driver<R>) {
        match self {
            Payload::Text(text) => driver.conn.send_text(text).expect("send_text"),
            Payload::Binary(data) => driver.conn.send_binary(data).expect("send_binary"),
        }
    }
}

/// Each size as text and as binary: what tungstenite sends (seed 1) and
/// what we answer (seed 2).
fn message_cases() -> Vec<(Payload, Payload)> {
    SIZES
        .iter()
        .flat_map(|&size| {
            [
                (
                    Payload::Text(text_of_len(size, 1)),
                    Payload::Text(text_of_len(size, 2)),
                ),
                (
                    Payload::Binary(binary_of_len(size, 1)),
                    Payload::Binary(binary_of_len(size, 2)),
                ),
            ]
        })
        .collect()
}

/// tungstenite sends each case's first payload and expects the second back;
/// then it closes with 1000 and a reason.
async fn their_message_script(mut ws: Theirs) {
    for (theirs, ours) in message_cases() {
        ws.send(theirs.to_tungstenite())
            .await
            .expect("tungstenite send");
        let received = Payload::from_tungstenite(their_next(&mut ws).await);
        assert!(
            received == ours,
            "tungstenite received {} where {} was sent",
            received.describe(),
            ours.describe()
        );
    }
    ws.close(Some(close_frame(1000, "all sizes done")))
        .await
        .expect("tungstenite close");
    match their_next(&mut ws).await {
        TMessage::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1000);
            assert_eq!(frame.reason.as_str(), "");
        }
        other => panic!("tungstenite: expected our Close reply, got {other:?}"),
    }
    their_end(&mut ws).await;
}

/// We receive each case's first payload, check it, and answer the second;
/// then we see tungstenite's close.
async fn our_message_script<R: Role>(mut driver: Driver<R>) {
    let mut assembler = MessageAssembler::new(MIB);
    for (theirs, ours) in message_cases() {
        let message = driver
            .next_message(&mut assembler)
            .await
            .expect("a message");
        let received = Payload::from_ours(message);
        assert!(
            received == theirs,
            "wsmachine received {} where {} was sent",
            received.describe(),
            theirs.describe()
        );
        ours.send_ours(&mut driver);
    }
    let close = match driver.expect_event().await {
        Event::Close(close) => close,
        other => panic!("expected tungstenite's close, got {other:?}"),
    };
    assert_eq!(close.code, CloseCode::NORMAL);
    assert_eq!(close.reason, "all sizes done");
    assert_eq!(close.initiator, Initiator::Remote);
    assert_eq!(close.error, None);
    assert_eq!(driver.finish().await, vec![]);
    assert_eq!(driver.errors, vec![]);
}

#[tokio::test]
async fn their_client_and_our_server_exchange_messages_of_every_size() {
    bounded(async {
        // Our default limits: 1 MiB per frame and per message, inclusive.
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(their_message_script(theirs));
        our_message_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

#[tokio::test]
async fn our_client_and_their_server_exchange_messages_of_every_size() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        let theirs = tokio::spawn(their_message_script(theirs));
        our_message_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

// ---------------------------------------------------------------------------
// One byte over the limit.

/// tungstenite sends a message one byte over our default limit; we fail the
/// connection with 1009 and tungstenite receives that Close.
async fn their_oversized_script(mut ws: Theirs) {
    ws.send(TMessage::binary(vec![7u8; MIB + 1]))
        .await
        .expect("tungstenite send");
    match their_next(&mut ws).await {
        TMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1009),
        other => panic!("tungstenite: expected Close 1009, got {other:?}"),
    }
    their_end(&mut ws).await;
}

async fn our_oversized_script<R: Role>(mut driver: Driver<R>) {
    let close = match driver.expect_event().await {
        Event::Close(close) => close,
        other => panic!("expected a failure, got {other:?}"),
    };
    assert_eq!(close.code, CloseCode::MESSAGE_TOO_BIG);
    assert_eq!(close.initiator, Initiator::Local);
    assert!(
        matches!(close.error, Some(Error::Protocol(_))),
        "{:?}",
        close.error
    );
    driver.finish().await;
    assert_eq!(driver.conn.state(), State::Closed);
    // Read out what tungstenite is still sending, so that closing our socket
    // with unread bytes does not reset the connection before it reads our
    // Close.
    driver.linger().await;
}

#[tokio::test]
async fn our_server_refuses_one_byte_over_the_default_limit_with_1009() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(their_oversized_script(theirs));
        our_oversized_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

#[tokio::test]
async fn our_client_refuses_one_byte_over_the_default_limit_with_1009() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        let theirs = tokio::spawn(their_oversized_script(theirs));
        our_oversized_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Fragmentation and control frames between fragments.

/// tungstenite receives our fragmented messages whole, then sends its own
/// as raw frames, with a ping between fragments.
async fn their_fragment_script(mut ws: Theirs) {
    // Ours, fragmented text with "é" split between fragments and a ping in
    // the middle (tungstenite reports the ping, then the whole message).
    match their_next(&mut ws).await {
        TMessage::Ping(payload) => assert_eq!(&payload[..], b"between"),
        other => panic!("tungstenite: expected our ping, got {other:?}"),
    }
    match their_next(&mut ws).await {
        TMessage::Text(text) => assert_eq!(text.as_str(), "Héllo, wörld"),
        other => panic!("tungstenite: expected our fragmented text, got {other:?}"),
    }
    match their_next(&mut ws).await {
        TMessage::Binary(data) => assert_eq!(&data[..], b"\x00\x01\x02\x03\xff"),
        other => panic!("tungstenite: expected our fragmented binary, got {other:?}"),
    }

    // Theirs, as raw frames.
    let raw = [
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
    for frame in raw {
        ws.feed(TMessage::Frame(frame))
            .await
            .expect("tungstenite feed");
    }
    ws.flush().await.expect("tungstenite flush");
    // Our automatic answer to the ping between the fragments.
    match their_next(&mut ws).await {
        TMessage::Pong(payload) => assert_eq!(&payload[..], b"mid"),
        other => panic!("tungstenite: expected the pong, got {other:?}"),
    }
    match their_next(&mut ws).await {
        TMessage::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1000);
            assert_eq!(frame.reason.as_str(), "fragments done");
        }
        other => panic!("tungstenite: expected our close, got {other:?}"),
    }
    their_end(&mut ws).await;
}

async fn our_fragment_script<R: Role>(mut driver: Driver<R>) {
    let conn = &mut driver.conn;
    // "é" is C3 A9: its two bytes go in different fragments.
    conn.send_fragment(Fragment::First(DataKind::Text), b"H\xc3")
        .expect("first");
    conn.send_ping(b"between").expect("ping");
    conn.send_fragment(Fragment::Continue, b"\xa9llo, ")
        .expect("continue");
    conn.send_fragment(Fragment::Continue, b"")
        .expect("empty continue");
    conn.send_fragment(Fragment::Last, "wörld".as_bytes())
        .expect("last");
    conn.send_fragment(Fragment::First(DataKind::Binary), b"\x00")
        .expect("first");
    conn.send_fragment(Fragment::Continue, b"\x01\x02")
        .expect("continue");
    conn.send_fragment(Fragment::Last, b"\x03\xff")
        .expect("last");

    // tungstenite's raw frames arrive as they were sent.
    let mut frames = Vec::new();
    let mut assembler = MessageAssembler::new(MIB);
    let mut messages = Vec::new();
    while messages.len() < 4 {
        match driver.expect_event().await {
            Event::Frame(frame) => {
                frames.push((frame.opcode, frame.fin, frame.payload.clone()));
                if let Some(message) = assembler.push(frame).expect("assemble") {
                    messages.push(message);
                }
            }
            other => panic!("expected frames, got {other:?}"),
        }
    }
    let expected_frames = [
        // tungstenite's answer to our ping comes before its own frames.
        (Opcode::Pong, true, &b"between"[..]),
        (Opcode::Text, false, b"H\xc3"),
        (Opcode::Ping, true, b"mid"),
        (Opcode::Continuation, false, b"\xa9llo"),
        (Opcode::Continuation, true, b""),
        (Opcode::Binary, false, b"\x01"),
        (Opcode::Continuation, true, b"\x02\x03"),
    ];
    let frames: Vec<_> = frames
        .iter()
        .map(|(opcode, fin, payload)| (*opcode, *fin, &payload[..]))
        .collect();
    assert_eq!(frames, expected_frames);
    assert_eq!(
        messages,
        vec![
            Message::Pong(Bytes::from_static(b"between")),
            Message::Ping(Bytes::from_static(b"mid")),
            Message::Text("Héllo".into()),
            Message::Binary(Bytes::from_static(b"\x01\x02\x03")),
        ]
    );
    let now = driver.now();
    driver
        .conn
        .close(now, CloseCode::NORMAL, "fragments done")
        .expect("close");
    match driver.expect_event().await {
        Event::Close(close) => {
            assert_eq!(close.code, CloseCode::NORMAL);
            // tungstenite echoes the reason with the code.
            assert_eq!(close.reason, "fragments done");
            assert_eq!(close.initiator, Initiator::Local);
            assert_eq!(close.error, None);
        }
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert_eq!(driver.finish().await, vec![]);
    assert_eq!(driver.errors, vec![]);
}

#[tokio::test]
async fn fragments_and_interleaved_pings_with_their_client() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(their_fragment_script(theirs));
        our_fragment_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

#[tokio::test]
async fn fragments_and_interleaved_pings_with_their_server() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        let theirs = tokio::spawn(their_fragment_script(theirs));
        our_fragment_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Pings and pongs.

const LONGEST_PING: [u8; 125] = [b'p'; 125];

async fn their_ping_script(mut ws: Theirs) {
    // Our automatic pongs echo each payload, the empty and the longest.
    for payload in [&b""[..], b"from tungstenite", &LONGEST_PING] {
        ws.send(TMessage::Ping(Bytes::copy_from_slice(payload)))
            .await
            .expect("tungstenite ping");
        match their_next(&mut ws).await {
            TMessage::Pong(pong) => assert_eq!(&pong[..], payload),
            other => panic!("tungstenite: expected a pong, got {other:?}"),
        }
    }
    ws.send(TMessage::text("your turn")).await.expect("send");
    // Our ping (tungstenite answers it on its next read) and our unsolicited
    // pong.
    match their_next(&mut ws).await {
        TMessage::Ping(payload) => assert_eq!(&payload[..], b"from wsmachine"),
        other => panic!("tungstenite: expected our ping, got {other:?}"),
    }
    match their_next(&mut ws).await {
        TMessage::Pong(payload) => assert_eq!(&payload[..], b"heartbeat"),
        other => panic!("tungstenite: expected our pong, got {other:?}"),
    }
    match their_next(&mut ws).await {
        TMessage::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("tungstenite: expected our close, got {other:?}"),
    }
    their_end(&mut ws).await;
}

async fn our_ping_script<R: Role>(mut driver: Driver<R>) {
    let mut assembler = MessageAssembler::new(MIB);
    for payload in [&b""[..], b"from tungstenite", &LONGEST_PING] {
        assert_eq!(
            driver.next_message(&mut assembler).await,
            Ok(Message::Ping(Bytes::copy_from_slice(payload)))
        );
    }
    assert_eq!(
        driver.next_message(&mut assembler).await,
        Ok(Message::Text("your turn".into()))
    );
    driver.conn.send_ping(b"from wsmachine").expect("ping");
    assert_eq!(
        driver.next_message(&mut assembler).await,
        Ok(Message::Pong(Bytes::from_static(b"from wsmachine")))
    );
    driver.conn.send_pong(b"heartbeat").expect("pong");
    let now = driver.now();
    driver
        .conn
        .close(now, CloseCode::NORMAL, "")
        .expect("close");
    match driver.expect_event().await {
        Event::Close(close) => {
            assert_eq!(
                (close.code, close.initiator),
                (CloseCode::NORMAL, Initiator::Local)
            );
        }
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert_eq!(driver.finish().await, vec![]);
    assert_eq!(driver.errors, vec![]);
}

#[tokio::test]
async fn pings_and_pongs_with_their_client() {
    bounded(async {
        let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
        let theirs = tokio::spawn(their_ping_script(theirs));
        our_ping_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

#[tokio::test]
async fn pings_and_pongs_with_their_server() {
    bounded(async {
        let (ours, theirs) = pair_our_client(|_| {}).await;
        let theirs = tokio::spawn(their_ping_script(theirs));
        our_ping_script(ours).await;
        theirs.await.expect("tungstenite's script");
    })
    .await;
}

// ---------------------------------------------------------------------------
// Closing handshakes: either side starts, 1000 with a reason and 4001.

const CLOSE_CASES: [(u16, &str); 2] = [(1000, "bye: all done"), (4001, "custom ✓ reason")];

/// We close; tungstenite sees our code and reason and echoes both.
async fn we_close<R: Role>(mut ours: Driver<R>, mut theirs: Theirs, code: u16, reason: &str) {
    let expected = close_frame(code, reason);
    let theirs = tokio::spawn(async move {
        match their_next(&mut theirs).await {
            TMessage::Close(Some(frame)) => assert_eq!(frame, expected),
            other => panic!("tungstenite: expected our close, got {other:?}"),
        }
        their_end(&mut theirs).await;
    });
    let now = ours.now();
    ours.conn
        .close(now, CloseCode(code), reason)
        .expect("close");
    assert_eq!(ours.conn.state(), State::Closing);
    match ours.expect_event().await {
        Event::Close(close) => {
            assert_eq!(close.code, CloseCode(code));
            assert_eq!(close.reason, reason);
            assert_eq!(close.initiator, Initiator::Local);
            assert_eq!(close.error, None);
        }
        other => panic!("expected tungstenite's reply, got {other:?}"),
    }
    assert_eq!(ours.finish().await, vec![]);
    assert_eq!(ours.conn.state(), State::Closed);
    assert_eq!(ours.errors, vec![]);
    theirs.await.expect("tungstenite's side");
}

/// tungstenite closes; we see its code and reason and echo the code.
async fn they_close<R: Role>(mut ours: Driver<R>, mut theirs: Theirs, code: u16, reason: &str) {
    let sent = close_frame(code, reason);
    let theirs = tokio::spawn(async move {
        theirs.close(Some(sent)).await.expect("tungstenite close");
        match their_next(&mut theirs).await {
            // RFC 6455 §5.5.1: the reply echoes the code; we send no reason.
            TMessage::Close(Some(frame)) => assert_eq!(frame, close_frame(code, "")),
            other => panic!("tungstenite: expected our reply, got {other:?}"),
        }
        their_end(&mut theirs).await;
    });
    match ours.expect_event().await {
        Event::Close(close) => {
            assert_eq!(close.code, CloseCode(code));
            assert_eq!(close.reason, reason);
            assert_eq!(close.initiator, Initiator::Remote);
            assert_eq!(close.error, None);
        }
        other => panic!("expected tungstenite's close, got {other:?}"),
    }
    assert_eq!(ours.finish().await, vec![]);
    assert_eq!(ours.conn.state(), State::Closed);
    assert_eq!(ours.errors, vec![]);
    theirs.await.expect("tungstenite's side");
}

#[tokio::test]
async fn our_server_closes_their_client() {
    bounded(async {
        for (code, reason) in CLOSE_CASES {
            let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
            we_close(ours, theirs, code, reason).await;
        }
    })
    .await;
}

#[tokio::test]
async fn their_client_closes_our_server() {
    bounded(async {
        for (code, reason) in CLOSE_CASES {
            let (ours, theirs) = pair_our_server(ServerConfig::default()).await;
            they_close(ours, theirs, code, reason).await;
        }
    })
    .await;
}

#[tokio::test]
async fn our_client_closes_their_server() {
    bounded(async {
        for (code, reason) in CLOSE_CASES {
            let (ours, theirs) = pair_our_client(|_| {}).await;
            we_close(ours, theirs, code, reason).await;
        }
    })
    .await;
}

#[tokio::test]
async fn their_server_closes_our_client() {
    bounded(async {
        for (code, reason) in CLOSE_CASES {
            let (ours, theirs) = pair_our_client(|_| {}).await;
            they_close(ours, theirs, code, reason).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// Handshakes without subprotocols, and rejections.

#[tokio::test]
async fn no_subprotocol_offered_none_chosen_both_ways() {
    bounded(async {
        let (listener, addr) = loopback_listener().await;
        let (ours, theirs) = tokio::join!(
            our_server(&listener, ServerConfig::default(), &[], None),
            their_client(addr, &[], None),
        );
        they_close(ours, theirs, 1000, "").await;

        let (theirs, ours) = tokio::join!(
            their_server(&listener, &[], None),
            our_client(addr, our_client_config(addr, &[]), None),
        );
        we_close(ours, theirs, 1000, "").await;
    })
    .await;
}

#[tokio::test]
async fn our_server_rejects_their_client_with_a_status_and_body() {
    bounded(async {
        let (listener, addr) = loopback_listener().await;
        let server = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ours = Driver::new(wsmachine::Server::new(ServerConfig::default()), stream);
            assert!(matches!(ours.expect_event().await, Event::Request(_)));
            let mut headers = Headers::new();
            headers.push("X-Reason", "closed for maintenance");
            ours.conn
                .reject(403, &headers, b"no entry")
                .expect("reject");
            assert_eq!(ours.finish().await, vec![]);
            ours.linger().await;
        };
        let client = async {
            let request = format!("ws://{addr}/interop?case=1")
                .into_client_request()
                .expect("request");
            let stream = TcpStream::connect(addr).await.expect("connect");
            match tokio_tungstenite::client_async(request, stream).await {
                Err(tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status().as_u16(), 403);
                    let header = |name| response.headers().get(name).map(|value| value.as_bytes());
                    assert_eq!(header("X-Reason"), Some(&b"closed for maintenance"[..]));
                    assert_eq!(header("Content-Length"), Some(&b"8"[..]));
                }
                other => panic!("tungstenite: expected the 403, got {other:?}"),
            }
        };
        tokio::join!(server, client);
    })
    .await;
}

#[tokio::test]
async fn their_server_rejection_reaches_our_client_with_its_body() {
    bounded(async {
        let (listener, addr) = loopback_listener().await;
        let server = async {
            let (stream, _) = listener.accept().await.expect("accept");
            // tungstenite's `Callback` trait fixes the closure's large error type.
            #[allow(clippy::result_large_err)]
            let callback = |_: &Request, _: Response| {
                let mut response = ErrorResponse::new(Some("busy, try later".to_owned()));
                *response.status_mut() = tungstenite::http::StatusCode::SERVICE_UNAVAILABLE;
                response
                    .headers_mut()
                    .insert("Retry-After", "5".parse().expect("header value"));
                Err(response)
            };
            let result = tokio_tungstenite::accept_hdr_async(stream, callback).await;
            assert!(
                matches!(result, Err(tungstenite::Error::Http(_))),
                "{result:?}"
            );
            // Dropping the stream here ends the body: tungstenite sends no
            // Content-Length, so the body runs to the end of the connection.
        };
        let client = async {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let client = wsmachine::Client::new(our_client_config(addr, &[]), OsEntropy::new())
                .expect("client");
            let mut ours = Driver::new(client, stream);
            match ours.expect_event().await {
                Event::HandshakeRejected(rejection) => {
                    assert_eq!(rejection.status, 503);
                    assert_eq!(&rejection.body[..], b"busy, try later");
                    assert_eq!(rejection.headers.get_str("Retry-After"), Some("5"));
                    assert_eq!(rejection.body_error, None);
                }
                other => panic!("expected the rejection, got {other:?}"),
            }
            assert_eq!(ours.finish().await, vec![]);
            assert_eq!(ours.conn.state(), State::Closed);
        };
        tokio::join!(server, client);
    })
    .await;
}

// ---------------------------------------------------------------------------
// Keepalive: our timers, driven by tokio's clock through poll_timeout.

fn keepalive(interval_ms: u64, timeout_ms: u64) -> Option<Keepalive> {
    Some(Keepalive {
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(timeout_ms),
    })
}

/// tungstenite answers our keepalive pings (on its next read); returns the
/// pings it saw before our Close.
async fn their_keepalive_script(mut ws: Theirs) -> Vec<Bytes> {
    let mut pings = Vec::new();
    loop {
        match their_next(&mut ws).await {
            TMessage::Ping(payload) => pings.push(payload),
            TMessage::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1000);
                break;
            }
            other => panic!("tungstenite: expected pings, got {other:?}"),
        }
    }
    their_end(&mut ws).await;
    pings
}

async fn our_keepalive_script<R: Role>(mut ours: Driver<R>, theirs: JoinHandle<Vec<Bytes>>) {
    let mut pongs = Vec::new();
    while pongs.len() < 3 {
        match ours.expect_event().await {
            Event::Frame(frame) if frame.opcode == Opcode::Pong => pongs.push(frame.payload),
            other => panic!("expected pongs, got {other:?}"),
        }
    }
    // Each ping carries its own number, so a late pong cannot answer a
    // newer ping.
    let numbered: Vec<Bytes> = (1u64..=3)
        .map(|n| Bytes::copy_from_slice(&n.to_be_bytes()))
        .collect();
    assert_eq!(pongs, numbered);
    let now = ours.now();
    ours.conn.close(now, CloseCode::NORMAL, "").expect("close");
    assert!(matches!(ours.expect_event().await, Event::Close(close) if close.error.is_none()));
    assert_eq!(ours.finish().await, vec![]);
    assert_eq!(ours.errors, vec![]);
    let pings = theirs.await.expect("tungstenite's script");
    assert_eq!(pings.get(..3), Some(&numbered[..]), "pings tungstenite saw");
}

#[tokio::test]
async fn their_client_answers_our_servers_keepalive_pings() {
    bounded(async {
        let mut config = ServerConfig::default();
        config.config.keepalive = keepalive(20, 5_000);
        let (ours, theirs) = pair_our_server(config).await;
        let theirs = tokio::spawn(their_keepalive_script(theirs));
        our_keepalive_script(ours, theirs).await;
    })
    .await;
}

#[tokio::test]
async fn their_server_answers_our_clients_keepalive_pings() {
    bounded(async {
        let (ours, theirs) =
            pair_our_client(|config| config.config.keepalive = keepalive(20, 5_000)).await;
        let theirs = tokio::spawn(their_keepalive_script(theirs));
        our_keepalive_script(ours, theirs).await;
    })
    .await;
}

/// tungstenite reads nothing until we have given up on the pong; then it
/// finds our ping and our Close 1011.
async fn missing_pong_fails_with_1011<R: Role>(mut ours: Driver<R>, mut theirs: Theirs) {
    let (gave_up, wait_for_us) = oneshot::channel::<()>();
    let theirs = tokio::spawn(async move {
        wait_for_us.await.expect("our signal");
        let mut pings = 0;
        loop {
            match their_next(&mut theirs).await {
                TMessage::Ping(payload) => {
                    assert_eq!(&payload[..], &1u64.to_be_bytes());
                    pings += 1;
                }
                TMessage::Close(Some(frame)) => {
                    assert_eq!(u16::from(frame.code), 1011);
                    break;
                }
                other => panic!("tungstenite: expected a ping and a Close, got {other:?}"),
            }
        }
        // One ping: while it is unanswered no other is sent.
        assert_eq!(pings, 1);
        their_end(&mut theirs).await;
    });
    match ours.expect_event().await {
        Event::Close(close) => {
            assert_eq!(close.code, CloseCode::INTERNAL_ERROR);
            assert_eq!(close.initiator, Initiator::Local);
            assert_eq!(close.error, Some(Error::PongTimeout));
        }
        other => panic!("expected the pong timeout, got {other:?}"),
    }
    assert_eq!(ours.finish().await, vec![]);
    gave_up.send(()).expect("tungstenite is waiting");
    ours.linger().await;
    theirs.await.expect("tungstenite's side");
}

#[tokio::test]
async fn our_server_fails_a_silent_client_with_1011() {
    bounded(async {
        let mut config = ServerConfig::default();
        config.config.keepalive = keepalive(10, 100);
        let (ours, theirs) = pair_our_server(config).await;
        missing_pong_fails_with_1011(ours, theirs).await;
    })
    .await;
}

#[tokio::test]
async fn our_client_fails_a_silent_server_with_1011() {
    bounded(async {
        let (ours, theirs) =
            pair_our_client(|config| config.config.keepalive = keepalive(10, 100)).await;
        missing_pong_fails_with_1011(ours, theirs).await;
    })
    .await;
}
