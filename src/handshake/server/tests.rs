//! Unit tests of `handshake::server`, built only under `cargo test`. An `unwrap`,
//! `expect` or `panic!` here fails a test on a case the test itself built;
//! none of it is compiled into the library or meets a peer's input.

use super::*;
use alloc::vec;
use core::time::Duration;

use crate::event::Event;
use crate::http::HeadParser;

const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(extra: &[(&str, &str)]) -> Request {
    let mut headers = Headers::new();
    headers.push("Host", "example.com");
    headers.push("Upgrade", "websocket");
    headers.push("Connection", "Upgrade");
    headers.push("Sec-WebSocket-Key", SAMPLE_KEY);
    headers.push("Sec-WebSocket-Version", "13");
    for (name, value) in extra {
        headers.push(*name, *value);
    }
    Request {
        method: "GET".into(),
        target: "/chat".into(),
        version: HttpVersion::Http11,
        headers,
    }
}

fn names_and_values(headers: &Headers) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(name, value)| (name, core::str::from_utf8(value).unwrap_or("<not utf-8>")))
        .collect()
}

#[test]
fn a_valid_request_validates_as_a_server_reports_it() {
    let wire = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";
    let mut server = crate::Server::new(ServerConfig::default());
    server.receive(Duration::ZERO, wire).unwrap();
    let Some(Event::Request(from_server)) = server.poll_event() else {
        panic!("the server did not report the request");
    };
    let (parsed, _) = HeadParser::default().parse_request(wire).unwrap().unwrap();
    let validated = validate_request(parsed, &ServerConfig::default()).unwrap();
    assert_eq!(validated, *from_server);
    assert_eq!(validated.protocols, vec!["chat", "superchat"]);
}

#[test]
fn host_is_required_once_in_http_11() {
    let mut missing = upgrade_request(&[]);
    missing.headers.remove("Host");
    let error = validate_request(missing.clone(), &ServerConfig::default()).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::InvalidRequestHead(HeadError::MissingHost)
    );
    assert_eq!(error.status(), Some(400));

    let twice = upgrade_request(&[("host", "other.example")]);
    assert_eq!(
        validate_request(twice, &ServerConfig::default()),
        Err(HandshakeError::InvalidRequestHead(HeadError::DuplicateHost))
    );

    // An HTTP/1.0 request may omit Host; it fails on its version instead.
    missing.version = HttpVersion::Http10;
    assert_eq!(
        validate_request(missing, &ServerConfig::default()),
        Err(HandshakeError::Http10Request)
    );
}

#[test]
fn rfc_6455_failures_are_the_ones_check_request_gives() {
    let mut not_websocket = upgrade_request(&[]);
    not_websocket.headers.remove("Upgrade");
    assert_eq!(
        validate_request(not_websocket, &ServerConfig::default()),
        Err(HandshakeError::NotWebSocket)
    );

    let mut post = upgrade_request(&[]);
    post.method = "POST".into();
    assert_eq!(
        validate_request(post, &ServerConfig::default()),
        Err(HandshakeError::MethodNotAllowed {
            method: "POST".into()
        })
    );

    let mut version_8 = upgrade_request(&[]);
    version_8.headers.remove("Sec-WebSocket-Version");
    version_8.headers.push("Sec-WebSocket-Version", "8");
    assert_eq!(
        validate_request(version_8, &ServerConfig::default()),
        Err(HandshakeError::UnsupportedVersion {
            version: "8".into()
        })
    );

    let config = ServerConfig {
        allowed_origins: Some(vec!["https://good.example".into()]),
        ..ServerConfig::default()
    };
    let bad_origin = upgrade_request(&[("Origin", "https://evil.example")]);
    assert_eq!(
        validate_request(bad_origin, &config),
        Err(HandshakeError::OriginNotAllowed {
            origin: Some("https://evil.example".into())
        })
    );
    let good_origin = upgrade_request(&[("Origin", "https://GOOD.example")]);
    assert!(validate_request(good_origin, &config).is_ok());
}

#[test]
fn accept_headers_for_the_rfc_sample() {
    let request = validate_request(upgrade_request(&[]), &ServerConfig::default()).unwrap();
    let headers = accept_headers(&request, &Accept::default()).unwrap();
    assert_eq!(
        names_and_values(&headers),
        vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", SAMPLE_ACCEPT),
        ]
    );
}

#[test]
fn accept_headers_carry_the_choices_then_the_extra_headers() {
    let request = validate_request(
        upgrade_request(&[
            ("Sec-WebSocket-Protocol", "chat, superchat"),
            ("Sec-WebSocket-Extensions", "x-test; a=1"),
        ]),
        &ServerConfig::default(),
    )
    .unwrap();
    let mut accept = Accept::default()
        .with_protocol("superchat")
        .with_header("Set-Cookie", "id=7");
    accept.extensions.push("x-test".into());
    let headers = accept_headers(&request, &accept).unwrap();
    assert_eq!(
        names_and_values(&headers),
        vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", SAMPLE_ACCEPT),
            ("Sec-WebSocket-Protocol", "superchat"),
            ("Sec-WebSocket-Extensions", "x-test"),
            ("Set-Cookie", "id=7"),
        ]
    );
}

