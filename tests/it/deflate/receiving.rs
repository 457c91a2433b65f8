//! Receiving: the RFC 7692 examples, frame rules, UTF-8 after inflating,
//! and decompression bombs.

use super::*;

// RFC 7692 §7.2.3: the examples, received by a client (unmasked) and by a
// server (masked), fed whole, byte by byte and split at every point.

fn rfc_examples() -> Vec<(&'static str, Vec<u8>, Vec<Message>)> {
    vec![
        (
            "7.2.3.1 one compressed block",
            hex("c1 07 f2 48 cd c9 c9 07 00"),
            vec![text("Hello")],
        ),
        (
            "7.2.3.1 fragmented",
            hex("41 03 f2 48 cd 80 04 c9 c9 07 00"),
            vec![text("Hello")],
        ),
        (
            "7.2.3.2 sharing the LZ77 window",
            hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"),
            vec![text("Hello"), text("Hello")],
        ),
        (
            "7.2.3.3 a block with no compression",
            hex("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"),
            vec![text("Hello")],
        ),
        (
            "7.2.3.4 a block with BFINAL set",
            hex("c1 08 f3 48 cd c9 c9 07 00 00"),
            vec![text("Hello")],
        ),
        (
            "7.2.3.5 two blocks in one message",
            hex("c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
            vec![text("Hello")],
        ),
        (
            "uncompressed message on a deflate connection",
            hex("81 05 48 65 6c 6c 6f"),
            vec![text("Hello")],
        ),
        (
            "compressed binary, then a ping inside a compressed fragmented message",
            hex("c2 07 f2 48 cd c9 c9 07 00 42 03 f2 48 cd 89 00 80 04 c9 c9 07 00"),
            vec![
                (Opcode::Binary, b"Hello".to_vec()),
                (Opcode::Binary, b"Hello".to_vec()),
            ],
        ),
    ]
}

/// Masks every frame of an unmasked server-to-client stream.
fn masked_stream(mut stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some((header, len))) = FrameHeader::decode(stream) {
        let end = len + header.payload_len as usize;
        let payload = &stream[len..end];
        out.extend(frame(
            header.opcode,
            header.fin,
            header.rsv,
            Some(KEY),
            payload,
        ));
        stream = &stream[end..];
    }
    assert!(stream.is_empty());
    out
}

#[test]
fn rfc_7692_examples_inflate_on_both_sides_fed_every_way() {
    for (name, stream, expected) in rfc_examples() {
        let outcome = feed_every_way(deflate_client, &stream, false);
        assert_eq!(outcome.error, None, "{name}");
        assert_eq!(messages(&outcome.events), expected, "{name}");
        let outcome = feed_every_way(deflate_server, &masked_stream(&stream), false);
        assert_eq!(outcome.error, None, "{name}");
        assert_eq!(messages(&outcome.events), expected, "{name}");
    }
}

#[test]
fn fragments_are_delivered_inflated_as_they_arrive() {
    let outcome = feed(
        deflate_client(),
        &hex("41 03 f2 48 cd 80 04 c9 c9 07 00"),
        &[],
        false,
    );
    let frames = data_frames(&outcome.events);
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].0, frames[0].1), (Opcode::Text, false));
    assert_eq!((frames[1].0, frames[1].1), (Opcode::Continuation, true));
    assert!(
        !frames[0].2.is_empty(),
        "the first fragment inflates to something"
    );
    assert_eq!([&frames[0].2[..], &frames[1].2[..]].concat(), b"Hello");
}

#[test]
fn without_deflate_rsv1_still_fails_with_1002() {
    let mut client = client_after_request(client_config(None));
    client
        .receive(Duration::ZERO, &switching_response(""))
        .unwrap();
    drain_events(&mut client);
    let outcome = feed(client, &hex("c1 07 f2 48 cd c9 c9 07 00"), &[], false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::ReservedBitsSet {
            bits: RSV1
        }))
    );
    assert_eq!(sent_close_code(&outcome.transmitted), Some(1002));
    // A server that was not asked for deflate does not turn it on either.
    let (server, response) = server_offered(None, "permessage-deflate");
    assert_eq!(response, None);
    let outcome = feed(
        server,
        &frame(
            Opcode::Text,
            true,
            RSV1,
            Some(KEY),
            &hex("f2 48 cd c9 c9 07 00"),
        ),
        &[],
        false,
    );
    assert_eq!(sent_close_code(&outcome.transmitted), Some(1002));
}

