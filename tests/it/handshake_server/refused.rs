//! Refused requests: each with its typed error and exact HTTP response.

use super::*;

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
