//! Valid requests and the app's decision: accept, reject, and the
//! requests browsers and libraries send.

use super::*;

fn browser_request() -> Vec<u8> {
    upgrade_request(
        "Origin: http://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-webkit-deflate-frame\r\n",
    )
}

#[test]
fn a_valid_request_reports_one_request_event() {
    let outcome = feed_every_way(server, &browser_request(), false);
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.transmitted, b"",
        "nothing is sent before the decision"
    );
    assert_eq!(outcome.state, State::Connecting);
    let [Event::Request(request)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(request.target(), "/chat");
    assert_eq!(request.protocols, ["chat", "superchat"]);
    assert_eq!(
        request.extensions,
        [
            "permessage-deflate; client_max_window_bits",
            "x-webkit-deflate-frame"
        ]
    );
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(request.request.method, "GET");
    assert_eq!(
        request.headers().get_str("Host"),
        Some("server.example.com")
    );
}

#[test]
fn the_pending_request_is_available_until_the_decision() {
    let mut server = server();
    assert!(server.pending_request().is_none());
    server.receive(T0, &browser_request()).unwrap();
    let events = drain_events(&mut server);
    let [Event::Request(event)] = events.as_slice() else {
        panic!("{events:?}")
    };
    let event = (**event).clone();
    assert_eq!(server.pending_request(), Some(&event));
    server.accept(T0, Accept::default()).unwrap();
    assert!(server.pending_request().is_none());
}

#[test]
fn accept_writes_the_exact_101() {
    let mut server = server();
    server.receive(T0, &browser_request()).unwrap();
    drain_events(&mut server);
    server
        .accept(
            T0,
            Accept::default()
                .with_protocol("chat")
                .with_header("X-Served-By", "edge-1"),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(drain_transmit(&mut server)).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Protocol: chat\r\n\
         X-Served-By: edge-1\r\n\
         \r\n"
    );
    assert_eq!(server.state(), State::Open);
    assert_eq!(server.error(), None);
    assert_eq!(drain_events(&mut server), vec![]);
    // Open means messages flow.
    server.send_text("hi").unwrap();
    assert_eq!(drain_transmit(&mut server), b"\x81\x02hi");
}

#[test]
fn accept_after_a_request_split_anywhere_writes_the_same_101() {
    let input = browser_request();
    let expected = {
        let mut server = server();
        server.receive(T0, &input).unwrap();
        server.accept(T0, Accept::default()).unwrap();
        drain_transmit(&mut server)
    };
    assert!(expected.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    for cut in 1..input.len() {
        let mut server = server();
        server.receive(T0, &input[..cut]).unwrap();
        assert_eq!(drain_events(&mut server), vec![], "split at {cut}");
        assert_eq!(
            server.accept(T0, Accept::default()),
            Err(DecisionError::NoPendingRequest),
            "no decision on half a request"
        );
        server.receive(T0, &input[cut..]).unwrap();
        assert_eq!(drain_events(&mut server).len(), 1);
        server.accept(T0, Accept::default()).unwrap();
        assert_eq!(drain_transmit(&mut server), expected, "split at {cut}");
    }
}

#[test]
fn accepting_an_unoffered_protocol_is_refused_and_queues_nothing() {
    let mut server = server();
    server.receive(T0, &browser_request()).unwrap();
    drain_events(&mut server);
    assert_eq!(
        server.accept(T0, Accept::default().with_protocol("mqtt")),
        Err(DecisionError::ProtocolNotOffered {
            protocol: "mqtt".into()
        })
    );
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.state(), State::Connecting);
    assert!(
        server.pending_request().is_some(),
        "the decision is still open"
    );
    // A request that offered nothing: any protocol is unoffered.
    let mut bare = self::server();
    bare.receive(T0, &upgrade_request("")).unwrap();
    assert_eq!(
        bare.accept(T0, Accept::default().with_protocol("chat")),
        Err(DecisionError::ProtocolNotOffered {
            protocol: "chat".into()
        })
    );
    assert!(bare.poll_transmit().is_none());
    // The app can still decide properly.
    server
        .accept(T0, Accept::default().with_protocol("superchat"))
        .unwrap();
    let response = drain_transmit(&mut server);
    assert!(
        String::from_utf8(response)
            .unwrap()
            .contains("\r\nSec-WebSocket-Protocol: superchat\r\n")
    );
    assert_eq!(server.state(), State::Open);
}

