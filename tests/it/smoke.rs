//! First end-to-end checks of a pair.
use crate::support;

use support::*;
use wsmachine::{CloseCode, Event, Opcode, State};

#[test]
fn echo_and_close() {
    let mut pair = Pair::connected();
    pair.client.send_text("hello").unwrap();
    pair.drive();
    let [Event::Frame(frame)] = pair.server_events.as_slice() else {
        panic!("{:?}", pair.server_events)
    };
    assert_eq!(
        (frame.opcode, &frame.payload[..]),
        (Opcode::Text, &b"hello"[..])
    );
    pair.client
        .close(pair.now, CloseCode::NORMAL, "bye")
        .unwrap();
    pair.drive();
    assert_eq!(pair.server.state(), State::Closed);
    assert_eq!(pair.client.state(), State::Closed);
    assert!(
        matches!(pair.server_events.last(), Some(Event::Close(c)) if c.code == CloseCode::NORMAL && c.reason == "bye")
    );
    assert!(
        matches!(pair.client_events.last(), Some(Event::Close(c)) if c.code == CloseCode::NORMAL)
    );
    assert!(
        pair.client_errors.is_empty() && pair.server_errors.is_empty(),
        "{:?} {:?}",
        pair.client_errors,
        pair.server_errors
    );
}
