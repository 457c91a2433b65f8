//! permessage-deflate (RFC 7692) through the public API: the RFC's examples,
//! negotiation on both sides, frame rules, decompression bombs, split
//! invariance, and a client/server pair compressing both ways.
#![cfg(feature = "deflate")]

use crate::support;

mod negotiation;
mod pieces;
mod receiving;
mod round_trips;
mod sending;

use std::time::Duration;

use support::*;
use wsmachine::close::CloseCode;
use wsmachine::entropy::FixedEntropy;
use wsmachine::error::ProtocolError;
use wsmachine::extensions::permessage_deflate::{
    DeflateConfig, DeflateParamError, DeflateParams, DeflateResponseError,
};
use wsmachine::frame::FrameHeader;
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
    raw_frame(first_byte(opcode, fin, rsv), mask, payload)
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
    config.config.deflate = deflate_config;
    config
}

fn server_config(deflate_config: Option<DeflateConfig>) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.deflate = deflate_config;
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

/// A message as (opcode, payload).
type Message = (Opcode, Vec<u8>);

fn config_with(edit: impl FnOnce(&mut DeflateConfig)) -> DeflateConfig {
    let mut config = DeflateConfig::default();
    edit(&mut config);
    config
}

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