#[test]
fn frame_rule_violations_fail_with_their_codes() {
    let hello = hex("f2 48 cd c9 c9 07 00");
    let cases: Vec<(&str, Vec<u8>, ProtocolError, u16)> = vec![
        (
            "RSV1 on a continuation",
            [
                frame(Opcode::Text, false, RSV1, None, &hello[..3]),
                frame(Opcode::Continuation, true, RSV1, None, &hello[3..]),
            ]
            .concat(),
            ProtocolError::ReservedBitsSet { bits: RSV1 },
            1002,
        ),
        (
            "RSV1 on a ping",
            frame(Opcode::Ping, true, RSV1, None, b""),
            ProtocolError::ReservedBitsSet { bits: RSV1 },
            1002,
        ),
        (
            "RSV2 on a data frame",
            frame(Opcode::Text, true, 0b010, None, b"x"),
            ProtocolError::ReservedBitsSet { bits: 0b010 },
            1002,
        ),
        (
            "a reserved block type",
            frame(Opcode::Binary, true, RSV1, None, &[0xff, 0xff, 0xff]),
            ProtocolError::InvalidCompressedData,
            1007,
        ),
        (
            "a stored block whose lengths disagree",
            frame(Opcode::Binary, true, RSV1, None, &hex("00 05 00 00 00 48")),
            ProtocolError::InvalidCompressedData,
            1007,
        ),
    ];
    for (name, input, error, code) in cases {
        let outcome = feed_every_way(deflate_client, &input, false);
        assert_eq!(outcome.error, Some(Error::Protocol(error)), "{name}");
        assert_eq!(sent_close_code(&outcome.transmitted), Some(code), "{name}");
        assert_eq!(outcome.state, State::Closed, "{name}");
    }
}

#[test]
fn compressed_text_is_utf8_checked_after_inflating() {
    // A stored block holding "\xff", compressed: invalid text once inflated.
    let bad = frame(Opcode::Text, true, RSV1, None, &hex("00 01 00 fe ff ff 00"));
    let outcome = feed_every_way(deflate_client, &bad, false);
    assert!(matches!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::InvalidUtf8 { .. }))
    ));
    assert_eq!(sent_close_code(&outcome.transmitted), Some(1007));
    // The same bytes as binary are fine.
    let good = frame(
        Opcode::Binary,
        true,
        RSV1,
        None,
        &hex("00 01 00 fe ff ff 00"),
    );
    let outcome = feed(deflate_client(), &good, &[], false);
    assert_eq!(messages(&outcome.events), [(Opcode::Binary, vec![0xff])]);
    // A character split across two compressed fragments is fine.
    let mut sender = deflate_server();
    sender
        .send_fragment(
            Fragment::First(DataKind::Text),
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}"
                .as_bytes()
                .split_last()
                .unwrap()
                .1,
        )
        .unwrap();
    sender
        .send_fragment(Fragment::Last, &"\u{e9}".as_bytes()[1..])
        .unwrap();
    let outcome = feed(deflate_client(), &drain_transmit(&mut sender), &[], false);
    assert_eq!(
        messages(&outcome.events),
        [text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u{e9}")]
    );
}

// Decompression bombs: a few KiB that inflate past the limit fail with 1009
// before the memory is spent.

