//! permessage-deflate on 64 KiB text messages: compress and send (client,
//! masked), receive and inflate (server), each against the same path
//! without compression. Needs the `deflate` feature.
//!
//! The message is JSON-like records with varied names and numbers, which
//! deflate shrinks about as much as typical API traffic. The bytes on the
//! wire of one message are printed once, with and without compression.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use wsmachine::entropy::FixedEntropy;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, Event, Server};

const MESSAGE_LEN: usize = 64 * 1024;

/// About 64 KiB of JSON-like records, exactly `MESSAGE_LEN` bytes.
fn message() -> String {
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut state = 0x2545_f491u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut text = String::from("[");
    while text.len() < MESSAGE_LEN {
        let (a, b, c) = (next(), next(), next());
        text.push_str(&format!(
            r#"{{"id":{},"user":"{}-{}","score":{}.{:02},"tags":["{}","{}"],"active":{}}},"#,
            a % 100_000,
            WORDS[(b % 16) as usize],
            b % 1000,
            c % 10_000,
            c % 100,
            WORDS[(a % 16) as usize],
            WORDS[(c % 16) as usize],
            a % 2 == 0
        ));
    }
    text.truncate(MESSAGE_LEN);
    text
}

/// An open client/server pair, with permessage-deflate when `deflate`.
fn pair(deflate: bool) -> (Client<FixedEntropy>, Server) {
    let mut client_config = ClientConfig::new("ws://bench.example/").expect("url");
    client_config.config.limits.max_message_size = 1 << 20;
    let mut server_config = ServerConfig::default();
    if deflate {
        client_config.deflate = Some(DeflateConfig::default());
        server_config.deflate = Some(DeflateConfig::default());
    }
    let mut client = Client::new(
        client_config,
        FixedEntropy::new(b"the sample nonce\x37\xfa\x21\x3d"),
    )
    .expect("client");
    let mut server = Server::new(server_config);
    let request = client.poll_transmit().expect("request");
    server.receive(Duration::ZERO, &request).expect("request");
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server
        .accept(Duration::ZERO, Accept::default())
        .expect("accept");
    let response = server.poll_transmit().expect("response");
    client.receive(Duration::ZERO, &response).expect("response");
    let Some(Event::Accepted(accepted)) = client.poll_event() else {
        panic!("not accepted");
    };
    assert_eq!(accepted.extensions.is_empty(), !deflate);
    (client, server)
}

/// The wire bytes of one message sent by the client.
fn wire(client: &mut Client<FixedEntropy>, text: &str) -> Vec<u8> {
    client.send_text(text).expect("send");
    let mut out = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// The `deflate_64KiB` group.
pub fn deflate_64kib(c: &mut Criterion) {
    let text = message();
    let (mut plain_client, mut plain_server) = pair(false);
    let (mut deflate_client, mut deflate_server) = pair(true);
    let plain_wire = wire(&mut plain_client, &text);
    // The first message of a connection: no earlier context to refer to, so
    // the server can take it again and again.
    let deflate_wire = wire(&mut deflate_client, &text);
    println!(
        "deflate_64KiB: one {} B message is {} B on the wire uncompressed, {} B compressed ({:.1}%)",
        text.len(),
        plain_wire.len(),
        deflate_wire.len(),
        deflate_wire.len() as f64 * 100.0 / plain_wire.len() as f64
    );

    let mut group = c.benchmark_group("deflate_64KiB");
    group.throughput(Throughput::Bytes(MESSAGE_LEN as u64));
    group.bench_function("compress_send", |b| {
        b.iter(|| {
            deflate_client.send_text(black_box(&text)).expect("send");
            while let Some(bytes) = deflate_client.poll_transmit() {
                black_box(bytes);
            }
        })
    });
    group.bench_function("send_uncompressed", |b| {
        b.iter(|| {
            plain_client.send_text(black_box(&text)).expect("send");
            while let Some(bytes) = plain_client.poll_transmit() {
                black_box(bytes);
            }
        })
    });
    group.bench_function("receive_inflate", |b| {
        b.iter(|| {
            deflate_server
                .receive(Duration::ZERO, black_box(&deflate_wire))
                .expect("receive");
            let mut len = 0;
            while let Some(event) = deflate_server.poll_event() {
                if let Event::Frame(frame) = event {
                    len += frame.payload.len();
                }
            }
            assert_eq!(len, MESSAGE_LEN);
        })
    });
    group.bench_function("receive_uncompressed", |b| {
        b.iter(|| {
            plain_server
                .receive(Duration::ZERO, black_box(&plain_wire))
                .expect("receive");
            let mut len = 0;
            while let Some(event) = plain_server.poll_event() {
                if let Event::Frame(frame) = event {
                    len += frame.payload.len();
                }
            }
            assert_eq!(len, MESSAGE_LEN);
        })
    });
    group.finish();
}
