//! Protocol violations and their close codes (1002, 1007, 1009).

use super::*;

#[test]
fn unmasked_client_frame_at_a_server_is_1002() {
    assert_server_fails(
        Config::default(),
        &s(Opcode::Text, true, b"hi"),
        ProtocolError::UnmaskedFrame,
        CloseCode::PROTOCOL_ERROR,
    );
    // Found from the header alone.
    assert_server_fails(
        Config::default(),
        &[0x82, 0x7e, 0x10, 0x00],
        ProtocolError::UnmaskedFrame,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn masked_server_frame_at_a_client_is_1002() {
    assert_client_fails(
        Config::default(),
        &c(Opcode::Text, true, b"hi"),
        ProtocolError::MaskedFrame,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn reserved_bits_are_1002() {
    for rsv in [0b100u8, 0b010, 0b001, 0b111] {
        for opcode in [0x1u8, 0x2, 0x9] {
            let first = 0x80 | (rsv << 4) | opcode;
            assert_server_fails(
                Config::default(),
                &raw_frame(first, Some(KEY), b"x"),
                ProtocolError::ReservedBitsSet { bits: rsv },
                CloseCode::PROTOCOL_ERROR,
            );
            assert_client_fails(
                Config::default(),
                &raw_frame(first, None, b"x"),
                ProtocolError::ReservedBitsSet { bits: rsv },
                CloseCode::PROTOCOL_ERROR,
            );
        }
    }
    // On a continuation too.
    let input = concat(&[
        &c(Opcode::Binary, false, b"a"),
        &raw_frame(0xc0, Some(KEY), b"b"),
    ]);
    let outcome = feed_every_way(server_open, &input, false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::ReservedBitsSet {
            bits: 0b100
        }))
    );
}

#[test]
fn reserved_opcodes_are_1002() {
    for opcode in (3u8..=7).chain(11..=15) {
        assert_server_fails(
            Config::default(),
            &raw_frame(0x80 | opcode, Some(KEY), b""),
            ProtocolError::ReservedOpcode(opcode),
            CloseCode::PROTOCOL_ERROR,
        );
        assert_client_fails(
            Config::default(),
            &raw_frame(0x80 | opcode, None, b"abc"),
            ProtocolError::ReservedOpcode(opcode),
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn oversized_control_frames_are_1002() {
    for opcode in [0x88u8, 0x89, 0x8a] {
        assert_server_fails(
            Config::default(),
            &raw_frame(opcode, Some(KEY), &[b'a'; 126]),
            ProtocolError::ControlFrameTooLarge { len: 126 },
            CloseCode::PROTOCOL_ERROR,
        );
        // Only the header is needed.
        assert_client_fails(
            Config::default(),
            &[opcode, 0x7e, 0x01, 0x00],
            ProtocolError::ControlFrameTooLarge { len: 256 },
            CloseCode::PROTOCOL_ERROR,
        );
    }
    // 125 is fine.
    let outcome = feed_every_way(server_open, &c(Opcode::Ping, true, &[7; 125]), false);
    assert_eq!(outcome.error, None);
}

#[test]
fn fragmented_control_frames_are_1002() {
    for opcode in [0x08u8, 0x09, 0x0a] {
        assert_server_fails(
            Config::default(),
            &raw_frame(opcode, Some(KEY), b""),
            ProtocolError::FragmentedControlFrame,
            CloseCode::PROTOCOL_ERROR,
        );
        assert_client_fails(
            Config::default(),
            &raw_frame(opcode, None, b"x"),
            ProtocolError::FragmentedControlFrame,
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn continuation_with_nothing_started_is_1002() {
    assert_server_fails(
        Config::default(),
        &c(Opcode::Continuation, true, b"x"),
        ProtocolError::UnexpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
    // Also after a finished message.
    assert_client_fails(
        Config::default(),
        &concat(&[
            &s(Opcode::Text, true, b"done"),
            &s(Opcode::Continuation, false, b"x"),
        ]),
        ProtocolError::UnexpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn new_data_frame_inside_a_fragmented_message_is_1002() {
    for opcode in [Opcode::Text, Opcode::Binary] {
        assert_server_fails(
            Config::default(),
            &concat(&[
                &c(Opcode::Text, false, b"a"),
                &c(Opcode::Ping, true, b""),
                &c(opcode, true, b"b"),
            ]),
            ProtocolError::ExpectedContinuation,
            CloseCode::PROTOCOL_ERROR,
        );
        assert_client_fails(
            Config::default(),
            &concat(&[&s(Opcode::Binary, false, b"a"), &s(opcode, false, b"b")]),
            ProtocolError::ExpectedContinuation,
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn one_byte_close_payload_is_1002() {
    assert_server_fails(
        Config::default(),
        &c(Opcode::Close, true, b"\x03"),
        ProtocolError::InvalidClose(InvalidClose::OneBytePayload),
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn close_codes_that_must_not_be_on_the_wire_are_1002() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_server_fails(
            Config::default(),
            &c(Opcode::Close, true, &close_payload(code, b"")),
            ProtocolError::InvalidClose(InvalidClose::CodeNotAllowed(CloseCode(code))),
            CloseCode::PROTOCOL_ERROR,
        );
        assert_client_fails(
            Config::default(),
            &s(Opcode::Close, true, &close_payload(code, b"why")),
            ProtocolError::InvalidClose(InvalidClose::CodeNotAllowed(CloseCode(code))),
            CloseCode::PROTOCOL_ERROR,
        );
    }
    // The edges of the allowed ranges pass.
    for code in [1000u16, 1003, 1007, 1014, 3000, 4999] {
        let outcome = feed_every_way(
            server_open,
            &c(Opcode::Close, true, &close_payload(code, b"")),
            false,
        );
        assert_eq!(outcome.error, None, "{code}");
        assert_eq!(
            outcome.transmitted,
            s(Opcode::Close, true, &close_payload(code, b""))
        );
    }
}

#[test]
fn close_reason_over_123_bytes_is_1002() {
    // 124 reason bytes make a 126-byte payload: too large for a control
    // frame, found in the header.
    assert_server_fails(
        Config::default(),
        &c(Opcode::Close, true, &close_payload(1000, &[b'r'; 124])),
        ProtocolError::ControlFrameTooLarge { len: 126 },
        CloseCode::PROTOCOL_ERROR,
    );
    // 123 is the most a reason can be.
    let reason = "r".repeat(123);
    let outcome = feed_every_way(
        server_open,
        &c(Opcode::Close, true, &close_payload(1000, reason.as_bytes())),
        false,
    );
    assert_eq!(
        outcome.events,
        vec![close_event(
            CloseCode::NORMAL,
            &reason,
            Initiator::Remote,
            None
        )]
    );
}

#[test]
fn non_utf8_close_reason_is_1007() {
    assert_server_fails(
        Config::default(),
        &c(Opcode::Close, true, &close_payload(1000, b"ok\xff")),
        ProtocolError::InvalidClose(InvalidClose::ReasonNotUtf8),
        CloseCode::INVALID_PAYLOAD,
    );
    assert_client_fails(
        Config::default(),
        &s(Opcode::Close, true, &close_payload(1000, b"\xed\xa0\x80")),
        ProtocolError::InvalidClose(InvalidClose::ReasonNotUtf8),
        CloseCode::INVALID_PAYLOAD,
    );
}

/// The error for text whose first invalid byte is at `offset` within the
/// message, or that ends inside a character (`None`).
fn invalid_utf8_at(offset: Option<u64>) -> ProtocolError {
    ProtocolError::InvalidUtf8 { offset }
}

#[test]
fn invalid_utf8_in_text_is_1007() {
    assert_server_fails(
        Config::default(),
        &c(Opcode::Text, true, b"ab\xffcd"),
        invalid_utf8_at(Some(2)),
        CloseCode::INVALID_PAYLOAD,
    );
    // A message that ends inside a character.
    assert_client_fails(
        Config::default(),
        &s(Opcode::Text, true, b"ab\xe2\x82"),
        invalid_utf8_at(None),
        CloseCode::INVALID_PAYLOAD,
    );
    // Binary is not checked.
    let outcome = feed_every_way(server_open, &c(Opcode::Binary, true, b"\xff\xfe"), false);
    assert_eq!(outcome.error, None);
}

#[test]
fn invalid_utf8_fails_as_soon_as_it_arrives() {
    // A 10-byte text frame of which only the header and "\xED\xA0" (the
    // start of a surrogate) have arrived.
    let frame = c(Opcode::Text, true, b"\xed\xa0\x80 and more");
    let header_len = 6;
    assert_server_fails(
        Config::default(),
        &frame[..header_len + 2],
        invalid_utf8_at(Some(1)),
        CloseCode::INVALID_PAYLOAD,
    );
    // The same in a continuation, and at a client.
    let input = concat(&[
        &s(Opcode::Text, false, b"ok"),
        &s(Opcode::Continuation, true, b"x\xed\xa0yyyyyyy"),
    ]);
    let cut = input.len() - 7;
    assert_client_fails(
        Config::default(),
        &input[..cut],
        invalid_utf8_at(Some(4)),
        CloseCode::INVALID_PAYLOAD,
    );
}

#[test]
fn invalid_utf8_split_across_fragments_is_1007() {
    // "€" is E2 82 AC; the continuation brings a byte that cannot follow.
    let input = concat(&[
        &c(Opcode::Text, false, b"a\xe2"),
        &c(Opcode::Ping, true, b""),
        &c(Opcode::Continuation, false, b"\x82"),
        &c(Opcode::Continuation, true, b"b"),
    ]);
    assert_server_fails(
        Config::default(),
        &input,
        invalid_utf8_at(Some(3)),
        CloseCode::INVALID_PAYLOAD,
    );
    // Valid when the continuation completes the character.
    let input = concat(&[
        &c(Opcode::Text, false, b"a\xe2"),
        &c(Opcode::Continuation, true, b"\x82\xac"),
    ]);
    let outcome = feed_every_way(server_open, &input, false);
    assert_eq!(outcome.error, None);
    // Invalid when the message ends inside it.
    let input = concat(&[
        &c(Opcode::Text, false, b"a\xe2"),
        &c(Opcode::Continuation, true, b"\x82"),
    ]);
    assert_server_fails(
        Config::default(),
        &input,
        invalid_utf8_at(None),
        CloseCode::INVALID_PAYLOAD,
    );
}

fn limits(max_frame_payload: u64, max_message_size: u64) -> Config {
    let mut config = Config::default();
    config.max_frame_size = Some(max_frame_payload);
    config.max_message_size = max_message_size;
    config
}

#[test]
fn frame_over_max_frame_payload_is_1009_at_its_boundary() {
    let config = limits(100, 1000);
    // Exactly the limit passes.
    let outcome = feed_every_way(
        || server_with(config.clone()),
        &c(Opcode::Binary, true, &[1; 100]),
        false,
    );
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.events,
        vec![frame_event(Opcode::Binary, true, &[1; 100])]
    );
    // One more fails from the header alone.
    assert_server_fails(
        config.clone(),
        &masked_header(0x82, 101),
        ProtocolError::FrameTooLarge {
            len: 101,
            limit: 100,
        },
        CloseCode::MESSAGE_TOO_BIG,
    );
    // A hostile 64-bit length, at a client.
    assert_client_fails(
        config.clone(),
        &[0x81, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0],
        ProtocolError::FrameTooLarge {
            len: 1 << 32,
            limit: 100,
        },
        CloseCode::MESSAGE_TOO_BIG,
    );
    // Continuations are frames too.
    assert_server_fails(
        config,
        &concat(&[&c(Opcode::Text, false, b"a"), &masked_header(0x80, 101)]),
        ProtocolError::FrameTooLarge {
            len: 101,
            limit: 100,
        },
        CloseCode::MESSAGE_TOO_BIG,
    );
}

#[test]
fn message_over_max_message_size_is_1009_at_its_boundary() {
    let config = limits(1000, 100);
    let input = concat(&[
        &c(Opcode::Binary, false, &[1; 60]),
        &c(Opcode::Ping, true, &[9; 50]), // control frames do not count
        &c(Opcode::Continuation, true, &[2; 40]),
    ]);
    let outcome = feed_every_way(|| server_with(config.clone()), &input, false);
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.events.len(), 3);
    assert_server_fails(
        config.clone(),
        &concat(&[
            &c(Opcode::Binary, false, &[1; 60]),
            &masked_header(0x80, 41),
        ]),
        ProtocolError::MessageTooLarge { limit: 100 },
        CloseCode::MESSAGE_TOO_BIG,
    );
    // A single frame over the message limit.
    assert_server_fails(
        config.clone(),
        &masked_header(0x81, 101),
        ProtocolError::MessageTooLarge { limit: 100 },
        CloseCode::MESSAGE_TOO_BIG,
    );
    // The count starts again with the next message.
    let input = concat(&[
        &c(Opcode::Binary, false, &[1; 60]),
        &c(Opcode::Continuation, true, &[2; 40]),
        &c(Opcode::Text, false, &[b'a'; 60]),
        &c(Opcode::Continuation, true, &[b'b'; 40]),
    ]);
    let outcome = feed_every_way(|| server_with(config.clone()), &input, false);
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.events.len(), 4);
}