fn limited_client(limit: u64) -> Client<FixedEntropy> {
    let mut config = client_config(deflate(DeflateConfig::default()));
    config.config.max_message_size = limit;
    let mut client = client_after_request(config);
    client
        .receive(
            Duration::ZERO,
            &switching_response("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        )
        .unwrap();
    drain_events(&mut client);
    client
}

/// What a server sends for `payload` as one compressed binary message.
fn compressed_message(payload: &[u8], fragment_size: Option<usize>) -> Vec<u8> {
    let mut config = DeflateConfig::default();
    config.min_message_size = 0;
    let (mut server, _) = server_offered(deflate(config), "permessage-deflate");
    match fragment_size {
        None => server.send_binary(payload).unwrap(),
        Some(size) => {
            let mut chunks = payload.chunks(size).peekable();
            server
                .send_fragment(Fragment::First(DataKind::Binary), chunks.next().unwrap())
                .unwrap();
            while let Some(chunk) = chunks.next() {
                let fragment = if chunks.peek().is_some() {
                    Fragment::Continue
                } else {
                    Fragment::Last
                };
                server.send_fragment(fragment, chunk).unwrap();
            }
        }
    }
    drain_transmit(&mut server)
}

#[test]
fn a_decompression_bomb_fails_with_1009_fed_every_way() {
    let limit = 64 * 1024;
    let bomb = compressed_message(&vec![0u8; 16 << 20], None);
    assert!(bomb.len() < 20 * 1024, "{} bytes on the wire", bomb.len());
    // The whole bomb would take too long to feed every way; its first
    // kilobytes already inflate past the limit.
    let head = &bomb[..1024];
    let outcome = feed_every_way(|| limited_client(limit), head, false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::MessageTooLarge { limit }))
    );
    assert_eq!(sent_close_code(&outcome.transmitted), Some(1009));
    assert!(data_frames(&outcome.events).is_empty());
    let outcome = feed(limited_client(limit), &bomb, &[], false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::MessageTooLarge { limit }))
    );
}

#[test]
fn a_fragmented_bomb_is_counted_across_fragments() {
    let limit = 64 * 1024;
    let bomb = compressed_message(&vec![b'a'; 1 << 20], Some(16 * 1024));
    let outcome = feed(limited_client(limit), &bomb, &[], false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::MessageTooLarge { limit }))
    );
    let delivered: usize = data_frames(&outcome.events)
        .iter()
        .map(|(_, _, payload)| payload.len())
        .sum();
    assert!(delivered <= limit as usize, "{delivered}");
    // A message of exactly the limit is fine, compressed or not.
    let exact = compressed_message(&vec![b'a'; limit as usize], Some(10_000));
    let outcome = feed(limited_client(limit), &exact, &[], false);
    assert_eq!(outcome.error, None);
    assert_eq!(messages(&outcome.events)[0].1.len(), limit as usize);
}

#[test]
fn the_wire_size_of_a_compressed_message_is_not_held_to_the_message_limit() {
    // Incompressible data grows a little when compressed: a message of
    // exactly the limit still arrives.
    let limit = 4096;
    let noise = noise(limit as usize);
    let wire = compressed_message(&noise, None);
    let (header, _) = FrameHeader::decode(&wire).unwrap().unwrap();
    assert!(header.payload_len > limit, "{}", header.payload_len);
    let outcome = feed(limited_client(limit), &wire, &[], false);
    assert_eq!(outcome.error, None);
    assert_eq!(messages(&outcome.events), [(Opcode::Binary, noise)]);
}

/// Bytes deflate cannot shrink: xorshift32 output.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[test]
fn a_compressed_frame_is_held_to_what_deflate_can_make_of_the_limit() {
    // zlib's compressBound of the limit: the most a message of the limit
    // can take on the wire. One byte more is refused from the header,
    // before any of the payload is held.
    let limit: u64 = 1 << 20;
    let bound = limit + (limit >> 12) + (limit >> 14) + (limit >> 25) + 13;
    let header = |len: u64| {
        let mut header = FrameHeader::new(Opcode::Binary, true, None, len);
        header.rsv = 0b100;
        header.encode().as_bytes().to_vec()
    };
    let mut at_bound = limited_client(limit);
    assert_eq!(at_bound.receive(Duration::ZERO, &header(bound)), Ok(()));
    assert!(at_bound.poll_event().is_none(), "waits for the payload");
    assert_eq!(at_bound.error(), None);
    let outcome = feed(limited_client(limit), &header(bound + 1), &[], false);
    assert_eq!(
        outcome.error,
        Some(Error::Protocol(ProtocolError::MessageTooLarge { limit }))
    );
}
