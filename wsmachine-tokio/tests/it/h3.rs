//! WebSockets over HTTP/3 (RFC 9220) between the driver's own client and
//! server: the examples, several WebSockets on one QUIC connection, a
//! refusal, a reset by the client that the server sees on one WebSocket
//! only, and a server whose SETTINGS do not enable extended CONNECT. The
//! checks against other stacks are in `h3_interop`.
#![cfg(feature = "h3")]

use std::net::SocketAddr;

use crate::h3_interop::{Certificate, SIZES, h3_client, h3_echo, several_on_one_connection};
use crate::support::{
    assert_example_answers, bounded, close_cleanly, echo_every_size, masked_frame,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine_tokio::h3::{Client, Server, client_tls_config, server_tls_config};
use wsmachine_tokio::{Error, Message};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("an address")
}

/// `h3_echo`'s server with `config`, on a port of the system's choosing.
async fn start_h3_echo(certificate: &Certificate, config: ServerConfig) -> SocketAddr {
    let tls = server_tls_config(vec![certificate.cert.clone()], certificate.key.clone_key())
        .expect("TLS config");
    let server = Server::bind(any_port(), tls, config).expect("bind");
    let addr = server.local_addr().expect("addr");
    tokio::spawn(h3_echo::serve(server));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_against_h3_echo_several_websockets_on_one_connection() {
    let certificate = Certificate::new("rust-echo");
    bounded(async {
        let addr = start_h3_echo(&certificate, h3_echo::server_config()).await;
        let client = certificate.client_to(addr).await;
        several_on_one_connection(&client, &format!("wss://localhost:{}", addr.port()), true).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_h3_client_example_against_h3_echo() {
    let certificate = Certificate::new("rust-example");
    bounded(async {
        let addr = start_h3_echo(&certificate, h3_echo::server_config()).await;
        let url = format!("wss://localhost:{}/example", addr.port());
        let answers = h3_client::run(&url, certificate.roots(), "hi", 3).await;
        assert_example_answers(answers, "hi", 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_keeps_its_status_and_body_and_the_connection_goes_on() {
    let certificate = Certificate::new("rust-refusal");
    bounded(async {
        // An origin policy the request does not meet: the core's 403.
        let mut config = h3_echo::server_config();
        config.allowed_origins = Some(vec!["https://allowed.example".into()]);
        let addr = start_h3_echo(&certificate, config).await;
        let client = certificate.client_to(addr).await;
        let url = format!("wss://localhost:{}/echo", addr.port());
        let error = client.connect(url.as_str()).await.expect_err("refused");
        let Error::Rejected {
            status,
            body,
            body_error,
            ..
        } = error
        else {
            panic!("not a refusal: {error:?}")
        };
        assert_eq!(status, 403);
        assert!(!body.is_empty());
        assert_eq!(body_error, None);
        let allowed = wsmachine_tokio::ClientConfig::new(&url)
            .expect("url")
            .with_origin("https://allowed.example");
        let (mut socket, _) = client.connect(allowed).await.expect("allowed");
        socket.send(Message::text("hi")).await.expect("send");
        assert_eq!(
            socket.next().await.expect("echo").expect("text"),
            Message::text("hi")
        );
        close_cleanly(socket).await;
    })
    .await;
}

/// The client sends half a frame on one WebSocket and drops it, which
/// resets its stream: the server's WebSocket ends with the typed 1006,
/// the other one on the connection echoes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reset_ends_one_server_websocket_only() {
    let certificate = Certificate::new("rust-reset");
    bounded(async {
        let tls = server_tls_config(vec![certificate.cert.clone()], certificate.key.clone_key())
            .expect("TLS config");
        let mut server = Server::bind(any_port(), tls, ServerConfig::default()).expect("bind");
        let addr = server.local_addr().expect("addr");
        let client = certificate.client_to(addr).await;
        let base = format!("wss://localhost:{}", addr.port());
        let (mut doomed, _) = client
            .connect(format!("{base}/doomed"))
            .await
            .expect("doomed");
        let (mut kept, _) = client.connect(format!("{base}/kept")).await.expect("kept");
        let mut server_side = Vec::new();
        for _ in 0..2 {
            let (socket, request) = server.accept().await.expect("a WebSocket");
            server_side.push((request.path().to_owned(), socket));
        }
        server_side.sort_by(|a, b| a.0.cmp(&b.0));
        let (_, mut server_doomed) = server_side.remove(0);
        let (_, mut server_kept) = server_side.remove(0);
        // Half of a 1000-byte binary frame, then the reset.
        let frame = masked_frame(0x2, true, &[7u8; 1000]);
        let stream = doomed.get_mut();
        stream.write_all(&frame[..500]).await.expect("half a frame");
        stream.flush().await.expect("flush");
        drop(doomed);
        match server_doomed.next().await {
            Some(Err(Error::UnexpectedEof)) => {}
            other => panic!("not the typed end of a reset stream: {other:?}"),
        }
        // The other WebSocket on the connection is untouched.
        let echo = tokio::spawn(async move {
            while let Some(Ok(message)) = server_kept.next().await {
                if message.is_data() && server_kept.send(message).await.is_err() {
                    break;
                }
            }
        });
        echo_every_size(&mut kept, &SIZES, 4).await;
        close_cleanly(kept).await;
        echo.await.expect("the server's echo");
    })
    .await;
}

/// A QUIC endpoint serving `certificate` with ALPN `h3`.
fn quic_endpoint(certificate: &Certificate) -> quinn::Endpoint {
    let tls = server_tls_config(vec![certificate.cert.clone()], certificate.key.clone_key())
        .expect("TLS config");
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC TLS");
    let config = quinn::ServerConfig::with_crypto(std::sync::Arc::new(crypto));
    quinn::Endpoint::server(config, any_port()).expect("bind")
}

/// `Server::new`'s decision picks the subprotocol of each 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_decision_picks_the_subprotocol() {
    let certificate = Certificate::new("rust-decide");
    bounded(async {
        let endpoint = quic_endpoint(&certificate);
        let addr = endpoint.local_addr().expect("addr");
        let mut server = Server::new(endpoint, ServerConfig::default(), |request| {
            let wanted = request.protocols().iter().find(|p| *p == "superchat");
            match wanted {
                Some(protocol) => Accept::default().with_protocol(protocol.clone()),
                None => Accept::default(),
            }
        });
        let client = certificate.client_to(addr).await;
        let config = wsmachine_tokio::ClientConfig::new("wss://localhost/chat")
            .expect("url")
            .with_protocol("chat")
            .with_protocol("superchat");
        let (mut socket, response) = client.connect(config).await.expect("open");
        assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
        assert_eq!(socket.protocol(), Some("superchat"));
        let (mut accepted, request) = server.accept().await.expect("accepted");
        assert_eq!(request.path(), "/chat");
        assert_eq!(accepted.protocol(), Some("superchat"));
        socket.send(Message::text("hi")).await.expect("send");
        let message = accepted.next().await.expect("a message").expect("text");
        assert_eq!(message, Message::text("hi"));
    })
    .await;
}

/// A server whose SETTINGS leave extended CONNECT off: a typed error, no
/// request sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_extended_connect_is_a_typed_error() {
    let certificate = Certificate::new("rust-no-connect");
    bounded(async {
        let endpoint = quic_endpoint(&certificate);
        let addr = endpoint.local_addr().expect("addr");
        tokio::spawn(async move {
            let connection = endpoint
                .accept()
                .await
                .expect("a connection")
                .await
                .expect("QUIC");
            // A control stream (type 0x00) whose SETTINGS (0x04) are empty.
            let mut control = connection.open_uni().await.expect("control stream");
            control
                .write_all(&[0x00, 0x04, 0x00])
                .await
                .expect("SETTINGS");
            connection.closed().await;
        });
        let tls = client_tls_config(certificate.roots()).expect("TLS config");
        let error = Client::connect_quic(addr, "localhost", tls)
            .await
            .expect_err("no extended CONNECT");
        assert!(matches!(error, Error::ExtendedConnectDisabled), "{error:?}");
        assert_eq!(error.kind_str(), "extended_connect_disabled");
    })
    .await;
}

/// The size RFC 9114 §4.2.2 gives the field section of `config`'s request:
/// each field's name and value, plus 32.
fn field_section_size(config: &wsmachine_tokio::ClientConfig) -> usize {
    let request = wsmachine::handshake::h2::build_request(config).expect("a request");
    let uri = request.uri();
    let pseudo = [
        (":method", "CONNECT".to_owned()),
        (":protocol", "websocket".to_owned()),
        (":scheme", uri.scheme_str().expect("scheme").to_owned()),
        (
            ":authority",
            uri.authority().expect("authority").to_string(),
        ),
        (":path", uri.path_and_query().expect("path").to_string()),
    ];
    let pseudo: usize = pseudo.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
    let fields: usize = request
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 32)
        .sum();
    pseudo + fields
}

/// The server decodes a request's field section up to its config's
/// `head_limits.max_head_len` and answers one byte more with the core's 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_field_section_limit_holds_at_its_boundary() {
    let certificate = Certificate::new("rust-limit");
    bounded(async {
        for (slack, expected) in [(0, 200), (1, 431)] {
            let tls =
                server_tls_config(vec![certificate.cert.clone()], certificate.key.clone_key())
                    .expect("TLS config");
            // The URL names no port: the size does not depend on the
            // server's, and the server does not check the authority.
            let url = "wss://localhost/limit";
            let config = wsmachine_tokio::ClientConfig::new(url)
                .expect("url")
                .with_header("x-pad", "p".repeat(1000));
            let size = field_section_size(&config);
            let mut server_config = ServerConfig::default();
            server_config.head_limits.max_head_len = size - slack;
            let mut server = Server::bind(any_port(), tls, server_config).expect("bind");
            let addr = server.local_addr().expect("addr");
            let client = certificate.client_to(addr).await;
            match (client.connect(config).await, expected) {
                (Ok((_socket, response)), 200) => {
                    assert_eq!(response.status(), 200);
                    assert!(server.accept().await.is_some());
                }
                (Err(Error::Rejected { status, .. }), 431) => assert_eq!(status, 431),
                (other, _) => panic!("{size} - {slack}: {:?}", other.map(|(_, r)| r)),
            }
        }
    })
    .await;
}

/// A WebSocket that sends nothing for longer than QUIC's idle timeout (30 s,
/// quinn's default on both sides) is still open: `connect_quic`'s
/// connection keeps itself alive with QUIC pings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_websocket_outlives_the_quic_idle_timeout() {
    let certificate = Certificate::new("rust-idle");
    let addr = start_h3_echo(&certificate, h3_echo::server_config()).await;
    let client = certificate.client_to(addr).await;
    let url = format!("wss://localhost:{}/quiet", addr.port());
    let (mut socket, _) = client.connect(url).await.expect("open");
    tokio::time::sleep(std::time::Duration::from_secs(35)).await;
    bounded(async {
        let late = Message::text("after 35 s of quiet");
        socket.send(late.clone()).await.expect("send");
        assert_eq!(socket.next().await.expect("echo").expect("text"), late);
        close_cleanly(socket).await;
    })
    .await;
}
