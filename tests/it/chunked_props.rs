//! Property tests for the chunked decoder: round trips through a test
//! encoder, split invariance, exact consumption, the body limit, and no
//! panics on arbitrary input.

use crate::support::pieces;
use bytes::BytesMut;
use proptest::prelude::*;
use wsmachine::http::Headers;
use wsmachine::http::chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits};

/// One chunk of a test encoding: how many body bytes it carries and how its
/// size line is spelled.
#[derive(Clone, Debug)]
struct ChunkSpec {
    len: usize,
    leading_zeros: usize,
    uppercase: bool,
    whitespace: Vec<u8>,
    extension: Option<Vec<u8>>,
}

/// A whole chunked message for the test encoder.
#[derive(Clone, Debug)]
struct Message {
    body: Vec<u8>,
    chunks: Vec<ChunkSpec>,
    last: ChunkSpec,
    trailers: Vec<(String, String, Vec<u8>, Vec<u8>)>,
}

/// Writes a size line, returning its extension bytes.
fn size_line(spec: &ChunkSpec, size: usize, wire: &mut Vec<u8>) -> usize {
    wire.extend(std::iter::repeat_n(b'0', spec.leading_zeros));
    let hex = if spec.uppercase {
        format!("{size:X}")
    } else {
        format!("{size:x}")
    };
    wire.extend_from_slice(hex.as_bytes());
    wire.extend_from_slice(&spec.whitespace);
    let mut extension_bytes = 0;
    if let Some(extension) = &spec.extension {
        wire.push(b';');
        wire.extend_from_slice(extension);
        extension_bytes = 1 + extension.len();
    }
    wire.extend_from_slice(b"\r\n");
    extension_bytes
}

/// A test encoding and the framing overhead it carries.
struct Encoded {
    wire: Vec<u8>,
    extension_bytes: usize,
    trailer_bytes: usize,
}

impl Message {
    /// The wire encoding; chunk lengths are cut from the body in turn, the
    /// last chunk taking whatever is left.
    fn encode(&self) -> Encoded {
        let mut wire = Vec::new();
        let mut extension_bytes = 0;
        let mut rest = &self.body[..];
        let mut specs = self.chunks.iter().cycle();
        while !rest.is_empty() {
            let spec = specs.next().unwrap_or(&self.last);
            let len = if self.chunks.is_empty() {
                rest.len()
            } else {
                spec.len.min(rest.len())
            };
            let (data, tail) = rest.split_at(len);
            extension_bytes += size_line(spec, len, &mut wire);
            wire.extend_from_slice(data);
            wire.extend_from_slice(b"\r\n");
            rest = tail;
        }
        extension_bytes += size_line(&self.last, 0, &mut wire);
        let trailers_start = wire.len();
        for (name, value, before, after) in &self.trailers {
            wire.extend_from_slice(name.as_bytes());
            wire.push(b':');
            wire.extend_from_slice(before);
            wire.extend_from_slice(value.as_bytes());
            wire.extend_from_slice(after);
            wire.extend_from_slice(b"\r\n");
        }
        let trailer_bytes = wire.len() - trailers_start;
        wire.extend_from_slice(b"\r\n");
        Encoded {
            wire,
            extension_bytes,
            trailer_bytes,
        }
    }

    fn expected_trailers(&self) -> Headers {
        let mut headers = Headers::new();
        for (name, value, ..) in &self.trailers {
            headers.push(name.clone(), value.clone());
        }
        headers
    }
}

/// Limits that no generated message reaches.
fn roomy() -> ChunkedLimits {
    ChunkedLimits {
        max_size_line: 64,
        max_extension_bytes: usize::MAX,
        max_trailer_bytes: usize::MAX,
        max_trailers: usize::MAX,
    }
}

fn ows() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(b' '), Just(b'\t')], 0..3)
}

fn chunk_spec() -> impl Strategy<Value = ChunkSpec> {
    (
        1usize..300,
        0usize..4,
        any::<bool>(),
        ows(),
        // Extensions are skipped byte by byte: anything but CR and LF.
        prop::option::of(prop::collection::vec(
            any::<u8>().prop_filter("no CR or LF", |b| *b != b'\r' && *b != b'\n'),
            0..24,
        )),
    )
        .prop_map(
            |(len, leading_zeros, uppercase, whitespace, extension)| ChunkSpec {
                len,
                leading_zeros,
                uppercase,
                whitespace,
                extension,
            },
        )
}

