//! The opening handshake's deadline, on the caller's clock: a server answers
//! 408 and closes, a client fails with a typed error, and both report it
//! once, with its own kind.

use crate::support;

use std::time::Duration;

use support::*;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::http::BodyError;
use wsmachine::{Error, Event, Server, State};

const TIMEOUT: Duration = Duration::from_secs(3);
const START: Duration = Duration::from_secs(100);

fn server() -> Server {
    let mut config = ServerConfig::default();
    config.config.handshake_timeout = TIMEOUT;
    Server::new(config)
}

fn client_config() -> ClientConfig {
    let mut config = ClientConfig::new("ws://server.example.com/chat").unwrap();
    config.config.handshake_timeout = TIMEOUT;
    config
}

const HALF_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\n";

#[test]
fn the_default_deadline_is_ten_seconds() {
    assert_eq!(
        wsmachine::config::Config::default().handshake_timeout,
        Duration::from_secs(10)
    );
    let mut server = Server::new(ServerConfig::default());
    server.handle_timeout(START);
    assert_eq!(server.poll_timeout(), Some(START + Duration::from_secs(10)));
}

#[test]
fn a_new_connection_asks_for_the_clock_and_the_deadline_counts_from_then() {
    let mut server = server();
    assert_eq!(server.poll_timeout(), Some(Duration::ZERO));
    server.handle_timeout(START);
    assert_eq!(server.poll_timeout(), Some(START + TIMEOUT));
    assert_eq!(server.state(), State::Connecting);
    // The first byte's time starts it just as well.
    let mut server = self::server();
    server.receive(START, b"G").unwrap();
    assert_eq!(server.poll_timeout(), Some(START + TIMEOUT));
}

#[test]
fn a_server_answers_a_half_sent_request_with_408_at_the_deadline_and_not_before() {
    let mut server = server();
    server.receive(START, HALF_REQUEST).unwrap();
    let deadline = START + TIMEOUT;
    server.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(server.state(), State::Connecting);
    assert!(server.poll_transmit().is_none());

    server.handle_timeout(deadline);
    assert_eq!(server.state(), State::Closed);
    let error = Error::Handshake(HandshakeError::Timeout);
    assert_eq!(server.error(), Some(&error));
    assert_eq!(HandshakeError::Timeout.kind(), HandshakeErrorKind::Timeout);
    assert_eq!(HandshakeErrorKind::Timeout.as_str(), "timeout");
    assert_eq!(HandshakeError::Timeout.status(), Some(408));
    let response = String::from_utf8(drain_transmit(&mut server)).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{response}"
    );
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("\r\nContent-Length: {}", body.len())),
        "{head}"
    );
    assert!(head.contains("\r\nConnection: close"), "{head}");
    // Reported once, then sticky; no event, since nothing was opened.
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.receive(deadline, b"\r\n"), Err(error));
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_complete_request_stops_the_deadline_and_the_decision_is_the_apps() {
    let mut server = server();
    server.receive(START, &upgrade_request("")).unwrap();
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    assert_eq!(server.poll_timeout(), None);
    let late = START + TIMEOUT * 10;
    server.handle_timeout(late);
    server.accept(late, Accept::default()).unwrap();
    assert_eq!(server.state(), State::Open);
}

#[test]
fn a_request_completed_just_before_the_deadline_is_served() {
    let request = upgrade_request("");
    let mut server = server();
    server.receive(START, &request[..10]).unwrap();
    server
        .receive(START + TIMEOUT - Duration::from_nanos(1), &request[10..])
        .unwrap();
    server.handle_timeout(START + TIMEOUT);
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    assert_eq!(server.state(), State::Connecting);
    assert!(server.error().is_none());
}

#[test]
fn duration_max_turns_the_deadline_off() {
    let mut config = ServerConfig::default();
    config.config.handshake_timeout = Duration::MAX;
    let mut server = Server::new(config);
    server.receive(START, HALF_REQUEST).unwrap();
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_client_fails_with_a_typed_timeout_when_no_response_comes() {
    let mut client = client_after_request(client_config());
    client.handle_timeout(START);
    assert_eq!(client.poll_timeout(), Some(START + TIMEOUT));
    client.receive(START, b"HTTP/1.1 10").unwrap();
    client.handle_timeout(START + TIMEOUT);
    assert_eq!(client.state(), State::Closed);
    assert_eq!(
        client.error(),
        Some(&Error::Handshake(HandshakeError::Timeout))
    );
    assert!(
        client.poll_transmit().is_none(),
        "a client sends no response"
    );
}

#[test]
fn a_client_keeps_the_status_of_a_rejection_whose_body_stalls() {
    let mut client = client_after_request(client_config());
    client
        .receive(
            START,
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\npartial",
        )
        .unwrap();
    assert_eq!(client.poll_event(), None, "the body is still coming");
    client.handle_timeout(START + TIMEOUT);
    let Some(Event::HandshakeRejected(rejection)) = client.poll_event() else {
        panic!("the rejection is reported")
    };
    assert_eq!(rejection.status, 503);
    assert_eq!(&rejection.body[..], b"partial");
    assert_eq!(
        rejection.body_error,
        Some(BodyError::Truncated {
            received: 7,
            expected: None
        })
    );
    assert_eq!(
        client.error(),
        Some(&Error::Handshake(HandshakeError::Timeout))
    );
}

#[test]
fn an_open_connection_has_no_handshake_deadline() {
    let mut pair = Pair::new(client_config(), {
        let mut config = ServerConfig::default();
        config.config.handshake_timeout = TIMEOUT;
        config
    });
    pair.drive();
    assert_eq!(pair.server.state(), State::Open);
    assert_eq!(pair.client.state(), State::Open);
    assert_eq!(pair.server.poll_timeout(), None);
    assert_eq!(pair.client.poll_timeout(), None);
    pair.advance_to(TIMEOUT * 5);
    assert_eq!(pair.server.state(), State::Open);
    assert_eq!(pair.client.state(), State::Open);
}
