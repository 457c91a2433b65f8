//! The async and Autobahn examples, run for real on ephemeral ports.
//!
//! `tokio_echo` and `hyper_upgrade` are included as modules, so their
//! serving functions run in the test's runtime; their clients are
//! tokio-tungstenite (an independent implementation) and raw bytes. The
//! `autobahn_client` binary is built with the test's own features and run
//! against a fake fuzzingserver made of wsmachine's `Server`.
//!
//! Every test is bounded: async ones by `tokio::time::timeout`, processes by
//! a deadline after which they are killed.

// Each example is included whole and brings its own `mod common;`, so the
// shared module is compiled once per example, as in the examples themselves.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/tokio_echo.rs"]
mod tokio_echo;

#[cfg(feature = "http")]
#[allow(dead_code)]
#[path = "../examples/hyper_upgrade.rs"]
mod hyper_upgrade;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use wsmachine::config::Keepalive;

/// The handshake deadline of the tokio_echo servers under test; short only
/// where the test is about it, so that a loaded machine cannot trip it.
const HANDSHAKE_TIMEOUT: Duration = tokio_echo::HANDSHAKE_TIMEOUT;
const SHORT_HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(300);

/// The bound on each async test.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_TIMEOUT, test).await {
        Ok(value) => value,
        Err(_) => panic!("the test took longer than {TEST_TIMEOUT:?}"),
    }
}

/// The lines a server logged, for assertions.
#[derive(Clone, Default)]
struct LogLines(Arc<Mutex<Vec<String>>>);

impl LogLines {
    fn sink(&self) -> Arc<dyn Fn(&str) + Send + Sync> {
        let lines = Arc::clone(&self.0);
        Arc::new(move |line: &str| lines.lock().unwrap().push(line.to_string()))
    }

    /// Waits until a line contains `needle` (the server logs after it
    /// writes, so a client can be a little ahead of the log).
    async fn wait_for(&self, needle: &str) -> String {
        loop {
            if let Some(line) = self.0.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(target: &str, version: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    )
}

/// A client frame: FIN set, masked with a fixed key, payload under 126 bytes.
fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// Splits unmasked server frames with short payloads into (opcode, payload).
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while let [first, second, rest @ ..] = bytes {
        assert_eq!(first & 0x80, 0x80, "unfragmented frames only");
        assert_eq!(second & 0x80, 0, "a server frame is never masked");
        let len = usize::from(second & 0x7f);
        assert!(len < 126, "short frames only");
        frames.push((first & 0x0f, rest[..len].to_vec()));
        bytes = &rest[len..];
    }
    assert!(bytes.is_empty(), "a partial frame is left: {bytes:?}");
    frames
}

/// Reads an HTTP response head; returns it and whatever followed it.
async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = received.split_off(end + 4);
            return (String::from_utf8(received).unwrap(), rest);
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection ended inside the head");
        received.extend_from_slice(&buf[..n]);
    }
}

/// A response as the test reads it: status, headers (names lowercased),
/// body.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} appears twice");
        value
    }
}

/// Sends `request` and reads the response to the end of the connection,
/// which the server closes (by `Connection: close` or after an error).
async fn exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let (head, mut body) = read_head(&mut stream).await;
    stream.read_to_end(&mut body).await.unwrap();
    let mut lines = head.trim_end().split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let response = RawResponse {
        status,
        headers,
        body,
    };
    if let Some(length) = response.header("content-length") {
        assert_eq!(length.parse::<usize>().unwrap(), response.body.len());
    }
    response
}

