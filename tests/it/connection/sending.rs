//! Sending: refused sends, a failing entropy source, and owned payloads.

use super::*;

// ---------------------------------------------------------------------------
// Send errors.
// ---------------------------------------------------------------------------

#[test]
fn sending_before_open_is_refused() {
    let mut client = client("ws://server.example.com/chat");
    drain_transmit(&mut client);
    let connecting = Err(SendError::NotOpen {
        state: State::Connecting,
    });
    assert_eq!(client.send_text("x"), connecting);
    assert_eq!(client.send_binary(b"x"), connecting);
    assert_eq!(client.send_ping(b""), connecting);
    assert_eq!(client.send_pong(b""), connecting);
    assert_eq!(
        client.send_fragment(Fragment::First(DataKind::Binary), b""),
        connecting
    );
    assert_eq!(
        client.close(Duration::ZERO, CloseCode::NORMAL, ""),
        connecting
    );
    assert_eq!(client.poll_transmit(), None);

    let mut server = Server::new(ServerConfig::default());
    assert_eq!(server.send_text("x"), connecting);
    assert_eq!(
        server.close(Duration::ZERO, CloseCode::NORMAL, ""),
        connecting
    );
    assert_eq!(server.poll_transmit(), None);
}

#[test]
fn sending_after_close_is_refused() {
    let mut pair = Pair::connected();
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    for closed in [
        pair.client.send_text("x"),
        pair.server.send_binary(b"x"),
        pair.client.send_ping(b""),
        pair.server.send_pong(b""),
        pair.client.close(pair.now, CloseCode::NORMAL, ""),
    ] {
        assert_eq!(
            closed,
            Err(SendError::NotOpen {
                state: State::Closed
            })
        );
    }
    assert_eq!(pair.client.poll_transmit(), None);
    assert_eq!(pair.server.poll_transmit(), None);
}

#[test]
fn control_payload_over_125_is_refused() {
    let mut server = server_open();
    assert_eq!(
        server.send_ping(&[0; 126]),
        Err(SendError::ControlPayloadTooLarge { len: 126 })
    );
    assert_eq!(
        server.send_pong(&[0; 200]),
        Err(SendError::ControlPayloadTooLarge { len: 200 })
    );
    assert_eq!(server.poll_transmit(), None);
    server.send_ping(&[0; 125]).unwrap();
    assert_eq!(
        drain_transmit(&mut server),
        s(Opcode::Ping, true, &[0; 125])
    );
}

#[test]
fn invalid_close_is_refused_and_changes_nothing() {
    let mut client = client_open();
    for code in [1004u16, 1005, 1006, 1015, 999, 1016, 2999, 5000] {
        assert_eq!(
            client.close(Duration::ZERO, CloseCode(code), ""),
            Err(SendError::InvalidClose(InvalidClose::CodeNotAllowed(
                CloseCode(code)
            )))
        );
    }
    assert_eq!(
        client.close(Duration::ZERO, CloseCode::NORMAL, &"r".repeat(124)),
        Err(SendError::InvalidClose(InvalidClose::ReasonTooLong {
            len: 124
        }))
    );
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(client.state(), State::Open);
    assert_eq!(client.poll_timeout(), None);
    let reason = "r".repeat(123);
    client
        .close(Duration::ZERO, CloseCode::NORMAL, &reason)
        .unwrap();
    assert_eq!(
        frames_of(&drain_transmit(&mut client)),
        vec![(close_frame(CloseCode::NORMAL, &reason), true)]
    );
}

