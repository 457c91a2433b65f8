//! The server's opening handshake through the public API: valid requests and
//! the app's decision, every refused request with its typed error and exact
//! HTTP error response, early frames, and the end of the transport. Every
//! byte stream is also fed whole, byte by byte and split at every position.
mod support;

use std::time::Duration;

use support::*;
use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::http::{HeadError, HeadLimits, Headers, MalformedKind};
use wsmachine::{CloseCode, Error, Event, Initiator, Opcode, Server, State};

const T0: Duration = Duration::ZERO;

fn server() -> Server {
    Server::new(ServerConfig::default())
}

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

// ---------------------------------------------------------------------------
// Valid requests and the app's decision.

fn browser_request() -> Vec<u8> {
    upgrade_request(
        "Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-webkit-deflate-frame\r\n",
    )
}

#[test]
fn a_valid_request_reports_one_request_event() {
    let outcome = feed_every_way(server, &browser_request(), false);
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.transmitted, b"",
        "nothing is sent before the decision"
    );
    assert_eq!(outcome.state, State::Connecting);
    let [Event::Request(request)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(request.target(), "/chat");
    assert_eq!(request.protocols, ["chat", "superchat"]);
    assert_eq!(
        request.extensions,
        [
            "permessage-deflate; client_max_window_bits",
            "x-webkit-deflate-frame"
        ]
    );
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(request.request.method, "GET");
    assert_eq!(
        request.headers().get_str("Host"),
        Some("server.example.com")
    );
}

#[test]
fn the_pending_request_is_available_until_the_decision() {
    let mut server = server();
    assert!(server.pending_request().is_none());
    server.receive(T0, &browser_request()).unwrap();
    let events = drain_events(&mut server);
    let [Event::Request(event)] = events.as_slice() else {
        panic!("{events:?}")
    };
    let event = event.clone();
    assert_eq!(server.pending_request(), Some(&event));
    server.accept(T0, Accept::default()).unwrap();
    assert!(server.pending_request().is_none());
}

#[test]
fn accept_writes_the_exact_101() {
    let mut server = server();
    server.receive(T0, &browser_request()).unwrap();
    drain_events(&mut server);
    server
        .accept(
            T0,
            Accept::default()
                .with_protocol("chat")
                .with_header("X-Served-By", "edge-1"),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(drain_transmit(&mut server)).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: chat\r\n\
         X-Served-By: edge-1\r\n\
         \r\n"
    );
    assert_eq!(server.state(), State::Open);
    assert_eq!(server.error(), None);
    assert_eq!(drain_events(&mut server), vec![]);
    // Open means messages flow.
    server.send_text("hi").unwrap();
    assert_eq!(drain_transmit(&mut server), b"\x81\x02hi");
}

#[test]
fn accept_after_a_request_split_anywhere_writes_the_same_101() {
    let input = browser_request();
    let expected = {
        let mut server = server();
        server.receive(T0, &input).unwrap();
        server.accept(T0, Accept::default()).unwrap();
        drain_transmit(&mut server)
    };
    assert!(expected.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    for cut in 1..input.len() {
        let mut server = server();
        server.receive(T0, &input[..cut]).unwrap();
        assert_eq!(drain_events(&mut server), vec![], "split at {cut}");
        assert_eq!(
            server.accept(T0, Accept::default()),
            Err(DecisionError::NoPendingRequest),
            "no decision on half a request"
        );
        server.receive(T0, &input[cut..]).unwrap();
        assert_eq!(drain_events(&mut server).len(), 1);
        server.accept(T0, Accept::default()).unwrap();
        assert_eq!(drain_transmit(&mut server), expected, "split at {cut}");
    }
}

#[test]
fn accepting_an_unoffered_protocol_is_refused_and_queues_nothing() {
    let mut server = server();
    server.receive(T0, &browser_request()).unwrap();
    drain_events(&mut server);
    assert_eq!(
        server.accept(T0, Accept::default().with_protocol("mqtt")),
        Err(DecisionError::ProtocolNotOffered {
            protocol: "mqtt".into()
        })
    );
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.state(), State::Connecting);
    assert!(
        server.pending_request().is_some(),
        "the decision is still open"
    );
    // A request that offered nothing: any protocol is unoffered.
    let mut bare = self::server();
    bare.receive(T0, &upgrade_request("")).unwrap();
    assert_eq!(
        bare.accept(T0, Accept::default().with_protocol("chat")),
        Err(DecisionError::ProtocolNotOffered {
            protocol: "chat".into()
        })
    );
    assert!(bare.poll_transmit().is_none());
    // The app can still decide properly.
    server
        .accept(T0, Accept::default().with_protocol("superchat"))
        .unwrap();
    let response = drain_transmit(&mut server);
    assert!(
        String::from_utf8(response)
            .unwrap()
            .contains("\r\nSec-WebSocket-Protocol: superchat\r\n")
    );
    assert_eq!(server.state(), State::Open);
}

