//! permessage-deflate (RFC 7692) through the public API: the RFC's examples,
//! negotiation on both sides, frame rules, decompression bombs, split
//! invariance, and a client/server pair compressing both ways.
#![cfg(feature = "deflate")]

mod support;

use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use support::*;
use wsmachine::close::CloseCode;
use wsmachine::entropy::FixedEntropy;
use wsmachine::error::ProtocolError;
use wsmachine::extensions::permessage_deflate::{
    DeflateConfig, DeflateParamError, DeflateParams, DeflateResponseError,
};
use wsmachine::frame::{FrameHeader, encode_frame};
use wsmachine::handshake::client::{ClientConfig, ClientConfigError};
use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::{
    Client, Connection, DataKind, Error, Event, Fragment, Opcode, Role, Server, State,
};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const RSV1: u8 = 0b100;

/// A frame with any RSV bits, masked when a key is given.
fn frame(opcode: Opcode, fin: bool, rsv: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut header = FrameHeader::new(opcode, fin, mask, payload.len() as u64);
    header.rsv = rsv;
    let mut out = BytesMut::new();
    encode_frame(&header, payload, &mut out);
    out.to_vec()
}

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|byte| u8::from_str_radix(byte, 16).expect("hex"))
        .collect()
}

fn deflate(config: DeflateConfig) -> Option<DeflateConfig> {
    Some(config)
}

fn client_config(deflate_config: Option<DeflateConfig>) -> ClientConfig {
    let mut config = ClientConfig::new("ws://server.example.com/chat").unwrap();
    config.deflate = deflate_config;
    config
}

fn server_config(deflate_config: Option<DeflateConfig>) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.deflate = deflate_config;
    config
}

/// A client that offered permessage-deflate and got `response` (the
/// `Sec-WebSocket-Extensions` value), with its events drained.
fn client_answered(config: DeflateConfig, response: &str) -> Client<FixedEntropy> {
    let mut client = client_after_request(client_config(deflate(config)));
    let header = format!("Sec-WebSocket-Extensions: {response}\r\n");
    client
        .receive(Duration::ZERO, &switching_response(&header))
        .expect("accepted");
    assert_eq!(client.state(), State::Open);
    drain_events(&mut client);
    client
}

fn deflate_client() -> Client<FixedEntropy> {
    client_answered(DeflateConfig::default(), "permessage-deflate")
}

/// A server with `config` that accepted `offer` automatically, with its
/// 101 and events drained. Returns the 101's extension header, if any.
fn server_offered(config: Option<DeflateConfig>, offer: &str) -> (Server, Option<String>) {
    let mut server = Server::new(server_config(config));
    let header = format!("Sec-WebSocket-Extensions: {offer}\r\n");
    server
        .receive(Duration::ZERO, &upgrade_request(&header))
        .unwrap();
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.accept(Duration::ZERO, Accept::default()).unwrap();
    let response = String::from_utf8(drain_transmit(&mut server)).unwrap();
    assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
    let extensions = response
        .lines()
        .find_map(|line| line.strip_prefix("Sec-WebSocket-Extensions: "))
        .map(String::from);
    drain_events(&mut server);
    (server, extensions)
}

fn deflate_server() -> Server {
    server_offered(deflate(DeflateConfig::default()), "permessage-deflate").0
}

/// The data frames among the events, as (opcode, fin, payload).
fn data_frames(events: &[Event]) -> Vec<(Opcode, bool, Vec<u8>)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Frame(frame) if !frame.opcode.is_control() => {
                assert_eq!(frame.rsv, 0, "RSV1 is consumed by the extension");
                Some((frame.opcode, frame.fin, frame.payload.to_vec()))
            }
            _ => None,
        })
        .collect()
}

/// Whole messages from the data frames among the events.
fn messages(events: &[Event]) -> Vec<Message> {
    let mut messages = Vec::new();
    let mut current: Option<Message> = None;
    for (opcode, fin, payload) in data_frames(events) {
        let (kind, mut data) = match (opcode, current.take()) {
            (Opcode::Continuation, Some(message)) => message,
            (Opcode::Continuation, None) => panic!("continuation without a message"),
            (opcode, _) => (opcode, Vec::new()),
        };
        data.extend_from_slice(&payload);
        if fin {
            messages.push((kind, data));
        } else {
            current = Some((kind, data));
        }
    }
    messages
}

