//! The 101: a valid one opens the connection, an invalid one fails it with
//! a typed error.

use super::*;

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
