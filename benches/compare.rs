//! wsmachine against tungstenite, fastwebsockets and a plain memory copy.
//!
//! Every group does one job on bytes that are already in memory, so the
//! figures are the cost of the protocol work alone:
//! - `receive_*`: a server reads a buffer of masked client frames in 64 KiB
//!   reads, validates text as UTF-8 and hands each payload to the app, which
//!   looks at its length. `memcpy` copies the same bytes in the same 64 KiB
//!   pieces into a preallocated buffer: the cost of reading them at all.
//! - `send_*`: a client encodes and masks messages for the transport. The
//!   transport is a writer that discards what it is given (a socket write is
//!   the same for everyone), and wsmachine's `poll_transmit` buffers are
//!   dropped the same way. `memcpy` copies the payloads once. Small messages
//!   are borrowed; the 1 MiB message is handed over as an owned buffer
//!   (made outside the timing), which each library takes its own way:
//!   wsmachine and fastwebsockets mask it in place, tungstenite copies it.
//! - `handshake_*`: a client builds its request and checks a canned 101; a
//!   server parses a canned request and builds its 101.
//! - `chunked_decode_1MiB`: a 1 MiB rejection body in 4 KiB chunks, fed in
//!   16 KiB pieces, against a copy of the same pieces and against appending
//!   them to a `BytesMut`.
//!
//! Run with `cargo bench --bench compare -- --warm-up-time 1 --measurement-time 5`.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use wsmachine::chunked::{ChunkedDecoder, ChunkedLimits};
use wsmachine::config::Config;
use wsmachine::entropy::{FixedEntropy, OsEntropy};
use wsmachine::frame::Frame;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, Event, Opcode, Server};

// The deflate group runs with `--features deflate`.
#[rustfmt::skip]
mod groups {
    #[cfg(feature = "deflate")]
    #[path = "deflate.rs"]
    pub mod deflate;
}

/// The size of one read from the transport.
const READ: usize = 64 << 10;
/// Frame and message limits for every peer: 1 MiB of payload plus room.
const LIMIT: usize = 2 << 20;

fn wsmachine_config() -> Config {
    let mut config = Config::default();
    config.limits.max_frame_payload = LIMIT as u64;
    config.limits.max_message_size = LIMIT as u64;
    config
}

fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT))
}

/// An in-memory transport. Reads hand out `input` at most 64 KiB at a time,
/// starting over at the end when `cyclic`; writes are discarded.
struct Wire<'a> {
    input: &'a [u8],
    position: usize,
    cyclic: bool,
}

impl<'a> Wire<'a> {
    fn cyclic(input: &'a [u8]) -> Self {
        Wire {
            input,
            position: 0,
            cyclic: true,
        }
    }

    fn once(input: &'a [u8]) -> Self {
        Wire {
            input,
            position: 0,
            cyclic: false,
        }
    }

    fn next_read(&mut self, max: usize) -> &'a [u8] {
        if self.cyclic && self.position == self.input.len() {
            self.position = 0;
        }
        let rest = &self.input[self.position..];
        let len = rest.len().min(max).min(READ);
        self.position += len;
        &rest[..len]
    }
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.next_read(buf.len());
        buf[..piece.len()].copy_from_slice(piece);
        Ok(piece.len())
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        black_box(buf.first());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Wire<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let piece = self.next_read(buf.remaining());
        buf.put_slice(piece);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        black_box(buf.first());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// Text of exactly `len` bytes: mostly ASCII, with two- and three-byte
/// characters mixed in, as chat and JSON traffic has.
fn text(len: usize) -> String {
    const PATTERN: &str = "{\"user\":\"zoë\",\"msg\":\"naïve café – 日本語 ok\",\"n\":42} ";
    let mut text = String::with_capacity(len + PATTERN.len());
    while text.len() < len {
        text.push_str(PATTERN);
    }
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    while text.len() < len {
        text.push(' ');
    }
    text
}

fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// `count` masked client frames carrying `payload`, each with its own key.
fn client_frames(opcode: Opcode, payload: &[u8], count: usize) -> Vec<u8> {
    let payload = Bytes::copy_from_slice(payload);
    let mut wire = BytesMut::new();
    let mut seed = 0x9E37_79B9u32;
    for _ in 0..count {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        Frame::new(opcode, payload.clone()).encode(Some(seed.to_be_bytes()), &mut wire);
    }
    wire.to_vec()
}

fn memcpy_in_reads(input: &[u8], copy: &mut [u8]) {
    for (dst, piece) in copy.chunks_mut(READ).zip(input.chunks(READ)) {
        dst.copy_from_slice(black_box(piece));
    }
    black_box(&copy[..]);
}

