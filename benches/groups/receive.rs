//! The `receive_*` groups: a server reads masked client frames in 64 KiB
//! reads, validates text as UTF-8 and hands each payload to the app, which
//! looks at its first byte and its length.
//!
//! Each case comes twice. `receive_text_16B` and the like cycle over the
//! frames of one iteration, which stay in cache; `receive_text_16B_stream`
//! and the like walk once through [`STREAM_BYTES`] of distinct frames (each
//! with its own key) before starting over, one iteration's worth at a time,
//! so every read comes from memory. An iteration takes the same frames in
//! both, so their times compare directly.
//!
//! The functions:
//! - `wsmachine`: each read's bytes handed over with `receive` (borrowed).
//! - `wsmachine_into`: `read_from` on the transport, which reads straight
//!   into the connection's receive buffer (`receive_room` and
//!   its `commit`): the transport's copy is the only one.
//! - `wsmachine_into_uninit`: the same reads into uninitialised room
//!   (`receive_room_uninit` and its `unsafe` `commit`), as the tokio
//!   driver reads: no zeroing before the transport's copy.
//! - `wsmachine_ref`: reads handed over with `receive`, as `wsmachine`, and
//!   events taken with `poll_event_ref`, which lends each whole frame from
//!   the receive buffer instead of handing over a reference-counted
//!   payload.
//! - `tungstenite`, `fastwebsockets`: the same transport, 64 KiB per read.
//! - `memcpy`: the same bytes copied in the same 64 KiB pieces into a
//!   buffer of one iteration's size: the cost of reading them at all.
//! - `floor` (text only): the per-byte work no receiver of text escapes, and
//!   nothing else. The same text (one iteration's payloads end to end,
//!   masked; in a `_stream` group, [`STREAM_BYTES`] of it) is
//!   unmasked with the crate's masking copy (`mask::copy_masked`, into a
//!   64 KiB buffer) and validated with the crate's `utf8::Utf8Validator`,
//!   in the same 64 KiB pieces, with no frames around it: what is left over
//!   the floor is the cost of framing, per-message work and copies.
//!
//! Inputs are built on the first function of a group that runs (a filtered
//! run builds only what it measures) and freed when the group ends.

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use wsmachine::frame::Frame;
use wsmachine::mask::{apply_mask, copy_masked};
use wsmachine::utf8::Utf8Validator;
use wsmachine::{Event, EventRef, Opcode, Server};

use super::common::{
    LIMIT, READ, Wire, binary, memcpy_in_reads, runtime, text, tungstenite_config, wsmachine_config,
};

/// The least input of a `_stream` group. The VM reports a 300 MiB L3
/// (shared with its neighbours), so 64 MiB could stay in it; 512 MiB cannot.
const STREAM_BYTES: usize = 512 << 20;

/// One receive case: `per_iteration` frames carrying `payload`.
struct Case {
    name: &'static str,
    opcode: Opcode,
    payload: Vec<u8>,
    per_iteration: usize,
}

/// Masked client frames of one payload, each with its own key, end to end.
/// All have the same length, so frame `i` starts at `i * frame_len`.
struct Frames {
    wire: Bytes,
    frame_len: usize,
    count: usize,
}

impl Frames {
    /// At least `min_bytes` of frames, in a whole number of iterations.
    fn build(case: &Case, min_bytes: usize) -> Frames {
        let frame = Frame::new(case.opcode, Bytes::copy_from_slice(&case.payload));
        let mut first = BytesMut::new();
        frame.encode(Some([0; 4]), &mut first);
        let frame_len = first.len();
        let iteration_len = frame_len * case.per_iteration;
        let count = min_bytes.div_ceil(iteration_len).max(1) * case.per_iteration;
        let mut wire = BytesMut::with_capacity(frame_len * count);
        let mut seed = 0x9E37_79B9u32;
        for _ in 0..count {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            frame.encode(Some(seed.to_be_bytes()), &mut wire);
        }
        assert_eq!(wire.len(), frame_len * count);
        Frames {
            wire: wire.freeze(),
            frame_len,
            count,
        }
    }
}

/// The frames of a group, built when first asked for.
fn frames<'a>(cell: &'a OnceCell<Frames>, case: &Case, stream: bool) -> &'a Frames {
    cell.get_or_init(|| Frames::build(case, if stream { STREAM_BYTES } else { 0 }))
}

