//! The client's opening handshake through the public API: the request it
//! writes, the 101 it accepts or refuses with a typed error, and rejections
//! (status, headers and the exact body, however it is framed). Every
//! response is also fed whole, byte by byte and split at every position.
mod support;

use std::time::Duration;

use support::*;
use wsmachine::chunked::ChunkedError;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::client::{ClientConfig, ClientConfigError};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind, Rejection};
use wsmachine::http::{BodyError, HeadError, HeaderError, MalformedKind, WriteError};
use wsmachine::{Client, Error, Event, Frame, Opcode, State};

const T0: Duration = Duration::ZERO;
const URL: &str = "ws://server.example.com/chat";

fn config() -> ClientConfig {
    ClientConfig::new(URL).unwrap()
}

/// The request a client for `config` writes.
fn request_for(config: ClientConfig) -> String {
    let mut client = client_with(config);
    let request = String::from_utf8(drain_transmit(&mut client)).unwrap();
    assert_eq!(client.state(), State::Connecting);
    assert_eq!(client.poll_event(), None);
    request
}

fn request_for_url(url: &str) -> String {
    request_for(ClientConfig::new(url).unwrap())
}

/// A fresh client for `config` with its request taken off.
fn maker(config: ClientConfig) -> impl Fn() -> Client<FixedEntropy> {
    move || client_after_request(config.clone())
}

fn offering_client() -> impl Fn() -> Client<FixedEntropy> {
    let mut config = config().with_protocol("chat").with_protocol("superchat");
    config
        .extensions
        .push("permessage-deflate; client_max_window_bits".into());
    maker(config)
}

// ---------------------------------------------------------------------------
// The request.

#[test]
fn the_request_for_the_rfc_example() {
    assert_eq!(
        request_for(config()),
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         \r\n"
    );
}

#[test]
fn the_request_is_queued_once() {
    let mut client = client_with(config());
    assert!(client.poll_transmit().is_some());
    assert!(client.poll_transmit().is_none());
    // Nothing is due but a first reading of the caller's clock.
    assert_eq!(client.poll_timeout(), Some(Duration::ZERO));
}

fn request_line_and_host(request: &str) -> (&str, &str) {
    let mut lines = request.split("\r\n");
    let request_line = lines.next().unwrap();
    let host = lines
        .find_map(|line| line.strip_prefix("Host: "))
        .expect("a Host header");
    (request_line, host)
}

#[test]
fn host_and_target_follow_the_url() {
    for (url, request_line, host) in [
        (
            "ws://server.example.com:8080/chat",
            "GET /chat HTTP/1.1",
            "server.example.com:8080",
        ),
        ("ws://h:80/", "GET / HTTP/1.1", "h"),
        ("ws://h:443/", "GET / HTTP/1.1", "h:443"),
        ("wss://h:443/", "GET / HTTP/1.1", "h"),
        ("wss://h:80/", "GET / HTTP/1.1", "h:80"),
        (
            "ws://Server.Example.COM",
            "GET / HTTP/1.1",
            "server.example.com",
        ),
        ("ws://[::1]/", "GET / HTTP/1.1", "[::1]"),
        ("ws://[::1]:9001/chat", "GET /chat HTTP/1.1", "[::1]:9001"),
        (
            "wss://[2001:db8::1]:443/x",
            "GET /x HTTP/1.1",
            "[2001:db8::1]",
        ),
        (
            "ws://h/a/b?room=7&user=x%20y",
            "GET /a/b?room=7&user=x%20y HTTP/1.1",
            "h",
        ),
        ("ws://h?x=1", "GET /?x=1 HTTP/1.1", "h"),
        ("ws://127.0.0.1:9000", "GET / HTTP/1.1", "127.0.0.1:9000"),
    ] {
        let request = request_for_url(url);
        assert_eq!(
            request_line_and_host(&request),
            (request_line, host),
            "{url}"
        );
    }
}

#[test]
fn origin_protocols_extensions_and_extra_headers_are_sent() {
    let mut config = config()
        .with_origin("https://example.com")
        .with_protocol("chat")
        .with_protocol("superchat")
        .with_header("Cookie", "session=abc")
        .with_header("Authorization", "Bearer t0k3n");
    config
        .extensions
        .push("permessage-deflate; client_max_window_bits".into());
    config.extensions.push("x-custom".into());
    assert_eq!(
        request_for(config),
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: https://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-custom\r\n\
         Cookie: session=abc\r\n\
         Authorization: Bearer t0k3n\r\n\
         \r\n"
    );
}