fn text(data: &str) -> Message {
    (Opcode::Text, data.as_bytes().to_vec())
}

/// The close code of the Close frame in a server's or client's output.
fn sent_close_code(bytes: &[u8]) -> Option<u16> {
    let (header, len) = FrameHeader::decode(bytes).ok()??;
    if header.opcode != Opcode::Close {
        return None;
    }
    let mut payload = bytes.get(len..len + 2)?.to_vec();
    if let Some(key) = header.mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    Some(u16::from_be_bytes([payload[0], payload[1]]))
}

// RFC 7692 §7.2.3: the examples, received by a client (unmasked) and by a
// server (masked), fed whole, byte by byte and split at every point.

/// A message as (opcode, payload).
type Message = (Opcode, Vec<u8>);

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
    config.config.limits.max_message_size = limit;
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

// Negotiation.

fn config_with(edit: impl FnOnce(&mut DeflateConfig)) -> DeflateConfig {
    let mut config = DeflateConfig::default();
    edit(&mut config);
    config
}

#[test]
fn server_negotiation_matrix() {
    let default = DeflateConfig::default();
    let no_server_takeover = config_with(|c| c.server_no_context_takeover = true);
    let no_client_takeover = config_with(|c| c.client_no_context_takeover = true);
    let server_bits_10 = config_with(|c| c.server_max_window_bits = 10);
    let client_bits_9 = config_with(|c| c.client_max_window_bits = 9);
    #[rustfmt::skip]
    let cases: Vec<(&[&str], &DeflateConfig, Option<&str>)> = vec![
        (&["permessage-deflate"], &default, Some("permessage-deflate")),
        (&["permessage-deflate; client_max_window_bits"], &default, Some("permessage-deflate")),
        (&["permessage-deflate; client_max_window_bits=12"], &default,
            Some("permessage-deflate; client_max_window_bits=12")),
        (&["permessage-deflate; server_max_window_bits=9"], &default,
            Some("permessage-deflate; server_max_window_bits=9")),
        (&["permessage-deflate; server_max_window_bits=\"8\""], &default,
            Some("permessage-deflate; server_max_window_bits=8")),
        (&["permessage-deflate; server_no_context_takeover"], &default,
            Some("permessage-deflate; server_no_context_takeover")),
        (&["permessage-deflate; client_no_context_takeover"], &default,
            Some("permessage-deflate; client_no_context_takeover")),
        (&["permessage-deflate"], &no_server_takeover,
            Some("permessage-deflate; server_no_context_takeover")),
        (&["permessage-deflate"], &no_client_takeover,
            Some("permessage-deflate; client_no_context_takeover")),
        (&["permessage-deflate"], &server_bits_10, Some("permessage-deflate; server_max_window_bits=10")),
        (&["permessage-deflate; server_max_window_bits=12"], &server_bits_10,
            Some("permessage-deflate; server_max_window_bits=10")),
        (&["permessage-deflate; server_max_window_bits=9"], &server_bits_10,
            Some("permessage-deflate; server_max_window_bits=9")),
        (&["permessage-deflate; client_max_window_bits"], &client_bits_9,
            Some("permessage-deflate; client_max_window_bits=9")),
        (&["permessage-deflate; client_max_window_bits=11"], &client_bits_9,
            Some("permessage-deflate; client_max_window_bits=9")),
        // The server cannot limit a client that did not offer the parameter.
        (&["permessage-deflate"], &client_bits_9, None),
        (&["permessage-deflate", "permessage-deflate; client_max_window_bits"], &client_bits_9,
            Some("permessage-deflate; client_max_window_bits=9")),
        // Invalid offers are declined, and the next one is taken.
        (&["permessage-deflate; x-unknown"], &default, None),
        (&["permessage-deflate; server_max_window_bits"], &default, None),
        (&["permessage-deflate; server_max_window_bits=16"], &default, None),
        (&["permessage-deflate; server_max_window_bits=7"], &default, None),
        (&["permessage-deflate; client_max_window_bits=010"], &default, None),
        (&["permessage-deflate; server_no_context_takeover=true"], &default, None),
        (&["permessage-deflate; client_max_window_bits; client_max_window_bits"], &default, None),
        (&["permessage-deflate; server_max_window_bits=\"1 0\""], &default, None),
        (&["permessage-deflate; ;"], &default, None),
        (&["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
           "permessage-deflate; server_no_context_takeover"], &default,
            Some("permessage-deflate; server_no_context_takeover")),
        (&["x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits"], &default,
            Some("permessage-deflate")),
        (&["x-webkit-deflate-frame"], &default, None),
        (&[], &default, None),
        (&["PerMessage-Deflate; Server_No_Context_Takeover"], &default,
            Some("permessage-deflate; server_no_context_takeover")),
    ];
    for (offers, config, expected) in cases {
        let response = config.negotiate(offers.iter().copied());
        assert_eq!(
            response.map(|r| r.to_string()).as_deref(),
            expected,
            "{offers:?} with {config:?}"
        );
        // The same through a server connection, with the offers on the wire
        // in one header.
        let (_, on_wire) = server_offered(Some(config.clone()), &offers.join(", "));
        assert_eq!(on_wire.as_deref(), expected, "{offers:?} on the wire");
    }
}

