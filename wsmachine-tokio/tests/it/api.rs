//! The surface a user migrating from tokio-tungstenite or axum touches:
//! the connect timeout, the agreed subprotocol, the errors' messages, and
//! the one `Config` shared by every way of making a socket.

use crate::support;

use std::error::Error as _;
use std::time::Duration;

use support::{bounded, loopback};
use wsmachine::handshake::server::Accept;
use wsmachine_tokio::{ClientConfig, Config, Decision, Error, Message, ServerConfig};

#[test]
fn connecting_has_a_deadline_by_default() {
    let config = ClientConfig::new("ws://example.com/").expect("url");
    assert_eq!(config.connect_timeout, Duration::from_secs(10));
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn a_tls_server_that_never_answers_ends_at_the_connect_timeout() {
    bounded(async {
        // TCP is accepted, the TLS hello is never answered.
        let (listener, addr) = loopback().await;
        let holder = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(stream);
        });
        let config = ClientConfig::new(&format!("wss://localhost:{}/", addr.port()))
            .expect("url")
            .with_connect_timeout(Duration::from_millis(300));
        let started = tokio::time::Instant::now();
        match wsmachine_tokio::connect(config).await {
            Err(Error::Timeout(wsmachine_tokio::Timeout::Connect)) => {}
            other => panic!("expected the connect timeout, got {other:?}"),
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        holder.abort();
    })
    .await;
}

#[tokio::test]
async fn both_sides_know_the_agreed_subprotocol() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = wsmachine_tokio::accept_with(stream, ServerConfig::default(), |request| {
                assert_eq!(request.protocols, ["v1", "chat"]);
                Decision::Accept(Accept::default().with_protocol("chat"))
            })
            .await
            .expect("handshake");
            assert_eq!(ws.protocol(), Some("chat"));
            // The transport is within reach for its own settings.
            ws.get_mut().set_nodelay(true).expect("nodelay");
            while let Some(Ok(msg)) = ws.recv().await {
                if msg.is_text() {
                    ws.send(msg).await.expect("echo");
                }
            }
        });
        let config = ClientConfig::new(&format!("ws://{addr}/"))
            .expect("url")
            .with_protocol("v1")
            .with_protocol("chat");
        let (mut ws, accepted) = wsmachine_tokio::connect(config).await.expect("connect");
        assert_eq!(accepted.protocol.as_deref(), Some("chat"));
        assert_eq!(ws.protocol(), Some("chat"));
        ws.send(Message::from("hi")).await.expect("send");
        assert_eq!(ws.recv().await.expect("echo").expect("echo"), "hi".into());
        ws.close(wsmachine_tokio::CloseCode::NORMAL, "")
            .await
            .expect("close");
        while ws.recv().await.is_some() {}
        server.await.expect("server task");
    })
    .await;
}

#[tokio::test]
async fn a_message_over_the_limit_names_the_setting_that_raises_it() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let config = Config::default().max_message_size(100);
            let mut ws = wsmachine_tokio::accept_with_config(stream, config)
                .await
                .expect("handshake");
            ws.recv().await
        });
        let (mut ws, _) = wsmachine_tokio::connect(format!("ws://{addr}/"))
            .await
            .expect("connect");
        ws.send(Message::binary(vec![0u8; 101]))
            .await
            .expect("send");
        let error = match server.await.expect("server task") {
            Some(Err(error)) => error,
            other => panic!("expected the limit, got {other:?}"),
        };
        let text = error.to_string();
        assert!(
            text.contains("max_message_size") && text.contains("Config::max_message_size"),
            "{text}"
        );
        assert!(matches!(
            error,
            Error::Protocol(wsmachine::error::ProtocolError::MessageTooLarge { limit: 100 })
        ));
        // The client got the 1009.
        match ws.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, wsmachine_tokio::CloseCode::MESSAGE_TOO_BIG);
            }
            other => panic!("expected the 1009, got {other:?}"),
        }
    })
    .await;
}

#[test]
fn a_transport_error_prints_its_cause_once() {
    // Io's cause is in its message, not also its source, so a report that
    // walks the chain prints it once.
    let io = Error::from(std::io::Error::other("the cable"));
    assert_eq!(io.to_string(), "transport error: the cable");
    assert!(io.source().is_none());
    assert_eq!(io.kind_str(), "io");
}

#[tokio::test]
async fn accept_and_connect_share_one_config_and_its_deflate_switch() {
    bounded(async {
        // Off by default in both roles: nothing is offered or accepted.
        let (listener, addr) = loopback().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            wsmachine_tokio::accept(stream).await.expect("handshake")
        });
        let offer = ClientConfig::new(&format!("ws://{addr}/"))
            .expect("url")
            .with_config(Config::default().deflate(true));
        let (_ws, accepted) = wsmachine_tokio::connect(offer).await.expect("connect");
        assert!(accepted.extensions.is_empty(), "{:?}", accepted.extensions);
        drop(server.await.expect("server"));
        // On with the same switch on the server.
        let (listener, addr) = loopback().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            wsmachine_tokio::accept_with_config(stream, Config::default().deflate(true))
                .await
                .expect("handshake")
        });
        let (_ws, accepted) = wsmachine_tokio::connect_with_config(
            format!("ws://{addr}/"),
            Config::default().deflate(true),
        )
        .await
        .expect("connect");
        assert_eq!(accepted.extensions, ["permessage-deflate"]);
        drop(server.await.expect("server"));
    })
    .await;
}
