//! Chunked decoding throughput against a plain memory copy.
//!
//! A 1 MiB body encoded in 4 KiB chunks is fed to the decoder in 16 KiB
//! pieces; the baseline copies the same number of encoded bytes in the same
//! 16 KiB pieces into a preallocated buffer.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::chunked::{ChunkedDecoder, ChunkedLimits};

const BODY: usize = 1 << 20;
const CHUNK: usize = 4 << 10;
const PIECE: usize = 16 << 10;

fn encoded_body() -> Vec<u8> {
    let body: Vec<u8> = (0..BODY).map(|i| (i * 31 % 251) as u8).collect();
    let mut wire = Vec::with_capacity(BODY + BODY / CHUNK * 16);
    for chunk in body.chunks(CHUNK) {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

fn bench(c: &mut Criterion) {
    let wire = encoded_body();
    let mut group = c.benchmark_group("chunked_1MiB_4KiB_chunks_16KiB_pieces");
    group.throughput(Throughput::Bytes(wire.len() as u64));

    let mut out = BytesMut::with_capacity(BODY);
    group.bench_function("decode", |b| {
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

criterion_group!(benches, bench);
criterion_main!(benches);
