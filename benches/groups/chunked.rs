//! `chunked_decode_1MiB`: a 1 MiB rejection body in 4 KiB chunks, fed in
//! 16 KiB pieces, against a copy of the same pieces and against appending
//! them to a `BytesMut`.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput};
use wsmachine::http::chunked::{ChunkedDecoder, ChunkedLimits};

use super::common::binary;

pub fn chunked(c: &mut Criterion) {
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
