//! Masking throughput: `apply_mask` and `extend_masked` against a
//! byte-at-a-time loop and against a plain `copy_from_slice` (memcpy) of the
//! same size, and `extend_masked` against the safe copy-then-mask it
//! replaced.
//!
//! Run: `cargo bench --bench mask -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::mask::{apply_mask, extend_masked};

/// Where a payload starts after a frame header with a 64-bit length and a
/// masking key, from a buffer that starts at an allocation's alignment.
const PAYLOAD_OFFSET: usize = 14;

const SIZES: [(usize, &str); 5] = [
    (16, "16B"),
    (125, "125B"),
    (1024, "1KiB"),
    (16 * 1024, "16KiB"),
    (1024 * 1024, "1MiB"),
];

/// The definition of RFC 6455 §5.3, one byte at a time. `inline(never)` and
/// the `black_box`ed arguments keep it a separate function that the
/// optimiser cannot specialise for a known key or phase.
#[inline(never)]
fn byte_loop_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(phase + i) % 4];
    }
    (phase + buf.len()) % 4
}

/// The safe way to append masked bytes: copy 4 KiB, then mask it in place
/// while it is in L1 cache. `extend_masked` writes the masked bytes straight
/// into the spare capacity instead (the crate's one `unsafe` block); this
/// baseline shows what that saves.
#[inline(never)]
fn copy_then_mask(dst: &mut BytesMut, src: &[u8], key: [u8; 4], phase: usize) -> usize {
    dst.reserve(src.len());
    let mut phase = phase;
    for piece in src.chunks(4096) {
        let start = dst.len();
        dst.extend_from_slice(piece);
        phase = apply_mask(&mut dst[start..], key, phase);
    }
    phase
}

fn masking(c: &mut Criterion) {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut group = c.benchmark_group("mask");
    for (size, label) in SIZES {
        let src: Vec<u8> = (0..size).map(|i| (i * 31 + 7) as u8).collect();
        let mut buf = src.clone();
        group.throughput(Throughput::Bytes(size as u64));

        group.bench_function(BenchmarkId::new("apply_mask", label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(key), black_box(1)))
        });
        // A payload as it sits in a receive buffer: after a header, so
        // not at a vector boundary (14 bytes: a 64-bit length and a key).
        let mut offset_buf = vec![0u8; size + PAYLOAD_OFFSET];
        group.bench_function(BenchmarkId::new("apply_mask_unaligned", label), |b| {
            b.iter(|| {
                let payload = &mut black_box(&mut offset_buf)[PAYLOAD_OFFSET..];
                apply_mask(payload, black_box(key), black_box(1))
            })
        });
        group.bench_function(BenchmarkId::new("byte_loop", label), |b| {
            b.iter(|| byte_loop_mask(black_box(&mut buf), black_box(key), black_box(1)))
        });
        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
        });
        let mut out = BytesMut::with_capacity(size);
        let mut offset_out = BytesMut::with_capacity(size + PAYLOAD_OFFSET);
        group.bench_function(BenchmarkId::new("extend_masked_unaligned", label), |b| {
            b.iter(|| {
                offset_out.clear();
                offset_out.extend_from_slice(&[0; PAYLOAD_OFFSET]);
                extend_masked(
                    black_box(&mut offset_out),
                    black_box(&src),
                    black_box(key),
                    black_box(1),
                )
            })
        });
        group.bench_function(BenchmarkId::new("extend_masked", label), |b| {
            b.iter(|| {
                out.clear();
                extend_masked(
                    black_box(&mut out),
                    black_box(&src),
                    black_box(key),
                    black_box(1),
                )
            })
        });
        group.bench_function(BenchmarkId::new("copy_then_mask", label), |b| {
            b.iter(|| {
                out.clear();
                copy_then_mask(
                    black_box(&mut out),
                    black_box(&src),
                    black_box(key),
                    black_box(1),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, masking);
criterion_main!(benches);
