//! Connection scenarios: messages, control frames, the closing handshake,
//! every protocol violation with its close code, keepalive and send errors.
//!
//! Raw-feed scenarios go through `feed_every_way`, so each input is also fed
//! byte by byte and split at every point, with the same outcome.
mod support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use support::*;
use wsmachine::close::InvalidClose;
use wsmachine::config::{Config, Keepalive};
use wsmachine::entropy::FixedEntropy;
use wsmachine::error::ProtocolError;
use wsmachine::frame::{Decoded, FrameDecoder};
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine::{
    Client, Close, CloseCode, Connection, DataKind, Error, Event, Fragment, Frame, Initiator,
    Opcode, Role, SendError, Server, State,
};

// ---------------------------------------------------------------------------
// Helpers of this file.
// ---------------------------------------------------------------------------

const KEY: [u8; 4] = [0x9a, 0x01, 0xf3, 0x5c];

fn server_open() -> Server {
    Server::new_open(Config::default(), Duration::ZERO)
}

fn server_with(config: Config) -> Server {
    Server::new_open(config, Duration::ZERO)
}

fn client_open() -> Client<FixedEntropy> {
    client_with_config(Config::default())
}

fn client_with_config(config: Config) -> Client<FixedEntropy> {
    Client::new_open(config, FixedEntropy::new(RFC_ENTROPY), Duration::ZERO)
}

/// A frame with any first byte (FIN, RSV, opcode), masked when `mask` is
/// given; the length takes its shortest form.
fn raw_frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame header only, for a declared length, as a client sends it.
fn masked_header(first: u8, len: u64) -> Vec<u8> {
    let mut out = vec![first];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// A client's (masked) frame.
fn c(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    masked_frame(opcode, fin, payload, KEY)
}

/// A server's (unmasked) frame.
fn s(opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    unmasked_frame(opcode, fin, payload)
}

/// Decodes a whole stream of frames, unmasking them, and reports whether
/// each was masked.
fn frames_of(bytes: &[u8]) -> Vec<(Frame, bool)> {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    let mut masked = false;
    loop {
        match decoder.decode(&mut buf).expect("our own output decodes") {
            Some(Decoded::Header(header)) => masked = header.mask.is_some(),
            Some(Decoded::Frame(frame)) => frames.push((frame, masked)),
            None => break,
        }
    }
    assert!(buf.is_empty(), "trailing bytes in the output: {buf:?}");
    frames
}

fn close_frame(code: CloseCode, reason: &str) -> Frame {
    Frame::new(Opcode::Close, close_payload(code.0, reason.as_bytes()))
}

fn frame_event(opcode: Opcode, fin: bool, payload: &[u8]) -> Event {
    let mut frame = Frame::new(opcode, payload.to_vec());
    frame.fin = fin;
    Event::Frame(frame)
}

fn close_event(code: CloseCode, reason: &str, initiator: Initiator, error: Option<Error>) -> Event {
    Event::Close(Close {
        code,
        reason: reason.to_owned(),
        initiator,
        error,
    })
}

fn close_events(events: &[Event]) -> Vec<&Close> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Close(close) => Some(close),
            _ => None,
        })
        .collect()
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A server fed `input` fails with `error`: the Close it queues carries the
/// error's code, the Close event reports it, and the error is sticky.
fn assert_server_fails(config: Config, input: &[u8], error: ProtocolError, code: CloseCode) {
    assert_eq!(error.close_code(), code, "{error:?}");
    let outcome = feed_every_way(|| server_with(config.clone()), input, false);
    let expected = Error::Protocol(error);
    assert_eq!(outcome.error.as_ref(), Some(&expected));
    assert_eq!(outcome.state, State::Closed);
    // Pongs for pings before the violation, then the Close.
    assert!(
        outcome
            .transmitted
            .ends_with(&raw_frame(0x88, None, &code.0.to_be_bytes())),
        "the queued Close: {:?}",
        outcome.transmitted
    );
    let frames = frames_of(&outcome.transmitted);
    assert!(
        frames[..frames.len() - 1]
            .iter()
            .all(|(f, _)| f.opcode == Opcode::Pong)
    );
    assert_eq!(
        outcome.events.last(),
        Some(&close_event(
            code,
            "",
            Initiator::Local,
            Some(expected.clone())
        ))
    );
    assert_eq!(close_events(&outcome.events).len(), 1);
    // Sticky: the same error again, and nothing more is queued.
    let mut server = server_with(config);
    let _ = server.receive(Duration::ZERO, input);
    drain_events(&mut server);
    drain_transmit(&mut server);
    assert_eq!(server.error(), Some(&expected));
    assert_eq!(
        server.receive(Duration::ZERO, &c(Opcode::Text, true, b"x")),
        Err(expected.clone())
    );
    assert_eq!(server.receive_eof(Duration::ZERO), Err(expected));
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.poll_event(), None);
}