#[test]
fn fragment_sequencing_is_enforced() {
    let mut server = server_open();
    assert_eq!(
        server.send_fragment(Fragment::Continue, b"x"),
        Err(SendError::NoMessageInProgress)
    );
    assert_eq!(
        server.send_fragment(Fragment::Last, b"x"),
        Err(SendError::NoMessageInProgress)
    );
    server
        .send_fragment(Fragment::First(DataKind::Binary), b"a")
        .unwrap();
    drain_transmit(&mut server);
    assert_eq!(server.send_text("x"), Err(SendError::MessageInProgress));
    assert_eq!(server.send_binary(b"x"), Err(SendError::MessageInProgress));
    assert_eq!(
        server.send_fragment(Fragment::First(DataKind::Text), b"x"),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(server.poll_transmit(), None);
    // Control frames may go between fragments.
    server.send_ping(b"").unwrap();
    server.send_fragment(Fragment::Last, b"z").unwrap();
    assert_eq!(
        server.send_fragment(Fragment::Last, b"x"),
        Err(SendError::NoMessageInProgress)
    );
    assert_eq!(
        drain_transmit(&mut server),
        concat(&[
            &s(Opcode::Ping, true, b""),
            &s(Opcode::Continuation, true, b"z")
        ])
    );
    server.send_text("whole again").unwrap();
}

#[test]
fn text_fragments_must_be_utf8_across_fragments() {
    let mut server = server_open();
    assert_eq!(
        server.send_fragment(Fragment::First(DataKind::Text), b"\xff"),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(server.poll_transmit(), None);
    // No message started: a continuation is refused.
    assert_eq!(
        server.send_fragment(Fragment::Last, b""),
        Err(SendError::NoMessageInProgress)
    );
    // A character split across fragments is fine.
    server
        .send_fragment(Fragment::First(DataKind::Text), b"\xe2")
        .unwrap();
    server.send_fragment(Fragment::Continue, b"\x82").unwrap();
    drain_transmit(&mut server);
    // A byte that cannot continue it is refused, and the refusal changes
    // nothing: the right byte is still accepted.
    assert_eq!(
        server.send_fragment(Fragment::Continue, b"a"),
        Err(SendError::InvalidUtf8)
    );
    // Ending inside the character is refused.
    assert_eq!(
        server.send_fragment(Fragment::Last, b""),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(server.poll_transmit(), None);
    server.send_fragment(Fragment::Last, b"\xac").unwrap();
    assert_eq!(
        drain_transmit(&mut server),
        s(Opcode::Continuation, true, b"\xac")
    );
    // Binary fragments are not checked.
    server
        .send_fragment(Fragment::First(DataKind::Binary), b"\xff")
        .unwrap();
    server.send_fragment(Fragment::Last, b"\xe2").unwrap();
}

// ---------------------------------------------------------------------------
// A failing entropy source.
// ---------------------------------------------------------------------------

/// An entropy source the test can make fail.
#[derive(Clone)]
struct FlakyEntropy {
    failing: std::rc::Rc<std::cell::Cell<bool>>,
}

impl wsmachine::entropy::Entropy for FlakyEntropy {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), wsmachine::entropy::EntropyError> {
        if self.failing.get() {
            return Err(wsmachine::entropy::EntropyError);
        }
        dest.fill(0x5a);
        Ok(())
    }
}

fn flaky_client() -> (Client<FlakyEntropy>, std::rc::Rc<std::cell::Cell<bool>>) {
    let failing = std::rc::Rc::new(std::cell::Cell::new(false));
    let entropy = FlakyEntropy {
        failing: failing.clone(),
    };
    (
        Client::new_open(Config::default(), entropy, Duration::ZERO),
        failing,
    )
}

#[test]
fn an_entropy_failure_refuses_the_send_and_changes_nothing() {
    let (mut client, failing) = flaky_client();
    let entropy = Err(SendError::Entropy(wsmachine::entropy::EntropyError));
    failing.set(true);
    assert_eq!(client.send_text("x"), entropy);
    assert_eq!(client.send_ping(b""), entropy);
    assert_eq!(client.close(Duration::ZERO, CloseCode::NORMAL, ""), entropy);
    assert_eq!(
        (client.poll_transmit(), client.state()),
        (None, State::Open)
    );
    failing.set(false);

    // A text message with "€" (E2 82 AC) split over three fragments; the
    // middle and last fragments fail once each and are sent again.
    client
        .send_fragment(Fragment::First(DataKind::Text), b"\xe2")
        .unwrap();
    failing.set(true);
    assert_eq!(client.send_fragment(Fragment::Continue, b"\x82"), entropy);
    failing.set(false);
    client.send_fragment(Fragment::Continue, b"\x82").unwrap();
    failing.set(true);
    assert_eq!(client.send_fragment(Fragment::Last, b"\xac"), entropy);
    failing.set(false);
    client.send_fragment(Fragment::Last, b"\xac").unwrap();
    let frames: Vec<_> = frames_of(&drain_transmit(&mut client))
        .into_iter()
        .map(|(frame, _)| (frame.opcode, frame.fin, frame.payload))
        .collect();
    assert_eq!(
        frames,
        vec![
            (Opcode::Text, false, Bytes::from_static(b"\xe2")),
            (Opcode::Continuation, false, Bytes::from_static(b"\x82")),
            (Opcode::Continuation, true, Bytes::from_static(b"\xac")),
        ]
    );
}

#[test]
fn an_entropy_failure_on_an_automatic_pong_fails_the_connection() {
    let (mut client, failing) = flaky_client();
    failing.set(true);
    let error = Error::Entropy(wsmachine::entropy::EntropyError);
    client
        .receive(Duration::ZERO, &s(Opcode::Ping, true, b"p"))
        .unwrap();
    let events = drain_events(&mut client);
    // No Close can be masked, so none is sent.
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(client.state(), State::Closed);
    assert_eq!(close_events(&events).len(), 1);
    assert_eq!(close_events(&events)[0].error, Some(error.clone()));
    assert_eq!(client.error(), Some(&error));
}

// ---------------------------------------------------------------------------
// Owned payloads.
// ---------------------------------------------------------------------------

/// Every transmit of a connection, each as its own buffer.
fn transmits<R: Role>(conn: &mut Connection<R>) -> Vec<Bytes> {
    std::iter::from_fn(|| conn.poll_transmit()).collect()
}

#[test]
fn owned_sends_put_the_same_bytes_on_the_wire_as_borrowed_sends() {
    // Around the size where owned payloads stop being copied, and large.
    for len in [0, 1, 1023, 1024, 1025, 65536, 70_000] {
        let payload = pattern(len);
        let text = text_of(len);
        let mut borrowed = client_open();
        borrowed.send_text("before").unwrap();
        borrowed.send_binary(&payload).unwrap();
        borrowed.send_text(&text).unwrap();
        borrowed.send_ping(b"after").unwrap();
        let mut owned = client_open();
        owned.send_text("before").unwrap();
        owned.send_binary_owned(payload.clone()).unwrap();
        owned.send_text_owned(text.clone()).unwrap();
        owned.send_ping(b"after").unwrap();
        let wire = drain_transmit(&mut owned);
        assert_eq!(wire, drain_transmit(&mut borrowed), "len {len}");
        let frames: Vec<Frame> = frames_of(&wire).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            frames,
            [
                Frame::new(Opcode::Text, "before"),
                Frame::new(Opcode::Binary, payload.clone()),
                Frame::new(Opcode::Text, text.clone()),
                Frame::new(Opcode::Ping, "after"),
            ]
        );
    }
}

#[test]
fn a_large_owned_payload_is_masked_in_place_not_copied() {
    let mut client = client_open();
    let payload = BytesMut::from(&pattern(65536)[..]).freeze();
    let address = payload.as_ptr();
    client.send_binary_owned(payload).unwrap();
    let sent = transmits(&mut client);
    assert_eq!(sent.len(), 2, "a header, then the payload");
    assert_eq!(sent[1].as_ptr(), address, "the payload's own memory");
    assert_eq!(sent[0].len(), 2 + 8 + 4);
    let wire = [&sent[0][..], &sent[1][..]].concat();
    assert_eq!(frames_of(&wire)[0].0.payload, pattern(65536));
}

#[test]
fn a_server_sends_an_owned_payload_as_it_is() {
    let mut server = server_open();
    let shared = Bytes::from(pattern(4096));
    server.send_binary_owned(shared.clone()).unwrap();
    let sent = transmits(&mut server);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].as_ptr(), shared.as_ptr());
    assert_eq!(sent[1], shared);
}

