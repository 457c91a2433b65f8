//! Property and table tests for body framing (RFC 9112 §6.3) and
//! `BodyDecoder`.

use crate::support::pieces;
use proptest::prelude::*;
use wsmachine::http::{BodyDecoder, BodyError, BodyFraming, BodyLimits, Headers};

fn headers(fields: &[(&str, &str)]) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in fields {
        headers.push(*name, *value);
    }
    headers
}

/// The outcome of feeding a decoder some pieces, then optionally EOF.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<usize, BodyError>,
    eof: Option<Result<(), BodyError>>,
    body: Vec<u8>,
    trailers: Headers,
    complete: bool,
}

fn feed(framing: BodyFraming, limits: BodyLimits, pieces: &[&[u8]], eof: bool) -> Outcome {
    let mut decoder = BodyDecoder::new(framing, limits);
    let mut consumed = 0;
    let mut result = Ok(0);
    for piece in pieces {
        match decoder.decode(piece) {
            Ok(n) => {
                assert!(n <= piece.len());
                if n < piece.len() {
                    assert!(decoder.is_complete());
                }
                consumed += n;
            }
            Err(error) => {
                assert_eq!(decoder.decode(b"x"), Err(error.clone()));
                result = Err(error);
                break;
            }
        }
    }
    if result.is_ok() {
        result = Ok(consumed);
    }
    assert!(decoder.body().len() <= limits.max_body);
    let eof = eof.then(|| decoder.finish_eof());
    let outcome = Outcome {
        result,
        eof,
        body: decoder.body().to_vec(),
        trailers: decoder.trailers().clone(),
        complete: decoder.is_complete(),
    };
    let (body, trailers) = decoder.into_parts();
    assert_eq!(&body[..], &outcome.body[..]);
    assert_eq!(trailers, outcome.trailers);
    outcome
}

/// The input one byte at a time; an empty input is still fed once, as the
/// whole feed does, so that both see a decode call.
fn bytewise(input: &[u8]) -> Vec<&[u8]> {
    if input.is_empty() {
        vec![input]
    } else {
        input.chunks(1).collect()
    }
}

#[test]
fn an_over_limit_content_length_fails_on_an_empty_first_read_fed_any_way() {
    let limits = BodyLimits {
        max_body: 0,
        ..BodyLimits::default()
    };
    let framing = BodyFraming::ContentLength(159);
    let whole = feed(framing, limits, &[&[][..]], false);
    assert!(matches!(
        whole.result,
        Err(BodyError::BodyTooLarge { limit: 0 })
    ));
    assert_eq!(feed(framing, limits, &bytewise(&[]), false), whole);
}

fn framing() -> impl Strategy<Value = BodyFraming> {
    prop_oneof![
        Just(BodyFraming::None),
        (0u64..600).prop_map(BodyFraming::ContentLength),
        Just(BodyFraming::Chunked),
        Just(BodyFraming::UntilEof),
    ]
}