/// The client-side counterpart of [`assert_server_fails`]; the client's
/// Close is masked.
fn assert_client_fails(config: Config, input: &[u8], error: ProtocolError, code: CloseCode) {
    assert_eq!(error.close_code(), code, "{error:?}");
    let outcome = feed_every_way(|| client_with_config(config.clone()), input, false);
    let expected = Error::Protocol(error);
    assert_eq!(outcome.error.as_ref(), Some(&expected));
    assert_eq!(outcome.state, State::Closed);
    assert_eq!(
        frames_of(&outcome.transmitted),
        vec![(close_frame(code, ""), true)],
        "the queued Close"
    );
    assert_eq!(
        outcome.events.last(),
        Some(&close_event(
            code,
            "",
            Initiator::Local,
            Some(expected.clone())
        ))
    );
    assert_eq!(close_events(&outcome.events).len(), 1);
    let mut client = client_with_config(config);
    let _ = client.receive(Duration::ZERO, input);
    drain_events(&mut client);
    assert_eq!(client.error(), Some(&expected));
    assert_eq!(
        client.receive(Duration::ZERO, &s(Opcode::Text, true, b"x")),
        Err(expected)
    );
}

/// Moves everything queued on one side to the other.
fn pass<A: Role, B: Role>(now: Duration, from: &mut Connection<A>, to: &mut Connection<B>) {
    let bytes = drain_transmit(from);
    if !bytes.is_empty() {
        let _ = to.receive(now, &bytes);
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---------------------------------------------------------------------------
// Messages.
// ---------------------------------------------------------------------------

const SIZES: [usize; 5] = [0, 125, 126, 65535, 65536];

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn text_of(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

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
// The closing handshake.
// ---------------------------------------------------------------------------

#[test]
fn close_from_the_client() {
    let mut pair = Pair::connected();
    pair.client
        .close(pair.now, CloseCode::GOING_AWAY, "leaving")
        .unwrap();
    assert_eq!(pair.client.state(), State::Closing);
    pair.drive();
    assert_eq!(
        pair.server_events,
        vec![close_event(
            CloseCode::GOING_AWAY,
            "leaving",
            Initiator::Remote,
            None
        )]
    );
    assert_eq!(
        pair.client_events,
        vec![close_event(
            CloseCode::GOING_AWAY,
            "",
            Initiator::Local,
            None
        )]
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert_eq!((pair.client.error(), pair.server.error()), (None, None));
    assert!(pair.client_errors.is_empty() && pair.server_errors.is_empty());
}

#[test]
fn close_from_the_server() {
    let mut pair = Pair::connected();
    pair.server
        .close(pair.now, CloseCode(4001), "custom")
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.client_events,
        vec![close_event(
            CloseCode(4001),
            "custom",
            Initiator::Remote,
            None
        )]
    );
    assert_eq!(
        pair.server_events,
        vec![close_event(CloseCode(4001), "", Initiator::Local, None)]
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert!(pair.client_errors.is_empty() && pair.server_errors.is_empty());
}

#[test]
fn close_from_both_at_once() {
    let mut pair = Pair::connected();
    pair.client
        .close(pair.now, CloseCode::NORMAL, "client")
        .unwrap();
    pair.server
        .close(pair.now, CloseCode::GOING_AWAY, "server")
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.client_events,
        vec![close_event(
            CloseCode::GOING_AWAY,
            "server",
            Initiator::Local,
            None
        )]
    );
    assert_eq!(
        pair.server_events,
        vec![close_event(
            CloseCode::NORMAL,
            "client",
            Initiator::Local,
            None
        )]
    );
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Closed, State::Closed)
    );
    assert!(pair.client_errors.is_empty() && pair.server_errors.is_empty());
}

#[test]
fn empty_close_is_reported_as_no_status_and_answered_empty() {
    let outcome = feed_every_way(server_open, &c(Opcode::Close, true, b""), false);
    assert_eq!(
        outcome.events,
        vec![close_event(
            CloseCode::NO_STATUS,
            "",
            Initiator::Remote,
            None
        )]
    );
    assert_eq!(outcome.transmitted, s(Opcode::Close, true, b""));
    assert_eq!((outcome.state, outcome.error), (State::Closed, None));
}

#[test]
fn the_server_closes_first_and_the_client_waits_for_its_eof() {
    let mut config = Config::default();
    config.close_timeout = secs(5);
    let mut client = client_with_config(config.clone());
    let mut server = server_with(config);
    client.close(Duration::ZERO, CloseCode::NORMAL, "").unwrap();
    pass(Duration::ZERO, &mut client, &mut server);
    drain_events(&mut server);
    // The server has answered and is done: it closes the transport.
    assert_eq!(server.state(), State::Closed);
    pass(secs(1), &mut server, &mut client);
    assert_eq!(
        drain_events(&mut client),
        vec![close_event(CloseCode::NORMAL, "", Initiator::Local, None)]
    );
    assert_eq!(client.state(), State::Closing);
    // Frames after the closing handshake are ignored while it waits.
    client
        .receive(secs(2), &s(Opcode::Text, true, b"late"))
        .unwrap();
    assert_eq!(client.poll_event(), None);
    assert_eq!(client.state(), State::Closing);
    // The timer is re-armed from the server's Close.
    assert_eq!(client.poll_timeout(), Some(secs(6)));
    client.receive_eof(secs(3)).unwrap();
    assert_eq!(client.state(), State::Closed);
    assert_eq!(client.poll_event(), None);
    assert_eq!(client.poll_transmit(), None);
    assert_eq!(client.error(), None);
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn the_client_stops_waiting_for_eof_at_the_close_timeout() {
    let mut config = Config::default();
    config.close_timeout = secs(5);
    let mut client = client_with_config(config);
    client
        .receive(
            secs(1),
            &s(Opcode::Close, true, &close_payload(1000, b"done")),
        )
        .unwrap();
    assert_eq!(
        drain_events(&mut client),
        vec![close_event(
            CloseCode::NORMAL,
            "done",
            Initiator::Remote,
            None
        )]
    );
    // The echo of the server's code.
    assert_eq!(
        frames_of(&drain_transmit(&mut client)),
        vec![(close_frame(CloseCode::NORMAL, ""), true)]
    );
    assert_eq!(client.state(), State::Closing);
    assert_eq!(client.poll_timeout(), Some(secs(6)));
    client.handle_timeout(secs(6) - Duration::from_nanos(1));
    assert_eq!(client.state(), State::Closing);
    client.handle_timeout(secs(6));
    assert_eq!(client.state(), State::Closed);
    // A clean close: no second event, no error.
    assert_eq!(client.poll_event(), None);
    assert_eq!(client.error(), None);
    assert_eq!(client.poll_transmit(), None);
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let mut config = Config::default();
    config.close_timeout = secs(3);
    let expected = vec![close_event(
        CloseCode::ABNORMAL,
        "",
        Initiator::Local,
        Some(Error::CloseTimeout),
    )];

    let mut server = server_with(config.clone());
    server.close(secs(1), CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        drain_transmit(&mut server),
        s(Opcode::Close, true, &close_payload(1000, b""))
    );
    assert_eq!(server.poll_timeout(), Some(secs(4)));
    server.handle_timeout(secs(2));
    assert_eq!(
        (server.state(), server.poll_event()),
        (State::Closing, None)
    );
    server.handle_timeout(secs(4));
    assert_eq!(server.state(), State::Closed);
    assert_eq!(drain_events(&mut server), expected);
    assert_eq!(server.error(), Some(&Error::CloseTimeout));
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.poll_timeout(), None);

    let mut client = client_with_config(config);
    client.close(secs(1), CloseCode::NORMAL, "").unwrap();
    drain_transmit(&mut client);
    client.handle_timeout(secs(10));
    assert_eq!(client.state(), State::Closed);
    assert_eq!(drain_events(&mut client), expected);
    assert_eq!(client.error(), Some(&Error::CloseTimeout));
}

#[test]
fn close_timeout_through_the_pair_when_the_server_never_answers() {
    let mut client_config = ClientConfig::new("ws://server.example.com/chat").unwrap();
    client_config.config.close_timeout = secs(2);
    let mut pair = Pair::new(client_config, ServerConfig::default());
    pair.drive();
    pair.client_events.clear();
    pair.server_events.clear();
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    // The Close is lost: the server never sees it.
    drain_transmit(&mut pair.client);
    pair.advance_to(secs(1));
    assert_eq!(pair.client.state(), State::Closing);
    pair.advance_to(secs(2));
    assert_eq!(pair.client.state(), State::Closed);
    assert_eq!(
        pair.client_events,
        vec![close_event(
            CloseCode::ABNORMAL,
            "",
            Initiator::Local,
            Some(Error::CloseTimeout)
        )]
    );
    // The client closed the transport, so the server sees an abnormal end.
    assert_eq!(
        pair.server_events,
        vec![close_event(
            CloseCode::ABNORMAL,
            "",
            Initiator::Remote,
            Some(Error::UnexpectedEof)
        )]
    );
}

#[test]
fn eof_without_a_close_is_abnormal() {
    let expected = vec![close_event(
        CloseCode::ABNORMAL,
        "",
        Initiator::Remote,
        Some(Error::UnexpectedEof),
    )];
    let outcome = feed_every_way(server_open, &c(Opcode::Text, true, b"hi"), true);
    assert_eq!(
        outcome.events,
        [
            vec![frame_event(Opcode::Text, true, b"hi")],
            expected.clone()
        ]
        .concat()
    );
    assert_eq!(outcome.error, Some(Error::UnexpectedEof));
    assert_eq!(outcome.state, State::Closed);
    assert!(
        outcome.transmitted.is_empty(),
        "no Close on a dead transport"
    );

    // In the middle of a frame.
    let frame = s(Opcode::Binary, true, b"abcdef");
    let outcome = feed_every_way(client_open, &frame[..4], true);
    assert_eq!(outcome.events, expected);
    assert_eq!(outcome.error, Some(Error::UnexpectedEof));

    // After our own Close, before the peer's: still abnormal, started here.
    let mut server = server_open();
    server.close(Duration::ZERO, CloseCode::NORMAL, "").unwrap();
    // The end takes effect in byte order: `poll_event` reports it.
    server.receive_eof(Duration::ZERO).unwrap();
    assert_eq!(
        drain_events(&mut server),
        vec![close_event(
            CloseCode::ABNORMAL,
            "",
            Initiator::Local,
            Some(Error::UnexpectedEof)
        )]
    );
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.error(), Some(&Error::UnexpectedEof));
    assert_eq!(
        server.receive_eof(Duration::ZERO),
        Err(Error::UnexpectedEof)
    );
}

