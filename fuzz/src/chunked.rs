//! Fuzz check for `wsmachine::http::chunked::ChunkedDecoder`.
//!
//! Input layout: byte 0 picks the limits, byte 1 seeds the split points, the
//! rest is the chunked body. The body is decoded whole and in pieces; both
//! must agree on the result, the data and the trailers, stay within
//! `max_body`, and never claim more input than given. A body that decodes
//! completely must decode again, to the same data and trailers, after being
//! re-encoded as a single chunk.

use wsmachine::http::chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits};
use wsmachine::http::Headers;

/// Everything observable after feeding a decoder.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<usize, ChunkedError>,
    body: Vec<u8>,
    trailers: Headers,
    done: bool,
}

fn feed(pieces: &[&[u8]], limits: ChunkedLimits, max_body: u64) -> Outcome {
    let mut decoder = ChunkedDecoder::new(limits, max_body);
    // The buffer type is inferred from `decode`, so this file needs only
    // `wsmachine` and std.
    let mut out = Default::default();
    let mut consumed = 0usize;
    let mut result = Ok(0);
    for piece in pieces {
        match decoder.decode(piece, &mut out) {
            Ok(n) => {
                assert!(
                    n <= piece.len(),
                    "consumed {n} of a {}-byte piece",
                    piece.len()
                );
                assert!(
                    n == piece.len() || decoder.is_done(),
                    "stopped early before the end"
                );
                consumed += n;
            }
            Err(error) => {
                let again = decoder.decode(b"0\r\n\r\n", &mut out);
                assert_eq!(again, Err(error.clone()), "error did not stick");
                result = Err(error);
                break;
            }
        }
    }
    if result.is_ok() {
        result = Ok(consumed);
    }
    if decoder.is_done() {
        assert_eq!(decoder.decode(b"1\r\nx\r\n", &mut out), Ok(0));
    }
    let body: &[u8] = &out;
    assert!(
        body.len() as u64 <= max_body,
        "{} bytes over max_body {max_body}",
        body.len()
    );
    assert_eq!(decoder.decoded_len(), body.len() as u64);
    Outcome {
        result,
        body: body.to_vec(),
        trailers: decoder.trailers().clone(),
        done: decoder.is_done(),
    }
}

/// Cuts `input` into pieces whose lengths come from a small generator seeded
/// by `seed` (zero-length pieces included).
fn split(input: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | (input.len() as u32) << 8;
    let mut pieces = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = match (state >> 16) % 4 {
            0 => 0,
            1 => 1,
            2 => 2 + (state >> 20) as usize % 7,
            _ => (state >> 20) as usize % 64,
        };
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Checks one fuzz input.
pub fn run(data: &[u8]) {
    let [config, seed, input @ ..] = data else {
        return;
    };
    let max_body = [0, 16, 1000, 1 << 20][usize::from(config & 3)];
    let limits = if config & 4 == 0 {
        ChunkedLimits::default()
    } else {
        ChunkedLimits {
            max_size_line: 8,
            max_extension_bytes: 32,
            max_trailer_bytes: 64,
            max_trailers: 3,
        }
    };

    let whole = feed(&[input], limits, max_body);
    if let Ok(consumed) = whole.result {
        assert!(consumed <= input.len());
        assert!(consumed == input.len() || whole.done);
    }
    let pieces = split(input, *seed);
    let split_outcome = feed(&pieces, limits, max_body);
    assert_eq!(
        split_outcome,
        whole,
        "split at {:?}",
        pieces.iter().map(|p| p.len()).collect::<Vec<_>>()
    );

    if whole.done {
        // Re-encode as one chunk and decode again.
        let mut wire = Vec::new();
        if !whole.body.is_empty() {
            wire.extend_from_slice(format!("{:x}\r\n", whole.body.len()).as_bytes());
            wire.extend_from_slice(&whole.body);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n");
        for (name, value) in &whole.trailers {
            wire.extend_from_slice(name.as_bytes());
            wire.push(b':');
            wire.extend_from_slice(value);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        let again = feed(&[&wire], limits, max_body);
        assert_eq!(again.result, Ok(wire.len()));
        assert_eq!(again.body, whole.body);
        assert_eq!(again.trailers, whole.trailers);
    }
}