/// Input for a framing: a valid chunked encoding (possibly damaged) for
/// chunked bodies, arbitrary bytes otherwise.
fn body_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..700),
        (
            prop::collection::vec(prop::collection::vec(any::<u8>(), 1..80), 0..6),
            prop::collection::vec(any::<u8>(), 0..10),
            prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        )
            .prop_map(|(chunks, tail, damage)| {
                let mut wire = Vec::new();
                for chunk in &chunks {
                    wire.extend_from_slice(format!("{:x};e=1\r\n", chunk.len()).as_bytes());
                    wire.extend_from_slice(chunk);
                    wire.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(b"0\r\nT: v\r\n\r\n");
                wire.extend_from_slice(&tail);
                if let Some((at, byte)) = damage {
                    let at = at.index(wire.len());
                    wire[at] = byte;
                }
                wire
            }),
    ]
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(512)))]

    #[test]
    fn split_invariance_over_all_framings(
        framing in framing(),
        input in body_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        max_body in prop_oneof![Just(1usize << 20), 0usize..400],
        eof in any::<bool>(),
    ) {
        let limits = BodyLimits { max_body, ..BodyLimits::default() };
        let whole = feed(framing, limits, &[&input], eof);
        prop_assert_eq!(&feed(framing, limits, &bytewise(&input), eof), &whole);
        prop_assert_eq!(&feed(framing, limits, &pieces(&input, &cuts), eof), &whole);
    }

    #[test]
    fn content_length_body_is_exact(
        body in prop::collection::vec(any::<u8>(), 0..500),
        tail in prop::collection::vec(any::<u8>(), 0..50),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut input = body.clone();
        input.extend_from_slice(&tail);
        let framing = BodyFraming::ContentLength(body.len() as u64);
        let outcome = feed(framing, BodyLimits::default(), &pieces(&input, &cuts), true);
        prop_assert_eq!(outcome.result, Ok(body.len()));
        prop_assert_eq!(outcome.eof, Some(Ok(())));
        prop_assert_eq!(outcome.body, body);
        prop_assert!(outcome.complete);
    }

    #[test]
    fn content_length_truncated_reports_progress(
        body in prop::collection::vec(any::<u8>(), 0..500),
        missing in 1u64..100,
    ) {
        let expected = body.len() as u64 + missing;
        let outcome = feed(BodyFraming::ContentLength(expected), BodyLimits::default(), &[&body], true);
        prop_assert_eq!(outcome.result, Ok(body.len()));
        prop_assert_eq!(
            outcome.eof,
            Some(Err(BodyError::Truncated { received: body.len() as u64, expected: Some(expected) }))
        );
        prop_assert_eq!(outcome.body, body);
    }

    #[test]
    fn until_eof_keeps_at_most_the_limit(
        input in prop::collection::vec(any::<u8>(), 0..700),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        max_body in 0usize..700,
    ) {
        let limits = BodyLimits { max_body, ..BodyLimits::default() };
        let outcome = feed(BodyFraming::UntilEof, limits, &pieces(&input, &cuts), true);
        let kept = input.len().min(max_body);
        prop_assert_eq!(&outcome.body[..], &input[..kept]);
        if input.len() > max_body {
            prop_assert_eq!(outcome.result, Err(BodyError::BodyTooLarge { limit: max_body }));
        } else {
            prop_assert_eq!(outcome.result, Ok(input.len()));
            prop_assert_eq!(outcome.eof, Some(Ok(())));
            prop_assert!(outcome.complete);
        }
    }

    #[test]
    fn any_decimal_content_length_parses(value in any::<u64>(), zeros in 0usize..4, ows in "[ \t]{0,2}") {
        let text = format!("{ows}{}{value}{ows}", "0".repeat(zeros));
        let fields = headers(&[("Content-Length", &text)]);
        prop_assert_eq!(BodyFraming::for_response(200, &fields), Ok(BodyFraming::ContentLength(value)));
        prop_assert_eq!(BodyFraming::for_request(&fields), Ok(BodyFraming::ContentLength(value)));
    }

    #[test]
    fn differing_content_lengths_conflict(a in any::<u64>(), b in any::<u64>(), one_line in any::<bool>()) {
        prop_assume!(a != b);
        let (a, b) = (a.to_string(), b.to_string());
        let list = format!("{a}, {b}");
        let fields = if one_line {
            headers(&[("Content-Length", &list)])
        } else {
            headers(&[("Content-Length", &a), ("content-length", &b)])
        };
        prop_assert_eq!(BodyFraming::for_response(200, &fields), Err(BodyError::ConflictingContentLengths));
    }

    #[test]
    fn content_length_with_a_non_digit_is_invalid(
        prefix in "[0-9]{0,3}",
        bad in "[^0-9, \t]",
        suffix in "[0-9]{0,3}",
    ) {
        let text = format!("{prefix}{bad}{suffix}");
        let fields = headers(&[("Content-Length", &text)]);
        prop_assert_eq!(BodyFraming::for_response(200, &fields), Err(BodyError::InvalidContentLength));
    }

    #[test]
    fn framing_never_panics(
        status in any::<u16>(),
        fields in prop::collection::vec(
            (prop_oneof![Just("Content-Length"), Just("Transfer-Encoding"), Just("X")], "\\PC{0,12}"),
            0..4,
        ),
    ) {
        let list: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let fields = headers(&list);
        let response = BodyFraming::for_response(status, &fields);
        let request = BodyFraming::for_request(&fields);
        // A request never reads until EOF.
        prop_assert_ne!(request, Ok(BodyFraming::UntilEof));
        if (100..200).contains(&status) || status == 204 || status == 304 {
            prop_assert_eq!(response, Ok(BodyFraming::None));
        }
    }
}

