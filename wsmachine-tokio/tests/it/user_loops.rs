//! The loops users write, each against a raw peer in both roles: whatever
//! loop the app wrote, the peer gets every reply the app sent before a
//! failure, then the failure's Close with the right code, then the end of
//! the connection, and nothing else. The same for the peer's Close.
//!
//! A loop that stops at the first error (`msg?`), or whose `while let`
//! ends at it, drops the socket at once: what is owed must already be
//! written when the error is handed out.

use crate::support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt, TryStreamExt, future};
use support::raw::{raw_upgrade, read_head};
use support::{bounded, loopback, masked_frame, unmasked_frame, upgrade_request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::{Decision, Error, WebSocket};

/// The largest message the sockets under test take, so that a larger one
/// is refused with 1009.
const LIMIT: u64 = 1024;

/// An echo loop as users write it.
#[derive(Clone, Copy, Debug)]
enum UserLoop {
    /// `let msg = msg?;` then `ws.send(msg).await?`.
    TrySend,
    /// `let msg = msg?;` then `ws.feed(msg).await?`.
    TryFeed,
    /// `while let Some(Ok(msg)) = ws.next().await { ws.feed(msg).await? }`.
    WhileOkFeed,
    /// `split()`, then the stream `try_filter`ed into `forward(sink)`.
    SplitForward,
}

const LOOPS: [UserLoop; 4] = [
    UserLoop::TrySend,
    UserLoop::TryFeed,
    UserLoop::WhileOkFeed,
    UserLoop::SplitForward,
];

impl UserLoop {
    async fn run<S>(self, mut ws: WebSocket<S>) -> Result<(), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match self {
            UserLoop::TrySend => {
                while let Some(msg) = ws.next().await {
                    let msg = msg?;
                    if msg.is_text() || msg.is_binary() {
                        ws.send(msg).await?;
                    }
                }
            }
            UserLoop::TryFeed => {
                while let Some(msg) = ws.next().await {
                    let msg = msg?;
                    if msg.is_text() || msg.is_binary() {
                        ws.feed(msg).await?;
                    }
                }
            }
            UserLoop::WhileOkFeed => {
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        ws.feed(msg).await?;
                    }
                }
            }
            UserLoop::SplitForward => {
                let (sink, stream) = ws.split();
                stream
                    .try_filter(|msg| future::ready(msg.is_text() || msg.is_binary()))
                    .forward(sink)
                    .await?;
            }
        }
        Ok(())
    }
}

/// What the raw peer sends after its first message, and the Close code it
/// must get back.
#[derive(Clone, Copy, Debug)]
enum Ending {
    ReservedOpcode,
    InvalidUtf8,
    TooLarge,
    /// A frame masked the wrong way for its sender: unmasked from a
    /// client, masked from a server.
    WrongMasking,
    OversizedPing,
    FragmentedPing,
    UnexpectedContinuation,
    CloseCodeNotAllowed,
    CloseReasonNotUtf8,
    PeerClose,
}

const ENDINGS: [(Ending, u16); 10] = [
    (Ending::ReservedOpcode, 1002),
    (Ending::InvalidUtf8, 1007),
    (Ending::TooLarge, 1009),
    (Ending::WrongMasking, 1002),
    (Ending::OversizedPing, 1002),
    (Ending::FragmentedPing, 1002),
    (Ending::UnexpectedContinuation, 1002),
    (Ending::CloseCodeNotAllowed, 1002),
    (Ending::CloseReasonNotUtf8, 1007),
    (Ending::PeerClose, 1000),
];