#[test]
fn frames_after_a_close_are_ignored() {
    let input = concat(&[
        &c(Opcode::Close, true, &close_payload(1001, b"")),
        &c(Opcode::Text, true, b"ignored"),
        &c(Opcode::Ping, true, b"ignored"),
        &[0x83, 0x80, 1, 2, 3, 4], // even a violation
    ]);
    let outcome = feed_every_way(server_open, &input, false);
    assert_eq!(
        outcome.events,
        vec![close_event(
            CloseCode::GOING_AWAY,
            "",
            Initiator::Remote,
            None
        )]
    );
    assert_eq!(
        outcome.transmitted,
        s(Opcode::Close, true, &close_payload(1001, b""))
    );
    assert_eq!((outcome.state, outcome.error), (State::Closed, None));

    let input = concat(&[
        &s(Opcode::Close, true, &close_payload(1000, b"")),
        &s(Opcode::Text, true, b"ignored"),
        &s(Opcode::Ping, true, b"ignored"),
        &[0x83, 0x00],
    ]);
    let outcome = feed_every_way(client_open, &input, false);
    assert_eq!(
        outcome.events,
        vec![close_event(CloseCode::NORMAL, "", Initiator::Remote, None)]
    );
    assert_eq!(
        frames_of(&outcome.transmitted),
        vec![(close_frame(CloseCode::NORMAL, ""), true)]
    );
    assert_eq!((outcome.state, outcome.error), (State::Closing, None));
}