/// Sends each message and checks its echo, then closes with 1000 and checks
/// the server's answer and the end of the stream.
async fn echo_and_close(url: &str) {
    let (mut socket, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), 101);
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for message in [
        WsMessage::text("hello"),
        WsMessage::text("héllo wörld ✓"),
        WsMessage::binary(vec![0u8, 1, 2, 0xfe, 0xff]),
        WsMessage::binary(big),
        WsMessage::text(""),
    ] {
        socket.send(message.clone()).await.unwrap();
        let echo = socket.next().await.unwrap().unwrap();
        assert_eq!(echo, message);
    }

    socket
        .send(WsMessage::Ping("are you there".into()))
        .await
        .unwrap();
    let pong = socket.next().await.unwrap().unwrap();
    assert_eq!(pong, WsMessage::Pong("are you there".into()));

    socket
        .send(WsMessage::Close(Some(CloseFrame {
            code: WsCloseCode::Normal,
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    let close = socket.next().await.unwrap().unwrap();
    let WsMessage::Close(Some(frame)) = close else {
        panic!("expected a Close, got {close:?}");
    };
    assert_eq!(u16::from(frame.code), 1000);
    // The server closes the TCP connection after the closing handshake.
    assert!(socket.next().await.is_none());
}

async fn start_tokio_echo(
    config: wsmachine::handshake::server::ServerConfig,
) -> (SocketAddr, LogLines) {
    start_tokio_echo_with(config, HANDSHAKE_TIMEOUT).await
}

async fn start_tokio_echo_with(
    config: wsmachine::handshake::server::ServerConfig,
    handshake_timeout: Duration,
) -> (SocketAddr, LogLines) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = LogLines::default();
    tokio::spawn(tokio_echo::serve(
        listener,
        Arc::new(config),
        handshake_timeout,
        Some(log.sink()),
    ));
    (addr, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_echo_echoes_pings_and_closes() {
    bounded(async {
        let (addr, log) = start_tokio_echo(tokio_echo::server_config(16 << 20)).await;
        echo_and_close(&format!("ws://{addr}/chat")).await;
        assert!(
            log.wait_for("accepted /chat")
                .await
                .starts_with("127.0.0.1:")
        );
        log.wait_for("closed: code=1000 initiator=Remote").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_echo_serves_connections_concurrently() {
    bounded(async {
        let (addr, _log) = start_tokio_echo(tokio_echo::server_config(1 << 20)).await;
        let url = format!("ws://{addr}/");
        // The first connection stays open and idle while the second runs to
        // its end: each connection has its own task.
        let (mut idle, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        echo_and_close(&url).await;
        idle.send(WsMessage::text("still here")).await.unwrap();
        assert_eq!(
            idle.next().await.unwrap().unwrap(),
            WsMessage::text("still here")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_echo_drops_a_client_that_sends_no_request() {
    bounded(async {
        let (addr, log) =
            start_tokio_echo_with(tokio_echo::server_config(1 << 20), SHORT_HANDSHAKE_TIMEOUT)
                .await;
        // Before the server's clock starts, so a lower bound on its deadline.
        let connecting = tokio::time::Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        assert!(connecting.elapsed() >= SHORT_HANDSHAKE_TIMEOUT);
        assert_eq!(received, b"", "nothing is sent to a silent client");
        log.wait_for("handshake timed out").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_echo_answers_a_plain_get_with_426() {
    bounded(async {
        let (addr, log) = start_tokio_echo(tokio_echo::server_config(1 << 20)).await;
        let response = exchange(addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert_eq!(response.status, 426);
        assert_eq!(response.header("upgrade"), Some("websocket"));
        assert_eq!(response.body, b"not a WebSocket upgrade request\n");
        log.wait_for("handshake failed: kind=not_websocket status=426")
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_echo_fails_a_peer_that_does_not_answer_keepalive_pings() {
    bounded(async {
        let mut config = tokio_echo::server_config(1 << 20);
        let keepalive = Keepalive {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(150),
        };
        config.config.keepalive = Some(keepalive);
        let (addr, log) = start_tokio_echo(config).await;

        // Before the server's clock starts, so a lower bound on its timers.
        let connecting = tokio::time::Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(upgrade_request("/", "13").as_bytes())
            .await
            .unwrap();
        let (head, mut rest) = read_head(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        // Never answer: the server's timers must fire with no input at all.
        stream.read_to_end(&mut rest).await.unwrap();
        let elapsed = connecting.elapsed();

        let frames = server_frames(&rest);
        assert_eq!(
            frames.first().map(|f| f.0),
            Some(0x9),
            "a ping first: {frames:?}"
        );
        let (opcode, payload) = frames.last().unwrap();
        assert_eq!(*opcode, 0x8, "a Close last: {frames:?}");
        assert_eq!(payload[..2], 1011u16.to_be_bytes(), "internal error");
        assert!(
            elapsed >= keepalive.interval + keepalive.timeout,
            "closed after {elapsed:?}"
        );
        log.wait_for("closed: code=1011 initiator=Local error: no pong")
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_echo_closes_with_1002_after_an_unmasked_frame() {
    bounded(async {
        let (addr, log) = start_tokio_echo(tokio_echo::server_config(1 << 20)).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut request = upgrade_request("/", "13").into_bytes();
        // The request and a first (masked, valid) frame in one write: the
        // machine keeps early bytes for after the handshake.
        request.extend(masked_frame(0x1, b"early"));
        stream.write_all(&request).await.unwrap();
        let (head, mut rest) = read_head(&mut stream).await;
        assert!(
            head.contains(&format!("Sec-WebSocket-Accept: {SAMPLE_ACCEPT}")),
            "{head}"
        );
        // An unmasked text frame: RFC 6455 §5.1 says the server fails this.
        stream.write_all(b"\x81\x02hi").await.unwrap();
        stream.read_to_end(&mut rest).await.unwrap();
        let frames = server_frames(&rest);
        assert_eq!(frames[0], (0x1, b"early".to_vec()));
        assert_eq!(frames[1].0, 0x8);
        assert_eq!(frames[1].1[..2], 1002u16.to_be_bytes());
        assert_eq!(frames.len(), 2);
        log.wait_for("closed: code=1002 initiator=Local").await;
    })
    .await;
}

#[cfg(feature = "http")]
mod hyper_tests {
    use super::*;

    async fn start_hyper() -> (SocketAddr, LogLines) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = LogLines::default();
        let app = Arc::new(hyper_upgrade::App {
            config: hyper_upgrade::app_config(),
            sink: Some(log.sink()),
        });
        tokio::spawn(hyper_upgrade::serve(listener, app));
        (addr, log)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_root_serves_the_page() {
        bounded(async {
            let (addr, _log) = start_hyper().await;
            let response = exchange(
                addr,
                b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await;
            assert_eq!(response.status, 200);
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(response.body, hyper_upgrade::PAGE.as_bytes());

            let missing = exchange(
                addr,
                b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await;
            assert_eq!(missing.status, 404);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_plain_get_of_ws_gets_426_with_the_crates_headers() {
        bounded(async {
            let (addr, log) = start_hyper().await;
            let response = exchange(addr, b"GET /ws HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
            assert_eq!(response.status, 426);
            assert_eq!(response.header("upgrade"), Some("websocket"));
            assert_eq!(response.header("connection"), Some("upgrade, close"));
            assert_eq!(response.header("sec-websocket-version"), None);
            assert_eq!(response.body, b"not a WebSocket upgrade request\n");
            log.wait_for("handshake failed: kind=not_websocket status=426")
                .await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_bad_requests_get_the_crates_status() {
        bounded(async {
            let (addr, _log) = start_hyper().await;
            let old_version = exchange(addr, upgrade_request("/ws", "8").as_bytes()).await;
            assert_eq!(old_version.status, 426);
            assert_eq!(old_version.header("sec-websocket-version"), Some("13"));

            let post = upgrade_request("/ws", "13").replacen("GET", "POST", 1);
            let post = exchange(addr, post.as_bytes()).await;
            assert_eq!(post.status, 405);
            assert_eq!(post.header("allow"), Some("GET"));

            let no_key = upgrade_request("/ws", "13")
                .replace(&format!("Sec-WebSocket-Key: {SAMPLE_KEY}\r\n"), "");
            assert_eq!(exchange(addr, no_key.as_bytes()).await.status, 400);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ws_echoes_pings_and_closes() {
        bounded(async {
            let (addr, log) = start_hyper().await;
            echo_and_close(&format!("ws://{addr}/ws")).await;
            log.wait_for("accepted /ws").await;
            log.wait_for("closed: code=1000 initiator=Remote").await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_frame_sent_with_the_request_reaches_the_machine() {
        bounded(async {
            let (addr, _log) = start_hyper().await;
            let mut stream = TcpStream::connect(addr).await.unwrap();
            // hyper reads the frame with the head; it must hand it on as the
            // start of the upgraded stream.
            let mut request = upgrade_request("/ws", "13").into_bytes();
            request.extend(masked_frame(0x1, b"eager"));
            stream.write_all(&request).await.unwrap();

            let (head, mut rest) = read_head(&mut stream).await;
            assert!(
                head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
                "{head}"
            );
            let accept = head.split("\r\n").find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-accept")
                    .then(|| value.trim())
            });
            assert_eq!(accept, Some(SAMPLE_ACCEPT), "{head}");
            let echo = [0x81, 5, b'e', b'a', b'g', b'e', b'r'];
            while rest.len() < echo.len() {
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the connection ended before the echo");
                rest.extend_from_slice(&buf[..n]);
            }
            assert_eq!(rest, echo);

            // The Close is sent on its own: a message that arrives in the
            // same read as the peer's Close cannot be echoed, because the
            // machine has answered the Close by the time the app sees it.
            stream
                .write_all(&masked_frame(0x8, &1000u16.to_be_bytes()))
                .await
                .unwrap();
            let mut after = Vec::new();
            stream.read_to_end(&mut after).await.unwrap();
            assert_eq!(
                server_frames(&after),
                vec![(0x8, 1000u16.to_be_bytes().to_vec())]
            );
        })
        .await;
    }
}

mod autobahn {
    //! A fake fuzzingserver: wsmachine's `Server` on blocking std::net,
    //! speaking the three Autobahn endpoints with two small cases.

    use std::io::{ErrorKind, Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::process::{Command, Output, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use wsmachine::handshake::server::{Accept, ServerConfig};
    use wsmachine::http::Headers;
    use wsmachine::message::{Message, MessageAssembler};
    use wsmachine::{CloseCode, DataKind, Event, Fragment, Server};

    /// What the fake server saw, one line per connection.
    type Record = Arc<Mutex<Vec<String>>>;

    /// The bound on a fake server connection's silence.
    const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

    /// What a case sends: messages, and pings between a fragmented text
    /// message's pieces.
    enum Send {
        Text(&'static str),
        Binary(Vec<u8>),
        FragmentedText(&'static [&'static str], &'static [u8]),
    }

    fn case(number: u32) -> Option<Vec<Send>> {
        match number {
            1 => Some(vec![
                Send::Text("Hello, Autobahn"),
                Send::Binary(vec![0, 1, 2, 3, 0xfe, 0xff]),
            ]),
            // Over the default 1 MiB limit: the client must raise its own.
            2 => Some(vec![
                Send::FragmentedText(&["Frag", "men", "ted ✓"], b"in-between"),
                Send::Binary((0..(2 << 20) + 1).map(|i: u32| (i % 253) as u8).collect()),
            ]),
            _ => None,
        }
    }

    fn expected_echo(send: &Send) -> Message {
        match send {
            Send::Text(text) => Message::Text((*text).into()),
            Send::Binary(data) => Message::Binary(data.clone().into()),
            Send::FragmentedText(pieces, _) => Message::Text(pieces.concat().into()),
        }
    }

    fn query_value<'a>(target: &'a str, name: &str) -> Option<&'a str> {
        let (_, query) = target.split_once('?')?;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }

    pub fn start_fake_fuzzingserver() -> (String, Record) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("ws://{}", listener.local_addr().unwrap());
        let record = Record::default();
        let for_server = Arc::clone(&record);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let record = Arc::clone(&for_server);
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let outcome =
                        serve(&mut stream).unwrap_or_else(|error| format!("transport: {error}"));
                    // Recorded before the transport closes: the client starts
                    // its next connection only after this one's end, so the
                    // record is in the client's order.
                    record.lock().unwrap().push(outcome);
                    let _ = stream.shutdown(Shutdown::Both);
                });
            }
        });
        (base, record)
    }

    /// Runs one connection up to the moment its transport should close;
    /// returns the line for the record.
    fn serve(stream: &mut TcpStream) -> std::io::Result<String> {
        let start = Instant::now();
        let now = || start.elapsed();
        let mut config = ServerConfig::default();
        config.config.limits.max_message_size = 16 << 20;
        config.config.limits.max_frame_payload = 16 << 20;
        let mut server = Server::new(config);
        let mut assembler = MessageAssembler::new(16 << 20);
        let mut buf = vec![0u8; 64 * 1024];
        let mut line = String::from("no request");
        let mut expected: Vec<Message> = Vec::new();
        let mut received: Vec<Message> = Vec::new();
        let mut pong_expected: Option<&'static [u8]> = None;
        let mut pong_received = false;
        loop {
            while let Some(bytes) = server.poll_transmit() {
                stream.write_all(&bytes)?;
            }
            if server.is_closed() {
                return Ok(line);
            }
            let wait = server.poll_timeout().map_or(IDLE_TIMEOUT, |at| {
                at.saturating_sub(now()).max(Duration::from_millis(1))
            });
            stream.set_read_timeout(Some(wait.min(IDLE_TIMEOUT)))?;
            let _ = match stream.read(&mut buf) {
                Ok(0) => server.receive_eof(now()),
                Ok(n) => server.receive(now(), &buf[..n]),
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    if now() > IDLE_TIMEOUT * 3 {
                        return Ok(format!("{line}: timed out"));
                    }
                    server.handle_timeout(now());
                    Ok(())
                }
                Err(error) => return Err(error),
            };
            while let Some(event) = server.poll_event() {
                match event {
                    Event::Request(request) => {
                        let target = request.target().to_string();
                        let path = target.split('?').next().unwrap_or_default().to_string();
                        let agent = query_value(&target, "agent").unwrap_or("none").to_string();
                        match path.as_str() {
                            "/getCaseCount" => {
                                line = "getCaseCount".into();
                                server.accept(now(), Accept::default()).unwrap();
                                server.send_text("2").unwrap();
                                server.close(now(), CloseCode::NORMAL, "").unwrap();
                            }
                            "/updateReports" => {
                                line = format!("updateReports agent={agent}");
                                server.accept(now(), Accept::default()).unwrap();
                                server.close(now(), CloseCode::NORMAL, "").unwrap();
                            }
                            "/runCase" => {
                                let number = query_value(&target, "case")
                                    .and_then(|n| n.parse().ok())
                                    .unwrap_or(0);
                                let Some(sends) = case(number) else {
                                    line = format!("unknown case {target}");
                                    server.reject(404, &Headers::new(), b"").unwrap();
                                    continue;
                                };
                                line = format!("case {number} agent={agent}");
                                server.accept(now(), Accept::default()).unwrap();
                                for send in &sends {
                                    match send {
                                        Send::Text(text) => server.send_text(text).unwrap(),
                                        Send::Binary(data) => server.send_binary(data).unwrap(),
                                        Send::FragmentedText(pieces, ping) => {
                                            let (first, rest) = pieces.split_first().unwrap();
                                            let (last, middle) = rest.split_last().unwrap();
                                            server
                                                .send_fragment(
                                                    Fragment::First(DataKind::Text),
                                                    first.as_bytes(),
                                                )
                                                .unwrap();
                                            server.send_ping(ping).unwrap();
                                            pong_expected = Some(ping);
                                            for piece in middle {
                                                server
                                                    .send_fragment(
                                                        Fragment::Continue,
                                                        piece.as_bytes(),
                                                    )
                                                    .unwrap();
                                            }
                                            server
                                                .send_fragment(Fragment::Last, last.as_bytes())
                                                .unwrap();
                                        }
                                    }
                                }
                                expected = sends.iter().map(expected_echo).collect();
                            }
                            _ => {
                                line = format!("unknown endpoint {target}");
                                server.reject(404, &Headers::new(), b"").unwrap();
                            }
                        }
                    }
                    Event::Frame(frame) => match assembler.push(frame) {
                        Ok(Some(Message::Pong(payload))) => {
                            pong_received = pong_expected.is_some_and(|p| payload == p);
                        }
                        Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            received.push(message);
                            if received.len() == expected.len() {
                                let verdict = if received != expected {
                                    "fail: echoes differ"
                                } else if pong_expected.is_some() && !pong_received {
                                    "fail: no pong"
                                } else {
                                    "pass"
                                };
                                line = format!("{line}: {verdict}");
                                server.close(now(), CloseCode::NORMAL, "").unwrap();
                            }
                        }
                        Ok(_) => {}
                        Err(error) => line = format!("{line}: message error {error}"),
                    },
                    Event::Close(close) => {
                        if close.code != CloseCode::NORMAL || close.error.is_some() {
                            line = format!("{line}: closed with {} {:?}", close.code, close.error);
                        }
                    }
                    Event::Accepted(_) | Event::HandshakeRejected(_) | Event::ProxyRejected(_) => {}
                }
            }
        }
    }

    /// Runs `command` with a deadline, killing it when the deadline passes;
    /// stdout and stderr are read on threads so that a full pipe cannot
    /// stall it.
    fn run_bounded(mut command: Command, deadline: Duration) -> Output {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stdout_reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stdout.read_to_end(&mut out);
            out
        });
        let stderr_reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stderr.read_to_end(&mut out);
            out
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{command:?} ran for more than {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: stdout_reader.join().unwrap(),
            stderr: stderr_reader.join().unwrap(),
        }
    }

    /// Builds the example with this test's profile and features (so that,
    /// after `cargo test`, it is already fresh) and returns its path.
    fn autobahn_client_binary() -> String {
        let mut features = Vec::new();
        if cfg!(feature = "std") {
            features.push("std");
        }
        if cfg!(feature = "os-entropy") {
            features.push("os-entropy");
        }
        if cfg!(feature = "http") {
            features.push("http");
        }
        let mut command = Command::new(env!("CARGO"));
        command.args([
            "build",
            "--quiet",
            "--example",
            "autobahn_client",
            "--message-format=json",
            "--manifest-path",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "--no-default-features",
            "--features",
            &features.join(","),
        ]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let output = run_bounded(command, Duration::from_secs(600));
        assert!(
            output.status.success(),
            "building the example failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let messages = String::from_utf8(output.stdout).unwrap();
        let artifact = messages
            .lines()
            .find(|line| {
                line.contains(r#""reason":"compiler-artifact""#)
                    && line.contains(r#""name":"autobahn_client""#)
            })
            .expect("cargo reported the example");
        let (_, rest) = artifact
            .split_once(r#""executable":""#)
            .expect("the example is an executable");
        rest.split('"').next().unwrap().to_string()
    }

    #[test]
    fn the_client_runs_every_case_and_updates_the_reports() {
        let binary = autobahn_client_binary();
        let (base, record) = start_fake_fuzzingserver();
        let mut command = Command::new(&binary);
        command.arg(&base);
        let output = run_bounded(command, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout.lines().collect::<Vec<_>>(),
            vec![
                "cases: 2",
                "case 1/2: 2 messages echoed, closed: code=1000 initiator=Remote",
                "case 2/2: 2 messages echoed, closed: code=1000 initiator=Remote",
                "reports updated for agent wsmachine",
            ]
        );
        // Each connection is recorded before the client sees its end.
        assert_eq!(
            *record.lock().unwrap(),
            vec![
                "getCaseCount",
                "case 1 agent=wsmachine: pass",
                "case 2 agent=wsmachine: pass",
                "updateReports agent=wsmachine",
            ]
        );
    }

    #[test]
    fn the_client_fails_when_no_server_listens() {
        let binary = autobahn_client_binary();
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut command = Command::new(&binary);
        command.arg(format!("ws://127.0.0.1:{port}/"));
        let output = run_bounded(command, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.starts_with("error: getCaseCount: connect: "),
            "{stdout}"
        );
    }
}