impl Ending {
    /// The frame as the raw peer sends it: masked when it is a client.
    fn frame(self, masked: bool) -> Vec<u8> {
        let (opcode, payload) = match self {
            Ending::ReservedOpcode => (0x3, b"x".to_vec()),
            Ending::InvalidUtf8 => (0x1, vec![b'a', 0xff, b'b']),
            Ending::TooLarge => (0x2, vec![7u8; LIMIT as usize + 1]),
            Ending::WrongMasking => return frame(0x1, b"x", !masked),
            Ending::OversizedPing => (0x9, vec![0u8; 126]),
            Ending::FragmentedPing => {
                let mut ping = frame(0x9, b"p", masked);
                ping[0] &= 0x7f;
                return ping;
            }
            Ending::UnexpectedContinuation => (0x0, b"x".to_vec()),
            Ending::CloseCodeNotAllowed => (0x8, 1005u16.to_be_bytes().to_vec()),
            Ending::CloseReasonNotUtf8 => (0x8, vec![0x03, 0xe8, 0xff]),
            Ending::PeerClose => (0x8, 1000u16.to_be_bytes().to_vec()),
        };
        frame(opcode, &payload, masked)
    }
}

fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    if masked {
        masked_frame(opcode, true, payload)
    } else {
        unmasked_frame(opcode, true, payload)
    }
}

/// Reads the frames the socket under test sends, unmasking a client's, up
/// to and with its Close; returns (opcode, payload) for each.
async fn frames_until_close<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    loop {
        let mut head = [0u8; 2];
        stream.read_exact(&mut head).await.expect("a frame header");
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7f {
            126 => u64::from(stream.read_u16().await.expect("length")),
            127 => stream.read_u64().await.expect("length"),
            len => u64::from(len),
        };
        let mut mask = [0u8; 4];
        if masked {
            stream.read_exact(&mut mask).await.expect("mask");
        }
        let mut payload = vec![0u8; len as usize];
        stream.read_exact(&mut payload).await.expect("payload");
        if masked {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= mask[i % 4];
            }
        }
        let opcode = head[0] & 0x0f;
        frames.push((opcode, payload));
        if opcode == 0x8 {
            return frames;
        }
    }
}

/// The replies a raw peer must see: the echo of "hello", then a Close with
/// `code`.
fn expected(code: u16) -> Vec<(u8, Vec<u8>)> {
    vec![(0x1, b"hello".to_vec()), (0x8, code.to_be_bytes().to_vec())]
}

fn limited_server_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.max_message_size = LIMIT;
    config
}

/// The server role: a raw client sends "hello" and the ending in one
/// write, to a server socket run by `user_loop`.
async fn server_case(user_loop: UserLoop, ending: Ending, code: u16) {
    let (listener, addr) = loopback().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let ws =
            wsmachine_tokio::accept_with(stream, limited_server_config(), |_| Decision::accept())
                .await
                .expect("handshake");
        user_loop.run(ws).await
    });
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    assert!(
        raw_upgrade(&mut stream, "/")
            .await
            .starts_with(b"HTTP/1.1 101")
    );
    let mut bytes = masked_frame(0x1, true, b"hello");
    bytes.extend(ending.frame(true));
    stream.write_all(&bytes).await.expect("write");
    let frames = frames_until_close(&mut stream).await;
    assert_eq!(frames, expected(code), "{user_loop:?}, {ending:?}, server");
    // The server closes the transport after the closing handshake, with
    // nothing more.
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.expect("the end");
    assert!(
        rest.is_empty(),
        "{user_loop:?}, {ending:?}: {rest:?} after the Close"
    );
    drop(stream);
    let result = server.await.expect("server task");
    check_result(user_loop, ending, result);
}