fn trailer() -> impl Strategy<Value = (String, String, Vec<u8>, Vec<u8>)> {
    (
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
        // A value with no OWS at either end, so trimming leaves it whole.
        "([!-~]([ -~]{0,20}[!-~])?)?",
        ows(),
        ows(),
    )
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::collection::vec(any::<u8>(), 0..3000),
        prop::collection::vec(chunk_spec(), 0..8),
        chunk_spec(),
        prop::collection::vec(trailer(), 0..6),
    )
        .prop_map(|(body, chunks, last, mut trailers)| {
            // Names are unique so the expected value of each is unambiguous.
            let mut seen = std::collections::HashSet::new();
            trailers.retain(|(name, ..)| seen.insert(name.to_ascii_lowercase()));
            Message {
                body,
                chunks,
                last,
                trailers,
            }
        })
}

/// The outcome of feeding a decoder some pieces.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<usize, ChunkedError>,
    body: Vec<u8>,
    trailers: Headers,
    done: bool,
}

/// Feeds `pieces` in order, stopping at the first error. `check` sees the
/// output buffer after every call.
fn feed_with(
    pieces: &[&[u8]],
    limits: ChunkedLimits,
    max_body: u64,
    mut check: impl FnMut(&BytesMut),
) -> Outcome {
    let mut decoder = ChunkedDecoder::new(limits, max_body);
    let mut out = BytesMut::new();
    let mut consumed = 0;
    let mut result = Ok(0);
    for piece in pieces {
        let call = decoder.decode(piece, &mut out);
        check(&out);
        match call {
            Ok(n) => {
                assert!(n <= piece.len());
                // Only the piece where the body ends can be cut short.
                if n < piece.len() {
                    assert!(decoder.is_done());
                }
                consumed += n;
            }
            Err(error) => {
                // The error sticks.
                assert_eq!(decoder.decode(b"0\r\n\r\n", &mut out), Err(error.clone()));
                result = Err(error);
                break;
            }
        }
    }
    if result.is_ok() {
        result = Ok(consumed);
    }
    assert_eq!(decoder.decoded_len(), out.len() as u64);
    Outcome {
        result,
        body: out.to_vec(),
        trailers: decoder.trailers().clone(),
        done: decoder.is_done(),
    }
}

fn feed(pieces: &[&[u8]], limits: ChunkedLimits, max_body: u64) -> Outcome {
    feed_with(pieces, limits, max_body, |_| {})
}

fn bytewise(input: &[u8]) -> Vec<&[u8]> {
    input.chunks(1).collect()
}