fn build(config: ClientConfig) -> Result<Client<FixedEntropy>, ClientConfigError> {
    Client::new(config, FixedEntropy::new(RFC_ENTROPY))
}

#[test]
fn headers_the_handshake_sets_are_refused() {
    for name in [
        "Sec-WebSocket-Key",
        "sec-websocket-key",
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Origin",
    ] {
        assert_eq!(
            build(config().with_header(name, "x")).err(),
            Some(ClientConfigError::ReservedHeader { name: name.into() }),
        );
    }
    assert!(matches!(
        build(config().with_header("Content-Length", "0")).err(),
        Some(ClientConfigError::Write(
            WriteError::FramingHeaderNotAllowed { .. }
        ))
    ));
}

#[test]
fn values_that_would_inject_lines_are_refused() {
    for value in ["a\r\nInjected: yes", "a\nb", "a\rb", "a\0b"] {
        assert_eq!(
            build(config().with_header("Cookie", value)).err(),
            Some(ClientConfigError::Write(WriteError::Header(
                HeaderError::InvalidValue {
                    name: "Cookie".into()
                }
            ))),
            "{value:?}"
        );
    }
    assert_eq!(
        build(config().with_header("Bad Name", "v")).err(),
        Some(ClientConfigError::Write(WriteError::Header(
            HeaderError::InvalidName {
                name: "Bad Name".into()
            }
        )))
    );
    assert_eq!(
        build(config().with_origin("https://a\r\nX: y")).err(),
        Some(ClientConfigError::Write(WriteError::Header(
            HeaderError::InvalidValue {
                name: "Origin".into()
            }
        )))
    );
    let mut extension = config();
    extension.extensions.push("deflate\r\nX: y".into());
    assert!(matches!(
        build(extension).err(),
        Some(ClientConfigError::Write(WriteError::Header(
            HeaderError::InvalidValue { .. }
        )))
    ));
}

#[test]
fn protocols_must_be_distinct_tokens() {
    for protocol in [
        "chat v2",
        "",
        "chat,superchat",
        "chat\r\n",
        "ch@t",
        "\"chat\"",
    ] {
        assert_eq!(
            build(config().with_protocol(protocol)).err(),
            Some(ClientConfigError::InvalidProtocol {
                protocol: protocol.into()
            }),
            "{protocol:?}"
        );
    }
    assert_eq!(
        build(config().with_protocol("chat").with_protocol("chat")).err(),
        Some(ClientConfigError::InvalidProtocol {
            protocol: "chat".into()
        })
    );
    assert!(build(config().with_protocol("chat.v2").with_protocol("mqtt")).is_ok());
}

// ---------------------------------------------------------------------------
// A valid 101.

#[test]
fn a_valid_101_opens_the_connection() {
    let outcome = feed_every_way(
        offering_client(),
        &switching_response(
            "Sec-WebSocket-Protocol: superchat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n",
        ),
        false,
    );
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.transmitted, b"");
    assert_eq!(outcome.state, State::Open);
    let [Event::Accepted(accepted)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    assert_eq!(
        accepted.extensions,
        ["permessage-deflate; client_max_window_bits=10"]
    );
    assert_eq!(accepted.response.status, 101);
    assert_eq!(
        accepted.response.headers.get_str("Sec-WebSocket-Accept"),
        Some(RFC_ACCEPT)
    );
}

#[test]
fn a_101_without_protocol_or_extensions_leaves_them_empty() {
    let outcome = feed_every_way(offering_client(), &switching_response(""), false);
    let [Event::Accepted(accepted)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(accepted.protocol, None);
    assert!(accepted.extensions.is_empty());
    assert_eq!(outcome.state, State::Open);
}

#[test]
fn header_names_and_tokens_in_the_101_ignore_case() {
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n\
         sec-websocket-accept: {RFC_ACCEPT}\r\n\r\n"
    );
    let outcome = feed_every_way(maker(config()), response.as_bytes(), false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Accepted(_)]));
}