fn receive_group(c: &mut Criterion, name: &str, opcode: Opcode, payload: &[u8], count: usize) {
    let input = client_frames(opcode, payload, count);
    let mut group = c.benchmark_group(name);
    if count > 1 {
        group.throughput(Throughput::Elements(count as u64));
    } else {
        group.throughput(Throughput::Bytes(payload.len() as u64));
    }

    let mut server = Server::new_open(wsmachine_config(), Duration::ZERO);
    group.bench_function("wsmachine", |b| {
        b.iter(|| {
            let mut received = 0;
            for piece in input.chunks(READ) {
                server.receive(Duration::ZERO, piece).expect("valid frames");
                while let Some(event) = server.poll_event() {
                    if let Event::Frame(frame) = event {
                        black_box(frame.payload.first());
                        black_box(frame.payload.len());
                        received += 1;
                    }
                }
            }
            assert_eq!(received, count);
        })
    });

    let mut tungstenite = tungstenite::WebSocket::from_raw_socket(
        Wire::cyclic(&input),
        tungstenite::protocol::Role::Server,
        Some(tungstenite_config()),
    );
    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            for _ in 0..count {
                match tungstenite.read().expect("valid frames") {
                    tungstenite::Message::Text(text) => {
                        black_box(text.as_str().as_bytes().first());
                        black_box(text.len());
                    }
                    tungstenite::Message::Binary(data) => {
                        black_box(data.first());
                        black_box(data.len());
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
    });

    let rt = runtime();
    let mut fast = fastwebsockets::WebSocket::after_handshake(
        Wire::cyclic(&input),
        fastwebsockets::Role::Server,
    );
    fast.set_max_message_size(LIMIT);
    // Closes and pings are handled as a real server would.
    fast.set_auto_close(true);
    fast.set_auto_pong(true);
    group.bench_function("fastwebsockets", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..count {
                    // Text frames are UTF-8 checked by read_frame itself.
                    let frame = fast.read_frame().await.expect("valid frames");
                    black_box(frame.payload.first());
                    black_box(frame.payload.len());
                }
            })
        })
    });

    let mut copy = vec![0u8; input.len()];
    group.bench_function("memcpy", |b| b.iter(|| memcpy_in_reads(&input, &mut copy)));
    group.finish();
}

fn receiving(c: &mut Criterion) {
    receive_group(
        c,
        "receive_text_16B",
        Opcode::Text,
        text(16).as_bytes(),
        8192,
    );
    receive_group(
        c,
        "receive_text_1KiB",
        Opcode::Text,
        text(1 << 10).as_bytes(),
        256,
    );
    receive_group(
        c,
        "receive_text_1MiB",
        Opcode::Text,
        text(1 << 20).as_bytes(),
        1,
    );
    receive_group(
        c,
        "receive_binary_1MiB",
        Opcode::Binary,
        &binary(1 << 20),
        1,
    );
}

fn send_group(c: &mut Criterion, name: &str, opcode: Opcode, payload: &'static [u8], count: usize) {
    let mut group = c.benchmark_group(name);
    if count > 1 {
        group.throughput(Throughput::Elements(count as u64));
    } else {
        group.throughput(Throughput::Bytes(payload.len() as u64));
    }
    let text = match opcode {
        Opcode::Text => std::str::from_utf8(payload).expect("text payload"),
        _ => "",
    };

    let mut client = Client::new_open(wsmachine_config(), OsEntropy::new(), Duration::ZERO);
    group.bench_function("wsmachine", |b| {
        b.iter(|| {
            for _ in 0..count {
                match opcode {
                    Opcode::Text => client.send_text(text),
                    _ => client.send_binary(payload),
                }
                .expect("open");
            }
            while let Some(transmit) = client.poll_transmit() {
                black_box(transmit.first());
                black_box(transmit.len());
            }
        })
    });

    // The payload is a static buffer for the peers too, so handing it over
    // costs them nothing.
    let message = match opcode {
        Opcode::Text => tungstenite::Message::Text(tungstenite::Utf8Bytes::from_static(text)),
        _ => tungstenite::Message::Binary(Bytes::from_static(payload)),
    };
    let mut tungstenite = tungstenite::WebSocket::from_raw_socket(
        Wire::once(&[]),
        tungstenite::protocol::Role::Client,
        Some(tungstenite_config()),
    );
    group.bench_function("tungstenite", |b| {
        b.iter(|| {
            for _ in 0..count {
                tungstenite.write(message.clone()).expect("open");
            }
            tungstenite.flush().expect("open");
        })
    });

    let rt = runtime();
    let mut fast =
        fastwebsockets::WebSocket::after_handshake(Wire::once(&[]), fastwebsockets::Role::Client);
    group.bench_function("fastwebsockets", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..count {
                    // A borrowed payload, like the others get: fastwebsockets
                    // copies it before masking it in place.
                    let payload = fastwebsockets::Payload::Borrowed(payload);
                    let frame = match opcode {
                        Opcode::Text => fastwebsockets::Frame::text(payload),
                        _ => fastwebsockets::Frame::binary(payload),
                    };
                    fast.write_frame(frame).await.expect("open");
                }
                fast.flush().await.expect("open");
            })
        })
    });

    let mut copy = vec![0u8; payload.len()];
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            for _ in 0..count {
                copy.copy_from_slice(black_box(payload));
                black_box(&copy);
            }
        })
    });
    group.finish();
}