#[test]
fn nothing_is_sent_after_our_close() {
    let mut server = server_open();
    server
        .close(Duration::ZERO, CloseCode::NORMAL, "bye")
        .unwrap();
    drain_transmit(&mut server);
    // Data still arrives while we wait for the peer's Close, but pings are
    // not answered.
    server
        .receive(
            Duration::ZERO,
            &concat(&[&c(Opcode::Ping, true, b"p"), &c(Opcode::Text, true, b"t")]),
        )
        .unwrap();
    assert_eq!(
        drain_events(&mut server),
        vec![
            frame_event(Opcode::Ping, true, b"p"),
            frame_event(Opcode::Text, true, b"t")
        ]
    );
    assert_eq!(server.poll_transmit(), None);
    let closing = Err(SendError::NotOpen {
        state: State::Closing,
    });
    assert_eq!(server.send_text("x"), closing);
    assert_eq!(server.send_binary(b"x"), closing);
    assert_eq!(server.send_ping(b"x"), closing);
    assert_eq!(server.send_pong(b"x"), closing);
    assert_eq!(
        server.send_fragment(Fragment::First(DataKind::Text), b"x"),
        closing
    );
    assert_eq!(server.close(Duration::ZERO, CloseCode::NORMAL, ""), closing);
    assert_eq!(server.poll_transmit(), None);
    // The peer's Close completes the handshake without another Close.
    server
        .receive(
            Duration::ZERO,
            &c(Opcode::Close, true, &close_payload(1000, b"")),
        )
        .unwrap();
    assert_eq!(
        drain_events(&mut server),
        vec![close_event(CloseCode::NORMAL, "", Initiator::Local, None)]
    );
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn a_violation_after_our_close_sends_no_second_close() {
    let mut server = server_open();
    server.close(Duration::ZERO, CloseCode::NORMAL, "").unwrap();
    drain_transmit(&mut server);
    let error = Error::Protocol(ProtocolError::ReservedOpcode(3));
    server
        .receive(Duration::ZERO, &[0x83, 0x80, 1, 2, 3, 4])
        .unwrap();
    let events = drain_events(&mut server);
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.state(), State::Closed);
    assert_eq!(close_events(&events).len(), 1);
    assert_eq!(close_events(&events)[0].error, Some(error.clone()));
    assert_eq!(server.error(), Some(&error));
}

