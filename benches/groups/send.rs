//! The `send_*` groups: a client encodes and masks messages for the
//! transport. The transport is a writer that discards what it is given (a
//! socket write is the same for everyone), and wsmachine's `poll_transmit`
//! buffers are dropped the same way. `memcpy` copies the payloads once.
//! Small messages are borrowed; the 1 MiB message is handed over as an
//! owned buffer (made outside the timing), which each library takes its own
//! way: wsmachine and fastwebsockets mask it in place, tungstenite copies it.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use wsmachine::entropy::OsEntropy;
use wsmachine::{Client, Opcode};

use super::common::{Wire, binary, runtime, text, tungstenite_config, wsmachine_config};

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

pub fn sending(c: &mut Criterion) {
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
