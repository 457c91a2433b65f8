//! The extended CONNECT handshake of RFC 8441 (HTTP/2) and RFC 9220
//! (HTTP/3), on the `http` crate's types: every check runs on both
//! versions' requests, since the two differ only in the stack below.
#![cfg(feature = "http")]

use crate::support;

/// The client's request and its checks on the answer.
#[path = "h2_handshake/client.rs"]
mod client;
/// The stream the handshake opens.
#[path = "h2_handshake/stream.rs"]
mod stream;

use http::{HeaderMap, Method, StatusCode, Version};
use wsmachine::handshake::h2::{self, ExtendedConnectError, PROTOCOL};
use wsmachine::handshake::server::{Accept, DecisionError, ServerConfig};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
use wsmachine::http::{HeadError, MalformedKind, WriteError};

const VERSIONS: [Version; 2] = [Version::HTTP_2, Version::HTTP_3];

/// RFC 8441 §5.1's example request, on `version`.
fn rfc_example(version: Version) -> http::request::Builder {
    http::Request::builder()
        .method(Method::CONNECT)
        .version(version)
        .uri("https://server.example.com/chat")
        .header("sec-websocket-protocol", "chat, superchat")
        .header("sec-websocket-version", "13")
        .header("origin", "http://www.example.com")
}

fn validate(
    request: http::request::Builder,
    protocol: Option<&str>,
) -> Result<h2::ExtendedConnectRequest, HandshakeError> {
    let request = request.body(()).unwrap();
    h2::validate_request(&request, protocol, &ServerConfig::default())
}

fn names(headers: &HeaderMap) -> Vec<&str> {
    headers.keys().map(|name| name.as_str()).collect()
}

/// The fields neither an HTTP/2 nor an HTTP/3 message may carry, and the
/// HTTP/1.1 handshake's own.
fn assert_no_http1_fields(headers: &HeaderMap) {
    for name in [
        "connection",
        "upgrade",
        "keep-alive",
        "transfer-encoding",
        "sec-websocket-key",
        "sec-websocket-accept",
        "host",
    ] {
        assert!(
            headers.get(name).is_none(),
            "{name} in {:?}",
            names(headers)
        );
    }
}

#[test]
fn the_rfc_8441_example_is_accepted_with_200_and_no_accept_hash() {
    for version in VERSIONS {
        let request = validate(rfc_example(version), Some(PROTOCOL)).unwrap();
        assert_eq!(request.version(), version);
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.authority(), "server.example.com");
        assert_eq!(request.scheme(), "https");
        assert_eq!(request.origin(), Some("http://www.example.com"));
        assert_eq!(request.protocols(), ["chat", "superchat"]);
        assert!(request.extensions().is_empty());

        let accept = Accept::default()
            .with_protocol("chat")
            .with_header("set-cookie", "id=7");
        let (response, negotiated) =
            h2::negotiate(&request, accept, &ServerConfig::default()).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), version);
        assert_eq!(
            names(response.headers()),
            ["sec-websocket-protocol", "set-cookie"]
        );
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert_no_http1_fields(response.headers());
        assert_eq!(negotiated.protocol(), Some("chat"));
        assert!(negotiated.extensions().is_empty());
    }
}

#[test]
fn the_protocol_and_scheme_compare_without_case_and_a_key_is_ignored() {
    for version in VERSIONS {
        // RFC 8441 §5: the key is not processed, so not even a broken one
        // fails; `:protocol` compares as HTTP/1.1's Upgrade token does.
        let request = rfc_example(version)
            .uri("HTTP://server.example.com:8080/chat?room=1")
            .header("sec-websocket-key", "not base64 at all");
        let valid = validate(request, Some("WebSocket")).unwrap();
        assert_eq!(valid.path(), "/chat?room=1");
        assert_eq!(valid.authority(), "server.example.com:8080");
        assert_eq!(valid.scheme(), "http");
        // `te: trailers` is the one connection-specific field allowed.
        assert!(
            validate(
                rfc_example(version).header("te", "trailers"),
                Some(PROTOCOL)
            )
            .is_ok()
        );
    }
}

/// A refused request: its error, status and category, and the response
/// `h2::error_response` makes of it.
struct Refusal {
    request: http::request::Builder,
    protocol: Option<&'static str>,
    error: HandshakeError,
    status: u16,
    kind: HandshakeErrorKind,
    /// A field the response must carry, with its value.
    field: Option<(&'static str, &'static str)>,
}

