//! Messages and control frames: every length class, fragmentation, pings
//! and pongs, the RFC 6455 §5.7 vectors, the receive room, and frames that
//! arrive in the same read as the 101.

use super::*;

// ---------------------------------------------------------------------------
// Messages.
// ---------------------------------------------------------------------------

const SIZES: [usize; 5] = [0, 125, 126, 65535, 65536];

#[test]
fn echo_text_and_binary_of_every_length_class() {
    let mut pair = Pair::connected();
    for len in SIZES {
        let text = text_of(len);
        pair.client.send_text(&text).unwrap();
        pair.drive();
        assert_eq!(
            pair.server_events,
            vec![frame_event(Opcode::Text, true, text.as_bytes())],
            "{len}"
        );
        // Echo what arrived.
        let Some(Event::Frame(frame)) = pair.server_events.pop() else {
            panic!("the text frame is there: checked above")
        };
        pair.server
            .send_text(std::str::from_utf8(&frame.payload).unwrap())
            .unwrap();
        pair.drive();
        assert_eq!(
            pair.client_events,
            vec![frame_event(Opcode::Text, true, text.as_bytes())],
            "{len}"
        );
        pair.client_events.clear();

        let data = pattern(len);
        pair.server.send_binary(&data).unwrap();
        pair.drive();
        assert_eq!(
            pair.client_events,
            vec![frame_event(Opcode::Binary, true, &data)],
            "{len}"
        );
        pair.client_events.clear();
        pair.client.send_binary(&data).unwrap();
        pair.drive();
        assert_eq!(
            pair.server_events,
            vec![frame_event(Opcode::Binary, true, &data)],
            "{len}"
        );
        pair.server_events.clear();
    }
    assert!(pair.client_errors.is_empty() && pair.server_errors.is_empty());
}

#[test]
fn length_classes_fed_every_way() {
    // The 16-bit and 64-bit length forms, at their boundaries, split at every
    // point of the header and the start of the payload.
    for len in [125, 126, 127, 65535, 65536] {
        let data = pattern(len);
        let frame = c(Opcode::Binary, true, &data);
        let input = &frame[..frame.len().min(len.min(20) + 14)];
        let outcome = feed_every_way(server_open, input, false);
        assert_eq!(outcome.error, None);
        assert!(outcome.events.is_empty());
        let whole = feed(server_open(), &frame, &[], false);
        assert_eq!(whole.events, vec![frame_event(Opcode::Binary, true, &data)]);
    }
}

#[test]
fn fragmented_messages_both_ways_with_control_frames_between() {
    let mut pair = Pair::connected();
    // Client to server: "héllo wörld" split inside a two-byte character.
    let text = "héllo wörld".as_bytes();
    pair.client
        .send_fragment(Fragment::First(DataKind::Text), &text[..2])
        .unwrap();
    pair.client.send_ping(b"p1").unwrap();
    pair.client
        .send_fragment(Fragment::Continue, &text[2..8])
        .unwrap();
    pair.client.send_pong(b"unsolicited").unwrap();
    pair.client
        .send_fragment(Fragment::Last, &text[8..])
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.server_events,
        vec![
            frame_event(Opcode::Text, false, &text[..2]),
            frame_event(Opcode::Ping, true, b"p1"),
            frame_event(Opcode::Continuation, false, &text[2..8]),
            frame_event(Opcode::Pong, true, b"unsolicited"),
            frame_event(Opcode::Continuation, true, &text[8..]),
        ]
    );
    // The ping was answered between the fragments.
    assert_eq!(
        pair.client_events,
        vec![frame_event(Opcode::Pong, true, b"p1")]
    );
    pair.client_events.clear();

    // Server to client, binary, with a ping in the middle.
    pair.server
        .send_fragment(Fragment::First(DataKind::Binary), b"\x00\x01")
        .unwrap();
    pair.server.send_ping(b"").unwrap();
    pair.server.send_fragment(Fragment::Continue, b"").unwrap();
    pair.server.send_fragment(Fragment::Last, b"\xff").unwrap();
    pair.drive();
    assert_eq!(
        pair.client_events,
        vec![
            frame_event(Opcode::Binary, false, b"\x00\x01"),
            frame_event(Opcode::Ping, true, b""),
            frame_event(Opcode::Continuation, false, b""),
            frame_event(Opcode::Continuation, true, b"\xff"),
        ]
    );
    assert!(pair.client_errors.is_empty() && pair.server_errors.is_empty());
    // A whole message may follow.
    pair.server.send_text("after").unwrap();
    pair.drive();
    assert_eq!(
        pair.client_events.last(),
        Some(&frame_event(Opcode::Text, true, b"after"))
    );
}