#[test]
fn accept_headers_refuse_what_cannot_be_sent() {
    let request = validate_request(
        upgrade_request(&[("Sec-WebSocket-Protocol", "chat")]),
        &ServerConfig::default(),
    )
    .unwrap();
    assert_eq!(
        accept_headers(&request, &Accept::default().with_protocol("mqtt")),
        Err(DecisionError::ProtocolNotOffered {
            protocol: "mqtt".into()
        })
    );
    let mut unoffered = Accept::default();
    unoffered.extensions.push("permessage-deflate".into());
    assert_eq!(
        accept_headers(&request, &unoffered),
        Err(DecisionError::ExtensionNotOffered {
            extension: "permessage-deflate".into()
        })
    );
    assert_eq!(
        accept_headers(
            &request,
            &Accept::default().with_header("connection", "close")
        ),
        Err(DecisionError::ReservedHeader {
            name: "connection".into()
        })
    );
    assert_eq!(
        accept_headers(
            &request,
            &Accept::default().with_header("X-Split", "a\r\nb: c")
        ),
        Err(DecisionError::Write(WriteError::Header(
            crate::http::HeaderError::InvalidValue {
                name: "X-Split".into()
            }
        )))
    );
    assert_eq!(
        accept_headers(
            &request,
            &Accept::default().with_header("Content-Length", "0")
        ),
        Err(DecisionError::Write(WriteError::FramingHeaderNotAllowed {
            name: "Content-Length".into()
        }))
    );
}

#[test]
fn write_accept_writes_accept_headers() {
    let request = validate_request(
        upgrade_request(&[("Sec-WebSocket-Protocol", "chat")]),
        &ServerConfig::default(),
    )
    .unwrap();
    let accept = Accept::default()
        .with_protocol("chat")
        .with_header("X-Served-By", "edge-1");
    let mut written = BytesMut::new();
    write_accept(&request, accept, &ServerConfig::default(), &mut written).unwrap();
    let expected = alloc::format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n\
         X-Served-By: edge-1\r\n\r\n"
    );
    assert_eq!(&written[..], expected.as_bytes());

    // A refused decision writes nothing.
    let mut untouched = BytesMut::new();
    let refused = write_accept(
        &request,
        Accept::default().with_protocol("mqtt"),
        &ServerConfig::default(),
        &mut untouched,
    );
    assert!(refused.is_err());
    assert!(untouched.is_empty());
}

#[test]
fn error_responses_name_what_to_upgrade_to() {
    let response = error_response(&HandshakeError::UnsupportedVersion {
        version: "8".into(),
    })
    .unwrap();
    assert_eq!(response.status, 426);
    assert_eq!(
        names_and_values(&response.headers),
        vec![
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Connection", "upgrade, close"),
            ("Content-Type", "text/plain; charset=utf-8"),
        ]
    );
    assert_eq!(response.body, "unsupported Sec-WebSocket-Version \"8\"\n");

    let response = error_response(&HandshakeError::MethodNotAllowed {
        method: "PUT".into(),
    })
    .unwrap();
    assert_eq!(response.status, 405);
    assert_eq!(response.headers.get_str("Allow"), Some("GET"));
    assert_eq!(response.headers.get_str("Connection"), Some("close"));
    assert!(!response.headers.contains("Upgrade"));
}

#[test]
fn failures_without_a_status_have_no_error_response() {
    for error in [
        HandshakeError::UnexpectedEof,
        HandshakeError::AcceptMismatch,
        HandshakeError::MissingAccept,
    ] {
        assert_eq!(error_response(&error), None, "{error:?}");
        let mut out = BytesMut::new();
        write_error_response(&error, &mut out);
        assert!(out.is_empty(), "{error:?}");
    }
}

#[test]
fn write_error_response_writes_error_response() {
    for error in [
        HandshakeError::NotWebSocket,
        HandshakeError::MissingKey,
        HandshakeError::InvalidRequestHead(HeadError::MissingHost),
        HandshakeError::OriginNotAllowed { origin: None },
    ] {
        let response = error_response(&error).unwrap();
        let mut expected = Vec::new();
        write_response(
            &mut expected,
            response.status,
            canonical_reason(response.status).unwrap_or(""),
            &response.headers,
            response.body.as_bytes(),
        )
        .unwrap();
        let mut written = BytesMut::new();
        write_error_response(&error, &mut written);
        assert_eq!(&written[..], &expected[..], "{error:?}");
        assert_eq!(Some(response.status), error.status());
    }
}