fn receive_group(c: &mut Criterion, case: &Case, stream: bool) {
    let name = if stream {
        format!("{}_stream", case.name)
    } else {
        case.name.to_owned()
    };
    let cell = OnceCell::new();
    let input = || frames(&cell, case, stream);
    let mut group = c.benchmark_group(name);
    if case.per_iteration > 1 {
        group.throughput(Throughput::Elements(case.per_iteration as u64));
    } else {
        group.throughput(Throughput::Bytes(case.payload.len() as u64));
    }
    wsmachine_functions(&mut group, case, &input);
    peer_functions(&mut group, case, &input);
    baseline_functions(&mut group, case, stream, &input);
    group.finish();
}

/// What the app does with a payload: looks at its first byte and length.
fn look(payload: &[u8]) {
    black_box(payload.first());
    black_box(payload.len());
}

/// Takes events until `count` frames have come, reading with `read` when
/// the connection has no whole frame left.
fn receive_frames(server: &mut Server, count: usize, mut read: impl FnMut(&mut Server)) {
    let mut received = 0;
    while received < count {
        match server.poll_event() {
            Some(Event::Frame(frame)) => {
                look(&frame.payload);
                received += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => read(server),
        }
    }
}

/// As `receive_frames`, with whole frames borrowed (`poll_event_ref`); a
/// frame split between reads comes owned.
fn receive_frames_ref(server: &mut Server, count: usize, mut read: impl FnMut(&mut Server)) {
    let mut received = 0;
    while received < count {
        match server.poll_event_ref() {
            Some(EventRef::Frame(frame)) => {
                look(frame.payload);
                received += 1;
            }
            Some(EventRef::Event(Event::Frame(frame))) => {
                look(&frame.payload);
                received += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => read(server),
        }
    }
}

/// Hands the transport's next read to `server` with `receive`.
fn receive_read(server: &mut Server, wire: &mut Wire<'_>) {
    server
        .receive(Duration::ZERO, wire.next_read(READ))
        .expect("an open connection");
}

fn wsmachine_functions<'a>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case,
    input: &impl Fn() -> &'a Frames,
) {
    let count = case.per_iteration;
    let new_state = || {
        (
            Server::new_open(wsmachine_config(), Duration::ZERO),
            Wire::cyclic(&input().wire),
        )
    };
    // The connection and the transport's position last from one sample to
    // the next, so a stream keeps moving through memory.
    let mut borrowed = None;
    group.bench_function("wsmachine", |b| {
        let (server, wire) = borrowed.get_or_insert_with(new_state);
        b.iter(|| receive_frames(server, count, |server| receive_read(server, wire)))
    });
    let mut into = None;
    group.bench_function("wsmachine_into", |b| {
        let (server, wire) = into.get_or_insert_with(new_state);
        b.iter(|| {
            receive_frames(server, count, |server| {
                let read = server
                    .read_from(Duration::ZERO, wire)
                    .expect("an open connection");
                assert_ne!(read, 0, "the wire never ends");
            })
        })
    });
    let mut lent = None;
    group.bench_function("wsmachine_ref", |b| {
        let (server, wire) = lent.get_or_insert_with(new_state);
        b.iter(|| receive_frames_ref(server, count, |server| receive_read(server, wire)))
    });
    let mut uninit = None;
    group.bench_function("wsmachine_into_uninit", |b| {
        let (server, wire) = uninit.get_or_insert_with(new_state);
        b.iter(|| {
            receive_frames(server, count, |server| {
                // What a transport's read does: one copy into the room.
                let data = wire.next_read(READ);
                let mut room = server.receive_room_uninit(data.len());
                // SAFETY: `room` holds `data.len()` elements and does not
                // overlap `data`; `MaybeUninit<u8>` has `u8`'s layout.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        data.as_ptr(),
                        room.as_uninit_mut().as_mut_ptr().cast::<u8>(),
                        data.len(),
                    );
                }
                // SAFETY: the copy above initialised those bytes.
                unsafe { room.commit(Duration::ZERO, data.len()) }.expect("an open connection");
            })
        })
    });
}