#[test]
fn offers_come_from_the_client_config() {
    let cases = [
        (
            DeflateConfig::default(),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            config_with(|c| {
                c.server_no_context_takeover = true;
                c.client_no_context_takeover = true;
                c.server_max_window_bits = 10;
                c.client_max_window_bits = 8;
            }),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=8",
        ),
        (
            config_with(|c| c.server_max_window_bits = 99),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            config_with(|c| c.client_max_window_bits = 0),
            "permessage-deflate; client_max_window_bits=8",
        ),
    ];
    for (config, offer) in cases {
        let mut client_config = client_config(deflate(config));
        client_config.extensions.push("x-other; a=1".into());
        let mut client = client_with(client_config);
        let request = String::from_utf8(drain_transmit(&mut client)).unwrap();
        assert!(
            request.contains(&format!(
                "\r\nSec-WebSocket-Extensions: x-other; a=1, {offer}\r\n"
            )),
            "{request}"
        );
    }
    // The app's own permessage-deflate offer and the config's would clash.
    let mut config = client_config(deflate(DeflateConfig::default()));
    config.extensions.push("permessage-deflate".into());
    assert_eq!(
        Client::new(config, FixedEntropy::new(RFC_ENTROPY)).err(),
        Some(ClientConfigError::DeflateOfferedTwice)
    );
}

