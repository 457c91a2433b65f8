//! UTF-8 validation throughput: `Utf8Validator` against `core::str::from_utf8`
//! and simdutf8 (the `compat` flavour reports error positions like core and
//! is what the validator would need; `basic` only says yes or no).
//!
//! Run: `cargo bench --bench utf8 -- --warm-up-time 1 --measurement-time 3`
//! (the validator uses simdutf8, the default), and for the validator on
//! `core::str::from_utf8`:
//! `cargo bench --bench utf8 --no-default-features --features std -- --warm-up-time 1 --measurement-time 3 validator`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wsmachine::utf8::Utf8Validator;

/// Text of `len` bytes (rounded down to a whole code point) built from a mix
/// of Cyrillic, CJK, emoji and some ASCII, like chat messages.
fn mixed_text(len: usize) -> Vec<u8> {
    const SAMPLE: &str = "Привет, мир! 你好，世界。こんにちは 🌍🚀 Ünïcödé ça va? Съешь же ещё этих мягких французских булок. 数据验证 😀👍 ";
    let mut text = String::with_capacity(len + SAMPLE.len());
    while text.len() < len {
        text.push_str(SAMPLE);
    }
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.into_bytes()
}

/// Printable ASCII of `len` bytes.
fn ascii_text(len: usize) -> Vec<u8> {
    (0..len).map(|i| b' ' + (i * 7 % 95) as u8).collect()
}

fn validate_with_validator(input: &[u8]) -> bool {
    let mut validator = Utf8Validator::new();
    validator.feed(input).is_ok() && validator.finish().is_ok()
}

fn validation(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let inputs = [
        ("mixed_128B", mixed_text(128)),
        ("mixed_1KiB", mixed_text(1024)),
        ("mixed_64KiB", mixed_text(64 * 1024)),
        ("ascii_1KiB", ascii_text(1024)),
        ("ascii_64KiB", ascii_text(64 * 1024)),
    ];
    for (label, input) in &inputs {
        assert!(core::str::from_utf8(input).is_ok());
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("validator", label), input, |b, input| {
            b.iter(|| validate_with_validator(black_box(input)))
        });
        group.bench_with_input(BenchmarkId::new("core", label), input, |b, input| {
            b.iter(|| core::str::from_utf8(black_box(input)).is_ok())
        });
        group.bench_with_input(
            BenchmarkId::new("simdutf8_compat", label),
            input,
            |b, input| b.iter(|| simdutf8::compat::from_utf8(black_box(input)).is_ok()),
        );
        group.bench_with_input(
            BenchmarkId::new("simdutf8_basic", label),
            input,
            |b, input| b.iter(|| simdutf8::basic::from_utf8(black_box(input)).is_ok()),
        );
    }
    group.finish();
}

/// `Utf8Bytes::as_str` against the check it used to repeat on every call
/// (`core::str::from_utf8`): the reason for its one `unsafe` line.
fn text_access(c: &mut Criterion) {
    let mut group = c.benchmark_group("as_str");
    let text = wsmachine::Utf8Bytes::try_from(bytes::Bytes::from(mixed_text(16 * 1024)))
        .expect("mixed_text is UTF-8");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("checked_16KiB", |b| {
        b.iter(|| core::str::from_utf8(std::hint::black_box(text.as_bytes())).map(str::len))
    });
    group.bench_function("as_str_16KiB", |b| {
        b.iter(|| std::hint::black_box(&text).as_str().len())
    });
    group.finish();
}

criterion_group!(benches, validation, text_access);
criterion_main!(benches);
