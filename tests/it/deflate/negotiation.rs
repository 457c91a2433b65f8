//! Negotiation: the server's answer to each offer, the client's offer and
//! its check of the answer, a server without deflate, and an app that
//! answers permessage-deflate itself.

use super::*;

#[test]
fn server_negotiation_matrix() {
    let default = DeflateConfig::default();
    let no_server_takeover = config_with(|c| c.server_no_context_takeover = true);
    let no_client_takeover = config_with(|c| c.client_no_context_takeover = true);
    let server_bits_10 = config_with(|c| c.server_max_window_bits = 10);
    let client_bits_9 = config_with(|c| c.client_max_window_bits = 9);
    #[rustfmt::skip]
    let cases: Vec<(&[&str], &DeflateConfig, Option<&str>)> = vec![
        (&["permessage-deflate"], &default, Some("permessage-deflate")),
        (&["permessage-deflate; client_max_window_bits"], &default, Some("permessage-deflate")),
        (&["permessage-deflate; client_max_window_bits=12"], &default,
            Some("permessage-deflate; client_max_window_bits=12")),
        (&["permessage-deflate; server_max_window_bits=9"], &default,
            Some("permessage-deflate; server_max_window_bits=9")),
        (&["permessage-deflate; server_max_window_bits=\"8\""], &default,
            Some("permessage-deflate; server_max_window_bits=8")),
        (&["permessage-deflate; server_no_context_takeover"], &default,
            Some("permessage-deflate; server_no_context_takeover")),
        (&["permessage-deflate; client_no_context_takeover"], &default,
            Some("permessage-deflate; client_no_context_takeover")),
        (&["permessage-deflate"], &no_server_takeover,
            Some("permessage-deflate; server_no_context_takeover")),
        (&["permessage-deflate"], &no_client_takeover,
            Some("permessage-deflate; client_no_context_takeover")),
        (&["permessage-deflate"], &server_bits_10, Some("permessage-deflate; server_max_window_bits=10")),
        (&["permessage-deflate; server_max_window_bits=12"], &server_bits_10,
            Some("permessage-deflate; server_max_window_bits=10")),
        (&["permessage-deflate; server_max_window_bits=9"], &server_bits_10,
            Some("permessage-deflate; server_max_window_bits=9")),
        (&["permessage-deflate; client_max_window_bits"], &client_bits_9,
            Some("permessage-deflate; client_max_window_bits=9")),
        (&["permessage-deflate; client_max_window_bits=11"], &client_bits_9,
            Some("permessage-deflate; client_max_window_bits=9")),
        // The server cannot limit a client that did not offer the parameter.
        (&["permessage-deflate"], &client_bits_9, None),
        (&["permessage-deflate", "permessage-deflate; client_max_window_bits"], &client_bits_9,
            Some("permessage-deflate; client_max_window_bits=9")),
        // Invalid offers are declined, and the next one is taken.
        (&["permessage-deflate; x-unknown"], &default, None),
        (&["permessage-deflate; server_max_window_bits"], &default, None),
        (&["permessage-deflate; server_max_window_bits=16"], &default, None),
        (&["permessage-deflate; server_max_window_bits=7"], &default, None),
        (&["permessage-deflate; client_max_window_bits=010"], &default, None),
        (&["permessage-deflate; server_no_context_takeover=true"], &default, None),
        (&["permessage-deflate; client_max_window_bits; client_max_window_bits"], &default, None),
        (&["permessage-deflate; server_max_window_bits=\"1 0\""], &default, None),
        (&["permessage-deflate; ;"], &default, None),
        (&["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
           "permessage-deflate; server_no_context_takeover"], &default,
            Some("permessage-deflate; server_no_context_takeover")),
        (&["x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits"], &default,
            Some("permessage-deflate")),
        (&["x-webkit-deflate-frame"], &default, None),
        (&[], &default, None),
        (&["PerMessage-Deflate; Server_No_Context_Takeover"], &default,
            Some("permessage-deflate; server_no_context_takeover")),
    ];
    for (offers, config, expected) in cases {
        let response = config.negotiate(offers.iter().copied());
        assert_eq!(
            response.map(|r| r.to_string()).as_deref(),
            expected,
            "{offers:?} with {config:?}"
        );
        // The same through a server connection, with the offers on the wire
        // in one header.
        let (_, on_wire) = server_offered(Some(config.clone()), &offers.join(", "));
        assert_eq!(on_wire.as_deref(), expected, "{offers:?} on the wire");
    }
}