#[test]
fn a_client_copies_a_shared_payload_before_masking_it() {
    let mut client = client_open();
    let shared = Bytes::from(pattern(4096));
    client.send_binary_owned(shared.clone()).unwrap();
    let sent = transmits(&mut client);
    assert_ne!(sent[1].as_ptr(), shared.as_ptr());
    // The app's handle still reads the original bytes.
    assert_eq!(shared, pattern(4096));
    let wire = [&sent[0][..], &sent[1][..]].concat();
    assert_eq!(frames_of(&wire)[0].0.payload, pattern(4096));
}

#[test]
fn owned_sends_follow_the_same_rules_as_borrowed_ones() {
    let mut client = client_open();
    client
        .send_fragment(Fragment::First(DataKind::Binary), b"part")
        .unwrap();
    assert_eq!(
        client.send_binary_owned(pattern(4096)),
        Err(SendError::MessageInProgress)
    );
    assert_eq!(
        client.send_text_owned(text_of(4096)),
        Err(SendError::MessageInProgress)
    );
    client.send_fragment(Fragment::Last, b"end").unwrap();
    client.close(Duration::ZERO, CloseCode::NORMAL, "").unwrap();
    assert!(matches!(
        client.send_binary_owned(pattern(4096)),
        Err(SendError::NotOpen { .. })
    ));
    // Nothing was queued by the refused sends.
    let frames: Vec<Opcode> = frames_of(&drain_transmit(&mut client))
        .into_iter()
        .map(|(frame, _)| frame.opcode)
        .collect();
    assert_eq!(
        frames,
        [Opcode::Binary, Opcode::Continuation, Opcode::Close]
    );
}