fn client_check(config: DeflateConfig, response: &str) -> Result<(), HandshakeError> {
    let mut client = client_after_request(client_config(deflate(config)));
    let header = format!("Sec-WebSocket-Extensions: {response}\r\n");
    match client.receive(Duration::ZERO, &switching_response(&header)) {
        Ok(()) => {
            let Some(Event::Accepted(accepted)) = client.poll_event() else {
                panic!("no Accepted event for {response:?}");
            };
            assert!(!accepted.extensions.is_empty());
            Ok(())
        }
        Err(Error::Handshake(error)) => {
            assert_eq!(error.kind(), HandshakeErrorKind::InvalidResponse);
            assert_eq!(client.state(), State::Closed);
            Err(error)
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn client_response_checks() {
    use DeflateResponseError as E;
    let invalid = |error| Err(HandshakeError::InvalidDeflateResponse(error));
    let default = DeflateConfig::default;
    let asks_server_takeover = || config_with(|c| c.server_no_context_takeover = true);
    let asks_server_bits = || config_with(|c| c.server_max_window_bits = 10);
    let own_client_bits = || config_with(|c| c.client_max_window_bits = 11);
    #[rustfmt::skip]
    let cases: Vec<(DeflateConfig, &str, Result<(), HandshakeError>)> = vec![
        (default(), "permessage-deflate", Ok(())),
        (default(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover", Ok(())),
        (default(), "permessage-deflate; server_max_window_bits=8", Ok(())),
        (default(), "permessage-deflate; client_max_window_bits=9", Ok(())),
        (default(), "permessage-deflate; client_max_window_bits=\"9\"", Ok(())),
        (asks_server_takeover(), "permessage-deflate; server_no_context_takeover", Ok(())),
        (asks_server_takeover(), "permessage-deflate", invalid(E::MissingServerNoContextTakeover)),
        (asks_server_bits(), "permessage-deflate; server_max_window_bits=10", Ok(())),
        (asks_server_bits(), "permessage-deflate; server_max_window_bits=9", Ok(())),
        (asks_server_bits(), "permessage-deflate; server_max_window_bits=11",
            invalid(E::ServerMaxWindowBitsTooLarge { offered: 10, answered: 11 })),
        (asks_server_bits(), "permessage-deflate",
            invalid(E::MissingServerMaxWindowBits { offered: 10 })),
        (own_client_bits(), "permessage-deflate; client_max_window_bits=11", Ok(())),
        (own_client_bits(), "permessage-deflate; client_max_window_bits=12",
            invalid(E::ClientMaxWindowBitsTooLarge { offered: 11, answered: 12 })),
        (default(), "permessage-deflate; client_max_window_bits",
            invalid(E::ClientMaxWindowBitsWithoutValue)),
        (default(), "permessage-deflate; x=1",
            invalid(E::Param(DeflateParamError::UnknownParam { name: "x".into() }))),
        (default(), "permessage-deflate; server_max_window_bits=16",
            invalid(E::Param(DeflateParamError::InvalidValue {
                name: "server_max_window_bits".into(), value: Some("16".into()) }))),
        (default(), "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            invalid(E::Param(DeflateParamError::DuplicateParam {
                name: "server_no_context_takeover".into() }))),
        (default(), "permessage-deflate; server_max_window_bits=\"1",
            invalid(E::Malformed(wsmachine::extensions::ExtensionError::UnterminatedQuotedString))),
        (default(), "permessage-deflate, permessage-deflate", invalid(E::DuplicateResponse)),
        (default(), "x-unoffered",
            Err(HandshakeError::UnofferedExtension { extension: "x-unoffered".into() })),
    ];
    for (config, response, expected) in cases {
        assert_eq!(client_check(config, response), expected, "{response:?}");
    }
    // An offer without client_max_window_bits (not one a DeflateConfig
    // makes) cannot be answered with it.
    let offer = DeflateParams::default();
    let response = DeflateParams {
        client_max_window_bits: Some(Some(10)),
        ..DeflateParams::default()
    };
    assert_eq!(
        offer.check_response(&response),
        Err(E::UnofferedClientMaxWindowBits)
    );
}

#[test]
fn a_server_without_deflate_leaves_the_client_uncompressed() {
    let mut pair = Pair::new(
        client_config(deflate(DeflateConfig::default())),
        server_config(None),
    );
    pair.drive();
    let Some(Event::Accepted(accepted)) = pair.client_events.first() else {
        panic!("{:?}", pair.client_events);
    };
    assert!(accepted.extensions.is_empty());
    let message = "uncompressed ".repeat(20);
    pair.client.send_text(&message).unwrap();
    let wire = drain_transmit(&mut pair.client);
    assert_eq!(wire[0], 0x81, "RSV1 clear");
    pair.server.receive(pair.now, &wire).unwrap();
    assert_eq!(messages(&drain_events(&mut pair.server)), [text(&message)]);
}

#[test]
fn the_app_may_answer_permessage_deflate_itself() {
    let request =
        upgrade_request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    let accept_with = |extension: &str| {
        let mut server = Server::new(server_config(None));
        server.receive(Duration::ZERO, &request).unwrap();
        let mut accept = Accept::default();
        accept.extensions.push(extension.into());
        let result = server.accept(Duration::ZERO, accept);
        (server, result)
    };
    let (mut server, result) =
        accept_with("permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
    result.unwrap();
    let response = String::from_utf8(drain_transmit(&mut server)).unwrap();
    assert!(response.contains(
        "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
         client_max_window_bits=10\r\n"
    ));
    server.send_text(&"compressed ".repeat(10)).unwrap();
    assert_eq!(drain_transmit(&mut server)[0], 0xc1, "RSV1 set");
    let (mut server, result) = accept_with("permessage-deflate; client_max_window_bits");
    assert_eq!(
        result,
        Err(DecisionError::InvalidDeflateResponse(
            DeflateResponseError::ClientMaxWindowBitsWithoutValue
        ))
    );
    assert!(drain_transmit(&mut server).is_empty());
    assert_eq!(server.state(), State::Connecting);
}

// Sending: thresholds, RSV1 placement, takeover.

/// A client and a server that negotiated with these configs, open.
fn pair(client: DeflateConfig, server: DeflateConfig) -> Pair {
    let mut pair = Pair::new(
        client_config(deflate(client)),
        server_config(deflate(server)),
    );
    pair.drive();
    assert_eq!(pair.client.state(), State::Open);
    pair.client_events.clear();
    pair.server_events.clear();
    pair
}

/// Sends with `send` on `from`, returns the frames on the wire, and
/// delivers them to `to`.
fn exchange<A: Role, B: Role>(
    from: &mut Connection<A>,
    to: &mut Connection<B>,
    send: impl FnOnce(&mut Connection<A>),
) -> (Vec<FrameHeader>, Vec<u8>, Vec<Event>) {
    send(from);
    let wire = drain_transmit(from);
    let mut headers = Vec::new();
    let mut rest = &wire[..];
    while let Ok(Some((header, len))) = FrameHeader::decode(rest) {
        headers.push(header);
        rest = &rest[len + header.payload_len as usize..];
    }
    to.receive(Duration::ZERO, &wire).unwrap();
    (headers, wire, drain_events(to))
}

fn json_like(seed: u32) -> String {
    format!(
        r#"{{"id":{seed},"type":"update","user":{{"name":"user-{seed}","roles":["reader","writer"]}},"payload":"{}"}}"#,
        "lorem ipsum dolor sit amet ".repeat(8)
    )
}

#[test]
fn tiny_messages_are_not_compressed_and_control_frames_never_are() {
    let mut pair = pair(DeflateConfig::default(), DeflateConfig::default());
    let (headers, _, events) = exchange(&mut pair.client, &mut pair.server, |c| {
        c.send_text("short").unwrap();
        c.send_text(&"x".repeat(31)).unwrap();
        c.send_text(&"x".repeat(32)).unwrap();
        c.send_ping(&[b'p'; 100]).unwrap();
        c.send_binary(&[7u8; 64]).unwrap();
    });
    let rsv: Vec<u8> = headers.iter().map(|h| h.rsv).collect();
    assert_eq!(rsv, [0, 0, RSV1, 0, RSV1]);
    assert_eq!(
        messages(&events),
        [
            text("short"),
            text(&"x".repeat(31)),
            text(&"x".repeat(32)),
            (Opcode::Binary, vec![7u8; 64])
        ]
    );
    assert!(headers[2].payload_len < 32);
}

#[test]
fn fragmented_messages_set_rsv1_on_the_first_frame_only() {
    let mut pair = pair(DeflateConfig::default(), DeflateConfig::default());
    let part = json_like(1);
    let (headers, _, events) = exchange(&mut pair.server, &mut pair.client, |s| {
        s.send_fragment(Fragment::First(DataKind::Text), part.as_bytes())
            .unwrap();
        s.send_ping(b"between").unwrap();
        s.send_fragment(Fragment::Continue, part.as_bytes())
            .unwrap();
        s.send_fragment(Fragment::Continue, b"").unwrap();
        s.send_fragment(Fragment::Last, part.as_bytes()).unwrap();
        // A first fragment under the threshold: the message goes uncompressed.
        s.send_fragment(Fragment::First(DataKind::Binary), b"tiny")
            .unwrap();
        s.send_fragment(Fragment::Last, part.as_bytes()).unwrap();
    });
    let shape: Vec<(Opcode, bool, u8)> = headers.iter().map(|h| (h.opcode, h.fin, h.rsv)).collect();
    assert_eq!(
        shape,
        [
            (Opcode::Text, false, RSV1),
            (Opcode::Ping, true, 0),
            (Opcode::Continuation, false, 0),
            (Opcode::Continuation, false, 0),
            (Opcode::Continuation, true, 0),
            (Opcode::Binary, false, 0),
            (Opcode::Continuation, true, 0),
        ]
    );
    assert_eq!(
        messages(&events),
        [
            text(&part.repeat(3)),
            (
                Opcode::Binary,
                [b"tiny".as_slice(), part.as_bytes()].concat()
            )
        ]
    );
    // The repeated fragments referred back to the first.
    assert!(headers[2].payload_len < part.len() as u64 / 4);
}

/// The wire sizes of the same message sent twice each way.
fn repeat_sizes(client: DeflateConfig, server: DeflateConfig) -> [(u64, u64); 2] {
    let mut pair = pair(client, server);
    let message = json_like(7);
    let mut sizes = [(0, 0); 2];
    for size in &mut sizes {
        let (headers, _, events) = exchange(&mut pair.client, &mut pair.server, |c| {
            c.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)]);
        size.0 = headers[0].payload_len;
        let (headers, _, events) = exchange(&mut pair.server, &mut pair.client, |s| {
            s.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)]);
        size.1 = headers[0].payload_len;
    }
    sizes
}

#[test]
fn context_takeover_is_kept_or_reset_per_direction() {
    let [first, second] = repeat_sizes(DeflateConfig::default(), DeflateConfig::default());
    assert!(
        second.0 < first.0 / 4 && second.1 < first.1 / 4,
        "{first:?} {second:?}"
    );
    // The client asks the server not to keep its context.
    let [first, second] = repeat_sizes(
        config_with(|c| c.server_no_context_takeover = true),
        DeflateConfig::default(),
    );
    assert!(second.0 < first.0 / 4, "{first:?} {second:?}");
    assert_eq!(second.1, first.1);
    // The server requires the client not to keep its context.
    let [first, second] = repeat_sizes(
        DeflateConfig::default(),
        config_with(|c| c.client_no_context_takeover = true),
    );
    assert_eq!(second.0, first.0);
    assert!(second.1 < first.1 / 4, "{first:?} {second:?}");
    // The client resets its own context without being asked.
    let [first, second] = repeat_sizes(
        config_with(|c| c.client_no_context_takeover = true),
        DeflateConfig::default(),
    );
    assert_eq!(second.0, first.0);
    // The server resets its own context, and says so.
    let [first, second] = repeat_sizes(
        DeflateConfig::default(),
        config_with(|c| c.server_no_context_takeover = true),
    );
    assert_eq!(second.1, first.1);
    assert!(second.0 < first.0 / 4);
}

#[test]
fn small_windows_on_both_sides() {
    for bits in 8..=15 {
        let mut pair = pair(
            config_with(|c| {
                c.server_max_window_bits = bits;
                c.client_max_window_bits = bits;
            }),
            DeflateConfig::default(),
        );
        let message = json_like(bits.into()).repeat(20);
        let (_, _, events) = exchange(&mut pair.client, &mut pair.server, |c| {
            c.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)], "{bits}");
        let (_, _, events) = exchange(&mut pair.server, &mut pair.client, |s| {
            s.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)], "{bits}");
    }
}

