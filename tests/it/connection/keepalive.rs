//! Keepalive: pings at the interval, and 1011 when no pong comes.

use super::*;
use wsmachine::config::Keepalive;

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