fn sending(c: &mut Criterion) {
    let text: &'static str = text(16).leak();
    send_group(c, "send_text_16B", Opcode::Text, text.as_bytes(), 1024);
    let data: &'static [u8] = binary(1 << 20).leak();
    send_owned_group(c, "send_binary_1MiB", data);
}

/// One large binary message that the app hands over, as it would a buffer
/// it has just filled: each peer gets its own copy of the payload, made
/// before the timing starts, and takes it the way it takes owned data.
/// `wsmachine_borrowed` is `send_binary` on the borrowed payload, for
/// comparison.
fn send_owned_group(c: &mut Criterion, name: &str, payload: &'static [u8]) {
    use criterion::BatchSize;
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(payload.len() as u64));

    let mut client = Client::new_open(wsmachine_config(), OsEntropy::new(), Duration::ZERO);
    group.bench_function("wsmachine", |b| {
        b.iter_batched(
            || payload.to_vec(),
            |owned| {
                client.send_binary_owned(owned).expect("open");
                while let Some(transmit) = client.poll_transmit() {
                    black_box(transmit.first());
                    black_box(transmit.len());
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("wsmachine_borrowed", |b| {
        b.iter(|| {
            client.send_binary(payload).expect("open");
            while let Some(transmit) = client.poll_transmit() {
                black_box(transmit.first());
                black_box(transmit.len());
            }
        })
    });

    let mut tungstenite = tungstenite::WebSocket::from_raw_socket(
        Wire::once(&[]),
        tungstenite::protocol::Role::Client,
        Some(tungstenite_config()),
    );
    group.bench_function("tungstenite", |b| {
        b.iter_batched(
            || Bytes::from(payload.to_vec()),
            |owned| {
                tungstenite
                    .write(tungstenite::Message::Binary(owned))
                    .expect("open");
                tungstenite.flush().expect("open");
            },
            BatchSize::PerIteration,
        )
    });

    let rt = runtime();
    let mut fast =
        fastwebsockets::WebSocket::after_handshake(Wire::once(&[]), fastwebsockets::Role::Client);
    group.bench_function("fastwebsockets", |b| {
        b.iter_batched(
            || payload.to_vec(),
            |owned| {
                rt.block_on(async {
                    // An owned payload is masked in place.
                    let frame =
                        fastwebsockets::Frame::binary(fastwebsockets::Payload::Owned(owned));
                    fast.write_frame(frame).await.expect("open");
                    fast.flush().await.expect("open");
                })
            },
            BatchSize::PerIteration,
        )
    });

    let mut copy = vec![0u8; payload.len()];
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            copy.copy_from_slice(black_box(payload));
            black_box(&copy);
        })
    });
    group.finish();
}

/// RFC 6455 §1.3's sample nonce and the accept key that answers it.
const NONCE: &[u8; 16] = b"the sample nonce";
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\
    User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

fn handshakes(c: &mut Criterion) {
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

fn chunked(c: &mut Criterion) {
    const BODY: usize = 1 << 20;
    const CHUNK: usize = 4 << 10;
    const PIECE: usize = 16 << 10;
    let body = binary(BODY);
    let mut wire = Vec::with_capacity(BODY + BODY / CHUNK * 16);
    for chunk in body.chunks(CHUNK) {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");

    let mut group = c.benchmark_group("chunked_decode_1MiB");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    let mut out = BytesMut::with_capacity(BODY);
    group.bench_function("wsmachine", |b| {
        b.iter(|| {
            out.clear();
            let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), BODY as u64);
            for piece in wire.chunks(PIECE) {
                let consumed = decoder.decode(black_box(piece), &mut out);
                black_box(consumed.ok());
            }
            assert!(decoder.is_done());
            assert_eq!(out.len(), BODY);
        })
    });
    let mut copy = vec![0u8; wire.len()];
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            for (dst, piece) in copy.chunks_mut(PIECE).zip(wire.chunks(PIECE)) {
                dst.copy_from_slice(black_box(piece));
            }
            black_box(&copy);
        })
    });
    // Appending the pieces to a `BytesMut`, as the decoder appends data:
    // the copy with the buffer's bookkeeping.
    let mut extend = BytesMut::with_capacity(wire.len());
    group.bench_function("extend_from_slice", |b| {
        b.iter(|| {
            extend.clear();
            for piece in wire.chunks(PIECE) {
                extend.extend_from_slice(black_box(piece));
            }
            black_box(&extend);
        })
    });
    group.finish();
}

/// The deflate group when the feature is on, nothing otherwise.
fn deflate_groups(c: &mut Criterion) {
    #[allow(unexpected_cfgs)]
    {
        #[cfg(feature = "deflate")]
        groups::deflate::deflate_64kib(c);
    }
    let _ = c;
}

criterion_group!(
    benches,
    receiving,
    sending,
    handshakes,
    chunked,
    deflate_groups
);
criterion_main!(benches);