#[test]
fn a_compressed_stream_is_split_invariant() {
    // A server's compressed output: messages with a shared window, a
    // fragmented one with a ping inside, and a close.
    let mut config = DeflateConfig::default();
    config.min_message_size = 8;
    let (mut server, _) = server_offered(Some(config), "permessage-deflate");
    server.send_text(&json_like(1)).unwrap();
    server.send_text(&json_like(2)).unwrap();
    server.send_binary(b"tiny").unwrap();
    server
        .send_fragment(
            Fragment::First(DataKind::Text),
            "h\u{e9}llo w\u{f6}rld, ".as_bytes(),
        )
        .unwrap();
    server.send_ping(b"mid").unwrap();
    server
        .send_fragment(Fragment::Last, "h\u{e9}llo again".as_bytes())
        .unwrap();
    server
        .close(Duration::ZERO, CloseCode::NORMAL, "done")
        .unwrap();
    let stream = drain_transmit(&mut server);
    let outcome = feed_every_way(deflate_client, &stream, false);
    assert_eq!(outcome.error, None);
    assert_eq!(
        messages(&outcome.events),
        [
            text(&json_like(1)),
            text(&json_like(2)),
            (Opcode::Binary, b"tiny".to_vec()),
            text("h\u{e9}llo w\u{f6}rld, h\u{e9}llo again"),
        ]
    );
    assert!(
        outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::Close(close) if close.code == CloseCode::NORMAL))
    );
}

