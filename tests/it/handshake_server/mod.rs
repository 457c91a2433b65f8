//! The server's opening handshake through the public API: valid requests and
//! the app's decision, every refused request with its typed error and exact
//! HTTP error response, early frames, and the end of the transport. Every
//! byte stream is also fed whole, byte by byte and split at every position.

use crate::support;

mod accepting;
mod limits;
mod refused;
mod transport;

use std::time::Duration;

use support::*;
use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::http::{HeadError, HeadLimits, Headers, MalformedKind};
use wsmachine::{CloseCode, Error, Event, Initiator, Opcode, Server, State};

const T0: Duration = Duration::ZERO;

fn server_with_limits(limits: HeadLimits) -> impl Fn() -> Server {
    move || {
        let mut config = ServerConfig::default();
        config.head_limits = limits;
        Server::new(config)
    }
}

fn server_with_origins(origins: &[&str]) -> impl Fn() -> Server {
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    move || {
        let mut config = ServerConfig::default();
        config.allowed_origins = Some(origins.clone());
        Server::new(config)
    }
}

/// One HTTP response as the test reads it, independently of the crate's parser.
#[derive(Debug)]
struct WireResponse {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl WireResponse {
    fn values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn header(&self, name: &str) -> Option<&str> {
        match self.values(name).as_slice() {
            [] => None,
            [value] => Some(value),
            many => panic!("{name} appears {} times", many.len()),
        }
    }
}

/// Splits `wire` into exactly one response framed by Content-Length: CRLF
/// line endings, no Transfer-Encoding, and nothing after the body.
fn single_response(wire: &[u8]) -> WireResponse {
    let text = std::str::from_utf8(wire).expect("an error response is ASCII");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line").to_string();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
            let (name, value) = line.split_once(": ").expect("name: value");
            (name.to_string(), value.to_string())
        })
        .collect();
    let response = WireResponse {
        status_line,
        headers,
        body: body.as_bytes().to_vec(),
    };
    assert!(response.values("Transfer-Encoding").is_empty());
    let length: usize = response
        .header("Content-Length")
        .expect("Content-Length")
        .parse()
        .expect("a decimal Content-Length");
    assert_eq!(
        length,
        response.body.len(),
        "Content-Length matches the body"
    );
    response
}

/// Feeds `input` every way to a fresh server from `make` and checks that it
/// is refused with `expected`, whose kind and status are given, and that the
/// one queued response has `status_line` and carries `required` headers.
/// Then checks that the failure is sticky.
fn assert_refused(
    make: impl Fn() -> Server,
    input: &[u8],
    expected: HandshakeError,
    kind: HandshakeErrorKind,
    status: u16,
    status_line: &str,
    required: &[(&str, &str)],
) {
    assert_eq!(expected.kind(), kind, "{expected:?}");
    assert_eq!(expected.status(), Some(status), "{expected:?}");
    let outcome = feed_every_way(&make, input, false);
    assert_eq!(
        outcome.error,
        Some(Error::Handshake(expected.clone())),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(outcome.events, vec![], "no event for a refused request");
    assert_eq!(outcome.state, State::Closed);
    let response = single_response(&outcome.transmitted);
    assert_eq!(response.status_line, status_line);
    // RFC 9110 §7.8: whoever sends Upgrade (a 426 must) also sends the
    // `upgrade` connection option, so that proxies do not forward it.
    let connection = if status == 426 {
        "upgrade, close"
    } else {
        "close"
    };
    assert_eq!(response.header("Connection"), Some(connection));
    if status == 426 {
        assert_eq!(response.header("Upgrade"), Some("websocket"));
    }
    for (name, value) in required {
        assert_eq!(response.header(name), Some(*value), "{name}");
    }
    // The same with EOF afterwards: the error stays the handshake's.
    assert_eq!(feed(make(), input, &[], true), outcome);

    // Sticky: every later call returns the same error and queues nothing.
    let mut server = make();
    let error = server.receive(T0, input).expect_err("refused");
    assert_eq!(error, Error::Handshake(expected.clone()));
    drain_transmit(&mut server);
    assert_eq!(server.receive(T0, &upgrade_request("")), Err(error.clone()));
    assert_eq!(server.receive_eof(T0), Err(error.clone()));
    assert_eq!(server.error(), Some(&error));
    assert_eq!(
        server.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        server.reject(400, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(drain_transmit(&mut server), b"");
    assert_eq!(drain_events(&mut server), vec![]);
    assert_eq!(server.state(), State::Closed);
}

fn http10_request() -> Vec<u8> {
    String::from_utf8(upgrade_request(""))
        .unwrap()
        .replacen("HTTP/1.1", "HTTP/1.0", 1)
        .into_bytes()
}

/// The sample request with one header line replaced (or removed when
/// `replacement` is empty).
fn request_replacing(header_line: &str, replacement: &str) -> Vec<u8> {
    let request = String::from_utf8(upgrade_request("")).unwrap();
    let line = format!("{header_line}\r\n");
    assert!(request.contains(&line), "{header_line}");
    let replacement = if replacement.is_empty() {
        String::new()
    } else {
        format!("{replacement}\r\n")
    };
    request.replacen(&line, &replacement, 1).into_bytes()
}

/// Head limits small enough to reach, for the limit and early-data tests.
const SMALL_LIMITS: HeadLimits = HeadLimits {
    max_line_len: 100,
    max_head_len: 400,
    max_headers: 10,
};