#[test]
fn fragmented_message_fed_every_way() {
    let input = concat(&[
        // "hé" split inside the "é".
        &c(Opcode::Text, false, b"h\xc3"),
        &c(Opcode::Ping, true, b"mid"),
        &c(Opcode::Continuation, false, b"\xa9"),
        &c(Opcode::Continuation, true, "\u{1F600}".as_bytes()),
    ]);
    let outcome = feed_every_way(server_open, &input, false);
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.events,
        vec![
            frame_event(Opcode::Text, false, b"h\xc3"),
            frame_event(Opcode::Ping, true, b"mid"),
            frame_event(Opcode::Continuation, false, b"\xa9"),
            frame_event(Opcode::Continuation, true, "\u{1F600}".as_bytes()),
        ]
    );
    assert_eq!(outcome.transmitted, s(Opcode::Pong, true, b"mid"));
}

#[test]
fn pings_get_pongs_with_the_same_payload() {
    let payload = pattern(125);
    let input = concat(&[
        &c(Opcode::Ping, true, &payload),
        &c(Opcode::Ping, true, b""),
    ]);
    let outcome = feed_every_way(server_open, &input, false);
    assert_eq!(
        outcome.events,
        vec![
            frame_event(Opcode::Ping, true, &payload),
            frame_event(Opcode::Ping, true, b"")
        ]
    );
    assert_eq!(
        outcome.transmitted,
        concat(&[
            &s(Opcode::Pong, true, &payload),
            &s(Opcode::Pong, true, b"")
        ])
    );
    // The client's pongs are masked.
    let outcome = feed_every_way(client_open, &s(Opcode::Ping, true, b"abc"), false);
    assert_eq!(
        frames_of(&outcome.transmitted),
        vec![(Frame::new(Opcode::Pong, "abc"), true)]
    );
}

#[test]
fn no_automatic_pong_when_auto_pong_is_off() {
    let mut config = Config::default();
    config.auto_pong = false;
    let outcome = feed_every_way(
        || server_with(config.clone()),
        &c(Opcode::Ping, true, b"hi"),
        false,
    );
    assert_eq!(outcome.events, vec![frame_event(Opcode::Ping, true, b"hi")]);
    assert!(outcome.transmitted.is_empty());
    // The app may answer itself.
    let mut server = server_with(config);
    server
        .receive(Duration::ZERO, &c(Opcode::Ping, true, b"hi"))
        .unwrap();
    server.send_pong(b"hi").unwrap();
    assert_eq!(drain_transmit(&mut server), s(Opcode::Pong, true, b"hi"));
}

#[test]
fn unsolicited_pongs_are_reported_and_not_answered() {
    let outcome = feed_every_way(server_open, &c(Opcode::Pong, true, b"beat"), false);
    assert_eq!(
        outcome.events,
        vec![frame_event(Opcode::Pong, true, b"beat")]
    );
    assert!(outcome.transmitted.is_empty());
    assert_eq!((outcome.error, outcome.state), (None, State::Open));
    let outcome = feed_every_way(client_open, &s(Opcode::Pong, true, b""), false);
    assert_eq!(outcome.events, vec![frame_event(Opcode::Pong, true, b"")]);
    assert!(outcome.transmitted.is_empty());
}

// ---------------------------------------------------------------------------
// RFC 6455 §5.7 vectors.
// ---------------------------------------------------------------------------

