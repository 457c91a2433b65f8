//! The stream after the 200: both sides start open on what was agreed.

use std::time::Duration;

use http::Version;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::h2::{self, PROTOCOL};
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, CloseCode, Event, Opcode, Server, State};

use super::VERSIONS;
use super::support::{drain_events, drain_transmit};

/// Moves everything `from` has to send into `to`.
fn deliver<A: wsmachine::Role, B: wsmachine::Role>(
    from: &mut wsmachine::Connection<A>,
    to: &mut wsmachine::Connection<B>,
) -> Vec<u8> {
    let wire = drain_transmit(from);
    if !wire.is_empty() {
        let _ = to.receive(Duration::ZERO, &wire);
    }
    wire
}

/// A client and a server started on what the extended CONNECT agreed,
/// with the wire bytes between them.
fn upgraded_pair(
    client_config: &ClientConfig,
    server_config: &ServerConfig,
    version: Version,
) -> (
    Client<FixedEntropy>,
    Server,
    wsmachine::handshake::Negotiated,
) {
    let mut request = h2::build_request(client_config).unwrap();
    *request.version_mut() = version;
    let valid = h2::validate_request(&request, Some(PROTOCOL), server_config).unwrap();
    let (response, server_side) = h2::negotiate(&valid, Accept::default(), server_config).unwrap();
    let client_side = h2::check_response(&response, client_config).unwrap();
    assert_eq!(client_side, server_side);
    let client = Client::new_upgraded(
        client_config,
        &client_side,
        FixedEntropy::new(b"\x37\xfa\x21\x3d"),
        Duration::ZERO,
    );
    let server = Server::new_upgraded(server_config, &server_side, Duration::ZERO);
    (client, server, server_side)
}

#[test]
fn the_stream_runs_open_with_masked_client_frames_and_closes_cleanly() {
    let client_config = ClientConfig::new("wss://server.example.com/chat").unwrap();
    for version in VERSIONS {
        let (mut client, mut server, _) =
            upgraded_pair(&client_config, &ServerConfig::default(), version);
        assert_eq!(client.state(), State::Open);
        assert_eq!(server.state(), State::Open);

        client.send_text("Hello").unwrap();
        // RFC 8441 §5 keeps RFC 6455's framing: the client still masks,
        // here with RFC 6455 §5.7's key.
        let wire = deliver(&mut client, &mut server);
        assert_eq!(
            wire,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        let [Event::Frame(frame)] = &drain_events(&mut server)[..] else {
            panic!("the server did not get the text")
        };
        assert_eq!(
            (frame.opcode, &frame.payload[..]),
            (Opcode::Text, &b"Hello"[..])
        );
        server.send_binary(b"\x00\x01").unwrap();
        assert_eq!(deliver(&mut server, &mut client), [0x82, 0x02, 0x00, 0x01]);
        assert!(matches!(&drain_events(&mut client)[..], [Event::Frame(_)]));

        client
            .close(Duration::ZERO, CloseCode::NORMAL, "bye")
            .unwrap();
        deliver(&mut client, &mut server);
        let [Event::Close(close)] = &drain_events(&mut server)[..] else {
            panic!("the server did not see the close")
        };
        assert_eq!(
            (close.code, close.error.as_ref()),
            (CloseCode::NORMAL, None)
        );
        deliver(&mut server, &mut client);
        let [Event::Close(close)] = &drain_events(&mut client)[..] else {
            panic!("the client did not see the close echo")
        };
        assert_eq!(
            (close.code, close.error.as_ref()),
            (CloseCode::NORMAL, None)
        );
        // The server ends the stream (END_STREAM, FIN); the client takes
        // that as the transport's end.
        assert_eq!(server.state(), State::Closed);
        client.receive_eof(Duration::ZERO).unwrap();
        drain_events(&mut client);
        assert_eq!(client.state(), State::Closed);
        assert!(client.error().is_none());
    }
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use wsmachine::extensions::permessage_deflate::DeflateConfig;
    use wsmachine::handshake::server::validate_request;
    use wsmachine::http::{Headers, HttpVersion, Request};

    const RSV1: u8 = 0x40;

    fn deflate_server() -> ServerConfig {
        let mut config = ServerConfig::default();
        config.config.deflate = Some(DeflateConfig::default());
        config
    }

    #[test]
    fn permessage_deflate_is_negotiated_as_for_http1_and_runs_both_ways() {
        let client_config = ClientConfig::new("wss://server.example.com/chat")
            .unwrap()
            .with_deflate(DeflateConfig::default());
        let offer = h2::build_request(&client_config).unwrap();
        let offer_value = offer.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(offer_value.starts_with("permessage-deflate"));

        for version in VERSIONS {
            let (mut client, mut server, negotiated) =
                upgraded_pair(&client_config, &deflate_server(), version);
            assert!(negotiated.compresses());

            // The same offer over HTTP/1.1 agrees on the same thing.
            let mut headers = Headers::new();
            headers.push("Host", "server.example.com");
            headers.push("Upgrade", "websocket");
            headers.push("Connection", "Upgrade");
            headers.push("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
            headers.push("Sec-WebSocket-Version", "13");
            headers.push("Sec-WebSocket-Extensions", &offer_value);
            let http1 = Request {
                method: "GET".into(),
                target: "/chat".into(),
                version: HttpVersion::Http11,
                headers,
            };
            let http1 = validate_request(http1, &deflate_server()).unwrap();
            let (_, over_http1) = wsmachine::handshake::server::negotiate(
                &http1,
                Accept::default(),
                &deflate_server(),
            )
            .unwrap();
            assert_eq!(over_http1, negotiated);

            let text = "compress me ".repeat(100);
            client.send_text(&text).unwrap();
            let wire = deliver(&mut client, &mut server);
            assert_eq!(wire[0] & RSV1, RSV1, "the client compresses");
            assert_eq!(wire[1] & 0x80, 0x80, "and masks");
            assert!(wire.len() < text.len() / 4);
            let [Event::Frame(frame)] = &drain_events(&mut server)[..] else {
                panic!("the server did not inflate the message")
            };
            assert_eq!(frame.payload, text.as_bytes());

            server.send_text(&text).unwrap();
            let wire = deliver(&mut server, &mut client);
            assert_eq!(wire[0] & RSV1, RSV1, "the server compresses");
            assert_eq!(wire[1] & 0x80, 0, "and does not mask");
            let [Event::Frame(frame)] = &drain_events(&mut client)[..] else {
                panic!("the client did not inflate the message")
            };
            assert_eq!(frame.payload, text.as_bytes());
        }
    }

    #[test]
    fn without_a_server_config_the_offer_is_declined() {
        let client_config = ClientConfig::new("wss://server.example.com/chat")
            .unwrap()
            .with_deflate(DeflateConfig::default());
        let (_, _, negotiated) =
            upgraded_pair(&client_config, &ServerConfig::default(), Version::HTTP_2);
        assert!(!negotiated.compresses());
        assert!(negotiated.extensions().is_empty());
    }
}