// ---------------------------------------------------------------------------
// Violations and their close codes.
// ---------------------------------------------------------------------------

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
    config.limits.max_frame_payload = max_frame_payload;
    config.limits.max_message_size = max_message_size;
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

// ---------------------------------------------------------------------------
// Keepalive.
// ---------------------------------------------------------------------------

fn keepalive(interval: u64, timeout: u64) -> Config {
    let mut config = Config::default();
    config.keepalive = Some(Keepalive {
        interval: secs(interval),
        timeout: secs(timeout),
    });
    config
}

/// The payload of the only ping in `bytes`, sent by a server.
fn ping_payload(bytes: &[u8]) -> Bytes {
    let frames = frames_of(bytes);
    let [(frame, _)] = frames.as_slice() else {
        panic!("one ping expected: {frames:?}")
    };
    assert_eq!(frame.opcode, Opcode::Ping);
    frame.payload.clone()
}

#[test]
fn keepalive_pings_and_the_pong_clears_the_deadline() {
    let mut server = server_with(keepalive(10, 5));
    assert_eq!(server.poll_timeout(), Some(secs(10)));
    server.handle_timeout(secs(9));
    assert_eq!(server.poll_transmit(), None);
    server.handle_timeout(secs(10));
    let payload = ping_payload(&drain_transmit(&mut server));
    // Next: the pong deadline.
    assert_eq!(server.poll_timeout(), Some(secs(15)));
    server
        .receive(secs(12), &c(Opcode::Pong, true, &payload))
        .unwrap();
    assert_eq!(
        drain_events(&mut server),
        vec![frame_event(Opcode::Pong, true, &payload)]
    );
    // The deadline is gone; the next ping is due an interval after the pong.
    assert_eq!(server.poll_timeout(), Some(secs(22)));
    server.handle_timeout(secs(21));
    assert_eq!((server.state(), server.error()), (State::Open, None));
    assert_eq!(server.poll_transmit(), None);
    server.handle_timeout(secs(22));
    let second = ping_payload(&drain_transmit(&mut server));
    assert_ne!(second, payload, "each ping is told apart from the last");
}