#[test]
fn offers_come_from_the_client_config() {
    let cases = [
        (
            DeflateConfig::default(),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            config_with(|c| {
                c.server_no_context_takeover = true;
                c.client_no_context_takeover = true;
                c.server_max_window_bits = 10;
                c.client_max_window_bits = 8;
            }),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=8",
        ),
        (
            config_with(|c| c.server_max_window_bits = 99),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            config_with(|c| c.client_max_window_bits = 0),
            "permessage-deflate; client_max_window_bits=8",
        ),
    ];
    for (config, offer) in cases {
        let mut client_config = client_config(deflate(config));
        client_config.extensions.push("x-other; a=1".into());
        let mut client = client_with(client_config);
        let request = String::from_utf8(drain_transmit(&mut client)).unwrap();
        assert!(
            request.contains(&format!(
                "\r\nSec-WebSocket-Extensions: x-other; a=1, {offer}\r\n"
            )),
            "{request}"
        );
    }
    // The app's own permessage-deflate offer and the config's would clash.
    let mut config = client_config(deflate(DeflateConfig::default()));
    config.extensions.push("permessage-deflate".into());
    assert_eq!(
        Client::new(config, FixedEntropy::new(RFC_ENTROPY)).err(),
        Some(ClientConfigError::DeflateOfferedTwice)
    );
}