#[test]
fn frames_right_after_the_101_follow_the_accepted_event() {
    let mut input = switching_response("");
    // RFC 6455 §5.7: a single-frame unmasked text message.
    input.extend_from_slice(b"\x81\x05Hello");
    input.extend(unmasked_frame(Opcode::Binary, true, &[1, 2, 3]));
    let outcome = feed_every_way(maker(config()), &input, false);
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.events[1..],
        [
            Event::Frame(Frame::new(Opcode::Text, &b"Hello"[..])),
            Event::Frame(Frame::new(Opcode::Binary, &[1u8, 2, 3][..])),
        ]
    );
    assert!(matches!(outcome.events[0], Event::Accepted(_)));
    assert_eq!(outcome.state, State::Open);
}

#[test]
fn a_ping_right_after_the_101_is_answered_masked() {
    let mut input = switching_response("");
    input.extend(unmasked_frame(Opcode::Ping, true, b"Hello"));
    let outcome = feed_every_way(maker(config()), &input, false);
    assert_eq!(outcome.error, None);
    // RFC 6455 §5.7: the masked "Hello" with key 37 fa 21 3d, as a pong.
    assert_eq!(
        outcome.transmitted,
        b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    );
}

#[test]
fn interim_responses_before_the_101_are_skipped() {
    let mut input = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    input.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
    input.extend(switching_response(""));
    input.extend_from_slice(b"\x81\x02hi");
    let outcome = feed_every_way(maker(config()), &input, false);
    assert_eq!(outcome.error, None);
    let [Event::Accepted(accepted), Event::Frame(frame)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(accepted.response.status, 101);
    assert_eq!(&frame.payload[..], b"hi");
    assert_eq!(outcome.state, State::Open);
}

// ---------------------------------------------------------------------------
// Invalid 101s.

/// Feeds `response` every way and checks that the client fails with
/// `expected`, reports no event, sends nothing and is closed; then that the
/// failure is sticky.
fn assert_invalid_response(
    make: impl Fn() -> Client<FixedEntropy>,
    response: &[u8],
    expected: HandshakeError,
    kind: HandshakeErrorKind,
) {
    assert_eq!(expected.kind(), kind, "{expected:?}");
    assert_eq!(expected.status(), None, "a client answers nothing");
    let outcome = feed_every_way(&make, response, false);
    assert_eq!(
        outcome.error,
        Some(Error::Handshake(expected.clone())),
        "{:?}",
        String::from_utf8_lossy(response)
    );
    assert_eq!(outcome.events, vec![]);
    assert_eq!(outcome.transmitted, b"");
    assert_eq!(outcome.state, State::Closed);
    assert_eq!(feed(make(), response, &[], true), outcome);

    let mut client = make();
    let error = client.receive(T0, response).expect_err("refused");
    assert_eq!(client.receive(T0, b"\x81\x02hi"), Err(error.clone()));
    assert_eq!(client.receive_eof(T0), Err(error.clone()));
    assert_eq!(client.error(), Some(&error));
    assert!(client.send_text("x").is_err());
    assert_eq!(drain_events(&mut client), vec![]);
    assert!(client.poll_transmit().is_none());
}

fn response_replacing(line: &str, replacement: &str) -> Vec<u8> {
    let response = String::from_utf8(switching_response("")).unwrap();
    let line = format!("{line}\r\n");
    assert!(response.contains(&line));
    let replacement = if replacement.is_empty() {
        String::new()
    } else {
        format!("{replacement}\r\n")
    };
    response.replacen(&line, &replacement, 1).into_bytes()
}

#[test]
fn a_101_without_upgrade_websocket_is_refused() {
    for upgrade in ["", "Upgrade: h2c", "Upgrade: websocket2"] {
        assert_invalid_response(
            maker(config()),
            &response_replacing("Upgrade: websocket", upgrade),
            HandshakeError::ResponseNotWebSocket,
            HandshakeErrorKind::InvalidResponse,
        );
    }
}

#[test]
fn a_101_whose_connection_lacks_upgrade_is_refused() {
    for connection in ["", "Connection: keep-alive", "Connection: upgraded"] {
        assert_invalid_response(
            maker(config()),
            &response_replacing("Connection: Upgrade", connection),
            HandshakeError::ResponseMissingConnectionUpgrade,
            HandshakeErrorKind::InvalidResponse,
        );
    }
}

#[test]
fn a_101_without_the_accept_is_refused() {
    assert_invalid_response(
        maker(config()),
        &response_replacing(&format!("Sec-WebSocket-Accept: {RFC_ACCEPT}"), ""),
        HandshakeError::MissingAccept,
        HandshakeErrorKind::InvalidResponse,
    );
}

#[test]
fn a_wrong_or_repeated_accept_is_refused() {
    let accept_line = format!("Sec-WebSocket-Accept: {RFC_ACCEPT}");
    for wrong in [
        // The accept of another key.
        "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
        // The key itself echoed back.
        "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Accept: s3pplmbitxaq9kygzzhzrbk+xoo=",
        "Sec-WebSocket-Accept: ",
    ] {
        assert_invalid_response(
            maker(config()),
            &response_replacing(&accept_line, wrong),
            HandshakeError::AcceptMismatch,
            HandshakeErrorKind::InvalidResponse,
        );
    }
    // Twice, even the right value twice.
    assert_invalid_response(
        maker(config()),
        &switching_response(&format!("{accept_line}\r\n")),
        HandshakeError::AcceptMismatch,
        HandshakeErrorKind::InvalidResponse,
    );
}

#[test]
fn a_subprotocol_that_was_not_offered_is_refused() {
    // Offered nothing.
    assert_invalid_response(
        maker(config()),
        &switching_response("Sec-WebSocket-Protocol: chat\r\n"),
        HandshakeError::UnofferedSubprotocol {
            protocol: "chat".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
    // Offered others.
    assert_invalid_response(
        offering_client(),
        &switching_response("Sec-WebSocket-Protocol: mqtt\r\n"),
        HandshakeError::UnofferedSubprotocol {
            protocol: "mqtt".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
    // Protocols are compared exactly (RFC 6455 §4.1: "one of the values").
    assert_invalid_response(
        offering_client(),
        &switching_response("Sec-WebSocket-Protocol: CHAT\r\n"),
        HandshakeError::UnofferedSubprotocol {
            protocol: "CHAT".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
}

#[test]
fn two_subprotocols_are_refused() {
    assert_invalid_response(
        offering_client(),
        &switching_response("Sec-WebSocket-Protocol: chat, superchat\r\n"),
        HandshakeError::UnofferedSubprotocol {
            protocol: "chat, superchat".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
    assert_invalid_response(
        offering_client(),
        &switching_response("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
        HandshakeError::UnofferedSubprotocol {
            protocol: "chat, chat".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
}

#[test]
fn an_extension_that_was_not_offered_is_refused() {
    assert_invalid_response(
        maker(config()),
        &switching_response("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        HandshakeError::UnofferedExtension {
            extension: "permessage-deflate".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
    assert_invalid_response(
        offering_client(),
        &switching_response(
            "Sec-WebSocket-Extensions: permessage-deflate, x-webkit-deflate-frame\r\n",
        ),
        HandshakeError::UnofferedExtension {
            extension: "x-webkit-deflate-frame".into(),
        },
        HandshakeErrorKind::InvalidResponse,
    );
}

#[test]
fn a_malformed_status_line_is_refused() {
    for (response, kind) in [
        (&b"garbage\r\n\r\n"[..], MalformedKind::InvalidVersion),
        (
            b"HTTP/1.1 1O1 Switching\r\n\r\n",
            MalformedKind::InvalidStatusCode,
        ),
        (b"HTTP/1.1 101 OK\n\n", MalformedKind::BareLf),
        (
            b"\x16\x03\x03\x00\x02\x02\x28",
            MalformedKind::ControlCharacter,
        ),
    ] {
        assert_invalid_response(
            maker(config()),
            response,
            HandshakeError::InvalidResponseHead(HeadError::Malformed(kind)),
            HandshakeErrorKind::MalformedHttp,
        );
    }
    let outcome = feed_every_way(maker(config()), b"HTTP/2 101\r\n\r\n", false);
    assert!(
        matches!(
            outcome.error,
            Some(Error::Handshake(HandshakeError::InvalidResponseHead(_)))
        ),
        "{outcome:?}"
    );
}

#[test]
fn eof_before_the_response_is_unexpected_eof() {
    let response = switching_response("");
    for input in [&b""[..], &response[..10], &response[..response.len() - 1]] {
        let outcome = feed_every_way(maker(config()), input, true);
        assert_eq!(
            outcome.error,
            Some(Error::Handshake(HandshakeError::UnexpectedEof))
        );
        assert_eq!(outcome.events, vec![]);
        assert_eq!(outcome.state, State::Closed);
    }
}

// ---------------------------------------------------------------------------
// Rejections.

/// Feeds `response` every way (then EOF if `eof`) and returns the one
/// rejection it reports, checking that nothing is sent, the client is
/// closed, and the error is `error`.
fn rejection_of(response: &[u8], eof: bool, error: Option<BodyError>) -> Rejection {
    rejection_with(maker(config()), response, eof, error)
}

fn rejection_with(
    make: impl Fn() -> Client<FixedEntropy>,
    response: &[u8],
    eof: bool,
    error: Option<BodyError>,
) -> Rejection {
    let outcome = feed_every_way(&make, response, eof);
    assert_eq!(
        outcome.error,
        error
            .clone()
            .map(|e| Error::Handshake(HandshakeError::RejectionBody(e))),
        "{:?}",
        String::from_utf8_lossy(response)
    );
    assert_eq!(outcome.transmitted, b"");
    assert_eq!(outcome.state, State::Closed);
    let [Event::HandshakeRejected(rejection)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(rejection.body_error, error);
    if !eof {
        // Complete before EOF, so EOF afterwards changes nothing.
        assert_eq!(feed_every_way(&make, response, true), outcome);
    }
    rejection.clone()
}

#[test]
fn a_503_with_a_chunked_body_reaches_the_app_whole() {
    // The motivating story: a load balancer's 503, chunked, with chunk
    // extensions and a trailer.
    let response = b"HTTP/1.1 503 Service Unavailable\r\n\
        Content-Type: text/plain\r\n\
        Retry-After: 30\r\n\
        Transfer-Encoding: chunked\r\n\
        \r\n\
        5;name=value\r\nbusy,\r\n\
        7\r\n sorry!\r\n\
        A; a=1; b=\"q\"\r\n try later\r\n\
        0\r\n\
        X-Trace: abc123\r\n\
        \r\n";
    for eof in [false, true] {
        let rejection = rejection_of(response, eof, None);
        assert_eq!(rejection.status, 503);
        assert_eq!(rejection.reason, "Service Unavailable");
        assert_eq!(&rejection.body[..], b"busy, sorry! try later");
        assert_eq!(
            rejection.headers.get_str("Content-Type"),
            Some("text/plain")
        );
        assert_eq!(rejection.trailers.get_str("X-Trace"), Some("abc123"));
        assert_eq!(rejection.trailers.len(), 1);
        assert_eq!(rejection.retry_after_seconds(), Some(30));
        assert!(!rejection.is_redirect());
    }
}

#[test]
fn the_rejection_is_reported_before_eof_when_its_body_is_framed() {
    let mut client = client_after_request(config());
    client
        .receive(
            T0,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope",
        )
        .unwrap();
    let events = drain_events(&mut client);
    assert!(
        matches!(events.as_slice(), [Event::HandshakeRejected(r)] if &r.body[..] == b"nope"),
        "{events:?}"
    );
    assert_eq!(client.state(), State::Closed);
    assert_eq!(
        client.error(),
        None,
        "a rejection is an answer, not a fault"
    );
    assert_eq!(client.receive_eof(T0), Ok(()));
    assert_eq!(drain_events(&mut client), vec![]);
}

#[test]
fn a_content_length_body() {
    let rejection = rejection_of(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: policy\r\n\r\nforbidden",
        false,
        None,
    );
    assert_eq!(rejection.status, 403);
    assert_eq!(&rejection.body[..], b"forbidden");
    assert_eq!(rejection.headers.get_str("x-why"), Some("policy"));
    assert!(rejection.trailers.is_empty());
}

#[test]
fn transfer_encoding_wins_over_content_length() {
    let rejection = rejection_of(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nbad\r\n0\r\n\r\n",
        false,
        None,
    );
    assert_eq!(&rejection.body[..], b"bad");
}

#[test]
fn a_body_until_eof_is_complete_only_at_eof() {
    let response = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\noops, \x81\x05Hello";
    let pending = feed_every_way(maker(config()), response, false);
    assert_eq!(pending.events, vec![], "the body may go on");
    assert_eq!(pending.error, None);
    assert_eq!(pending.state, State::Connecting);
    let rejection = rejection_of(response, true, None);
    assert_eq!(rejection.status, 500);
    // Everything up to EOF is body, including what looks like a frame.
    assert_eq!(&rejection.body[..], b"oops, \x81\x05Hello");
}

#[test]
fn bodiless_statuses_end_at_the_head() {
    for (status, reason) in [(204, "No Content"), (304, "Not Modified")] {
        let mut response =
            format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 10\r\n\r\n").into_bytes();
        response.extend_from_slice(b"\x81\x05Hello");
        for eof in [false, true] {
            let rejection = rejection_of(&response, eof, None);
            assert_eq!(rejection.status, status);
            assert!(rejection.body.is_empty());
        }
    }
}

#[test]
fn interim_responses_before_a_rejection_are_skipped() {
    let response = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n\
        HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 6\r\n\r\nlog in";
    let rejection = rejection_of(response, false, None);
    assert_eq!(rejection.status, 401);
    assert_eq!(
        rejection.headers.get_str("WWW-Authenticate"),
        Some("Bearer")
    );
    assert!(
        !rejection.headers.contains("Link"),
        "the 103's fields are not merged"
    );
    assert_eq!(&rejection.body[..], b"log in");
}

#[test]
fn a_malformed_chunked_body_is_reported_with_what_came_before() {
    let response = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
        4\r\nbusy\r\nzz\r\nmore\r\n0\r\n\r\n";
    let error = BodyError::Chunked(ChunkedError::InvalidSizeDigit { byte: b'z' });
    for eof in [false, true] {
        let rejection = rejection_of(response, eof, Some(error.clone()));
        assert_eq!(rejection.status, 503);
        assert_eq!(&rejection.body[..], b"busy");
        assert_eq!(
            HandshakeError::RejectionBody(error.clone()).kind(),
            HandshakeErrorKind::RejectionBody
        );
    }
    // Chunk data not followed by CRLF.
    let response = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
        4\r\nbusyX\r\n0\r\n\r\n";
    let rejection = rejection_of(
        response,
        false,
        Some(BodyError::Chunked(ChunkedError::MissingCrlfAfterData)),
    );
    assert_eq!(&rejection.body[..], b"busy");
}

#[test]
fn invalid_framing_headers_are_reported_with_the_head() {
    for (framing, error) in [
        ("Content-Length: abc", BodyError::InvalidContentLength),
        (
            "Content-Length: 3\r\nContent-Length: 4",
            BodyError::ConflictingContentLengths,
        ),
        (
            "Transfer-Encoding: chunked, chunked",
            BodyError::ChunkedAppliedTwice,
        ),
    ] {
        let response = format!("HTTP/1.1 403 Forbidden\r\n{framing}\r\n\r\nabc");
        let rejection = rejection_of(response.as_bytes(), false, Some(error));
        assert_eq!(rejection.status, 403);
        assert!(rejection.body.is_empty());
    }
}

#[test]
fn a_truncated_body_at_eof_keeps_what_arrived() {
    let response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 20\r\n\r\nonly part";
    let pending = feed_every_way(maker(config()), response, false);
    assert_eq!(pending.events, vec![]);
    assert_eq!(pending.state, State::Connecting);
    let rejection = rejection_of(
        response,
        true,
        Some(BodyError::Truncated {
            received: 9,
            expected: Some(20),
        }),
    );
    assert_eq!(&rejection.body[..], b"only part");

    let chunked =
        b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n8\r\nmor";
    let rejection = rejection_of(
        chunked,
        true,
        Some(BodyError::Truncated {
            received: 7,
            expected: None,
        }),
    );
    assert_eq!(&rejection.body[..], b"busymor");
}

fn limited_client(max_body: usize) -> impl Fn() -> Client<FixedEntropy> {
    let mut config = config();
    config.body_limits.max_body = max_body;
    maker(config)
}

#[test]
fn a_body_at_the_limit_passes_and_one_byte_more_fails() {
    const LIMIT: usize = 16;
    let too_large = BodyError::BodyTooLarge { limit: LIMIT };
    let exact = "x".repeat(LIMIT);
    let over = "x".repeat(LIMIT + 1);

    // Content-Length: refused from the head, before any body byte.
    let response = format!("HTTP/1.1 403 Forbidden\r\nContent-Length: {LIMIT}\r\n\r\n{exact}");
    let rejection = rejection_with(limited_client(LIMIT), response.as_bytes(), false, None);
    assert_eq!(rejection.body, exact.as_bytes());
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    );
    let rejection = rejection_with(
        limited_client(LIMIT),
        response.as_bytes(),
        false,
        Some(too_large.clone()),
    );
    assert!(rejection.body.is_empty());

    // Chunked, in two chunks.
    let chunked = |body: &str| {
        let (a, b) = body.split_at(5);
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
    };
    let rejection = rejection_with(
        limited_client(LIMIT),
        chunked(&exact).as_bytes(),
        false,
        None,
    );
    assert_eq!(rejection.body, exact.as_bytes());
    let rejection = rejection_with(
        limited_client(LIMIT),
        chunked(&over).as_bytes(),
        false,
        Some(too_large.clone()),
    );
    assert!(rejection.body.len() <= LIMIT);

    // Until EOF: the first LIMIT bytes are kept.
    let response = format!("HTTP/1.1 500 Internal Server Error\r\n\r\n{exact}");
    let rejection = rejection_with(limited_client(LIMIT), response.as_bytes(), true, None);
    assert_eq!(rejection.body, exact.as_bytes());
    let response = format!("HTTP/1.1 500 Internal Server Error\r\n\r\n{over}");
    for eof in [false, true] {
        let rejection = rejection_with(
            limited_client(LIMIT),
            response.as_bytes(),
            eof,
            Some(too_large.clone()),
        );
        assert_eq!(rejection.body, exact.as_bytes());
    }
}

#[test]
fn bytes_after_a_body_are_not_frames() {
    let frame = b"\x81\x05Hello";
    for body in [
        &b"Content-Length: 4\r\n\r\nnope"[..],
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
        b"Content-Length: 0\r\n\r\n",
    ] {
        let mut response = b"HTTP/1.1 403 Forbidden\r\n".to_vec();
        response.extend_from_slice(body);
        response.extend_from_slice(frame);
        for eof in [false, true] {
            let rejection = rejection_of(&response, eof, None);
            assert!(!rejection.body.ends_with(b"Hello"));
        }
    }
    // Also a 101 that follows a rejection is not a handshake.
    let mut response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec();
    response.extend(switching_response(""));
    let rejection = rejection_of(&response, false, None);
    assert_eq!(rejection.status, 403);
}

#[test]
fn redirects_resolve_against_the_url() {
    let url = "ws://server.example.com:8080/v1/chat?room=1";
    let config = ClientConfig::new(url).unwrap();
    for (status, location, expected) in [
        (301, "/v2/chat", "ws://server.example.com:8080/v2/chat"),
        (302, "wss://other.example/chat", "wss://other.example/chat"),
        (307, "socket", "ws://server.example.com:8080/v1/socket"),
        (308, "//edge.example/chat", "ws://edge.example/chat"),
        (
            303,
            "?room=2",
            "ws://server.example.com:8080/v1/chat?room=2",
        ),
        // RFC 3986 §5.2.4: dot segments are removed.
        (301, "../v2/chat", "ws://server.example.com:8080/v2/chat"),
        (
            302,
            "./socket?x=1",
            "ws://server.example.com:8080/v1/socket?x=1",
        ),
        (307, "/a/./b/../c", "ws://server.example.com:8080/a/c"),
    ] {
        let response = format!(
            "HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        );
        let rejection = rejection_with(maker(config.clone()), response.as_bytes(), false, None);
        assert!(rejection.is_redirect(), "{status}");
        assert_eq!(
            rejection.redirect_location(config.url()).as_deref(),
            Some(expected),
            "{status} {location}"
        );
    }
    // Not redirects: a redirect status without Location, or Location on
    // another status.
    for response in [
        &b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 300 Multiple Choices\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
    ] {
        let rejection = rejection_of(response, false, None);
        assert!(!rejection.is_redirect());
        assert_eq!(rejection.redirect_location(URL), None);
    }
}

#[test]
fn retry_after_is_parsed_when_it_is_seconds() {
    for (value, expected) in [
        ("120", Some(120)),
        (" 5 ", Some(5)),
        ("0", Some(0)),
        ("Fri, 31 Dec 1999 23:59:59 GMT", None),
        ("-1", None),
        ("1.5", None),
        // RFC 9110 §10.2.3: delay-seconds = 1*DIGIT.
        ("+5", None),
        ("", None),
    ] {
        let response = format!(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n"
        );
        let rejection = rejection_of(response.as_bytes(), false, None);
        assert_eq!(rejection.retry_after_seconds(), expected, "{value:?}");
    }
    let rejection = rejection_of(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        false,
        None,
    );
    assert_eq!(rejection.retry_after_seconds(), None);
}

#[test]
fn a_2xx_is_a_rejection_too() {
    let rejection = rejection_of(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
        false,
        None,
    );
    assert_eq!(rejection.status, 200);
    assert_eq!(&rejection.body[..], b"<html></html>");
}
