//! The opening handshake through the driver: subprotocols, the callback's
//! own responses, rejections that keep their body, the core's ready
//! responses to bad requests, and the core's handshake deadline on both
//! sides.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use support::{answering_server, bounded, loopback};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::http::Headers;
use wsmachine_tokio::{Decision, Error};

/// tungstenite's client offering `offer`; returns the chosen subprotocol.
async fn their_client(addr: SocketAddr, offer: Option<&str>) -> Option<String> {
    let mut request = format!("ws://{addr}/interop")
        .into_client_request()
        .expect("request");
    if let Some(offer) = offer {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", offer.parse().expect("value"));
    }
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (_ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("tungstenite handshake");
    response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|value| value.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn the_callback_chooses_the_subprotocol_their_client_sees() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let ours = async {
            let (stream, _) = listener.accept().await.expect("accept");
            wsmachine_tokio::accept_with(stream, ServerConfig::default(), |request| {
                assert_eq!(request.protocols, ["mqtt", "chat.v2"]);
                Decision::Accept(Accept::default().with_protocol("chat.v2"))
            })
            .await
            .expect("handshake")
        };
        let (_ours, chosen) = tokio::join!(ours, their_client(addr, Some("mqtt, chat.v2")));
        assert_eq!(chosen.as_deref(), Some("chat.v2"));
    })
    .await;
}

#[tokio::test]
async fn our_server_answers_their_client_with_a_403_and_its_body() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let ours = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut headers = Headers::new();
            headers.push("X-Reason", "maintenance");
            let result = wsmachine_tokio::accept_with(stream, ServerConfig::default(), |_| {
                Decision::Respond {
                    status: 403,
                    headers,
                    body: Bytes::from_static(b"no entry"),
                }
            })
            .await;
            assert!(
                matches!(result, Err(Error::Responded { status: 403 })),
                "{result:?}"
            );
        };
        let theirs = async {
            let request = format!("ws://{addr}/")
                .into_client_request()
                .expect("request");
            let stream = TcpStream::connect(addr).await.expect("connect");
            match tokio_tungstenite::client_async(request, stream).await {
                Err(tungstenite::Error::Http(response)) => {
                    assert_eq!(response.status().as_u16(), 403);
                    let header = |name| response.headers().get(name).map(|v| v.as_bytes().to_vec());
                    assert_eq!(header("X-Reason"), Some(b"maintenance".to_vec()));
                    assert_eq!(header("Content-Length"), Some(b"8".to_vec()));
                    assert_eq!(response.body().as_deref(), Some(&b"no entry"[..]));
                }
                other => panic!("tungstenite: expected the 403, got {other:?}"),
            }
        };
        tokio::join!(ours, theirs);
    })
    .await;
}

#[tokio::test]
async fn their_servers_503_reaches_our_client_with_status_headers_and_body() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let theirs = async {
            let (stream, _) = listener.accept().await.expect("accept");
            #[allow(clippy::result_large_err)]
            let callback = |_: &Request, _: Response| {
                let mut response = ErrorResponse::new(Some("busy, try later".to_owned()));
                *response.status_mut() = tungstenite::http::StatusCode::SERVICE_UNAVAILABLE;
                response
                    .headers_mut()
                    .insert("Retry-After", "5".parse().expect("value"));
                Err(response)
            };
            let result = tokio_tungstenite::accept_hdr_async(stream, callback).await;
            assert!(
                matches!(result, Err(tungstenite::Error::Http(_))),
                "{result:?}"
            );
        };
        let ours = async {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let config = ClientConfig::new(&format!("ws://{addr}/")).expect("url");
            match wsmachine_tokio::client(stream, config).await {
                Err(Error::Rejected {
                    status,
                    headers,
                    body,
                    body_error,
                }) => {
                    assert_eq!(status, 503);
                    assert_eq!(headers.get_str("Retry-After"), Some("5"));
                    assert_eq!(&body[..], b"busy, try later");
                    assert_eq!(body_error, None);
                }
                other => panic!("expected the rejection, got {other:?}"),
            }
        };
        tokio::join!(theirs, ours);
    })
    .await;
}

#[tokio::test]
async fn a_bad_request_gets_the_cores_response_and_a_typed_error() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let ours = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let error = wsmachine_tokio::accept(stream)
                .await
                .expect_err("a plain GET");
            assert_eq!(
                error.handshake_kind(),
                Some(wsmachine::handshake::HandshakeErrorKind::NotWebSocket)
            );
            assert_eq!(error.kind_str(), "not_websocket");
        };
        let raw = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .expect("write");
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.expect("read");
            let response = String::from_utf8(response).expect("utf-8");
            assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
            assert!(
                response.to_ascii_lowercase().contains("upgrade: websocket"),
                "{response}"
            );
        };
        tokio::join!(ours, raw);
    })
    .await;
}

#[tokio::test]
async fn a_rejection_with_a_malformed_body_keeps_status_headers_and_the_body_error() {
    bounded(async {
        let addr = answering_server(
            b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\
              X-Why: overload\r\n\r\n4\r\nbusy\r\nzz\r\n",
        )
        .await;
        match wsmachine_tokio::connect(&format!("ws://{addr}/")).await {
            Err(Error::Rejected {
                status,
                headers,
                body,
                body_error,
            }) => {
                assert_eq!(status, 503);
                assert_eq!(headers.get_str("X-Why"), Some("overload"));
                assert_eq!(&body[..], b"busy");
                assert!(body_error.is_some(), "the bad chunk size is reported");
            }
            other => panic!("expected the rejection, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn the_callback_answers_a_health_check_with_200() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let ours = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let result = wsmachine_tokio::accept_with(stream, ServerConfig::default(), |request| {
                assert_eq!(request.target(), "/healthz");
                Decision::respond(200, "ok\n")
            })
            .await;
            assert!(
                matches!(result, Err(Error::Responded { status: 200 })),
                "{result:?}"
            );
        };
        let raw = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(support::upgrade_request("/healthz").as_bytes())
                .await
                .expect("write");
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.expect("read");
            let response = String::from_utf8(response).expect("utf-8");
            assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
            assert!(response.ends_with("\r\n\r\nok\n"), "{response}");
        };
        tokio::join!(ours, raw);
    })
    .await;
}

#[tokio::test]
async fn a_client_that_sends_no_request_gets_408_at_the_cores_deadline() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let accept = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut config = ServerConfig::default();
            config.config.handshake_timeout = Duration::from_millis(200);
            wsmachine_tokio::accept_with(stream, config, |_| Decision::accept()).await
        };
        let silent = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.expect("read");
            String::from_utf8(response).expect("utf-8")
        };
        let started = tokio::time::Instant::now();
        let (accepted, response) = tokio::join!(accept, silent);
        assert!(started.elapsed() >= Duration::from_millis(200));
        match accepted {
            Err(error @ Error::Handshake(wsmachine::handshake::HandshakeError::Timeout)) => {
                assert_eq!(error.kind_str(), "timeout");
            }
            other => panic!("expected the handshake timeout, got {other:?}"),
        }
        assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    })
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_our_client_out() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let _held = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(stream);
        });
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut config = ClientConfig::new(&format!("ws://{addr}/")).expect("url");
        config.config.handshake_timeout = Duration::from_millis(200);
        match wsmachine_tokio::client(stream, config).await {
            Err(Error::Handshake(wsmachine::handshake::HandshakeError::Timeout)) => {}
            other => panic!("expected the handshake timeout, got {other:?}"),
        }
    })
    .await;
}