#[test]
fn a_closed_connection_sends_nothing_compressed() {
    let mut pair = pair(DeflateConfig::default(), DeflateConfig::default());
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    assert_eq!(pair.client.state(), State::Closed);
    assert!(pair.client.send_text(&json_like(3)).is_err());
}

// Random round trips: any configs, any messages, any fragmentation.

#[derive(Clone, Debug)]
struct Send {
    from_client: bool,
    kind: DataKind,
    data: Vec<u8>,
    /// Fragment sizes; empty for one frame.
    fragments: Vec<usize>,
}

fn deflate_config() -> impl Strategy<Value = DeflateConfig> {
    (
        0u32..=9,
        prop_oneof![Just(0usize), Just(32), 0usize..200],
        any::<bool>(),
        any::<bool>(),
        8u8..=15,
        8u8..=15,
    )
        .prop_map(|(level, min, snct, cnct, sbits, cbits)| {
            config_with(|c| {
                c.level = level;
                c.min_message_size = min;
                c.server_no_context_takeover = snct;
                c.client_no_context_takeover = cnct;
                c.server_max_window_bits = sbits;
                c.client_max_window_bits = cbits;
            })
        })
}

fn message_data() -> impl Strategy<Value = (DataKind, Vec<u8>)> {
    prop_oneof![
        "(ab|\u{e9}|json|\\PC){0,400}".prop_map(|s| (DataKind::Text, s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(|d| (DataKind::Binary, d)),
        (0usize..3000).prop_map(|n| (DataKind::Binary, vec![b'z'; n])),
    ]
}

fn send() -> impl Strategy<Value = Send> {
    (
        any::<bool>(),
        message_data(),
        proptest::collection::vec(0usize..300, 0..4),
    )
        .prop_map(|(from_client, (kind, data), fragments)| Send {
            from_client,
            kind,
            data,
            fragments,
        })
}

/// Sends a message, fragmented at the given sizes (texts at character
/// boundaries are not needed: fragments are checked across).
fn send_on<R: Role>(conn: &mut Connection<R>, send: &Send) {
    if send.fragments.is_empty() {
        match send.kind {
            DataKind::Text => conn
                .send_text(std::str::from_utf8(&send.data).unwrap())
                .unwrap(),
            DataKind::Binary => conn.send_binary(&send.data).unwrap(),
        }
        return;
    }
    let mut rest = &send.data[..];
    let mut first = true;
    for &size in &send.fragments {
        let (piece, after) = rest.split_at(size.min(rest.len()));
        let fragment = if first {
            Fragment::First(send.kind)
        } else {
            Fragment::Continue
        };
        conn.send_fragment(fragment, piece).unwrap();
        first = false;
        rest = after;
    }
    conn.send_fragment(Fragment::Last, rest).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn messages_round_trip_under_any_negotiation(
        client in deflate_config(),
        server in deflate_config(),
        sends in proptest::collection::vec(send(), 1..8),
    ) {
        let mut pair = pair(client, server);
        for send in &sends {
            let (from_client, events) = if send.from_client {
                let (_, _, events) = exchange(&mut pair.client, &mut pair.server, |c| send_on(c, send));
                (true, events)
            } else {
                let (_, _, events) = exchange(&mut pair.server, &mut pair.client, |s| send_on(s, send));
                (false, events)
            };
            let opcode = match send.kind {
                DataKind::Text => Opcode::Text,
                DataKind::Binary => Opcode::Binary,
            };
            prop_assert_eq!(messages(&events), vec![(opcode, send.data.clone())], "from client: {}", from_client);
        }
        prop_assert_eq!(pair.client.error(), None);
        prop_assert_eq!(pair.server.error(), None);
    }

    #[test]
    fn arbitrary_compressed_payloads_never_panic(
        payloads in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        let count = payloads.len();
        for (index, (binary, payload)) in payloads.iter().enumerate() {
            let opcode = match (index, binary) {
                (0, true) => Opcode::Binary,
                (0, false) => Opcode::Text,
                _ => Opcode::Continuation,
            };
            let rsv = if index == 0 { RSV1 } else { 0 };
            stream.extend(frame(opcode, index + 1 == count, rsv, None, payload));
        }
        let cut = cut.index(stream.len() + 1);
        let whole = feed(deflate_client(), &stream, &[], false);
        let split = feed(deflate_client(), &stream, &[cut], false);
        prop_assert_eq!(&whole, &split);
        match whole.error {
            None => {}
            Some(Error::Protocol(
                ProtocolError::InvalidCompressedData | ProtocolError::InvalidUtf8 { .. },
            )) => {
                prop_assert_eq!(sent_close_code(&whole.transmitted), Some(1007));
            }
            Some(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

#[test]
fn owned_payloads_are_compressed_like_borrowed_ones() {
    let payload: Vec<u8> = b"compressible text, over and over; ".repeat(200);
    let mut borrowed = deflate_server();
    borrowed.send_binary(&payload).unwrap();
    let mut owned = deflate_server();
    owned.send_binary_owned(payload.clone()).unwrap();
    let wire = drain_transmit(&mut owned);
    assert_eq!(wire, drain_transmit(&mut borrowed));
    // RSV1 marks a compressed message, and it is far smaller than the text.
    assert_eq!(wire[0], 0x80 | 0x40 | 0x02);
    assert!(wire.len() < payload.len() / 4, "{} bytes", wire.len());
}
