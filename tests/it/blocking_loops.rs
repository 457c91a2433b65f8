//! The blocking examples' shared loop (`examples/blocking/mod.rs`) over real
//! TCP, against raw peers written byte by byte: a Close followed by a reset
//! is a clean end in both roles, a protocol failure and a handshake that
//! never finishes are told apart from it, and `examples/client` exits 0
//! without an `error:` line when the server closes and resets.
//!
//! Every socket has a timeout and every loop runs under a time limit, so a
//! test that goes wrong fails within seconds instead of hanging.

#[path = "../../examples/blocking/mod.rs"]
mod blocking;

use crate::programs;
use crate::support::{close_payload, raw_frame};

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use blocking::{Options, Outcome, Report};
use wsmachine::accept_key::accept_key;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::HandshakeErrorKind;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine::{Client, CloseCode, Error, Event, Initiator};

/// The bound on every socket operation of the raw peers.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on every loop under test.
const LOOP_LIMIT: Duration = Duration::from_secs(15);

fn loop_options() -> Options {
    Options {
        time_limit: Some(LOOP_LIMIT),
        // The raw peers mostly keep their side open: do not wait long for it.
        linger: Duration::from_millis(500),
        ..Options::default()
    }
}

fn bounded(stream: &TcpStream) {
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
}

/// Ends `stream` with a reset rather than a FIN: SO_LINGER 0, then close.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

/// Runs `job` on a thread and waits for its result, failing the test past
/// the loop's limit and a margin.
fn on_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(job());
    });
    receiver
}

fn wait_for<T>(receiver: &mpsc::Receiver<T>) -> T {
    receiver
        .recv_timeout(LOOP_LIMIT + Duration::from_secs(5))
        .expect("the loop under test did not end in time")
}

/// Reads up to the end of an HTTP head.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(n, 1, "the peer closed inside the head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    out
}

/// A frame as the raw peers see it.
#[derive(Debug, PartialEq)]
struct RawFrame {
    opcode: u8,
    masked: bool,
    payload: Vec<u8>,
}

fn read_frame(stream: &mut TcpStream) -> RawFrame {
    read_frame_from(stream)
}

/// A reader that takes at most 16 KiB at a time, pausing before each read.
struct SlowReader<'a>(&'a mut TcpStream);

impl Read for SlowReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        thread::sleep(Duration::from_millis(2));
        let len = buf.len().min(16 * 1024);
        self.0.read(&mut buf[..len])
    }
}

fn read_frame_from(stream: &mut impl Read) -> RawFrame {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).unwrap();
    let masked = header[1] & 0x80 != 0;
    let len = match header[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).unwrap();
            usize::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).unwrap();
            usize::try_from(u64::from_be_bytes(ext)).unwrap()
        }
        len => usize::from(len),
    };
    let mut key = [0u8; 4];
    if masked {
        stream.read_exact(&mut key).unwrap();
    }
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    if masked {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    RawFrame {
        opcode: header[0] & 0x0f,
        masked,
        payload,
    }
}

/// A final frame; masked with a fixed key when `masked` (a client's).
fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    raw_frame(
        0x80 | opcode,
        masked.then_some([0x37, 0xfa, 0x21, 0x3d]),
        payload,
    )
}

const REQUEST_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request() -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {REQUEST_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

// ---- the client role -------------------------------------------------------

/// How the raw server ends the connection after its Close.
#[derive(Clone, Copy)]
enum ServerEnd {
    /// Resets at once, before the client can answer.
    ResetAtOnce,
    /// Reads the client's Close reply, then resets.
    ResetAfterTheReply,
}

/// A raw server for one connection: answers the upgrade by hand, sends a
/// Close 1000 "bye", and resets. Returns the client's request head and the
/// client's Close reply when it waited for it.
fn raw_server(listener: TcpListener, end: ServerEnd) -> (String, Option<RawFrame>) {
    let (mut stream, _) = listener.accept().unwrap();
    bounded(&stream);
    let request = read_head(&mut stream);
    let key = request
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .expect("the request has a key");
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).unwrap();
    stream
        .write_all(&frame(0x8, &close_payload(1000, "bye"), false))
        .unwrap();
    let reply = match end {
        ServerEnd::ResetAtOnce => None,
        ServerEnd::ResetAfterTheReply => Some(read_frame(&mut stream)),
    };
    reset(stream);
    (request, reply)
}

fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// The shared loop as a client of a raw server that ends with `end`.
fn client_against_raw_server(end: ServerEnd) -> (Report, Option<RawFrame>) {
    let (listener, addr) = listen();
    let server = on_thread(move || raw_server(listener, end));
    let client = on_thread(move || {
        let config = ClientConfig::new(&format!("ws://{addr}/chat")).unwrap();
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut client = Client::new(config, FixedEntropy::new(&[7, 1, 9, 3])).unwrap();
        let mut events = Vec::new();
        let mut app = |_: &mut Client<FixedEntropy>, event: Event, _: Duration| {
            events.push(event);
        };
        let report = blocking::run(&mut stream, &mut client, &mut app, &loop_options());
        (report, events)
    });
    let (_request, reply) = wait_for(&server);
    let (report, events) = wait_for(&client);
    assert!(
        matches!(events.first(), Some(Event::Accepted(_))),
        "{events:?}"
    );
    (report, reply)
}

fn assert_clean_close_from_the_server(outcome: &Outcome) {
    let Outcome::Clean(close) = outcome else {
        panic!("not a clean end: {outcome:?}");
    };
    assert_eq!(close.code, CloseCode::NORMAL);
    assert_eq!(close.reason, "bye");
    assert_eq!(close.initiator, Initiator::Remote);
    assert_eq!(close.error, None);
}

#[test]
fn a_server_that_closes_and_resets_at_once_ends_the_client_cleanly() {
    let (report, _) = client_against_raw_server(ServerEnd::ResetAtOnce);
    assert_clean_close_from_the_server(&report.outcome);
}

#[test]
fn a_reset_after_the_clients_close_reply_ends_it_cleanly() {
    let (report, reply) = client_against_raw_server(ServerEnd::ResetAfterTheReply);
    assert_clean_close_from_the_server(&report.outcome);
    // The reply went out, masked, with the server's code (RFC 6455 §5.5.1).
    let reply = reply.expect("the server read the reply");
    assert_eq!(reply.opcode, 0x8);
    assert!(reply.masked);
    assert_eq!(reply.payload, 1000u16.to_be_bytes());
}

#[test]
fn the_client_example_exits_0_without_an_error_line_after_close_and_reset() {
    let binary = programs::example_binary("client");
    for end in [ServerEnd::ResetAtOnce, ServerEnd::ResetAfterTheReply] {
        let (listener, addr) = listen();
        let server = on_thread(move || raw_server(listener, end));
        let mut command = Command::new(&binary);
        command.arg(format!("ws://{addr}/chat"));
        let output = programs::run_bounded(command, LOOP_LIMIT);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let (request, _) = wait_for(&server);
        assert!(request.starts_with("GET /chat HTTP/1.1\r\n"), "{request}");
        assert_eq!(output.status.code(), Some(0), "{stdout}");
        assert!(!stdout.contains("error:"), "{stdout}");
    }
}

// ---- the server role -------------------------------------------------------

/// The echo session on the server side of a connection the test accepts,
/// with `config`.
fn echo_on(stream: TcpStream, config: ServerConfig) -> mpsc::Receiver<(Report, Vec<String>)> {
    on_thread(move || {
        let mut stream = stream;
        let lines = std::cell::RefCell::new(Vec::new());
        let log = |line: &str| lines.borrow_mut().push(line.to_string());
        let report = blocking::serve_echo(&mut stream, &config, &loop_options(), &log);
        (report, lines.into_inner())
    })
}

fn connected_pair() -> (TcpStream, TcpStream) {
    let (listener, addr) = listen();
    let client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    bounded(&client);
    (client, server)
}

fn assert_clean_close_from_the_client(report: &Report, lines: &[String]) {
    let Outcome::Clean(close) = &report.outcome else {
        panic!("not a clean end: {:?}, log {lines:?}", report.outcome);
    };
    assert_eq!(close.code, CloseCode::NORMAL);
    assert_eq!(close.initiator, Initiator::Remote);
    assert!(
        !lines.iter().any(|line| line.contains("error")),
        "{lines:?}"
    );
}

#[test]
fn the_echo_loop_ends_cleanly_when_the_client_closes_and_resets() {
    let (mut client, server) = connected_pair();
    let session = echo_on(server, ServerConfig::default());
    client.write_all(upgrade_request().as_bytes()).unwrap();
    let response = read_head(&mut client);
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    client.write_all(&frame(0x1, b"Hello", true)).unwrap();
    // The echo was written: it comes back whole, as text, unmasked.
    assert_eq!(
        read_frame(&mut client),
        RawFrame {
            opcode: 0x1,
            masked: false,
            payload: b"Hello".to_vec()
        }
    );
    client
        .write_all(&frame(0x8, &close_payload(1000, ""), true))
        .unwrap();
    reset(client);
    let (report, lines) = wait_for(&session);
    assert_clean_close_from_the_client(&report, &lines);
}

