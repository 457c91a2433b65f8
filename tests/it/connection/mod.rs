//! Connection scenarios: messages, control frames, the closing handshake,
//! every protocol violation with its close code, keepalive and send errors.
//!
//! Raw-feed scenarios go through `feed_every_way`, so each input is also fed
//! byte by byte and split at every point, with the same outcome.

use crate::support;

mod closing;
mod keepalive;
mod messages;
mod sending;
mod violations;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use support::*;
use wsmachine::close::InvalidClose;
use wsmachine::config::Config;
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

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn text_of(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}
