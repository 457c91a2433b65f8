//! wsmachine against tungstenite, fastwebsockets and baselines: a plain
//! memory copy, the least work text needs (`floor`), and flate2 alone.
//!
//! Every group does one job on bytes that are already in memory, so the
//! figures are the cost of the protocol work alone; the `_stream` groups
//! take their input from memory rather than cache. The groups live in
//! `benches/groups/`, whose files say what each measures:
//! - `receive_*` and `receive_*_stream` (`groups/receive.rs`),
//! - `send_*` (`groups/send.rs`),
//! - `handshake_client`, `handshake_server` (`groups/handshake.rs`),
//! - `chunked_decode_1MiB` (`groups/chunked.rs`),
//! - `deflate_64KiB`, with `--features deflate` (`groups/deflate.rs`).
//!
//! Run with `cargo bench --bench compare -- --warm-up-time 1 --measurement-time 5`;
//! `benches/interleaved.py` takes the functions in turn and prints the ratios.

use criterion::{Criterion, criterion_group, criterion_main};

mod groups;

/// The deflate group when the feature is on, nothing otherwise.
fn deflate_groups(c: &mut Criterion) {
    #[cfg(feature = "deflate")]
    groups::deflate::deflate_64kib(c);
    let _ = c;
}

criterion_group!(
    benches,
    groups::receive::receiving,
    groups::send::sending,
    groups::handshake::handshakes,
    groups::chunked::chunked,
    deflate_groups
);
criterion_main!(benches);