#[test]
fn a_message_close_and_reset_all_before_the_server_reads_is_a_clean_end() {
    let (mut client, server) = connected_pair();
    let mut bytes = upgrade_request().into_bytes();
    bytes.extend(frame(0x1, b"Hello", true));
    bytes.extend(frame(0x8, &close_payload(1000, ""), true));
    client.write_all(&bytes).unwrap();
    reset(client);
    // The reset has arrived before the loop starts: its first read gets the
    // bytes, and every write meets the reset.
    thread::sleep(Duration::from_millis(100));
    let (report, lines) = wait_for(&echo_on(server, ServerConfig::default()));
    assert_clean_close_from_the_client(&report, &lines);
    assert!(report.bytes_read >= bytes.len(), "{report:?}");
}

#[test]
fn a_protocol_violation_is_a_failure_with_its_close_code() {
    let (mut client, server) = connected_pair();
    let session = echo_on(server, ServerConfig::default());
    client.write_all(upgrade_request().as_bytes()).unwrap();
    read_head(&mut client);
    // RFC 6455 §5.1: a client's frames are masked; this one is not.
    client.write_all(&frame(0x1, b"Hello", false)).unwrap();
    let close = read_frame(&mut client);
    assert_eq!(close.opcode, 0x8);
    assert_eq!(close.payload[..2], 1002u16.to_be_bytes());
    assert!(read_to_end(&mut client).is_empty());
    let (report, lines) = wait_for(&session);
    match &report.outcome {
        Outcome::Failed {
            error: Error::Protocol(_),
            close: Some(close),
        } => assert_eq!(close.code, CloseCode::PROTOCOL_ERROR),
        other => panic!("not a protocol failure: {other:?}, log {lines:?}"),
    }
}

#[test]
fn the_echo_before_a_violation_reaches_a_slow_reader_whole() {
    // Autobahn 4.2.5 through nginx: a message, then a bad frame, then more
    // bytes the server never reads. Closing a socket with unread input
    // resets it, and a reset throws away what the kernel had not yet sent;
    // the loop shuts its side down and reads to the peer's end first, so
    // the echo and the Close arrive whole.
    let (mut client, server) = connected_pair();
    let session = echo_on(server, ServerConfig::default());
    client.write_all(upgrade_request().as_bytes()).unwrap();
    read_head(&mut client);
    let message: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut bytes = frame(0x2, &message, true);
    bytes.extend(frame(0xf, b"reserved", true));
    let mut writer = client.try_clone().unwrap();
    let sent = on_thread(move || {
        writer.write_all(&bytes).unwrap();
        // Input the server has stopped reading by now.
        thread::sleep(Duration::from_millis(200));
        writer.write_all(&frame(0x9, b"late", true)).unwrap();
    });
    // The reader is slow: when the server has written its last byte, much
    // of the echo still waits in its kernel buffers.
    socket2::SockRef::from(&client)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    let mut slow = SlowReader(&mut client);
    let echo = read_frame_from(&mut slow);
    assert_eq!((echo.opcode, echo.payload.len()), (0x2, message.len()));
    assert!(echo.payload == message, "the echo differs");
    let close = read_frame(&mut client);
    assert_eq!(close.opcode, 0x8);
    assert_eq!(close.payload[..2], 1002u16.to_be_bytes());
    wait_for(&sent);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(read_to_end(&mut client).is_empty());
    let (report, lines) = wait_for(&session);
    assert!(
        matches!(report.outcome, Outcome::Failed { .. }),
        "{:?} {lines:?}",
        report.outcome
    );
}

#[test]
fn a_half_sent_request_gets_408_and_is_closed_at_the_handshake_deadline() {
    let (mut client, server) = connected_pair();
    let mut config = ServerConfig::default();
    config.config.handshake_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let session = echo_on(server, config);
    client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Silence; the server answers and closes (read_to_end sees its EOF).
    let response = String::from_utf8(read_to_end(&mut client)).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("content-length:"),
        "{response}"
    );
    let (report, lines) = wait_for(&session);
    match &report.outcome {
        Outcome::Failed {
            error: Error::Handshake(error),
            close: None,
        } => assert_eq!(error.kind(), HandshakeErrorKind::Timeout),
        other => panic!("not a handshake timeout: {other:?}"),
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains("kind=timeout status=408")),
        "{lines:?}"
    );
}

#[test]
fn a_peer_that_stays_silent_after_the_request_cannot_hold_the_loop_past_its_limit() {
    // Without the handshake deadline only the session's limit is left: the
    // loop ends with the transport error that names it.
    let (mut client, server) = connected_pair();
    let mut config = ServerConfig::default();
    config.config.handshake_timeout = Duration::from_secs(3600);
    let session = on_thread(move || {
        let mut stream = server;
        let options = Options {
            time_limit: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        blocking::serve_echo(&mut stream, &config, &options, &|_| {})
    });
    client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let report = wait_for(&session);
    match &report.outcome {
        Outcome::Io(error) => assert_eq!(error.kind(), ErrorKind::TimedOut),
        other => panic!("not the time limit: {other:?}"),
    }
}