/// Content-Length values (one entry per field line) and the framing they
/// give a 200 response.
#[test]
fn content_length_table() {
    let table: &[(&[&str], Result<BodyFraming, BodyError>)] = &[
        (&["0"], Ok(BodyFraming::ContentLength(0))),
        (&["1234"], Ok(BodyFraming::ContentLength(1234))),
        (&["000012"], Ok(BodyFraming::ContentLength(12))),
        (&["\t7 "], Ok(BodyFraming::ContentLength(7))),
        (&["5, 5"], Ok(BodyFraming::ContentLength(5))),
        (&["5", "5"], Ok(BodyFraming::ContentLength(5))),
        (&["5, 5", "5"], Ok(BodyFraming::ContentLength(5))),
        (
            &["18446744073709551615"],
            Ok(BodyFraming::ContentLength(u64::MAX)),
        ),
        (&[""], Err(BodyError::InvalidContentLength)),
        (&["   "], Err(BodyError::InvalidContentLength)),
        (&["+5"], Err(BodyError::InvalidContentLength)),
        (&["-5"], Err(BodyError::InvalidContentLength)),
        (&["0x5"], Err(BodyError::InvalidContentLength)),
        (&["5 0"], Err(BodyError::InvalidContentLength)),
        (&["5_0"], Err(BodyError::InvalidContentLength)),
        (&["5,"], Err(BodyError::InvalidContentLength)),
        (&[",5"], Err(BodyError::InvalidContentLength)),
        (&["\u{0665}"], Err(BodyError::InvalidContentLength)),
        (
            &["18446744073709551616"],
            Err(BodyError::InvalidContentLength),
        ),
        (
            &["99999999999999999999999"],
            Err(BodyError::InvalidContentLength),
        ),
        (&["5", ""], Err(BodyError::InvalidContentLength)),
        (&["5, 6"], Err(BodyError::ConflictingContentLengths)),
        (&["5", "6"], Err(BodyError::ConflictingContentLengths)),
        (&["5", "5, 50"], Err(BodyError::ConflictingContentLengths)),
    ];
    for (values, expected) in table {
        let fields: Vec<(&str, &str)> = values.iter().map(|v| ("Content-Length", *v)).collect();
        assert_eq!(
            BodyFraming::for_response(200, &headers(&fields)),
            *expected,
            "{values:?}"
        );
    }
}

#[test]
fn rejected_handshake_with_chunked_503() {
    let fields = headers(&[
        ("Content-Type", "text/plain"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "3"),
    ]);
    let framing = BodyFraming::for_response(503, &fields).unwrap();
    assert_eq!(framing, BodyFraming::Chunked);
    let wire = b"7\r\nservice\r\n0c\r\n unavailable\r\n0\r\n\r\n\x81\x05hello";
    let outcome = feed(
        framing,
        BodyLimits::default(),
        &pieces(wire, &[3, 9, 20]),
        true,
    );
    assert_eq!(outcome.result, Ok(wire.len() - 7));
    assert_eq!(outcome.body, b"service unavailable");
    assert_eq!(outcome.eof, Some(Ok(())));
}