fn client_check(config: DeflateConfig, response: &str) -> Result<(), HandshakeError> {
    let mut client = client_after_request(client_config(deflate(config)));
    let header = format!("Sec-WebSocket-Extensions: {response}\r\n");
    match client.receive(Duration::ZERO, &switching_response(&header)) {
        Ok(()) => {
            let Some(Event::Accepted(accepted)) = client.poll_event() else {
                panic!("no Accepted event for {response:?}");
            };
            assert!(!accepted.extensions.is_empty());
            Ok(())
        }
        Err(Error::Handshake(error)) => {
            assert_eq!(error.kind(), HandshakeErrorKind::InvalidResponse);
            assert_eq!(client.state(), State::Closed);
            Err(error)
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn client_response_checks() {
    use DeflateResponseError as E;
    let invalid = |error| Err(HandshakeError::InvalidDeflateResponse(error));
    let default = DeflateConfig::default;
    let asks_server_takeover = || config_with(|c| c.server_no_context_takeover = true);
    let asks_server_bits = || config_with(|c| c.server_max_window_bits = 10);
    let own_client_bits = || config_with(|c| c.client_max_window_bits = 11);
    #[rustfmt::skip]
    let cases: Vec<(DeflateConfig, &str, Result<(), HandshakeError>)> = vec![
        (default(), "permessage-deflate", Ok(())),
        (default(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover", Ok(())),
        (default(), "permessage-deflate; server_max_window_bits=8", Ok(())),
        (default(), "permessage-deflate; client_max_window_bits=9", Ok(())),
        (default(), "permessage-deflate; client_max_window_bits=\"9\"", Ok(())),
        (asks_server_takeover(), "permessage-deflate; server_no_context_takeover", Ok(())),
        (asks_server_takeover(), "permessage-deflate", invalid(E::MissingServerNoContextTakeover)),
        (asks_server_bits(), "permessage-deflate; server_max_window_bits=10", Ok(())),
        (asks_server_bits(), "permessage-deflate; server_max_window_bits=9", Ok(())),
        (asks_server_bits(), "permessage-deflate; server_max_window_bits=11",
            invalid(E::ServerMaxWindowBitsTooLarge { offered: 10, answered: 11 })),
        (asks_server_bits(), "permessage-deflate",
            invalid(E::MissingServerMaxWindowBits { offered: 10 })),
        (own_client_bits(), "permessage-deflate; client_max_window_bits=11", Ok(())),
        (own_client_bits(), "permessage-deflate; client_max_window_bits=12",
            invalid(E::ClientMaxWindowBitsTooLarge { offered: 11, answered: 12 })),
        (default(), "permessage-deflate; client_max_window_bits",
            invalid(E::ClientMaxWindowBitsWithoutValue)),
        (default(), "permessage-deflate; x=1",
            invalid(E::Param(DeflateParamError::UnknownParam { name: "x".into() }))),
        (default(), "permessage-deflate; server_max_window_bits=16",
            invalid(E::Param(DeflateParamError::InvalidValue {
                name: "server_max_window_bits".into(), value: Some("16".into()) }))),
        (default(), "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            invalid(E::Param(DeflateParamError::DuplicateParam {
                name: "server_no_context_takeover".into() }))),
        (default(), "permessage-deflate; server_max_window_bits=\"1",
            invalid(E::Malformed(wsmachine::extensions::ExtensionError::UnterminatedQuotedString))),
        (default(), "permessage-deflate, permessage-deflate", invalid(E::DuplicateResponse)),
        (default(), "x-unoffered",
            Err(HandshakeError::UnofferedExtension { extension: "x-unoffered".into() })),
    ];
    for (config, response, expected) in cases {
        assert_eq!(client_check(config, response), expected, "{response:?}");
    }
    // An offer without client_max_window_bits (not one a DeflateConfig
    // makes) cannot be answered with it.
    let offer = DeflateParams::default();
    let response = DeflateParams {
        client_max_window_bits: Some(Some(10)),
        ..DeflateParams::default()
    };
    assert_eq!(
        offer.check_response(&response),
        Err(E::UnofferedClientMaxWindowBits)
    );
}

#[test]
fn a_server_without_deflate_leaves_the_client_uncompressed() {
    let mut pair = Pair::new(
        client_config(deflate(DeflateConfig::default())),
        server_config(None),
    );
    pair.drive();
    let Some(Event::Accepted(accepted)) = pair.client_events.first() else {
        panic!("{:?}", pair.client_events);
    };
    assert!(accepted.extensions.is_empty());
    let message = "uncompressed ".repeat(20);
    pair.client.send_text(&message).unwrap();
    let wire = drain_transmit(&mut pair.client);
    assert_eq!(wire[0], 0x81, "RSV1 clear");
    pair.server.receive(pair.now, &wire).unwrap();
    assert_eq!(messages(&drain_events(&mut pair.server)), [text(&message)]);
}

#[test]
fn the_app_may_answer_permessage_deflate_itself() {
    let request =
        upgrade_request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    let accept_with = |extension: &str| {
        let mut server = Server::new(server_config(None));
        server.receive(Duration::ZERO, &request).unwrap();
        let mut accept = Accept::default();
        accept.extensions.push(extension.into());
        let result = server.accept(Duration::ZERO, accept);
        (server, result)
    };
    let (mut server, result) =
        accept_with("permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
    result.unwrap();
    let response = String::from_utf8(drain_transmit(&mut server)).unwrap();
    assert!(response.contains(
        "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
         client_max_window_bits=10\r\n"
    ));
    server.send_text(&"compressed ".repeat(10)).unwrap();
    assert_eq!(drain_transmit(&mut server)[0], 0xc1, "RSV1 set");
    let (mut server, result) = accept_with("permessage-deflate; client_max_window_bits");
    assert_eq!(
        result,
        Err(DecisionError::InvalidDeflateResponse(
            DeflateResponseError::ClientMaxWindowBitsWithoutValue
        ))
    );
    assert!(drain_transmit(&mut server).is_empty());
    assert_eq!(server.state(), State::Connecting);
}