#[test]
fn rfc_vector_client_hello_is_masked_with_the_sample_key() {
    let mut client =
        client_after_request(ClientConfig::new("ws://server.example.com/chat").unwrap());
    client
        .receive(Duration::ZERO, &switching_response(""))
        .unwrap();
    assert_eq!(client.state(), State::Open);
    client.send_text("Hello").unwrap();
    assert_eq!(
        drain_transmit(&mut client),
        [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
    // The same bytes reach a server as "Hello".
    let outcome = feed_every_way(
        server_open,
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
        false,
    );
    assert_eq!(
        outcome.events,
        vec![frame_event(Opcode::Text, true, b"Hello")]
    );
}

#[test]
fn rfc_vector_server_hello_is_unmasked() {
    let mut server = server_open();
    server.send_text("Hello").unwrap();
    assert_eq!(
        drain_transmit(&mut server),
        [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]
    );
    let outcome = feed_every_way(
        client_open,
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        false,
    );
    assert_eq!(
        outcome.events,
        vec![frame_event(Opcode::Text, true, b"Hello")]
    );
}

#[test]
fn rfc_vector_fragmented_and_ping_frames() {
    // RFC 6455 §5.7: a fragmented unmasked text message, and an unmasked ping.
    let input = [
        0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c,
        0x6f,
    ];
    let outcome = feed_every_way(client_open, &input, false);
    assert_eq!(
        outcome.events,
        vec![
            frame_event(Opcode::Text, false, b"Hel"),
            frame_event(Opcode::Continuation, true, b"lo"),
            frame_event(Opcode::Ping, true, b"Hello"),
        ]
    );
    assert_eq!(
        frames_of(&outcome.transmitted),
        vec![(Frame::new(Opcode::Pong, "Hello"), true)]
    );
}

// ---------------------------------------------------------------------------
// The receive room.
// ---------------------------------------------------------------------------

/// Takes `bytes` through the room the connection lends, as a transport's
/// read would.
fn via_room(server: &mut Server, bytes: &[u8]) -> Result<(), Error> {
    let mut room = server.receive_room(bytes.len());
    room.copy_from_slice(bytes);
    room.commit(Duration::ZERO, bytes.len())
}

#[test]
fn the_receive_room_gives_the_same_events_as_receive() {
    let input = concat(&[
        &c(Opcode::Text, false, b"he"),
        &c(Opcode::Ping, true, b"p"),
        &c(Opcode::Continuation, true, b"llo"),
        &c(Opcode::Binary, true, &pattern(300)),
        &c(Opcode::Close, true, &close_payload(1000, b"bye")),
    ]);
    let reference = feed(server_open(), &input, &[], false);
    for chunk in [1, 2, 3, 7, 64, input.len()] {
        let mut server = server_open();
        let mut events = Vec::new();
        let mut transmitted = Vec::new();
        for piece in input.chunks(chunk) {
            via_room(&mut server, piece).unwrap();
            events.extend(drain_events(&mut server));
            transmitted.extend(drain_transmit(&mut server));
        }
        assert_eq!(events, reference.events, "chunks of {chunk}");
        assert_eq!(transmitted, reference.transmitted, "chunks of {chunk}");
        assert_eq!(server.state(), reference.state);
    }
    // Errors too.
    let mut server = server_open();
    let bad = s(Opcode::Text, true, b"x");
    via_room(&mut server, &bad).unwrap();
    let events = drain_events(&mut server);
    assert_eq!(
        close_events(&events)[0].error,
        Some(Error::Protocol(ProtocolError::UnmaskedFrame))
    );
    assert_eq!(
        via_room(&mut server, &[]),
        Err(Error::Protocol(ProtocolError::UnmaskedFrame))
    );
}

#[test]
fn the_receive_room_after_a_partial_frame_with_fail_fast_text() {
    // A partial text frame, then the rest through the receive room: the validated
    // prefix is not checked twice and the result matches `receive`.
    let frame = c(Opcode::Text, true, "ab€cd".as_bytes());
    for cut in 1..frame.len() {
        let mut server = server_open();
        server.receive(Duration::ZERO, &frame[..cut]).unwrap();
        via_room(&mut server, &frame[cut..]).unwrap();
        assert_eq!(
            drain_events(&mut server),
            vec![frame_event(Opcode::Text, true, "ab€cd".as_bytes())],
            "{cut}"
        );
    }
}

// ---------------------------------------------------------------------------
// Frames right behind the handshake.
// ---------------------------------------------------------------------------

#[test]
fn frames_in_the_same_read_as_the_101_are_processed() {
    let make = || client_after_request(ClientConfig::new("ws://server.example.com/chat").unwrap());
    let input = concat(&[
        &switching_response(""),
        &s(Opcode::Text, true, b"welcome"),
        &s(Opcode::Ping, true, b"p"),
    ]);
    let outcome = feed_every_way(make, &input, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.first(), Some(Event::Accepted(_))));
    assert_eq!(
        outcome.events[1..],
        [
            frame_event(Opcode::Text, true, b"welcome"),
            frame_event(Opcode::Ping, true, b"p")
        ]
    );
    assert_eq!(
        frames_of(&outcome.transmitted),
        vec![(Frame::new(Opcode::Pong, "p"), true)]
    );
}

#[test]
fn a_violation_right_behind_the_101_fails_the_connection() {
    let make = || client_after_request(ClientConfig::new("ws://server.example.com/chat").unwrap());
    let input = concat(&[&switching_response(""), &c(Opcode::Text, true, b"x")]);
    let outcome = feed_every_way(make, &input, false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::MaskedFrame))
    );
    assert_eq!(outcome.state, State::Closed);
    assert_eq!(close_events(&outcome.events).len(), 1);
    assert_eq!(
        frames_of(&outcome.transmitted),
        vec![(close_frame(CloseCode::PROTOCOL_ERROR, ""), true)]
    );
}
