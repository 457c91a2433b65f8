//! Connections that start open on a stream another stack upgraded: what
//! `negotiate` agrees on is what `new_upgraded` runs, permessage-deflate
//! included.
#![cfg(feature = "deflate")]

use crate::support;

use std::time::Duration;

use bytes::BytesMut;
use support::*;
use wsmachine::extensions::permessage_deflate::{DeflateConfig, DeflateResponseError};
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig, negotiate};
use wsmachine::handshake::{HandshakeRequest, Negotiated};
use wsmachine::http::{HeadLimits, HeadParser, write_response};
use wsmachine::{Client, CloseCode, Event, Opcode, Server};

const RSV1: u8 = 0b100;

fn deflate_client_config() -> ClientConfig {
    let mut config = ClientConfig::new("ws://server.example.com/chat").unwrap();
    config.config.deflate = Some(DeflateConfig::default());
    config
}

fn deflate_server_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.deflate = Some(DeflateConfig::default());
    config
}

/// The request a client sends, parsed as another HTTP stack would hand it
/// over.
fn request_of(client: &mut Client<wsmachine::entropy::FixedEntropy>) -> HandshakeRequest {
    let bytes = drain_transmit(client);
    let mut parser = HeadParser::new(HeadLimits::default());
    let (request, _) = parser.parse_request(&bytes).unwrap().unwrap();
    wsmachine::handshake::server::validate_request(request, &ServerConfig::default()).unwrap()
}

/// A client that did its handshake against `negotiate`'s answer, and the
/// server built from the same answer.
fn upgraded_pair(
    server_config: &ServerConfig,
) -> (Client<wsmachine::entropy::FixedEntropy>, Server, Negotiated) {
    let mut client = client_with(deflate_client_config());
    let request = request_of(&mut client);
    let (headers, negotiated) = negotiate(&request, Accept::default(), server_config).unwrap();
    let mut response = BytesMut::new();
    write_response(&mut response, 101, "Switching Protocols", &headers, &[]).unwrap();
    client.receive(Duration::ZERO, &response).unwrap();
    let Some(Event::Accepted(accepted)) = client.poll_event() else {
        panic!("the client did not accept the 101")
    };
    assert_eq!(Negotiated::from_accepted(&accepted), negotiated);
    let server = Server::new_upgraded(server_config, &negotiated, Duration::ZERO);
    (client, server, negotiated)
}

/// The RSV bits of the first frame in `wire`.
fn first_rsv(wire: &[u8]) -> u8 {
    (wire[0] >> 4) & 0b111
}

#[test]
fn negotiate_agrees_on_deflate_and_new_upgraded_runs_it_both_ways() {
    let (mut client, mut server, negotiated) = upgraded_pair(&deflate_server_config());
    assert!(negotiated.compresses());
    assert_eq!(negotiated.extensions().len(), 1);
    assert!(negotiated.extensions()[0].starts_with("permessage-deflate"));

    let text = "compress me ".repeat(100);
    client.send_text(&text).unwrap();
    let wire = drain_transmit(&mut client);
    assert_eq!(first_rsv(&wire), RSV1, "the client compresses");
    assert!(wire.len() < text.len() / 4);
    server.receive(Duration::ZERO, &wire).unwrap();
    let events = drain_events(&mut server);
    let [Event::Frame(frame)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (frame.opcode, &frame.payload[..]),
        (Opcode::Text, text.as_bytes())
    );

    server.send_text(&text).unwrap();
    let wire = drain_transmit(&mut server);
    assert_eq!(first_rsv(&wire), RSV1, "the server compresses");
    client.receive(Duration::ZERO, &wire).unwrap();
    let events = drain_events(&mut client);
    let [Event::Frame(frame)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(&frame.payload[..], text.as_bytes());
}

#[test]
fn without_a_deflate_config_nothing_is_agreed_and_rsv1_fails_with_1002() {
    let (mut client, mut server, negotiated) = upgraded_pair(&ServerConfig::default());
    assert!(!negotiated.compresses());
    assert!(negotiated.extensions().is_empty());
    client.send_text(&"plain ".repeat(100)).unwrap();
    let wire = drain_transmit(&mut client);
    assert_eq!(
        first_rsv(&wire),
        0,
        "nothing was agreed, so nothing is compressed"
    );

    // A compressed frame the server did not agree to is a protocol error.
    let mut bad = wire.clone();
    bad[0] |= RSV1 << 4;
    let _ = server.receive(Duration::ZERO, &bad);
    let events = drain_events(&mut server);
    let Some(Event::Close(close)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(close.code, CloseCode::PROTOCOL_ERROR);
}

#[test]
fn the_apps_own_deflate_answer_is_checked() {
    let mut client = client_with(deflate_client_config());
    let request = request_of(&mut client);
    let mut accept = Accept::default();
    accept
        .extensions
        .push("permessage-deflate; server_max_window_bits=99".into());
    assert!(matches!(
        negotiate(&request, accept, &deflate_server_config()),
        Err(DecisionError::InvalidDeflateResponse(
            DeflateResponseError::Param(_)
        ))
    ));

    let mut accept = Accept::default().with_protocol("chat");
    accept.extensions.push("permessage-deflate".into());
    let result = negotiate(&request, accept, &deflate_server_config());
    assert!(
        matches!(result, Err(DecisionError::ProtocolNotOffered { .. })),
        "a subprotocol the client did not offer is refused first: {result:?}"
    );
}

#[test]
fn new_open_is_new_upgraded_with_nothing_agreed() {
    let config = ServerConfig::default();
    let mut open = Server::new_open(config.config.clone(), Duration::ZERO);
    let mut upgraded = Server::new_upgraded(&config, &Negotiated::none(), Duration::ZERO);
    open.send_text("same").unwrap();
    upgraded.send_text("same").unwrap();
    assert_eq!(drain_transmit(&mut open), drain_transmit(&mut upgraded));
}

#[test]
fn a_client_started_upgraded_compresses_as_agreed_and_still_masks() {
    let (_, mut server, negotiated) = upgraded_pair(&deflate_server_config());
    let mut client = Client::new_upgraded(
        &deflate_client_config(),
        &negotiated,
        wsmachine::entropy::FixedEntropy::new(RFC_ENTROPY),
        Duration::ZERO,
    );
    let text = "upgraded ".repeat(100);
    client.send_text(&text).unwrap();
    let wire = drain_transmit(&mut client);
    assert_eq!(first_rsv(&wire), RSV1);
    assert_ne!(wire[1] & 0x80, 0, "client frames are masked");
    server.receive(Duration::ZERO, &wire).unwrap();
    let events = drain_events(&mut server);
    let [Event::Frame(frame)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(&frame.payload[..], text.as_bytes());
}
