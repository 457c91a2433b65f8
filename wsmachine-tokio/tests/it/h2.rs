//! WebSockets over HTTP/2 (RFC 8441) against the `h2_echo` example: a
//! client on the h2 crate sends extended CONNECT requests over one h2c
//! connection, and runs each stream it gets with the driver.
#![cfg(feature = "http")]

#[allow(dead_code)]
#[path = "../../examples/h2_echo.rs"]
mod h2_echo;

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use h2::client::SendRequest;
use support::h2_client::{H2Stream, h2_connection, send_connect};
use support::{binary_of_len, bounded, echo_every_size, loopback, text_of_len};
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::Negotiated;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::h2 as extended_connect;
use wsmachine_tokio::{CloseCode, CloseFrame, Message, WebSocket};

/// Starts the example on a loopback port.
async fn start_server() -> SocketAddr {
    let (listener, addr) = loopback().await;
    tokio::spawn(h2_echo::serve(listener, Arc::new(h2_echo::server_config())));
    addr
}

/// A WebSocket over one extended CONNECT stream: the request the core
/// builds, the response it checks, and the driver on the stream.
async fn open(
    send_request: &SendRequest<Bytes>,
    config: &ClientConfig,
) -> (WebSocket<H2Stream>, Negotiated) {
    let request = extended_connect::build_request(config).expect("request");
    let (response, send) =
        send_connect(send_request, request, Some(extended_connect::PROTOCOL)).await;
    assert_eq!(response.status(), http::StatusCode::OK);
    let negotiated = extended_connect::check_response(&response, config).expect("accepted");
    let io = H2Stream::new(send, response.into_body());
    let socket = WebSocket::from_upgraded_client(io, config, &negotiated);
    (socket, negotiated)
}

fn client_config(addr: SocketAddr) -> ClientConfig {
    ClientConfig::new(&format!("ws://{addr}/echo")).expect("url")
}

/// Sizes across the frame-length encodings, and a message of several
/// DATA frames and flow-control windows.
const SIZES: [usize; 7] = [0, 1, 125, 126, 65_535, 65_536, 300_000];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_every_size_are_echoed_as_sent() {
    bounded(async {
        let addr = start_server().await;
        let send_request = h2_connection(addr).await;
        let (mut socket, negotiated) = open(&send_request, &client_config(addr)).await;
        assert!(!negotiated.compresses());
        echo_every_size(&mut socket, &SIZES, 0).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permessage_deflate_is_negotiated_and_echoes_compress() {
    bounded(async {
        let addr = start_server().await;
        let send_request = h2_connection(addr).await;
        let config = client_config(addr).with_deflate(DeflateConfig::default());
        let (mut socket, negotiated) = open(&send_request, &config).await;
        assert!(negotiated.compresses());
        assert!(negotiated.extensions()[0].starts_with("permessage-deflate"));
        echo_every_size(&mut socket, &SIZES, 7).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_websockets_share_one_connection_at_once() {
    bounded(async {
        let addr = start_server().await;
        let send_request = h2_connection(addr).await;
        let plain = client_config(addr);
        let deflate = client_config(addr).with_deflate(DeflateConfig::default());
        let (mut first, _) = open(&send_request, &plain).await;
        let (mut second, _) = open(&send_request, &deflate).await;
        // Both are open on the same connection: interleave them, each
        // message large enough to take several DATA frames.
        for round in 0..4 {
            let one = Message::text(text_of_len(40_000, round));
            let two = Message::binary(binary_of_len(50_000, round));
            first.send(one.clone()).await.expect("send on the first");
            second.send(two.clone()).await.expect("send on the second");
            let (echo_two, echo_one) = tokio::join!(second.next(), first.next());
            assert_eq!(echo_one.expect("an echo").expect("message"), one);
            assert_eq!(echo_two.expect("an echo").expect("message"), two);
        }
        // The first closes; the second goes on.
        first.close(CloseCode::NORMAL, "").await.expect("close");
        let last = Message::text("still here");
        second.send(last.clone()).await.expect("send");
        assert_eq!(second.next().await.expect("echo").expect("text"), last);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_is_answered_and_the_stream_ends() {
    bounded(async {
        let addr = start_server().await;
        let send_request = h2_connection(addr).await;
        let (mut socket, _) = open(&send_request, &client_config(addr)).await;
        socket.send(Message::text("before")).await.expect("send");
        assert_eq!(
            socket.next().await.expect("echo").expect("text"),
            Message::text("before")
        );
        socket
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "bye".into(),
            })))
            .await
            .expect("send the close");
        // RFC 6455 §5.5.1: the echo carries the code; the reason is not
        // echoed.
        let echo = socket.next().await.expect("the close echo").expect("close");
        let Message::Close(Some(frame)) = echo else {
            panic!("not a close with a code: {echo:?}")
        };
        assert_eq!(frame.code, CloseCode::NORMAL);
        // The server ended the stream (END_STREAM), a clean end.
        assert!(socket.next().await.is_none());
        assert_eq!(socket.state(), wsmachine::State::Closed);
    })
    .await;
}

/// A refusal, read whole: status, fields and body.
async fn refused(
    send_request: &SendRequest<Bytes>,
    request: http::Request<()>,
    protocol: Option<&str>,
) -> (http::response::Parts, String) {
    let (response, _send) = send_connect(send_request, request, protocol).await;
    let (parts, mut body) = response.into_parts();
    let mut text = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("body");
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    (parts, String::from_utf8(text).expect("a text body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_version_is_400_naming_13() {
    bounded(async {
        let addr = start_server().await;
        let send_request = h2_connection(addr).await;
        let mut request = extended_connect::build_request(&client_config(addr)).expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-version", http::HeaderValue::from_static("8"));
        let (parts, body) = refused(&send_request, request, Some(extended_connect::PROTOCOL)).await;
        assert_eq!(parts.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(parts.headers["sec-websocket-version"], "13");
        assert_eq!(body, "unsupported sec-websocket-version \"8\"\n");

        // The connection serves WebSockets after the refusal.
        let (mut socket, _) = open(&send_request, &client_config(addr)).await;
        socket.send(Message::text("after")).await.expect("send");
        assert_eq!(
            socket.next().await.expect("echo").expect("text"),
            Message::text("after")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_without_protocol_is_400_and_an_unknown_one_501() {
    bounded(async {
        let addr = start_server().await;
        let send_request = h2_connection(addr).await;
        // RFC 8441 §4: without :protocol this is a plain CONNECT, whose
        // target is only an authority: a tunnel request.
        let mut tunnel = http::Request::new(());
        *tunnel.method_mut() = http::Method::CONNECT;
        *tunnel.uri_mut() = http::Uri::try_from(addr.to_string()).expect("authority");
        let (parts, body) = refused(&send_request, tunnel, None).await;
        assert_eq!(parts.status, http::StatusCode::BAD_REQUEST);
        assert!(body.contains("tunnel"), "{body}");

        let request = extended_connect::build_request(&client_config(addr)).expect("request");
        let (parts, _) = refused(&send_request, request, Some("connect-udp")).await;
        assert_eq!(parts.status, http::StatusCode::NOT_IMPLEMENTED);

        let get = http::Request::get(format!("http://{addr}/echo"))
            .body(())
            .expect("request");
        let (parts, _) = refused(&send_request, get, None).await;
        assert_eq!(parts.status, http::StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(parts.headers["allow"], "CONNECT");
    })
    .await;
}
