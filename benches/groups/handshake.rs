//! The `handshake_*` groups: a client builds its request and checks a
//! canned 101; a server parses a canned request and builds its 101.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, Event, Server};

use super::common::Wire;

/// RFC 6455 §1.3's sample nonce and the accept key that answers it.
const NONCE: &[u8; 16] = b"the sample nonce";
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

pub fn handshakes(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake_client");
    group.throughput(Throughput::Elements(1));
    group.bench_function("wsmachine", |b| {
        b.iter(|| {
            let config = ClientConfig::new(black_box("ws://example.com/chat")).expect("valid URL");
            let mut client = Client::new(config, FixedEntropy::new(NONCE)).expect("valid config");
            let request = client.poll_transmit().expect("a request");
            black_box(request.len());
            client
                .receive(Duration::ZERO, black_box(RESPONSE))
                .expect("a valid 101");
            let Some(Event::Accepted(accepted)) = client.poll_event() else {
                panic!("not accepted");
            };
            black_box(accepted);
        })
    });
    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            let request = tungstenite::http::Request::builder()
                .uri(black_box("ws://example.com/chat"))
                .header("Host", "example.com")
                .header("Connection", "Upgrade")
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", "13")
                .header("Sec-WebSocket-Key", KEY)
                .body(())
                .expect("valid request");
            let (socket, response) = tungstenite::client::client_with_config(
                request,
                Wire::once(black_box(RESPONSE)),
                None,
            )
            .expect("a valid 101");
            black_box((socket, response));
        })
    });
    group.finish();

    let mut group = c.benchmark_group("handshake_server");
    group.throughput(Throughput::Elements(1));
    group.bench_function("wsmachine", |b| {
        b.iter(|| {
            let mut server = Server::new(ServerConfig::default());
            server
                .receive(Duration::ZERO, black_box(REQUEST))
                .expect("a valid request");
            let Some(Event::Request(request)) = server.poll_event() else {
                panic!("no request");
            };
            black_box(request);
            server
                .accept(Duration::ZERO, Accept::default())
                .expect("a pending request");
            let response = server.poll_transmit().expect("a 101");
            black_box(response.len());
        })
    });
    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            let socket =
                tungstenite::accept(Wire::once(black_box(REQUEST))).expect("a valid request");
            black_box(socket);
        })
    });
    group.finish();
}