const MAX_BODY: u64 = 1 << 20;

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(256)))]

    #[test]
    fn round_trip_whole_bytewise_and_split(
        message in message(),
        garbage in prop::collection::vec(any::<u8>(), 0..16),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let encoded = message.encode();
        let mut wire = encoded.wire.clone();
        wire.extend_from_slice(&garbage);
        // Every framing limit set exactly to what the message uses.
        let limits = ChunkedLimits {
            max_size_line: 8,
            max_extension_bytes: encoded.extension_bytes,
            max_trailer_bytes: encoded.trailer_bytes,
            max_trailers: message.trailers.len(),
        };
        let expected = Outcome {
            result: Ok(encoded.wire.len()),
            body: message.body.clone(),
            trailers: message.expected_trailers(),
            done: true,
        };
        prop_assert_eq!(&feed(&[&wire], limits, MAX_BODY), &expected);
        prop_assert_eq!(&feed(&bytewise(&wire), limits, MAX_BODY), &expected);
        prop_assert_eq!(&feed(&pieces(&wire, &cuts), limits, MAX_BODY), &expected);
    }

    #[test]
    fn one_byte_under_a_framing_limit_fails(
        message in message(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let encoded = message.encode();
        let wire = &encoded.wire;
        if encoded.extension_bytes > 0 {
            let limits = ChunkedLimits { max_extension_bytes: encoded.extension_bytes - 1, ..roomy() };
            let outcome = feed(&pieces(wire, &cuts), limits, MAX_BODY);
            prop_assert_eq!(
                outcome.result,
                Err(ChunkedError::ExtensionsTooLong { limit: encoded.extension_bytes - 1 })
            );
        }
        if encoded.trailer_bytes > 0 {
            let limits = ChunkedLimits { max_trailer_bytes: encoded.trailer_bytes - 1, ..roomy() };
            let outcome = feed(&pieces(wire, &cuts), limits, MAX_BODY);
            prop_assert_eq!(
                outcome.result,
                Err(ChunkedError::TrailersTooLarge { limit: encoded.trailer_bytes - 1 })
            );
            prop_assert_eq!(outcome.body, message.body.clone());
        }
        if let Some(max_trailers) = message.trailers.len().checked_sub(1) {
            let limits = ChunkedLimits { max_trailers, ..roomy() };
            let outcome = feed(&pieces(wire, &cuts), limits, MAX_BODY);
            prop_assert_eq!(outcome.result, Err(ChunkedError::TooManyTrailers { limit: max_trailers }));
            prop_assert_eq!(outcome.trailers.len(), max_trailers);
        }
    }

    #[test]
    fn over_limit_body_fails_before_exceeding_max_body(
        message in message(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        fraction in 0.0f64..1.0,
    ) {
        prop_assume!(!message.body.is_empty());
        let max_body = (message.body.len() as f64 * fraction) as u64;
        prop_assert!(max_body < message.body.len() as u64);
        let wire = message.encode().wire;
        for split in [vec![&wire[..]], bytewise(&wire), pieces(&wire, &cuts)] {
            let outcome = feed_with(&split, roomy(), max_body, |out| {
                assert!(out.len() as u64 <= max_body, "{} > {max_body}", out.len());
            });
            prop_assert_eq!(outcome.result, Err(ChunkedError::BodyTooLarge { limit: max_body }));
            // Everything before the refused chunk was delivered.
            prop_assert!(message.body.starts_with(&outcome.body));
        }
    }

    #[test]
    fn at_limit_body_succeeds(message in message()) {
        let wire = message.encode().wire;
        let max_body = message.body.len() as u64;
        let outcome = feed(&[&wire], roomy(), max_body);
        prop_assert_eq!(outcome.result, Ok(wire.len()));
        prop_assert_eq!(outcome.body, message.body);
    }

    #[test]
    fn arbitrary_bytes_split_invariant(
        input in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max_body in 0u64..256,
    ) {
        let limits = ChunkedLimits {
            max_size_line: 8,
            max_extension_bytes: 32,
            max_trailer_bytes: 64,
            max_trailers: 3,
        };
        let whole = feed(&[&input], limits, max_body);
        prop_assert!(whole.body.len() as u64 <= max_body);
        if let Ok(consumed) = whole.result {
            prop_assert!(consumed <= input.len());
        }
        prop_assert_eq!(&feed(&bytewise(&input), limits, max_body), &whole);
        prop_assert_eq!(&feed(&pieces(&input, &cuts), limits, max_body), &whole);
    }

    #[test]
    fn mutated_encodings_split_invariant(
        message in message(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        // Near-valid input reaches deep states that random bytes rarely do.
        let mut wire = message.encode().wire;
        for (at, byte) in edits {
            let at = at % wire.len();
            wire[at] = byte;
        }
        let limits = roomy();
        let whole = feed(&[&wire], limits, MAX_BODY);
        prop_assert_eq!(&feed(&bytewise(&wire), limits, MAX_BODY), &whole);
        prop_assert_eq!(&feed(&pieces(&wire, &cuts), limits, MAX_BODY), &whole);
    }

    #[test]
    fn endless_zeros_are_bounded(count in 65usize..5000) {
        let wire = vec![b'0'; count];
        let outcome = feed(&bytewise(&wire), ChunkedLimits::default(), MAX_BODY);
        prop_assert_eq!(outcome.result, Err(ChunkedError::SizeLineTooLong { limit: 64 }));
    }

    #[test]
    fn extension_bytes_are_bounded_per_body(
        chunk_count in 1usize..200,
        extension_len in 1usize..400,
    ) {
        let limits = ChunkedLimits::default();
        let mut wire = Vec::new();
        for _ in 0..chunk_count {
            wire.extend_from_slice(b"1;");
            wire.extend(std::iter::repeat_n(b'e', extension_len));
            wire.extend_from_slice(b"\r\nx\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        let total_extension = chunk_count * (extension_len + 1);
        let outcome = feed(&[&wire], limits, MAX_BODY);
        if total_extension <= limits.max_extension_bytes {
            prop_assert_eq!(outcome.result, Ok(wire.len()));
        } else {
            prop_assert_eq!(
                outcome.result,
                Err(ChunkedError::ExtensionsTooLong { limit: limits.max_extension_bytes })
            );
        }
    }
}
