//! The client's side: the request it builds and the answers it takes.

use http::{Method, Version};
use wsmachine::handshake::client::{ClientConfig, ClientConfigError};
use wsmachine::handshake::h2::{self, ExtendedConnectError, PROTOCOL};
use wsmachine::handshake::server::ServerConfig;
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::http::{HeadError, MalformedKind, WriteError};

use super::{VERSIONS, assert_no_http1_fields, names};

#[test]
fn build_request_gives_the_pseudo_headers_and_the_offers() {
    let config = ClientConfig::new("ws://server.example.com:8080/chat?room=1")
        .unwrap()
        .with_protocol("chat")
        .with_protocol("superchat")
        .with_origin("http://www.example.com")
        .with_header("authorization", "Bearer t");
    let request = h2::build_request(&config).unwrap();
    assert_eq!(request.method(), Method::CONNECT);
    assert_eq!(request.version(), Version::HTTP_2);
    // RFC 8441 §5: http for ws, the port in :authority, path and query in
    // :path.
    assert_eq!(request.uri().scheme_str(), Some("http"));
    assert_eq!(
        request.uri().authority().unwrap().as_str(),
        "server.example.com:8080"
    );
    assert_eq!(
        request.uri().path_and_query().unwrap().as_str(),
        "/chat?room=1"
    );
    assert_eq!(
        names(request.headers()),
        [
            "sec-websocket-version",
            "origin",
            "sec-websocket-protocol",
            "authorization"
        ]
    );
    assert_eq!(request.headers()["sec-websocket-version"], "13");
    assert_eq!(
        request.headers()["sec-websocket-protocol"],
        "chat, superchat"
    );
    assert_no_http1_fields(request.headers());

    let secure = ClientConfig::new("wss://server.example.com/").unwrap();
    let request = h2::build_request(&secure).unwrap();
    assert_eq!(request.uri(), "https://server.example.com/");

    // What the client builds, the server accepts, on either version.
    let config = ClientConfig::new("wss://server.example.com/chat")
        .unwrap()
        .with_protocol("chat");
    for version in VERSIONS {
        let mut request = h2::build_request(&config).unwrap();
        *request.version_mut() = version;
        let valid =
            h2::validate_request(&request, Some(PROTOCOL), &ServerConfig::default()).unwrap();
        assert_eq!(valid.protocols(), ["chat"]);
        assert_eq!(valid.path(), "/chat");
    }
}

#[test]
fn build_request_refuses_fields_the_handshake_or_http2_owns() {
    for name in [
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "keep-alive",
        "proxy-connection",
        "te",
        "transfer-encoding",
        "content-length",
    ] {
        let config = ClientConfig::new("wss://h/")
            .unwrap()
            .with_header(name, "1");
        assert_eq!(
            h2::build_request(&config).err(),
            Some(ClientConfigError::ReservedHeader { name: name.into() }),
            "{name}"
        );
    }
    let config = ClientConfig::new("wss://h/").unwrap().with_protocol("a b");
    assert_eq!(
        h2::build_request(&config).err(),
        Some(ClientConfigError::InvalidProtocol {
            protocol: "a b".into()
        })
    );
    let config = ClientConfig::new("wss://h/")
        .unwrap()
        .with_header("x-split", "a\r\nb");
    assert!(matches!(
        h2::build_request(&config),
        Err(ClientConfigError::Write(WriteError::Header(_)))
    ));
}

pub(crate) fn response(status: u16, fields: &[(&str, &str)]) -> http::Response<()> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in fields {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

#[test]
fn check_response_takes_200_with_offered_choices_only() {
    let config = ClientConfig::new("wss://h/").unwrap().with_protocol("chat");
    let negotiated = h2::check_response(&response(200, &[]), &config).unwrap();
    assert_eq!(negotiated.protocol(), None);

    // RFC 8441 §5: a server that agrees answers 200; anything else is a
    // refusal, 101 and other 2xx included.
    for status in [101, 201, 400, 403, 501] {
        let error = h2::check_response(&response(status, &[]), &config).unwrap_err();
        assert_eq!(
            error,
            HandshakeError::ExtendedConnect(ExtendedConnectError::Refused { status })
        );
        assert_eq!(error.kind(), HandshakeErrorKind::Refused);
        assert_eq!(error.status(), None);
    }
    assert_eq!(
        h2::check_response(
            &response(200, &[("sec-websocket-protocol", "mqtt")]),
            &config
        ),
        Err(HandshakeError::UnofferedSubprotocol {
            protocol: "mqtt".into()
        })
    );
    assert_eq!(
        h2::check_response(
            &response(200, &[("sec-websocket-extensions", "x-custom")]),
            &config
        ),
        Err(HandshakeError::UnofferedExtension {
            extension: "x-custom".into()
        })
    );
    assert_eq!(
        h2::check_response(&response(200, &[("x-padded", " v")]), &config),
        Err(HandshakeError::InvalidResponseHead(HeadError::Malformed(
            MalformedKind::InvalidHeaderValue
        )))
    );
}

#[cfg(feature = "deflate")]
#[test]
fn a_deflate_answer_that_does_not_fit_the_offer_is_refused() {
    let client_config = ClientConfig::new("wss://h/")
        .unwrap()
        .with_deflate(wsmachine::extensions::permessage_deflate::DeflateConfig::default());
    let answer = response(
        200,
        &[("sec-websocket-extensions", "permessage-deflate; x-unknown")],
    );
    let error = h2::check_response(&answer, &client_config).unwrap_err();
    assert!(
        matches!(error, HandshakeError::InvalidDeflateResponse(_)),
        "{error:?}"
    );
}