#[test]
fn keepalive_without_a_pong_fails_with_1011() {
    let mut server = server_with(keepalive(10, 5));
    server.handle_timeout(secs(10));
    let payload = ping_payload(&drain_transmit(&mut server));
    // An unsolicited pong with another payload does not count.
    server
        .receive(secs(11), &c(Opcode::Pong, true, b"other"))
        .unwrap();
    drain_events(&mut server);
    assert_eq!(server.poll_timeout(), Some(secs(15)));
    server.handle_timeout(secs(15));
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.error(), Some(&Error::PongTimeout));
    assert_eq!(
        drain_transmit(&mut server),
        s(Opcode::Close, true, &close_payload(1011, b""))
    );
    assert_eq!(
        drain_events(&mut server),
        vec![close_event(
            CloseCode::INTERNAL_ERROR,
            "",
            Initiator::Local,
            Some(Error::PongTimeout)
        )]
    );
    assert_eq!(
        server.receive(secs(16), &c(Opcode::Pong, true, &payload)),
        Err(Error::PongTimeout)
    );
}

#[test]
fn keepalive_shorter_interval_than_timeout_still_times_out() {
    // Pings every second, five seconds for a pong: a silent peer must still
    // be caught five seconds after the first unanswered ping.
    let mut server = server_with(keepalive(1, 5));
    let mut now = Duration::ZERO;
    while server.state() == State::Open && now < secs(60) {
        now = server.poll_timeout().expect("a timer is armed while open");
        server.handle_timeout(now);
        drain_transmit(&mut server);
    }
    assert_eq!(server.error(), Some(&Error::PongTimeout));
    assert_eq!(now, secs(6));
}

#[test]
fn keepalive_with_a_zero_interval_never_makes_the_caller_spin() {
    let mut server = server_with(keepalive(0, 5));
    assert_eq!(server.poll_timeout(), Some(secs(0)));
    server.handle_timeout(secs(0));
    let payload = ping_payload(&drain_transmit(&mut server));
    // While the ping is unanswered, only its deadline is due.
    assert_eq!(server.poll_timeout(), Some(secs(5)));
    server
        .receive(secs(1), &c(Opcode::Pong, true, &payload))
        .unwrap();
    // The pong takes effect when it is decoded.
    assert_eq!(drain_events(&mut server).len(), 1);
    assert_eq!(server.poll_timeout(), Some(secs(1)));
}