fn refusals(version: Version) -> Vec<Refusal> {
    let connect = |uri: &str| {
        http::Request::builder()
            .method(Method::CONNECT)
            .version(version)
            .uri(uri)
            .header("sec-websocket-version", "13")
    };
    let extended = |error| HandshakeError::ExtendedConnect(error);
    vec![
        // A plain GET: a browser or a health check on the WebSocket route.
        Refusal {
            request: rfc_example(version).method(Method::GET),
            protocol: None,
            error: extended(ExtendedConnectError::NotConnect {
                method: "GET".into(),
            }),
            status: 405,
            kind: HandshakeErrorKind::MethodNotAllowed,
            field: Some(("allow", "CONNECT")),
        },
        // RFC 8441 §4: without :protocol, a CONNECT is a tunnel request.
        Refusal {
            request: connect("server.example.com:443"),
            protocol: None,
            error: extended(ExtendedConnectError::PlainConnect),
            status: 400,
            kind: HandshakeErrorKind::NotWebSocket,
            field: None,
        },
        Refusal {
            request: rfc_example(version),
            protocol: None,
            error: extended(ExtendedConnectError::PlainConnect),
            status: 400,
            kind: HandshakeErrorKind::NotWebSocket,
            field: None,
        },
        // RFC 9220 §3: an unsupported :protocol gets 501.
        Refusal {
            request: rfc_example(version),
            protocol: Some("connect-udp"),
            error: extended(ExtendedConnectError::UnknownProtocol {
                protocol: "connect-udp".into(),
            }),
            status: 501,
            kind: HandshakeErrorKind::NotWebSocket,
            field: None,
        },
        // RFC 8441 §4 and §5: :authority, :scheme and :path are required.
        // (An `http::Uri` with a scheme and an authority always has a path,
        // so a missing :path is refused by the stack before it gets here.)
        Refusal {
            request: connect("/chat"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::MissingPseudoHeader { name: ":authority" }),
            status: 400,
            kind: HandshakeErrorKind::MalformedHttp,
            field: None,
        },
        Refusal {
            request: connect("server.example.com:443"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::MissingPseudoHeader { name: ":scheme" }),
            status: 400,
            kind: HandshakeErrorKind::MalformedHttp,
            field: None,
        },
        Refusal {
            request: connect("ftp://server.example.com/chat"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::UnsupportedScheme {
                scheme: "ftp".into(),
            }),
            status: 400,
            kind: HandshakeErrorKind::MalformedHttp,
            field: None,
        },
        // RFC 9113 §8.2.2, RFC 9114 §4.2.
        Refusal {
            request: rfc_example(version).header("connection", "keep-alive"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::ConnectionSpecificHeader {
                name: "connection".into(),
            }),
            status: 400,
            kind: HandshakeErrorKind::MalformedHttp,
            field: None,
        },
        Refusal {
            request: rfc_example(version).header("upgrade", "websocket"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::ConnectionSpecificHeader {
                name: "upgrade".into(),
            }),
            status: 400,
            kind: HandshakeErrorKind::MalformedHttp,
            field: None,
        },
        // RFC 6455 §4.4 with RFC 9113 §8.6: 400, not 426, naming 13.
        Refusal {
            request: connect("https://server.example.com/chat")
                .header("sec-websocket-version", "8"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::UnsupportedVersion {
                version: "13, 8".into(),
            }),
            status: 400,
            kind: HandshakeErrorKind::BadVersion,
            field: Some(("sec-websocket-version", "13")),
        },
        Refusal {
            request: http::Request::builder()
                .method(Method::CONNECT)
                .version(version)
                .uri("https://server.example.com/chat"),
            protocol: Some(PROTOCOL),
            error: extended(ExtendedConnectError::MissingVersion),
            status: 400,
            kind: HandshakeErrorKind::BadVersion,
            field: Some(("sec-websocket-version", "13")),
        },
        // RFC 9113 §8.2.1: no whitespace around a value.
        Refusal {
            request: rfc_example(version).header("x-padded", " value"),
            protocol: Some(PROTOCOL),
            error: HandshakeError::InvalidRequestHead(HeadError::Malformed(
                MalformedKind::InvalidHeaderValue,
            )),
            status: 400,
            kind: HandshakeErrorKind::MalformedHttp,
            field: None,
        },
    ]
}

#[test]
fn requests_that_are_not_websocket_handshakes_get_their_statuses() {
    for version in VERSIONS {
        for refusal in refusals(version) {
            let context = format!("{version:?}: {:?}", refusal.error);
            let error = validate(refusal.request, refusal.protocol).unwrap_err();
            assert_eq!(error, refusal.error, "{context}");
            assert_eq!(error.status(), Some(refusal.status), "{context}");
            assert_eq!(error.kind(), refusal.kind, "{context}");

            let response = h2::error_response(&error).unwrap();
            assert_eq!(response.status().as_u16(), refusal.status, "{context}");
            assert_no_http1_fields(response.headers());
            assert_eq!(
                response.headers()["content-type"],
                "text/plain; charset=utf-8"
            );
            assert_eq!(response.body(), &format!("{error}\n"));
            if let Some((name, value)) = refusal.field {
                assert_eq!(response.headers()[name], value, "{context}");
            }
        }
    }
}

#[test]
fn http_1_requests_are_not_extended_connects() {
    let request = rfc_example(Version::HTTP_11);
    let error = validate(request, Some(PROTOCOL)).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::ExtendedConnect(ExtendedConnectError::HttpVersion {
            version: Version::HTTP_11
        })
    );
    assert_eq!(error.status(), Some(505));
    assert_eq!(error.kind(), HandshakeErrorKind::HttpVersion);
}