#[test]
fn owned_messages_reach_the_peer_in_order() {
    let mut client = client_open();
    let mut server = server_open();
    for len in [10, 5000, 20, 100_000] {
        client.send_binary_owned(pattern(len)).unwrap();
    }
    pass(Duration::ZERO, &mut client, &mut server);
    let lengths: Vec<usize> = drain_events(&mut server)
        .into_iter()
        .map(|event| match event {
            Event::Frame(frame) => {
                assert_eq!(frame.payload, pattern(frame.payload.len()));
                frame.payload.len()
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(lengths, [10, 5000, 20, 100_000]);
}

// ---------------------------------------------------------------------------
// A frame of known length written in pieces.
// ---------------------------------------------------------------------------

/// What a server decodes from what `client` sent.
fn decoded_by_a_server(
    client: &mut wsmachine::Client<wsmachine::entropy::FixedEntropy>,
) -> Vec<Event> {
    let wire = drain_transmit(client);
    let mut server = server_open();
    server.receive(Duration::ZERO, &wire).expect("valid frames");
    drain_events(&mut server)
}

#[test]
fn a_frame_written_in_pieces_is_one_masked_frame() {
    let mut client = client_open();
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    client
        .begin_frame(Fragment::Whole(DataKind::Binary), payload.len() as u64)
        .unwrap();
    for piece in payload.chunks(4099) {
        client.write_frame_payload(piece).unwrap();
    }
    let events = decoded_by_a_server(&mut client);
    assert_eq!(
        events,
        [Event::Frame(wsmachine::Frame::new(Opcode::Binary, payload))]
    );
}

#[test]
fn only_the_declared_payload_is_taken_and_nothing_else_is_sent_meanwhile() {
    let mut server = server_open();
    assert_eq!(
        server.write_frame_payload(b"x"),
        Err(SendError::NoFrameInProgress)
    );
    server
        .begin_frame(Fragment::Whole(DataKind::Binary), 4)
        .unwrap();
    assert_eq!(
        server.write_frame_payload(b"abcde"),
        Err(SendError::FrameOverrun { left: 4 })
    );
    assert_eq!(server.send_text("no"), Err(SendError::FrameInProgress));
    assert_eq!(server.send_ping(b"no"), Err(SendError::FrameInProgress));
    assert_eq!(
        server.close(Duration::ZERO, CloseCode::NORMAL, ""),
        Err(SendError::FrameInProgress)
    );
    assert_eq!(
        server.begin_frame(Fragment::Whole(DataKind::Binary), 1),
        Err(SendError::FrameInProgress)
    );
    server.write_frame_payload(b"abcd").unwrap();
    server.send_text("yes").unwrap();
    assert_eq!(drain_transmit(&mut server), b"\x82\x04abcd\x81\x03yes");
}

#[test]
fn text_written_in_pieces_is_checked_across_them() {
    let mut server = server_open();
    let text = "h€llo".as_bytes();
    server
        .begin_frame(Fragment::Whole(DataKind::Text), text.len() as u64)
        .unwrap();
    // The € split between pieces is fine; a bad byte is refused and changes
    // nothing.
    server.write_frame_payload(&text[..2]).unwrap();
    assert_eq!(
        server.write_frame_payload(&[0xff]),
        Err(SendError::InvalidUtf8)
    );
    server.write_frame_payload(&text[2..5]).unwrap();
    // The frame ends the message: it may not end inside a character.
    let mut short = server_open();
    short
        .begin_frame(Fragment::Whole(DataKind::Text), 2)
        .unwrap();
    assert_eq!(
        short.write_frame_payload(&text[1..3]),
        Err(SendError::InvalidUtf8)
    );
    server.write_frame_payload(&text[5..]).unwrap();
    let mut wire = vec![0x81, text.len() as u8];
    wire.extend_from_slice(text);
    assert_eq!(drain_transmit(&mut server), wire);
}

#[test]
fn the_connections_own_control_frames_wait_for_the_frames_end() {
    let mut server = server_open();
    server
        .begin_frame(Fragment::Whole(DataKind::Binary), 4)
        .unwrap();
    server.write_frame_payload(b"ab").unwrap();
    // A ping arrives mid-frame: its pong waits.
    server
        .receive(
            Duration::ZERO,
            &masked_frame(Opcode::Ping, true, b"p", [1, 2, 3, 4]),
        )
        .unwrap();
    assert!(
        matches!(server.poll_event(), Some(Event::Frame(frame)) if frame.opcode == Opcode::Ping)
    );
    assert_eq!(drain_transmit(&mut server), b"\x82\x04ab");
    server.write_frame_payload(b"cd").unwrap();
    assert_eq!(drain_transmit(&mut server), b"cd\x8a\x01p");
}

#[test]
fn frames_written_in_pieces_and_fragments_make_one_message() {
    let mut client = client_open();
    client
        .begin_frame(Fragment::First(DataKind::Text), 3)
        .unwrap();
    client.write_frame_payload(b"one").unwrap();
    client.send_fragment(Fragment::Continue, b" two").unwrap();
    client.begin_frame(Fragment::Last, 6).unwrap();
    client.write_frame_payload(b" three").unwrap();
    let mut server = server_open();
    server
        .receive(Duration::ZERO, &drain_transmit(&mut client))
        .unwrap();
    let mut assembler = wsmachine::message::MessageAssembler::new(1 << 20);
    let mut message = None;
    while let Some(Event::Frame(frame)) = server.poll_event() {
        message = assembler.push(frame).unwrap().or(message);
    }
    assert_eq!(
        message,
        Some(wsmachine::Message::Text("one two three".into()))
    );
}

#[test]
fn an_empty_frame_is_written_at_once() {
    let mut server = server_open();
    server
        .begin_frame(Fragment::Whole(DataKind::Binary), 0)
        .unwrap();
    assert_eq!(drain_transmit(&mut server), b"\x82\x00");
    server.send_text("next").unwrap();
}

#[test]
fn a_large_frame_in_pieces_holds_one_piece_at_a_time() {
    let mut client = client_open();
    let piece = vec![7u8; 64 << 10];
    client
        .begin_frame(Fragment::Whole(DataKind::Binary), 64 * piece.len() as u64)
        .unwrap();
    for _ in 0..64 {
        client.write_frame_payload(&piece).unwrap();
        assert!(client.pending_output() <= piece.len() + 14);
        drain_transmit(&mut client);
    }
    client.send_text("after").unwrap();
}

#[test]
fn owned_fragments_put_the_same_bytes_on_the_wire_as_borrowed_ones() {
    let large = vec![b'x'; 5000];
    for owned in [false, true] {
        let mut server = server_open();
        let mut client = client_open();
        for conn_is_server in [true, false] {
            let pieces: [(Fragment, &[u8]); 3] = [
                (Fragment::First(DataKind::Text), &large),
                (Fragment::Continue, b"small"),
                (Fragment::Last, &large),
            ];
            for (fragment, data) in pieces {
                let sent = match (conn_is_server, owned) {
                    (true, true) => server.send_fragment_owned(fragment, data.to_vec()),
                    (true, false) => server.send_fragment(fragment, data),
                    (false, true) => client.send_fragment_owned(fragment, data.to_vec()),
                    (false, false) => client.send_fragment(fragment, data),
                };
                sent.unwrap();
            }
        }
        let wire = (drain_transmit(&mut server), drain_transmit(&mut client));
        let mut expected_server = Vec::new();
        for (first, fin, data) in [
            (0x01, 0x00, &large[..]),
            (0x00, 0x00, b"small"),
            (0x00, 0x80, &large[..]),
        ] {
            expected_server.extend(unmasked_frame_raw(fin | first, data));
        }
        assert_eq!(wire.0, expected_server, "owned: {owned}");
        // The client's frames decode to the same message.
        let mut peer = client_open();
        peer.receive(Duration::ZERO, &wire.0).unwrap();
        let mut decoder = server_open();
        decoder.receive(Duration::ZERO, &wire.1).unwrap();
        let joined: Vec<u8> = drain_events(&mut decoder)
            .into_iter()
            .flat_map(|event| match event {
                Event::Frame(frame) => frame.payload.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(joined, [&large[..], b"small", &large[..]].concat());
    }
    // Text is checked across owned fragments too.
    let mut server = server_open();
    server
        .send_fragment_owned(Fragment::First(DataKind::Text), vec![b'a'; 2000])
        .unwrap();
    assert_eq!(
        server.send_fragment_owned(Fragment::Last, vec![0xff; 2000]),
        Err(SendError::InvalidUtf8)
    );
}

/// An unmasked frame: the first byte as given, then the length.
fn unmasked_frame_raw(first: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(first, None, payload)
}
