//! permessage-deflate on 64 KiB text messages: compress and send (client,
//! masked), receive and inflate (server), each against the same path
//! without compression and against flate2 doing the compression alone.
//! Needs the `deflate` feature.
//!
//! The baselines use flate2 (on zlib-rs, as the crate does) the way
//! permessage-deflate needs it and nothing more: `flate2_compress` is raw
//! deflate at wsmachine's default level (6) and window (15 bits), kept
//! across messages (context takeover, the default), with a sync flush and
//! the 4-byte tail removed; `flate2_inflate` inflates the payload of the
//! compressed frame the server receives, then the tail, into a buffer made
//! beforehand. A check before the timing shows that a fresh `flate2`
//! compressor turns the message into exactly the payload wsmachine sends.
//!
//! The message is JSON-like records with varied names and numbers, which
//! deflate shrinks about as much as typical API traffic. The bytes on the
//! wire of one message are printed once, with and without compression.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use wsmachine::entropy::FixedEntropy;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::mask::apply_mask;
use wsmachine::{Client, Event, Server};

const MESSAGE_LEN: usize = 64 * 1024;
/// RFC 7692 §7.2.1: the end of a sync flush, removed from each message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// wsmachine's defaults (`DeflateConfig::default()`).
const LEVEL: u32 = 6;
const WINDOW_BITS: u8 = 15;

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
    client_config.config.max_message_size = 1 << 20;
    let mut server_config = ServerConfig::default();
    if deflate {
        client_config.config.deflate = Some(DeflateConfig::default());
        server_config.config.deflate = Some(DeflateConfig::default());
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

/// The unmasked payload of the one client frame `wire` holds.
fn client_payload(wire: &[u8]) -> Vec<u8> {
    assert_eq!(wire[0] & 0xf0, 0xc0, "FIN and RSV1: one compressed frame");
    let (len, header) = match wire[1] & 0x7f {
        126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
        127 => {
            let len = u64::from_be_bytes(wire[2..10].try_into().expect("8 bytes"));
            (usize::try_from(len).expect("a small frame"), 10)
        }
        len => (usize::from(len), 2),
    };
    let key: [u8; 4] = wire[header..header + 4].try_into().expect("a key");
    let mut payload = wire[header + 4..].to_vec();
    assert_eq!(payload.len(), len, "exactly one frame");
    apply_mask(&mut payload, key, 0);
    payload
}

fn raw_compressor() -> Compress {
    Compress::new_with_window_bits(Compression::new(LEVEL), false, WINDOW_BITS)
}

/// One message compressed as permessage-deflate sends it, into `out`.
fn flate2_compress(compressor: &mut Compress, text: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let before = compressor.total_in();
    compressor
        .compress_vec(text, out, FlushCompress::Sync)
        .expect("compressible");
    // `out` has room for any output, so one call takes everything.
    assert_eq!(compressor.total_in() - before, text.len() as u64);
    assert!(out.ends_with(&TAIL) && out.len() < out.capacity());
    out.truncate(out.len() - TAIL.len());
}

/// One message inflated as permessage-deflate receives it, into `out`;
/// returns its length.
fn flate2_inflate(inflater: &mut Decompress, payload: &[u8], out: &mut [u8]) -> usize {
    let before = inflater.total_out();
    for input in [payload, &TAIL[..]] {
        let done = (inflater.total_out() - before) as usize;
        inflater
            .decompress(input, &mut out[done..], FlushDecompress::None)
            .expect("valid deflate data");
    }
    (inflater.total_out() - before) as usize
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

    let compressed = client_payload(&deflate_wire);
    // Room for the output as wsmachine reserves it.
    let mut out = Vec::with_capacity(MESSAGE_LEN + MESSAGE_LEN / 64 + 64);
    flate2_compress(&mut raw_compressor(), text.as_bytes(), &mut out);
    assert!(out == compressed, "flate2 alone makes the same bytes");

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
    let mut compressor = raw_compressor();
    group.bench_function("flate2_compress", |b| {
        b.iter(|| {
            flate2_compress(&mut compressor, black_box(text.as_bytes()), &mut out);
            black_box(&out);
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
    let mut inflater = Decompress::new_with_window_bits(false, WINDOW_BITS);
    // One byte more than the message, as wsmachine leaves room to see that
    // a message is too large.
    let mut inflated = vec![0u8; MESSAGE_LEN + 1];
    group.bench_function("flate2_inflate", |b| {
        b.iter(|| {
            let len = flate2_inflate(&mut inflater, black_box(&compressed), &mut inflated);
            assert_eq!(len, MESSAGE_LEN);
            black_box(&inflated);
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
