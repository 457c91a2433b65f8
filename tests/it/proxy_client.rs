//! A client built with a proxy: the CONNECT first, the handshake request
//! only once the tunnel is up, the 101 read from the same stream, and the
//! proxy's refusals and failures typed apart from the server's.

use crate::support;

use std::time::Duration;

use wsmachine::entropy::FixedEntropy;
use wsmachine::error::ProtocolError;
use wsmachine::handshake::client::{ClientConfig, ClientConfigError};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::proxy::{ProxyConfig, ProxyError};
use wsmachine::{Client, CloseCode, Error, Event, State};

use support::{RFC_KEY, client_with, drain_events, drain_transmit, feed_every_way};

fn proxied_client_config() -> ClientConfig {
    ClientConfig::new("ws://server.example.com/chat")
        .unwrap()
        .with_proxy(ProxyConfig::from_url("http://user:pass@proxy.local:3128").unwrap())
}

#[test]
fn a_proxied_client_writes_its_handshake_only_once_the_tunnel_is_up() {
    let mut client = client_with(proxied_client_config());
    assert_eq!(
        drain_transmit(&mut client),
        b"CONNECT server.example.com:80 HTTP/1.1\r\nHost: server.example.com:80\r\n\
          Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
    );
    client
        .receive(Duration::ZERO, b"HTTP/1.0 200 Connection established\r\n")
        .unwrap();
    assert_eq!(
        drain_transmit(&mut client),
        b"",
        "the head is not complete yet"
    );
    client.receive(Duration::ZERO, b"\r\n").unwrap();
    let request = drain_transmit(&mut client);
    assert!(request.starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
    assert!(String::from_utf8_lossy(&request).contains(RFC_KEY));
    assert_eq!(client.state(), State::Connecting);
    assert!(drain_events(&mut client).is_empty());
}

#[test]
fn the_101_may_follow_the_proxys_answer_in_one_read() {
    let mut input = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    input.extend(support::switching_response(""));
    input.extend([0x81, 0x02, b'h', b'i']);
    let outcome = feed_every_way(|| client_with(proxied_client_config()), &input, false);
    assert!(
        matches!(outcome.events.as_slice(), [Event::Accepted(_), Event::Frame(frame)] if frame.payload == b"hi"[..])
    );
    assert_eq!((outcome.state, outcome.error), (State::Open, None));
    let written = String::from_utf8_lossy(&outcome.transmitted).into_owned();
    assert!(written.starts_with("CONNECT server.example.com:80 HTTP/1.1\r\n"));
    assert_eq!(written.matches("GET /chat HTTP/1.1\r\n").count(), 1);
}

/// Found by the proxy_response fuzz target: a bad first frame after the
/// tunnel and the 101 (`0x4c`: RSV1 and the reserved opcode 12). The
/// violation is found by `poll_event`, so the sticky error is the same
/// however the input is split; only a call made after it returns it.
#[test]
fn a_bad_frame_after_the_tunnel_fails_alike_however_split() {
    let mut input = b"HTTP/1.0 200 O\xff\xff\xff2ontent-Length: 4\r\n\r\n".to_vec();
    input.extend(support::switching_response(""));
    let violation = input.len();
    input.extend(b"Leni");
    let error = Error::Protocol(ProtocolError::ReservedOpcode(12));
    let outcome = feed_every_way(|| client_with(proxied_client_config()), &input, false);
    let [Event::Accepted(_), Event::Close(close)] = outcome.events.as_slice() else {
        panic!("expected Accepted then Close: {outcome:?}");
    };
    assert_eq!(
        (close.code, close.error.as_ref()),
        (CloseCode::PROTOCOL_ERROR, Some(&error))
    );
    assert_eq!(
        (outcome.error, outcome.state),
        (Some(error.clone()), State::Closed)
    );

    // One read: it succeeds, and poll_event then finds the violation.
    let mut client = client_with(proxied_client_config());
    assert_eq!(client.receive(Duration::ZERO, &input), Ok(()));
    assert_eq!(drain_events(&mut client).len(), 2);
    assert_eq!(client.error(), Some(&error));
    // Two reads, the frame header in the second: only a third call, after
    // the violation, returns it.
    let mut client = client_with(proxied_client_config());
    assert_eq!(client.receive(Duration::ZERO, &input[..violation]), Ok(()));
    assert_eq!(client.receive(Duration::ZERO, &input[violation..]), Ok(()));
    drain_events(&mut client);
    assert_eq!(client.receive(Duration::ZERO, b""), Err(error));
}

#[test]
fn a_proxy_refusal_is_not_a_server_rejection() {
    let input = b"HTTP/1.1 407 Proxy Authentication Required\r\nTransfer-Encoding: chunked\r\n\r\n\
        6\r\nno way\r\n0\r\nX-Why: creds\r\n\r\n";
    let outcome = feed_every_way(|| client_with(proxied_client_config()), input, false);
    let [Event::ProxyRejected(rejection)] = outcome.events.as_slice() else {
        panic!("expected one ProxyRejected: {:?}", outcome.events);
    };
    assert_eq!(
        (rejection.status, &rejection.body[..]),
        (407, &b"no way"[..])
    );
    assert_eq!(rejection.trailers.get_str("x-why"), Some("creds"));
    assert_eq!((outcome.state, outcome.error), (State::Closed, None));
    assert!(
        !String::from_utf8_lossy(&outcome.transmitted).contains("GET "),
        "no handshake sent"
    );
    // The same bytes from the server, after a tunnel, are the server's.
    let mut from_server = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
    from_server.extend_from_slice(input);
    let outcome = feed_every_way(|| client_with(proxied_client_config()), &from_server, false);
    assert!(matches!(outcome.events.as_slice(), [Event::HandshakeRejected(r)] if r.status == 407));
}

#[test]
fn a_malformed_or_cut_proxy_answer_fails_the_client_typed() {
    let outcome = feed_every_way(
        || client_with(proxied_client_config()),
        b"HTTP/1.1 200",
        true,
    );
    let expected = Error::Handshake(HandshakeError::Proxy(ProxyError::UnexpectedEof));
    assert_eq!(
        (outcome.error.as_ref(), outcome.state),
        (Some(&expected), State::Closed)
    );
    let Error::Handshake(error) = expected else {
        unreachable!()
    };
    assert_eq!(
        (error.kind(), error.kind().as_str(), error.status()),
        (HandshakeErrorKind::Proxy, "proxy", None)
    );

    let outcome = feed_every_way(
        || client_with(proxied_client_config()),
        b"HTTP/1.1 200 OK\n\n",
        false,
    );
    assert!(matches!(
        outcome.error,
        Some(Error::Handshake(HandshakeError::Proxy(
            ProxyError::InvalidResponseHead(_)
        )))
    ));
    assert!(outcome.events.is_empty());

    // A refusal cut short still reaches the app, with the failure.
    let outcome = feed_every_way(
        || client_with(proxied_client_config()),
        b"HTTP/1.1 403 No\r\nContent-Length: 9\r\n\r\nnot",
        true,
    );
    assert!(matches!(outcome.events.as_slice(), [Event::ProxyRejected(r)] if r.body == b"not"[..]));
    assert!(matches!(
        outcome.error,
        Some(Error::Handshake(HandshakeError::Proxy(
            ProxyError::RejectionBody(_)
        )))
    ));
}

#[test]
fn a_wss_client_cannot_tunnel_by_itself() {
    let config = ClientConfig::new("wss://server.example.com/")
        .unwrap()
        .with_proxy(ProxyConfig::new("proxy.local", 3128).unwrap());
    let result = Client::new(config, FixedEntropy::new(b"0123456789abcdef"));
    assert_eq!(result.err(), Some(ClientConfigError::ProxyUnderTls));
    let config = proxied_client_config().with_header("X", "a\r\nb");
    assert!(matches!(
        Client::new(config, FixedEntropy::new(b"0123456789abcdef")),
        Err(ClientConfigError::Write(_))
    ));
}

/// Feeds `input` at time zero, then fires the handshake deadline.
fn timed_out_after(input: &[u8]) -> (Vec<Event>, Option<Error>, State) {
    let mut config = proxied_client_config();
    config.config.handshake_timeout = Duration::from_secs(3);
    let mut client = client_with(config);
    drain_transmit(&mut client);
    client.receive(Duration::ZERO, input).unwrap();
    let mut events = drain_events(&mut client);
    assert_eq!(client.poll_timeout(), Some(Duration::from_secs(3)));
    client.handle_timeout(Duration::from_secs(3));
    events.extend(drain_events(&mut client));
    assert_eq!(
        drain_transmit(&mut client),
        b"",
        "nothing is sent on a timeout"
    );
    (events, client.error().cloned(), client.state())
}

#[test]
fn the_handshake_deadline_covers_the_tunnel() {
    let timeout = Some(Error::Handshake(HandshakeError::Timeout));
    // A proxy that never answers, or stops mid-head.
    for input in [&b""[..], b"HTTP/1.1 200 Conn"] {
        let (events, error, state) = timed_out_after(input);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!((error.as_ref(), state), (timeout.as_ref(), State::Closed));
    }
    // A refusal whose body never ends still reaches the app, cut short.
    let (events, error, state) =
        timed_out_after(b"HTTP/1.0 407 Auth\r\nProxy-Authenticate: Basic\r\n\r\npartial bo");
    let [Event::ProxyRejected(rejection)] = events.as_slice() else {
        panic!("expected one ProxyRejected: {events:?}");
    };
    assert_eq!(
        (rejection.status, &rejection.body[..]),
        (407, &b"partial bo"[..])
    );
    assert_eq!(
        rejection.body_error,
        Some(wsmachine::http::BodyError::Truncated {
            received: 10,
            expected: None
        })
    );
    assert_eq!((error, state), (timeout, State::Closed));
}
