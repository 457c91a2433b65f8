//! Sockets on streams another HTTP stack upgraded: the axum extractor (and
//! the `axum_echo` example), and hyper's `upgrade::on` with
//! `WebSocket::from_upgraded` (the `hyper_upgrade` example). Both validate
//! with the core, answer bad requests with its ready responses and
//! negotiate permessage-deflate.

#![cfg(feature = "axum")]

use crate::{axum_echo, hyper_upgrade, support};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use support::{bounded, loopback, masked_frame, upgrade_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine_tokio::axum::WebSocketUpgrade;
use wsmachine_tokio::{CloseCode, Message};

async fn start_axum_echo() -> SocketAddr {
    let (listener, addr) = loopback().await;
    tokio::spawn(axum_echo::serve(listener, axum_echo::App { sink: None }));
    addr
}

async fn start_hyper_upgrade() -> SocketAddr {
    let (listener, addr) = loopback().await;
    let app = Arc::new(hyper_upgrade::App {
        config: hyper_upgrade::app_config(),
        sink: None,
    });
    tokio::spawn(hyper_upgrade::serve(listener, app));
    addr
}

/// Sends raw bytes, reads until the server closes or the head is in.
async fn raw_exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        response.extend_from_slice(&buf[..n]);
        if n == 0 || String::from_utf8_lossy(&response).contains("\r\n\r\n") {
            return String::from_utf8_lossy(&response).into_owned();
        }
    }
}

/// Echo with deflate negotiated, a ping, and a clean close.
async fn echo_with_deflate(addr: SocketAddr) {
    let mut config = ClientConfig::new(&format!("ws://{addr}/ws")).expect("url");
    config.config.deflate = Some(DeflateConfig::default());
    let (mut ws, accepted) = wsmachine_tokio::connect(config).await.expect("connect");
    assert!(
        accepted
            .extensions
            .iter()
            .any(|e| e.starts_with("permessage-deflate")),
        "{:?}",
        accepted.extensions
    );
    let text = "squeeze ".repeat(500);
    ws.send(Message::text(text.clone())).await.expect("send");
    assert_eq!(
        ws.next().await.expect("echo").expect("ok").as_text(),
        Some(text.as_str())
    );
    ws.send(Message::binary(vec![1u8; 100_000]))
        .await
        .expect("send");
    assert_eq!(
        ws.next().await.expect("echo").expect("ok"),
        Message::binary(vec![1u8; 100_000])
    );
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
    assert!(ws.next().await.is_none());
}

async fn bad_requests_get_the_cores_responses(addr: SocketAddr) {
    let plain = raw_exchange(addr, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(plain.starts_with("HTTP/1.1 426"), "{plain}");
    assert!(
        plain.to_ascii_lowercase().contains("upgrade: websocket"),
        "{plain}"
    );
    let version = upgrade_request("/ws").replace("Version: 13", "Version: 8");
    let version = raw_exchange(addr, &version).await;
    assert!(version.starts_with("HTTP/1.1 426"), "{version}");
    assert!(
        version
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{version}"
    );
    let no_key =
        upgrade_request("/ws").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    let no_key = raw_exchange(addr, &no_key).await;
    assert!(no_key.starts_with("HTTP/1.1 400"), "{no_key}");
}

#[tokio::test]
async fn axum_echo_serves_the_page() {
    bounded(async {
        let addr = start_axum_echo().await;
        let page = raw_exchange(
            addr,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("text/html"), "{page}");
    })
    .await;
}

#[tokio::test]
async fn axum_echo_echoes_with_deflate() {
    bounded(async { echo_with_deflate(start_axum_echo().await).await }).await;
}

#[tokio::test]
async fn axum_echo_answers_bad_requests_with_the_cores_responses() {
    bounded(async { bad_requests_get_the_cores_responses(start_axum_echo().await).await }).await;
}

#[tokio::test]
async fn axum_echo_echoes_for_tungstenite() {
    bounded(async {
        let addr = start_axum_echo().await;
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("connect");
        use tokio_tungstenite::tungstenite::Message as T;
        ws.send(T::text("hi axum")).await.expect("send");
        assert_eq!(
            ws.next().await.expect("echo").expect("ok"),
            T::text("hi axum")
        );
        ws.close(None).await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_extractor_chooses_an_offered_subprotocol() {
    bounded(async {
        async fn handler(upgrade: WebSocketUpgrade) -> Response {
            let upgrade = upgrade.protocols(["v3", "v2"]);
            assert_eq!(upgrade.selected_protocol(), Some("v2"));
            upgrade.on_upgrade(|mut ws| async move {
                ws.send(Message::text("chosen")).await.expect("send");
                while let Some(Ok(_)) = ws.next().await {}
            })
        }
        let (listener, addr) = loopback().await;
        let app = Router::new().route("/ws", get(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = ClientConfig::new(&format!("ws://{addr}/ws"))
            .expect("url")
            .with_protocol("v1")
            .with_protocol("v2");
        let (mut ws, accepted) = wsmachine_tokio::connect(config).await.expect("connect");
        assert_eq!(accepted.protocol.as_deref(), Some("v2"));
        assert_eq!(
            ws.next().await.expect("message").expect("ok").as_text(),
            Some("chosen")
        );
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn hyper_upgrade_echoes_with_deflate() {
    bounded(async { echo_with_deflate(start_hyper_upgrade().await).await }).await;
}

#[tokio::test]
async fn hyper_upgrade_answers_bad_requests_with_the_cores_responses() {
    bounded(async { bad_requests_get_the_cores_responses(start_hyper_upgrade().await).await })
        .await;
}

#[tokio::test]
async fn a_frame_sent_with_the_request_reaches_the_socket() {
    bounded(async {
        let addr = start_hyper_upgrade().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        // The request and a first frame in one write: hyper hands what it
        // read past the head over with the upgraded stream.
        let mut bytes = upgrade_request("/ws").into_bytes();
        bytes.extend(masked_frame(0x1, true, b"eager"));
        stream.write_all(&bytes).await.expect("write");
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        // The 101, then the echo: an unmasked text frame "eager".
        while !received.windows(7).any(|w| w == b"\x81\x05eager") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed before the echo: {:?}",
                String::from_utf8_lossy(&received)
            );
            received.extend_from_slice(&buf[..n]);
        }
        assert!(received.starts_with(b"HTTP/1.1 101"));
    })
    .await;
}