#[test]
fn accept_refuses_headers_the_handshake_sets_or_cannot_write() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    for name in ["Sec-WebSocket-Accept", "upgrade", "Connection"] {
        assert_eq!(
            server.accept(T0, Accept::default().with_header(name, "x")),
            Err(DecisionError::ReservedHeader { name: name.into() }),
        );
    }
    assert!(matches!(
        server.accept(
            T0,
            Accept::default().with_header("Set-Cookie", "a=b\r\nInjected: 1")
        ),
        Err(DecisionError::Write(_))
    ));
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.state(), State::Connecting);
}

#[test]
fn decisions_without_a_pending_request_are_refused() {
    let mut fresh = server();
    assert_eq!(
        fresh.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        fresh.reject(403, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(fresh.poll_transmit().is_none());
    assert_eq!(fresh.state(), State::Connecting);

    let mut accepted = server();
    accepted.receive(T0, &upgrade_request("")).unwrap();
    accepted.accept(T0, Accept::default()).unwrap();
    drain_transmit(&mut accepted);
    assert_eq!(
        accepted.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        accepted.reject(403, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(accepted.poll_transmit().is_none());
    assert_eq!(accepted.state(), State::Open);

    let mut rejected = server();
    rejected.receive(T0, &upgrade_request("")).unwrap();
    rejected.reject(403, &Headers::new(), b"").unwrap();
    drain_transmit(&mut rejected);
    assert_eq!(
        rejected.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        rejected.reject(403, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(rejected.poll_transmit().is_none());
}

#[test]
fn reject_writes_status_headers_body_and_closes() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    drain_events(&mut server);
    let mut headers = Headers::new();
    headers.push("X-Reason", "banned");
    server.reject(403, &headers, b"go away").unwrap();
    let wire = drain_transmit(&mut server);
    assert_eq!(
        String::from_utf8(wire.clone()).unwrap(),
        "HTTP/1.1 403 Forbidden\r\n\
         X-Reason: banned\r\n\
         Connection: close\r\n\
         Content-Length: 7\r\n\
         \r\n\
         go away"
    );
    let response = single_response(&wire);
    assert_eq!(response.body, b"go away");
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.error(), None, "a rejection is the app's choice");
    assert_eq!(
        drain_events(&mut server),
        vec![],
        "no Close: it never opened"
    );
    // Nothing the client sends afterwards matters.
    assert_eq!(server.receive(T0, b"\x81\x85\0\0\0\0hello"), Ok(()));
    assert_eq!(drain_events(&mut server), vec![]);
    assert!(server.poll_transmit().is_none());
}

#[test]
fn reject_with_an_empty_body_still_frames_it() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    server.reject(503, &Headers::new(), b"").unwrap();
    let response = single_response(&drain_transmit(&mut server));
    assert_eq!(response.status_line, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(response.header("Content-Length"), Some("0"));
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn reject_refuses_informational_statuses() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    for status in [100, 101, 103, 199, 0, 99, 1000] {
        assert_eq!(
            server.reject(status, &Headers::new(), b""),
            Err(DecisionError::InvalidStatus { status })
        );
    }
    let mut connection = Headers::new();
    connection.push("Connection", "keep-alive");
    assert_eq!(
        server.reject(403, &connection, b""),
        Err(DecisionError::ReservedHeader {
            name: "Connection".into()
        })
    );
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.state(), State::Connecting);
    assert!(server.pending_request().is_some());
    server.reject(401, &Headers::new(), b"").unwrap();
    assert!(drain_transmit(&mut server).starts_with(b"HTTP/1.1 401 Unauthorized\r\n"));
}

// ---------------------------------------------------------------------------
// Refused requests: 400.

#[test]
fn garbage_is_400_malformed() {
    assert_refused(
        server,
        b"\x00\x01\x02garbage\r\n\r\n",
        HandshakeError::InvalidRequestHead(HeadError::Malformed(MalformedKind::ControlCharacter)),
        HandshakeErrorKind::MalformedHttp,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
    assert_refused(
        server,
        b"hello there\r\n\r\n",
        HandshakeError::InvalidRequestHead(HeadError::Malformed(MalformedKind::InvalidVersion)),
        HandshakeErrorKind::MalformedHttp,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
}

#[test]
fn a_tls_client_hello_is_refused_at_once() {
    // A TLS 1.x ClientHello's first bytes, sent to a plain-text port. The
    // client then waits for the server, so the refusal cannot wait for a
    // blank line that will never come.
    assert_refused(
        server,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        HandshakeError::InvalidRequestHead(HeadError::Malformed(MalformedKind::ControlCharacter)),
        HandshakeErrorKind::MalformedHttp,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
}

#[test]
fn bare_lf_line_endings_are_400() {
    let request = String::from_utf8(upgrade_request(""))
        .unwrap()
        .replace("\r\n", "\n");
    assert_refused(
        server,
        request.as_bytes(),
        HandshakeError::InvalidRequestHead(HeadError::Malformed(MalformedKind::BareLf)),
        HandshakeErrorKind::MalformedHttp,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
}

#[test]
fn a_missing_host_is_400() {
    assert_refused(
        server,
        &request_replacing("Host: server.example.com", ""),
        HandshakeError::InvalidRequestHead(HeadError::MissingHost),
        HandshakeErrorKind::MalformedHttp,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
}

#[test]
fn bad_keys_are_400() {
    let key_line = format!("Sec-WebSocket-Key: {RFC_KEY}");
    for bad in [
        "Sec-WebSocket-Key: not base64 at all!!!!",
        "Sec-WebSocket-Key: ########################",
        // 15 bytes encode to 20 characters.
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j",
        // 17 bytes.
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXg=",
        "Sec-WebSocket-Key: ",
    ] {
        assert_refused(
            server,
            &request_replacing(&key_line, bad),
            HandshakeError::InvalidKey,
            HandshakeErrorKind::BadKey,
            400,
            "HTTP/1.1 400 Bad Request",
            &[],
        );
    }
    // Two keys, even equal ones.
    assert_refused(
        server,
        &upgrade_request(&format!("{key_line}\r\n")),
        HandshakeError::InvalidKey,
        HandshakeErrorKind::BadKey,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
}

#[test]
fn a_missing_key_is_400() {
    assert_refused(
        server,
        &request_replacing(&format!("Sec-WebSocket-Key: {RFC_KEY}"), ""),
        HandshakeError::MissingKey,
        HandshakeErrorKind::BadKey,
        400,
        "HTTP/1.1 400 Bad Request",
        &[],
    );
}

#[test]
fn connection_without_upgrade_is_400() {
    for connection in ["Connection: keep-alive", "Connection: close", ""] {
        assert_refused(
            server,
            &request_replacing("Connection: Upgrade", connection),
            HandshakeError::MissingConnectionUpgrade,
            HandshakeErrorKind::BadRequest,
            400,
            "HTTP/1.1 400 Bad Request",
            &[],
        );
    }
}

#[test]
fn connection_upgrade_among_other_tokens_passes() {
    let input = request_replacing("Connection: Upgrade", "Connection: keep-alive, Upgrade");
    let outcome = feed_every_way(server, &input, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));
}

#[test]
fn a_request_with_a_body_is_400() {
    for framing in [
        "Content-Length: 5\r\n",
        "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Content-Length: x\r\n",
    ] {
        let mut input = upgrade_request(framing);
        input.extend_from_slice(b"hello");
        assert_refused(
            server,
            &input,
            HandshakeError::RequestBody,
            HandshakeErrorKind::BadRequest,
            400,
            "HTTP/1.1 400 Bad Request",
            &[],
        );
    }
}

#[test]
fn an_empty_content_length_body_passes() {
    let outcome = feed_every_way(server, &upgrade_request("Content-Length: 0\r\n"), false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));
}

// ---------------------------------------------------------------------------
// Refused requests: 405, 426, 505, 403.

#[test]
fn post_is_405_with_allow_get() {
    let request = String::from_utf8(upgrade_request(""))
        .unwrap()
        .replacen("GET", "POST", 1);
    assert_refused(
        server,
        request.as_bytes(),
        HandshakeError::MethodNotAllowed {
            method: "POST".into(),
        },
        HandshakeErrorKind::MethodNotAllowed,
        405,
        "HTTP/1.1 405 Method Not Allowed",
        &[("Allow", "GET")],
    );
}

#[test]
fn a_plain_http_request_is_426_upgrade_websocket() {
    // A health check, a browser tab or curl.
    for input in [
        &b"GET / HTTP/1.1\r\nHost: server.example.com\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
        &request_replacing("Upgrade: websocket", "Upgrade: h2c"),
    ] {
        assert_refused(
            server,
            input,
            HandshakeError::NotWebSocket,
            HandshakeErrorKind::NotWebSocket,
            426,
            "HTTP/1.1 426 Upgrade Required",
            &[("Upgrade", "websocket")],
        );
    }
}

#[test]
fn other_websocket_versions_are_426_naming_13() {
    assert_refused(
        server,
        &request_replacing("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
        HandshakeError::UnsupportedVersion {
            version: "8".into(),
        },
        HandshakeErrorKind::BadVersion,
        426,
        "HTTP/1.1 426 Upgrade Required",
        &[("Sec-WebSocket-Version", "13")],
    );
    assert_refused(
        server,
        &request_replacing("Sec-WebSocket-Version: 13", ""),
        HandshakeError::MissingVersion,
        HandshakeErrorKind::BadVersion,
        426,
        "HTTP/1.1 426 Upgrade Required",
        &[("Sec-WebSocket-Version", "13")],
    );
}

#[test]
fn http_versions_other_than_1_1_are_505() {
    assert_refused(
        server,
        &http10_request(),
        HandshakeError::Http10Request,
        HandshakeErrorKind::HttpVersion,
        505,
        "HTTP/1.1 505 HTTP Version Not Supported",
        &[],
    );
    let request = String::from_utf8(upgrade_request(""))
        .unwrap()
        .replacen("HTTP/1.1", "HTTP/2.0", 1);
    assert_refused(
        server,
        request.as_bytes(),
        HandshakeError::InvalidRequestHead(HeadError::UnsupportedVersion { major: 2, minor: 0 }),
        HandshakeErrorKind::HttpVersion,
        505,
        "HTTP/1.1 505 HTTP Version Not Supported",
        &[],
    );
}

#[test]
fn origins_off_the_allow_list_are_403() {
    let allow = || server_with_origins(&["https://example.com", "https://app.example.com"]);
    assert_refused(
        allow(),
        &upgrade_request("Origin: https://evil.example\r\n"),
        HandshakeError::OriginNotAllowed {
            origin: Some("https://evil.example".into()),
        },
        HandshakeErrorKind::OriginRejected,
        403,
        "HTTP/1.1 403 Forbidden",
        &[],
    );
    // Without an Origin while a list is set.
    assert_refused(
        allow(),
        &upgrade_request(""),
        HandshakeError::OriginNotAllowed { origin: None },
        HandshakeErrorKind::OriginRejected,
        403,
        "HTTP/1.1 403 Forbidden",
        &[],
    );
    // A prefix of an allowed origin is not allowed.
    assert_refused(
        allow(),
        &upgrade_request("Origin: https://example.com.evil.example\r\n"),
        HandshakeError::OriginNotAllowed {
            origin: Some("https://example.com.evil.example".into()),
        },
        HandshakeErrorKind::OriginRejected,
        403,
        "HTTP/1.1 403 Forbidden",
        &[],
    );
    // Allowed ones pass, ignoring ASCII case.
    for origin in ["https://example.com", "https://APP.example.com"] {
        let outcome = feed_every_way(
            allow(),
            &upgrade_request(&format!("Origin: {origin}\r\n")),
            false,
        );
        assert_eq!(outcome.error, None, "{origin}");
        let [Event::Request(request)] = outcome.events.as_slice() else {
            panic!("{:?}", outcome.events)
        };
        assert_eq!(request.origin(), Some(origin));
    }
}

// ---------------------------------------------------------------------------
// Limits: 414 and 431, at and one past each boundary.

const SMALL_LIMITS: HeadLimits = HeadLimits {
    max_line_len: 100,
    max_head_len: 400,
    max_headers: 10,
};

/// The sample request with its target padded so that the request line,
/// without CRLF, is `len` bytes long.
fn request_with_request_line_len(len: usize) -> Vec<u8> {
    let fixed = "GET /chat?q= HTTP/1.1".len();
    let pad = "a".repeat(len - fixed);
    let request = String::from_utf8(upgrade_request("")).unwrap().replacen(
        "GET /chat HTTP/1.1",
        &format!("GET /chat?q={pad} HTTP/1.1"),
        1,
    );
    assert_eq!(request.find("\r\n"), Some(len));
    request.into_bytes()
}

#[test]
fn a_request_line_at_the_limit_passes_and_one_byte_more_is_414() {
    let at_limit = request_with_request_line_len(SMALL_LIMITS.max_line_len);
    let outcome = feed_every_way(server_with_limits(SMALL_LIMITS), &at_limit, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));

    assert_refused(
        server_with_limits(SMALL_LIMITS),
        &request_with_request_line_len(SMALL_LIMITS.max_line_len + 1),
        HandshakeError::InvalidRequestHead(HeadError::RequestLineTooLong {
            limit: SMALL_LIMITS.max_line_len,
        }),
        HandshakeErrorKind::HeadTooLarge,
        414,
        "HTTP/1.1 414 URI Too Long",
        &[],
    );
}

#[test]
fn the_default_request_line_limit_is_8_kib() {
    let at_limit = request_with_request_line_len(8192);
    let mut server = server();
    server.receive(T0, &at_limit).unwrap();
    assert!(matches!(
        drain_events(&mut server).as_slice(),
        [Event::Request(_)]
    ));
    let over = request_with_request_line_len(8193);
    let mut server = self::server();
    // The refusal comes as soon as the line is over, without its end.
    assert_eq!(
        server.receive(T0, &over[..8193]),
        Err(Error::Handshake(HandshakeError::InvalidRequestHead(
            HeadError::RequestLineTooLong { limit: 8192 }
        )))
    );
    assert!(drain_transmit(&mut server).starts_with(b"HTTP/1.1 414 URI Too Long\r\n"));
}

/// The sample request with `count` extra `X-Pad-i: 1` header fields.
fn request_with_extra_headers(count: usize) -> Vec<u8> {
    let extra: String = (0..count).map(|i| format!("X-Pad-{i}: 1\r\n")).collect();
    upgrade_request(&extra)
}

#[test]
fn header_count_at_the_limit_passes_and_one_more_is_431() {
    // The sample request has 5 fields of its own.
    let at_limit = request_with_extra_headers(SMALL_LIMITS.max_headers - 5);
    let outcome = feed_every_way(server_with_limits(SMALL_LIMITS), &at_limit, false);
    assert_eq!(outcome.error, None);
    let [Event::Request(request)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(request.headers().len(), SMALL_LIMITS.max_headers);

    assert_refused(
        server_with_limits(SMALL_LIMITS),
        &request_with_extra_headers(SMALL_LIMITS.max_headers - 4),
        HandshakeError::InvalidRequestHead(HeadError::TooManyHeaders {
            limit: SMALL_LIMITS.max_headers,
        }),
        HandshakeErrorKind::HeadTooLarge,
        431,
        "HTTP/1.1 431 Request Header Fields Too Large",
        &[],
    );
}

/// The sample request padded with `X-Pad` fields to exactly `len` bytes,
/// blank line included. Each padding line is 14 to 60 bytes with its CRLF.
fn request_of_len(len: usize) -> Vec<u8> {
    let mut remaining = len - upgrade_request("").len();
    let mut extra = String::new();
    let mut index = 0;
    while remaining > 0 {
        let line_len = match remaining {
            0..=60 => remaining,
            61..=74 => remaining - 14,
            _ => 60,
        };
        let prefix = format!("X-Pad-{index}: ");
        let value_len = line_len - prefix.len() - 2;
        assert!(value_len >= 1, "cannot pad by {remaining}");
        extra.push_str(&prefix);
        extra.push_str(&"v".repeat(value_len));
        extra.push_str("\r\n");
        remaining -= line_len;
        index += 1;
    }
    let request = upgrade_request(&extra);
    assert_eq!(request.len(), len);
    request
}

#[test]
fn a_head_at_the_size_limit_passes_and_one_byte_more_is_431() {
    let limits = HeadLimits {
        max_headers: 128,
        ..SMALL_LIMITS
    };
    let at_limit = request_of_len(limits.max_head_len);
    let outcome = feed_every_way(server_with_limits(limits), &at_limit, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));

    assert_refused(
        server_with_limits(limits),
        &request_of_len(limits.max_head_len + 1),
        HandshakeError::InvalidRequestHead(HeadError::HeadTooLarge {
            limit: limits.max_head_len,
        }),
        HandshakeErrorKind::HeadTooLarge,
        431,
        "HTTP/1.1 431 Request Header Fields Too Large",
        &[],
    );
}

#[test]
fn a_header_line_over_the_limit_is_431() {
    let at_limit = format!("X-Long: {}\r\n", "v".repeat(SMALL_LIMITS.max_line_len - 8));
    let outcome = feed_every_way(
        server_with_limits(SMALL_LIMITS),
        &upgrade_request(&at_limit),
        false,
    );
    assert_eq!(outcome.error, None);
    let over = format!("X-Long: {}\r\n", "v".repeat(SMALL_LIMITS.max_line_len - 7));
    assert_refused(
        server_with_limits(SMALL_LIMITS),
        &upgrade_request(&over),
        HandshakeError::InvalidRequestHead(HeadError::HeaderLineTooLong {
            limit: SMALL_LIMITS.max_line_len,
        }),
        HandshakeErrorKind::HeadTooLarge,
        431,
        "HTTP/1.1 431 Request Header Fields Too Large",
        &[],
    );
}

// ---------------------------------------------------------------------------
// Bytes after the request head.

const CLIENT_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

#[test]
fn frames_sent_right_after_the_request_are_processed_after_accept() {
    let mut input = upgrade_request("");
    input.extend(masked_frame(Opcode::Text, true, b"Hello", CLIENT_KEY));
    input.extend(masked_frame(Opcode::Ping, true, b"p", CLIENT_KEY));

    // Before the decision only the request is reported, however it arrives.
    let outcome = feed_every_way(server, &input, false);
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.transmitted, b"");
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));

    let mut splits: Vec<Vec<usize>> = (1..input.len()).map(|cut| vec![cut]).collect();
    splits.push((1..input.len()).collect());
    splits.push(vec![]);
    for cuts in splits {
        let mut server = server();
        let mut start = 0;
        for end in cuts.iter().copied().chain([input.len()]) {
            server.receive(T0, &input[start..end]).unwrap();
            start = end;
        }
        let [Event::Request(_)] = drain_events(&mut server).as_slice() else {
            panic!("cuts {cuts:?}")
        };
        server.accept(T0, Accept::default()).unwrap();
        let events = drain_events(&mut server);
        let [Event::Frame(text), Event::Frame(ping)] = events.as_slice() else {
            panic!("cuts {cuts:?}: {events:?}")
        };
        assert_eq!(
            (text.opcode, &text.payload[..]),
            (Opcode::Text, &b"Hello"[..])
        );
        assert_eq!((ping.opcode, &ping.payload[..]), (Opcode::Ping, &b"p"[..]));
        let out = drain_transmit(&mut server);
        assert!(out.starts_with(b"HTTP/1.1 101 "), "cuts {cuts:?}");
        // The 101, then the automatic pong.
        assert!(out.ends_with(b"\r\n\r\n\x8a\x01p"), "cuts {cuts:?}");
        assert_eq!(server.state(), State::Open);
    }
}

#[test]
fn a_rejected_request_discards_its_early_frames() {
    let mut input = upgrade_request("");
    input.extend(masked_frame(Opcode::Text, true, b"Hello", CLIENT_KEY));
    let mut server = server();
    server.receive(T0, &input).unwrap();
    drain_events(&mut server);
    server.reject(403, &Headers::new(), b"").unwrap();
    assert_eq!(drain_events(&mut server), vec![]);
    assert!(drain_transmit(&mut server).starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
}

#[test]
fn an_invalid_early_frame_fails_the_connection_on_accept() {
    // A client frame must be masked (RFC 6455 §5.1).
    let mut input = upgrade_request("");
    input.extend(unmasked_frame(Opcode::Text, true, b"Hello"));
    let mut server = server();
    server.receive(T0, &input).unwrap();
    drain_events(&mut server);
    assert_eq!(server.accept(T0, Accept::default()), Ok(()));
    let expected = Error::Protocol(wsmachine::error::ProtocolError::UnmaskedFrame);
    let events = drain_events(&mut server);
    let [Event::Close(close)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(close.code, CloseCode::PROTOCOL_ERROR);
    assert_eq!(close.initiator, Initiator::Local);
    assert_eq!(close.error, Some(expected.clone()));
    assert_eq!(server.error(), Some(&expected));
    assert_eq!(server.receive(T0, b""), Err(expected));
    let out = drain_transmit(&mut server);
    assert!(out.starts_with(b"HTTP/1.1 101 "));
    assert!(
        out.ends_with(b"\r\n\r\n\x88\x02\x03\xea"),
        "101 then Close 1002"
    );
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn early_data_up_to_the_head_limit_waits_and_more_is_400() {
    let limits = HeadLimits {
        max_headers: 128,
        ..SMALL_LIMITS
    };
    let request = upgrade_request("");
    let mut at_limit = request.clone();
    at_limit.extend(vec![0u8; limits.max_head_len]);
    let outcome = feed_every_way(server_with_limits(limits), &at_limit, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));
    assert_eq!(outcome.state, State::Connecting);

    let mut over = at_limit.clone();
    over.push(0);
    let outcome = feed_every_way(server_with_limits(limits), &over, false);
    let expected = HandshakeError::EarlyData;
    assert_eq!(expected.kind(), HandshakeErrorKind::BadRequest);
    assert_eq!(expected.status(), Some(400));
    assert_eq!(outcome.error, Some(Error::Handshake(expected.clone())));
    // The request was reported before the early data ran over.
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));
    assert_eq!(outcome.state, State::Closed);
    let response = single_response(&outcome.transmitted);
    assert_eq!(response.status_line, "HTTP/1.1 400 Bad Request");
    assert_eq!(response.header("Connection"), Some("close"));

    // Early data arriving while the app decides counts too.
    let mut server = server_with_limits(limits)();
    server.receive(T0, &at_limit).unwrap();
    drain_events(&mut server);
    assert_eq!(
        server.receive(T0, b"\0"),
        Err(Error::Handshake(HandshakeError::EarlyData))
    );
    assert_eq!(
        server.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(drain_transmit(&mut server).starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
}

// ---------------------------------------------------------------------------
// The end of the transport.

#[test]
fn eof_during_the_handshake_is_unexpected_eof() {
    let expected = Some(Error::Handshake(HandshakeError::UnexpectedEof));
    assert_eq!(
        HandshakeError::UnexpectedEof.kind(),
        HandshakeErrorKind::Eof
    );
    assert_eq!(HandshakeError::UnexpectedEof.status(), None);
    let request = upgrade_request("");
    // Nothing, part of a head, and a whole request awaiting the decision.
    for input in [
        &b""[..],
        &request[..20],
        &request[..request.len() - 1],
        &request,
    ] {
        let outcome = feed_every_way(server, input, true);
        assert_eq!(outcome.error, expected, "{input:?}");
        assert_eq!(
            outcome.transmitted, b"",
            "no response to a closed transport"
        );
        assert_eq!(outcome.state, State::Closed);
        assert_eq!(
            outcome.events.len(),
            usize::from(input == &request[..]),
            "only the complete request is reported"
        );
    }
    let mut server = server();
    server.receive(T0, &request).unwrap();
    assert_eq!(
        server.receive_eof(T0),
        Err(Error::Handshake(HandshakeError::UnexpectedEof))
    );
    assert_eq!(
        server.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        server.receive(T0, b"more"),
        Err(Error::Handshake(HandshakeError::UnexpectedEof))
    );
}

#[test]
fn error_responses_are_plain_text_and_name_the_fault() {
    let mut server = server();
    let _ = server.receive(T0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let response = single_response(&drain_transmit(&mut server));
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let body = String::from_utf8(response.body).unwrap();
    assert_eq!(body, format!("{}\n", HandshakeError::NotWebSocket));
}

#[test]
fn requests_as_browsers_and_libraries_send_them_pass() {
    let chrome = format!(
        "GET /chat?room=7 HTTP/1.1\r\n\
         Host: server.example.com:8080\r\n\
         Connection: Upgrade\r\n\
         Pragma: no-cache\r\n\
         Cache-Control: no-cache\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n\
         Upgrade: websocket\r\n\
         Origin: https://app.example.com\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Cookie: session=abc; theme=dark\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n\
         \r\n"
    );
    let firefox = format!(
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n\
         Accept: */*\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: https://app.example.com\r\n\
         Sec-WebSocket-Extensions: permessage-deflate\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\n\
         Connection: keep-alive, Upgrade\r\n\
         Sec-Fetch-Mode: websocket\r\n\
         Pragma: no-cache\r\n\
         Upgrade: websocket\r\n\
         \r\n"
    );
    // Lower-case names and values, an absolute-form target (through a proxy).
    let library = format!(
        "GET ws://server.example.com/chat HTTP/1.1\r\n\
         host: server.example.com\r\n\
         upgrade: WebSocket\r\n\
         connection: upgrade\r\n\
         sec-websocket-key: {RFC_KEY}\r\n\
         sec-websocket-version: 13\r\n\
         \r\n"
    );
    for (request, target, protocols) in [
        (chrome, "/chat?room=7", vec!["chat.v2", "chat.v1"]),
        (firefox, "/chat", vec![]),
        (library, "ws://server.example.com/chat", vec![]),
    ] {
        let outcome = feed_every_way(server, request.as_bytes(), false);
        assert_eq!(outcome.error, None, "{request}");
        let [Event::Request(event)] = outcome.events.as_slice() else {
            panic!("{:?}", outcome.events)
        };
        assert_eq!(event.target(), target);
        assert_eq!(event.protocols, protocols);
        let mut server = server();
        server.receive(T0, request.as_bytes()).unwrap();
        server.accept(T0, Accept::default()).unwrap();
        let response = String::from_utf8(drain_transmit(&mut server)).unwrap();
        assert!(response.contains(&format!("\r\nSec-WebSocket-Accept: {RFC_ACCEPT}\r\n")));
    }
}

#[test]
fn an_early_close_is_answered_right_after_the_101() {
    let mut input = upgrade_request("");
    input.extend(masked_frame(
        Opcode::Close,
        true,
        b"\x03\xe8bye",
        CLIENT_KEY,
    ));
    for cut in [0, 10, input.len() - 3] {
        let mut server = server();
        if cut > 0 {
            server.receive(T0, &input[..cut]).unwrap();
        }
        server.receive(T0, &input[cut..]).unwrap();
        assert!(matches!(
            drain_events(&mut server).as_slice(),
            [Event::Request(_)]
        ));
        server.accept(T0, Accept::default()).unwrap();
        let events = drain_events(&mut server);
        let [Event::Close(close)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(close.code, CloseCode::NORMAL);
        assert_eq!(close.reason, "bye");
        assert_eq!(close.initiator, Initiator::Remote);
        assert_eq!(close.error, None);
        let out = drain_transmit(&mut server);
        assert!(out.starts_with(b"HTTP/1.1 101 "));
        // RFC 6455 §5.5.1: the reply echoes the code.
        assert!(out.ends_with(b"\r\n\r\n\x88\x02\x03\xe8"), "{out:?}");
        // The server closes the transport first (RFC 6455 §7.1.1).
        assert_eq!(server.state(), State::Closed);
        assert_eq!(server.receive_eof(T0), Ok(()));
        assert_eq!(drain_events(&mut server), vec![]);
    }
}

#[test]
fn accepting_an_extension_the_client_did_not_offer_is_refused() {
    use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig};
    let mut server = wsmachine::Server::new(ServerConfig::default());
    server
        .receive(
            std::time::Duration::ZERO,
            &support::upgrade_request("Sec-WebSocket-Extensions: x-offered; p=1\r\n"),
        )
        .unwrap();
    let mut accept = Accept::default();
    accept.extensions = vec!["x-other".into()];
    assert_eq!(
        server.accept(std::time::Duration::ZERO, accept),
        Err(DecisionError::ExtensionNotOffered {
            extension: "x-other".into()
        })
    );
    assert!(server.poll_transmit().is_none(), "nothing queued");
    let mut accept = Accept::default();
    accept.extensions = vec!["X-Offered".into()];
    server.accept(std::time::Duration::ZERO, accept).unwrap();
    let response = server.poll_transmit().unwrap();
    assert!(
        response
            .windows(35)
            .any(|w| w == b"Sec-WebSocket-Extensions: X-Offered")
    );
}
