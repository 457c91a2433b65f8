//! Bytes after the request head, and the end of the transport.

use super::*;

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