#[test]
fn keepalive_through_the_pair() {
    let mut client_config = ClientConfig::new("ws://server.example.com/chat").unwrap();
    client_config.config = keepalive(30, 10);
    let mut server_config = ServerConfig::default();
    server_config.config = keepalive(20, 10);
    let mut pair = Pair::new(client_config, server_config);
    pair.drive();
    pair.client_events.clear();
    pair.server_events.clear();
    for t in 1..=100 {
        pair.advance_to(secs(t));
    }
    // The peers answer each other's pings; nobody fails.
    assert_eq!(
        (pair.client.state(), pair.server.state()),
        (State::Open, State::Open)
    );
    let pings = |events: &[Event], opcode| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Frame(f) if f.opcode == opcode))
            .count()
    };
    assert_eq!(pings(&pair.server_events, Opcode::Ping), 3); // client pings at 30, 60, 90
    assert_eq!(pings(&pair.client_events, Opcode::Ping), 5); // server pings at 20..100
    assert_eq!(pings(&pair.server_events, Opcode::Pong), 5);
}

#[test]
fn keepalive_with_a_silent_peer_through_the_pair() {
    let mut server_config = ServerConfig::default();
    server_config.config = keepalive(20, 10);
    let mut client_config = ClientConfig::new("ws://server.example.com/chat").unwrap();
    client_config.config.auto_pong = false;
    let mut pair = Pair::new(client_config, server_config);
    pair.drive();
    pair.client_events.clear();
    pair.server_events.clear();
    pair.advance_to(secs(20));
    pair.advance_to(secs(29));
    assert_eq!(pair.server.state(), State::Open);
    pair.advance_to(secs(30));
    assert_eq!(pair.server.state(), State::Closed);
    assert_eq!(
        close_events(&pair.server_events),
        vec![&Close {
            code: CloseCode::INTERNAL_ERROR,
            reason: String::new(),
            initiator: Initiator::Local,
            error: Some(Error::PongTimeout),
        }]
    );
    assert_eq!(
        close_events(&pair.client_events),
        vec![&Close {
            code: CloseCode::INTERNAL_ERROR,
            reason: String::new(),
            initiator: Initiator::Remote,
            error: None,
        }]
    );
}

#[test]
fn keepalive_stops_when_closing() {
    let mut server = server_with(keepalive(10, 5));
    server.close(secs(1), CloseCode::NORMAL, "").unwrap();
    drain_transmit(&mut server);
    // Only the close timer is left.
    assert_eq!(server.poll_timeout(), Some(secs(11)));
    server.handle_timeout(secs(10));
    assert_eq!(server.poll_transmit(), None);
}

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
// receive_buf.
// ---------------------------------------------------------------------------

#[test]
fn receive_buf_gives_the_same_events_as_receive() {
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
            server
                .receive_buf(Duration::ZERO, BytesMut::from(piece))
                .unwrap();
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
    server
        .receive_buf(Duration::ZERO, BytesMut::from(&bad[..]))
        .unwrap();
    let events = drain_events(&mut server);
    assert_eq!(
        close_events(&events)[0].error,
        Some(Error::Protocol(ProtocolError::UnmaskedFrame))
    );
    assert_eq!(
        server.receive_buf(Duration::ZERO, BytesMut::new()),
        Err(Error::Protocol(ProtocolError::UnmaskedFrame))
    );
}

#[test]
fn receive_buf_after_a_partial_frame_with_fail_fast_text() {
    // A partial text frame, then the rest by receive_buf: the validated
    // prefix is not checked twice and the result matches `receive`.
    let frame = c(Opcode::Text, true, "ab€cd".as_bytes());
    for cut in 1..frame.len() {
        let mut server = server_open();
        server.receive(Duration::ZERO, &frame[..cut]).unwrap();
        server
            .receive_buf(Duration::ZERO, BytesMut::from(&frame[cut..]))
            .unwrap();
        assert_eq!(
            drain_events(&mut server),
            vec![frame_event(Opcode::Text, true, "ab€cd".as_bytes())],
            "{cut}"
        );
    }
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