#[test]
fn origins_follow_the_http1_policy_without_connection_close() {
    let mut config = ServerConfig::default();
    config.allowed_origins = Some(vec!["https://good.example".into()]);
    for version in VERSIONS {
        let with_origin = |origin: Option<&str>| {
            let mut request = rfc_example(version).body(()).unwrap();
            request.headers_mut().remove("origin");
            if let Some(origin) = origin {
                request
                    .headers_mut()
                    .insert("origin", origin.parse().unwrap());
            }
            request
        };
        let evil = with_origin(Some("https://evil.example"));
        let error = h2::validate_request(&evil, Some(PROTOCOL), &config).unwrap_err();
        assert_eq!(
            error,
            HandshakeError::OriginNotAllowed {
                origin: Some("https://evil.example".into())
            }
        );
        // The HTTP/1.1 answer has `Connection: close`; HTTP/2 forbids it.
        let http1 = wsmachine::handshake::server::error_response(&error).unwrap();
        assert_eq!(http1.headers.get_str("Connection"), Some("close"));
        let response = h2::error_response(&error).unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_no_http1_fields(response.headers());

        let none = with_origin(None);
        assert_eq!(
            h2::validate_request(&none, Some(PROTOCOL), &config).unwrap_err(),
            HandshakeError::OriginNotAllowed { origin: None }
        );

        let good = with_origin(Some("https://GOOD.example"));
        assert!(h2::validate_request(&good, Some(PROTOCOL), &config).is_ok());
    }
}

#[test]
fn http1_errors_lose_426_and_their_connection_fields() {
    let response = h2::error_response(&HandshakeError::NotWebSocket).unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_no_http1_fields(response.headers());
    assert!(h2::error_response(&HandshakeError::UnexpectedEof).is_none());
    let refused = HandshakeError::ExtendedConnect(ExtendedConnectError::Refused { status: 403 });
    assert!(h2::error_response(&refused).is_none());
}

#[test]
fn every_extended_connect_error_has_its_wire_value_and_category() {
    let table = [
        (
            ExtendedConnectError::HttpVersion {
                version: Version::HTTP_10,
            },
            Some(505),
            "http_version",
        ),
        (
            ExtendedConnectError::NotConnect {
                method: "PUT".into(),
            },
            Some(405),
            "method_not_allowed",
        ),
        (
            ExtendedConnectError::PlainConnect,
            Some(400),
            "not_websocket",
        ),
        (
            ExtendedConnectError::UnknownProtocol {
                protocol: "x".into(),
            },
            Some(501),
            "not_websocket",
        ),
        (
            ExtendedConnectError::MissingPseudoHeader { name: ":path" },
            Some(400),
            "malformed_http",
        ),
        (
            ExtendedConnectError::UnsupportedScheme {
                scheme: "ftp".into(),
            },
            Some(400),
            "malformed_http",
        ),
        (
            ExtendedConnectError::ConnectionSpecificHeader { name: "te".into() },
            Some(400),
            "malformed_http",
        ),
        (
            ExtendedConnectError::MissingVersion,
            Some(400),
            "bad_version",
        ),
        (
            ExtendedConnectError::UnsupportedVersion {
                version: "8".into(),
            },
            Some(400),
            "bad_version",
        ),
        (
            ExtendedConnectError::Refused { status: 404 },
            None,
            "refused",
        ),
    ];
    for (error, status, kind) in table {
        assert_eq!(error.status(), status, "{error:?}");
        assert_eq!(error.kind().as_str(), kind, "{error:?}");
        let wrapped = HandshakeError::from(error.clone());
        assert_eq!(wrapped.status(), status, "{error:?}");
        assert_eq!(wrapped.kind(), error.kind(), "{error:?}");
        assert_eq!(wrapped.to_string(), error.to_string());
        // No server status is 426: HTTP/2 and HTTP/3 have no Upgrade.
        assert_ne!(status, Some(426));
    }
}

#[test]
fn negotiate_refuses_extra_headers_http2_forbids() {
    let request = validate(rfc_example(Version::HTTP_2), Some(PROTOCOL)).unwrap();
    let config = ServerConfig::default();
    for name in [
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
        "connection",
    ] {
        assert_eq!(
            h2::negotiate(&request, Accept::default().with_header(name, "x"), &config).err(),
            Some(DecisionError::ReservedHeader { name: name.into() }),
            "{name}"
        );
    }
    // RFC 9110 §9.3.6: no framing fields in a 2xx to CONNECT.
    assert_eq!(
        h2::negotiate(
            &request,
            Accept::default().with_header("content-length", "0"),
            &config
        )
        .err(),
        Some(DecisionError::Write(WriteError::FramingHeaderNotAllowed {
            name: "content-length".into()
        }))
    );
    assert_eq!(
        h2::negotiate(&request, Accept::default().with_protocol("mqtt"), &config).err(),
        Some(DecisionError::ProtocolNotOffered {
            protocol: "mqtt".into()
        })
    );
}