/// The client role: a raw server answers the upgrade and sends "hello" and
/// the ending in the same write, to a client socket run by `user_loop`.
async fn client_case(user_loop: UserLoop, ending: Ending, code: u16) {
    let (listener, addr) = loopback().await;
    let client = tokio::spawn(async move {
        let mut config = ClientConfig::new(&format!("ws://{addr}/")).expect("url");
        config.config.max_message_size = LIMIT;
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (ws, _) = wsmachine_tokio::client(stream, config)
            .await
            .expect("handshake");
        user_loop.run(ws).await
    });
    let (mut stream, _) = listener.accept().await.expect("accept");
    let request = String::from_utf8(read_head(&mut stream).await).expect("a text head");
    let key = request
        .lines()
        .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    let mut bytes = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wsmachine::accept_key::accept_key(key.as_bytes())
    )
    .into_bytes();
    bytes.extend(frame(0x1, b"hello", false));
    bytes.extend(ending.frame(false));
    stream.write_all(&bytes).await.expect("write");
    let frames = frames_until_close(&mut stream).await;
    assert_eq!(frames, expected(code), "{user_loop:?}, {ending:?}, client");
    if let Ending::PeerClose = ending {
        // The client waits for the server to close the transport.
        drop(stream);
    } else {
        // A failing client closes the transport itself, after its Close.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.expect("the end");
        assert!(
            rest.is_empty(),
            "{user_loop:?}, {ending:?}: {rest:?} after the Close"
        );
        drop(stream);
    }
    let result = client.await.expect("client task");
    check_result(user_loop, ending, result);
}

/// The loop's own result: `Ok` after the peer's Close; after a violation,
/// the error for the loops that return it.
fn check_result(user_loop: UserLoop, ending: Ending, result: Result<(), Error>) {
    match (user_loop, ending) {
        (_, Ending::PeerClose) | (UserLoop::WhileOkFeed, _) => {
            assert!(result.is_ok(), "{user_loop:?}, {ending:?}: {result:?}");
        }
        _ => assert!(
            matches!(result, Err(Error::Protocol(_))),
            "{user_loop:?}, {ending:?}: {result:?}"
        ),
    }
}

#[tokio::test]
async fn every_loop_as_a_server_sends_the_echo_then_the_right_close() {
    bounded(async {
        for user_loop in LOOPS {
            for (ending, code) in ENDINGS {
                server_case(user_loop, ending, code).await;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn every_loop_as_a_client_sends_the_echo_then_the_right_close() {
    bounded(async {
        for user_loop in LOOPS {
            for (ending, code) in ENDINGS {
                client_case(user_loop, ending, code).await;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn after_the_failure_the_stream_is_fused() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = wsmachine_tokio::accept(stream).await.expect("handshake");
            let first = ws.next().await;
            assert!(matches!(first, Some(Err(Error::Protocol(_)))), "{first:?}");
            assert!(futures_util::stream::FusedStream::is_terminated(&ws));
            for _ in 0..3 {
                assert!(ws.next().await.is_none());
            }
        });
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(upgrade_request("/").as_bytes())
            .await
            .expect("request");
        read_head(&mut stream).await;
        stream
            .write_all(&masked_frame(0x3, true, b""))
            .await
            .expect("write");
        assert_eq!(
            frames_until_close(&mut stream).await,
            [(0x8, 1002u16.to_be_bytes().to_vec())]
        );
        drop(stream);
        server.await.expect("server task");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_cannot_hold_the_failure_back() {
    // The failure's Close cannot be written to a peer that reads nothing
    // while the pipe is full; the error still comes, after the close
    // timeout.
    let (mut client, server) = tokio::io::duplex(64);
    let accept = wsmachine_tokio::accept(server);
    let raw = async {
        client
            .write_all(upgrade_request("/").as_bytes())
            .await
            .expect("request");
        read_head(&mut client).await;
    };
    let (ws, ()) = tokio::join!(accept, raw);
    let mut ws = ws.expect("handshake");
    // Fill the pipe with an echo nobody reads, then break the protocol.
    ws.feed(wsmachine_tokio::Message::binary(vec![0u8; 4096]))
        .await
        .expect("feed");
    client
        .write_all(&masked_frame(0x3, true, b""))
        .await
        .expect("write");
    let started = tokio::time::Instant::now();
    let next = ws.next().await;
    assert!(matches!(next, Some(Err(Error::Protocol(_)))), "{next:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
    drop(client);
}