fn peer_functions<'a>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case,
    input: &impl Fn() -> &'a Frames,
) {
    let count = case.per_iteration;
    let mut tungstenite = None;
    group.bench_function("tungstenite", |b| {
        let socket = tungstenite.get_or_insert_with(|| {
            tungstenite::WebSocket::from_raw_socket(
                Wire::cyclic(&input().wire),
                tungstenite::protocol::Role::Server,
                Some(tungstenite_config()),
            )
        });
        b.iter(|| {
            for _ in 0..count {
                match socket.read().expect("valid frames") {
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
    let mut fast = None;
    group.bench_function("fastwebsockets", |b| {
        let socket = fast.get_or_insert_with(|| {
            let mut socket = fastwebsockets::WebSocket::after_handshake(
                Wire::cyclic(&input().wire),
                fastwebsockets::Role::Server,
            );
            socket.set_max_message_size(LIMIT);
            // Closes and pings are handled as a real server would.
            socket.set_auto_close(true);
            socket.set_auto_pong(true);
            socket
        });
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..count {
                    // Text frames are UTF-8 checked by read_frame itself.
                    let frame = socket.read_frame().await.expect("valid frames");
                    black_box(frame.payload.first());
                    black_box(frame.payload.len());
                }
            })
        })
    });
}

fn baseline_functions<'a>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    case: &Case,
    stream: bool,
    input: &impl Fn() -> &'a Frames,
) {
    let count = case.per_iteration;
    // Iteration `next` of the input, starting over at the end.
    let mut next = 0;
    let mut copy = Vec::new();
    group.bench_function("memcpy", |b| {
        let frames = input();
        let len = frames.frame_len * count;
        copy.resize(len, 0);
        b.iter(|| {
            let start = next * len;
            memcpy_in_reads(&frames.wire[start..start + len], &mut copy);
            next = (next + 1) % (frames.count / count);
        })
    });

    if case.opcode != Opcode::Text {
        return;
    }
    let cell = OnceCell::new();
    let mut next = 0;
    let mut scratch = vec![0u8; READ];
    let mut validator = Utf8Validator::new();
    group.bench_function("floor", |b| {
        let text =
            cell.get_or_init(|| MaskedText::build(case, if stream { STREAM_BYTES } else { 0 }));
        let len = case.payload.len() * count;
        b.iter(|| {
            let start = next * len;
            // The key's phase at `start`, as one mask runs over all the text.
            let mut phase = start % 4;
            for piece in text.bytes[start..start + len].chunks(READ) {
                let plain = &mut scratch[..piece.len()];
                phase = copy_masked(piece, plain, text.key, phase);
                validator.feed(plain).expect("valid text");
            }
            validator.finish().expect("valid text");
            next = (next + 1) % (text.bytes.len() / len);
        })
    });
}

/// The payloads of frames end to end, masked with one key: the floor's
/// input, at least `min_bytes` of it, in a whole number of iterations.
struct MaskedText {
    bytes: Vec<u8>,
    key: [u8; 4],
}

impl MaskedText {
    fn build(case: &Case, min_bytes: usize) -> MaskedText {
        let iteration_len = case.payload.len() * case.per_iteration;
        let count = min_bytes.div_ceil(iteration_len).max(1) * case.per_iteration;
        let mut bytes = Vec::with_capacity(case.payload.len() * count);
        for _ in 0..count {
            bytes.extend_from_slice(&case.payload);
        }
        let key = [0x37, 0xfa, 0x21, 0x3d];
        apply_mask(&mut bytes, key, 0);
        MaskedText { bytes, key }
    }
}

/// Every receive group, each cached one followed by its stream.
pub fn receiving(c: &mut Criterion) {
    let cases = [
        Case {
            name: "receive_text_16B",
            opcode: Opcode::Text,
            payload: text(16).into_bytes(),
            per_iteration: 8192,
        },
        Case {
            name: "receive_text_1KiB",
            opcode: Opcode::Text,
            payload: text(1 << 10).into_bytes(),
            per_iteration: 256,
        },
        Case {
            name: "receive_text_1MiB",
            opcode: Opcode::Text,
            payload: text(1 << 20).into_bytes(),
            per_iteration: 1,
        },
        Case {
            name: "receive_binary_1MiB",
            opcode: Opcode::Binary,
            payload: binary(1 << 20),
            per_iteration: 1,
        },
    ];
    for case in &cases {
        receive_group(c, case, false);
        receive_group(c, case, true);
    }
}
