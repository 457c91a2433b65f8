//! The closing handshake: either side first or both at once, close
//! timeouts, EOF, and what is sent or accepted after a Close.

use super::*;

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