#[test]
fn accept_refuses_headers_the_handshake_sets_or_cannot_write() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    for name in ["Sec-WebSocket-Accept", "upgrade", "Connection"] {
        assert_eq!(
            server.accept(T0, Accept::default().with_header(name, "x")),
            Err(DecisionError::ReservedHeader { name: name.into() }),
        );
    }
    assert!(matches!(
        server.accept(
            T0,
            Accept::default().with_header("Set-Cookie", "a=b\r\nInjected: 1")
        ),
        Err(DecisionError::Write(_))
    ));
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.state(), State::Connecting);
}

#[test]
fn decisions_without_a_pending_request_are_refused() {
    let mut fresh = server();
    assert_eq!(
        fresh.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        fresh.reject(403, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(fresh.poll_transmit().is_none());
    assert_eq!(fresh.state(), State::Connecting);

    let mut accepted = server();
    accepted.receive(T0, &upgrade_request("")).unwrap();
    accepted.accept(T0, Accept::default()).unwrap();
    drain_transmit(&mut accepted);
    assert_eq!(
        accepted.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        accepted.reject(403, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(accepted.poll_transmit().is_none());
    assert_eq!(accepted.state(), State::Open);

    let mut rejected = server();
    rejected.receive(T0, &upgrade_request("")).unwrap();
    rejected.reject(403, &Headers::new(), b"").unwrap();
    drain_transmit(&mut rejected);
    assert_eq!(
        rejected.accept(T0, Accept::default()),
        Err(DecisionError::NoPendingRequest)
    );
    assert_eq!(
        rejected.reject(403, &Headers::new(), b""),
        Err(DecisionError::NoPendingRequest)
    );
    assert!(rejected.poll_transmit().is_none());
}

#[test]
fn reject_writes_status_headers_body_and_closes() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    drain_events(&mut server);
    let mut headers = Headers::new();
    headers.push("X-Reason", "banned");
    server.reject(403, &headers, b"go away").unwrap();
    let wire = drain_transmit(&mut server);
    assert_eq!(
        String::from_utf8(wire.clone()).unwrap(),
        "HTTP/1.1 403 Forbidden\r\n\
         X-Reason: banned\r\n\
         Connection: close\r\n\
         Content-Length: 7\r\n\
         \r\n\
         go away"
    );
    let response = single_response(&wire);
    assert_eq!(response.body, b"go away");
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.error(), None, "a rejection is the app's choice");
    assert_eq!(
        drain_events(&mut server),
        vec![],
        "no Close: it never opened"
    );
    // Nothing the client sends afterwards matters.
    assert_eq!(server.receive(T0, b"\x81\x85\0\0\0\0hello"), Ok(()));
    assert_eq!(drain_events(&mut server), vec![]);
    assert!(server.poll_transmit().is_none());
}

#[test]
fn reject_with_an_empty_body_still_frames_it() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    server.reject(503, &Headers::new(), b"").unwrap();
    let response = single_response(&drain_transmit(&mut server));
    assert_eq!(response.status_line, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(response.header("Content-Length"), Some("0"));
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn reject_refuses_informational_statuses() {
    let mut server = server();
    server.receive(T0, &upgrade_request("")).unwrap();
    for status in [100, 101, 103, 199, 0, 99, 1000] {
        assert_eq!(
            server.reject(status, &Headers::new(), b""),
            Err(DecisionError::InvalidStatus { status })
        );
    }
    let mut connection = Headers::new();
    connection.push("Connection", "keep-alive");
    assert_eq!(
        server.reject(403, &connection, b""),
        Err(DecisionError::ReservedHeader {
            name: "Connection".into()
        })
    );
    assert!(server.poll_transmit().is_none());
    assert_eq!(server.state(), State::Connecting);
    assert!(server.pending_request().is_some());
    server.reject(401, &Headers::new(), b"").unwrap();
    assert!(drain_transmit(&mut server).starts_with(b"HTTP/1.1 401 Unauthorized\r\n"));
}

#[test]
fn requests_as_browsers_and_libraries_send_them_pass() {
    let chrome = format!(
        "GET /chat?room=7 HTTP/1.1\r\n\
         Host: server.example.com:8080\r\n\
         Connection: Upgrade\r\n\
         Pragma: no-cache\r\n\
         Cache-Control: no-cache\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n\
         Upgrade: websocket\r\n\
         Origin: https://app.example.com\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Cookie: session=abc; theme=dark\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n\
         \r\n"
    );
    let firefox = format!(
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n\
         Accept: */*\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: https://app.example.com\r\n\
         Sec-WebSocket-Extensions: permessage-deflate\r\n\
         Sec-WebSocket-Key: {RFC_KEY}\r\n\
         Connection: keep-alive, Upgrade\r\n\
         Sec-Fetch-Mode: websocket\r\n\
         Pragma: no-cache\r\n\
         Upgrade: websocket\r\n\
         \r\n"
    );
    // Lower-case names and values, an absolute-form target (through a proxy).
    let library = format!(
        "GET ws://server.example.com/chat HTTP/1.1\r\n\
         host: server.example.com\r\n\
         upgrade: WebSocket\r\n\
         connection: upgrade\r\n\
         sec-websocket-key: {RFC_KEY}\r\n\
         sec-websocket-version: 13\r\n\
         \r\n"
    );
    for (request, target, protocols) in [
        (chrome, "/chat?room=7", vec!["chat.v2", "chat.v1"]),
        (firefox, "/chat", vec![]),
        (library, "ws://server.example.com/chat", vec![]),
    ] {
        let outcome = feed_every_way(server, request.as_bytes(), false);
        assert_eq!(outcome.error, None, "{request}");
        let [Event::Request(event)] = outcome.events.as_slice() else {
            panic!("{:?}", outcome.events)
        };
        assert_eq!(event.target(), target);
        assert_eq!(event.protocols, protocols);
        let mut server = server();
        server.receive(T0, request.as_bytes()).unwrap();
        server.accept(T0, Accept::default()).unwrap();
        let response = String::from_utf8(drain_transmit(&mut server)).unwrap();
        assert!(response.contains(&format!("\r\nSec-WebSocket-Accept: {RFC_ACCEPT}\r\n")));
    }
}

#[test]
fn accepting_an_extension_the_client_did_not_offer_is_refused() {
    use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig};
    let mut server = wsmachine::Server::new(ServerConfig::default());
    server
        .receive(
            std::time::Duration::ZERO,
            &support::upgrade_request("Sec-WebSocket-Extensions: x-offered; p=1\r\n"),
        )
        .unwrap();
    let mut accept = Accept::default();
    accept.extensions = vec!["x-other".into()];
    assert_eq!(
        server.accept(std::time::Duration::ZERO, accept),
        Err(DecisionError::ExtensionNotOffered {
            extension: "x-other".into()
        })
    );
    assert!(server.poll_transmit().is_none(), "nothing queued");
    let mut accept = Accept::default();
    accept.extensions = vec!["X-Offered".into()];
    server.accept(std::time::Duration::ZERO, accept).unwrap();
    let response = server.poll_transmit().unwrap();
    assert!(
        response
            .windows(35)
            .any(|w| w == b"Sec-WebSocket-Extensions: X-Offered")
    );
}
