//! Unit tests of `http::body`, built only under `cargo test`. An `unwrap`,
//! `expect` or `panic!` here fails a test on a case the test itself built;
//! none of it is compiled into the library or meets a peer's input.

use super::*;
use alloc::vec::Vec;

fn headers(fields: &[(&str, &str)]) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in fields {
        headers.push(*name, *value);
    }
    headers
}

fn response(status: u16, fields: &[(&str, &str)]) -> Result<BodyFraming, BodyError> {
    BodyFraming::for_response(status, &headers(fields))
}

fn request(fields: &[(&str, &str)]) -> Result<BodyFraming, BodyError> {
    BodyFraming::for_request(&headers(fields))
}

fn small_limits(max_body: usize) -> BodyLimits {
    BodyLimits {
        max_body,
        ..BodyLimits::default()
    }
}

#[test]
fn informational_204_and_304_have_no_body() {
    let cl = [("Content-Length", "10")];
    let te = [("Transfer-Encoding", "chunked")];
    for status in [100, 101, 103, 199, 204, 304] {
        assert_eq!(response(status, &cl), Ok(BodyFraming::None), "{status}");
        assert_eq!(response(status, &te), Ok(BodyFraming::None), "{status}");
        // Even an invalid Content-Length does not matter there.
        assert_eq!(
            response(status, &[("Content-Length", "x")]),
            Ok(BodyFraming::None)
        );
    }
    assert_eq!(response(200, &cl), Ok(BodyFraming::ContentLength(10)));
    assert_eq!(response(205, &cl), Ok(BodyFraming::ContentLength(10)));
}

#[test]
fn chunked_final_coding_is_chunked() {
    for value in [
        "chunked",
        "CHUNKED",
        "Chunked",
        "gzip, chunked",
        " gzip ,chunked ",
    ] {
        let fields = [("Transfer-Encoding", value)];
        assert_eq!(response(503, &fields), Ok(BodyFraming::Chunked), "{value}");
        assert_eq!(request(&fields), Ok(BodyFraming::Chunked), "{value}");
    }
    // Over several lines.
    let split = [
        ("Transfer-Encoding", "gzip"),
        ("transfer-encoding", "chunked"),
    ];
    assert_eq!(response(200, &split), Ok(BodyFraming::Chunked));
    // Empty list members are ignored.
    assert_eq!(
        response(200, &[("Transfer-Encoding", ", chunked,")]),
        Ok(BodyFraming::Chunked)
    );
}

#[test]
fn other_final_coding_reads_until_eof_for_responses() {
    for value in ["gzip", "chunked, gzip", "x-custom;q=1"] {
        let fields = [("Transfer-Encoding", value), ("Content-Length", "5")];
        assert_eq!(response(200, &fields), Ok(BodyFraming::UntilEof), "{value}");
        assert_eq!(request(&fields), Err(BodyError::RequestNotChunked));
    }
    let split = [
        ("Transfer-Encoding", "chunked"),
        ("Transfer-Encoding", "gzip"),
    ];
    assert_eq!(response(200, &split), Ok(BodyFraming::UntilEof));
}

#[test]
fn transfer_encoding_wins_over_content_length_in_any_order() {
    let te_first = [("Transfer-Encoding", "chunked"), ("Content-Length", "5")];
    let cl_first = [("Content-Length", "5"), ("Transfer-Encoding", "chunked")];
    // Even an invalid Content-Length is ignored when TE is present.
    let cl_bad = [("Content-Length", "nope"), ("Transfer-Encoding", "chunked")];
    for fields in [&te_first[..], &cl_first, &cl_bad] {
        assert_eq!(response(200, fields), Ok(BodyFraming::Chunked));
        assert_eq!(request(fields), Ok(BodyFraming::Chunked));
    }
}

#[test]
fn invalid_transfer_encodings() {
    for value in [
        "",
        " ",
        ",",
        "chunked;x=1",
        "gz ip",
        "\"chunked\"",
        "; a",
        "chu\x01nked",
    ] {
        let fields = [("Transfer-Encoding", value)];
        assert_eq!(
            response(200, &fields),
            Err(BodyError::InvalidTransferEncoding),
            "{value:?}"
        );
        assert_eq!(request(&fields), Err(BodyError::InvalidTransferEncoding));
    }
    for fields in [
        &[("Transfer-Encoding", "chunked, chunked")][..],
        &[
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "chunked"),
        ],
        &[("Transfer-Encoding", "chunked, gzip, chunked")],
    ] {
        assert_eq!(response(200, fields), Err(BodyError::ChunkedAppliedTwice));
        assert_eq!(request(fields), Err(BodyError::ChunkedAppliedTwice));
    }
}

#[test]
fn content_length_validation() {
    let cases: &[(&[&str], Result<u64, BodyError>)] = &[
        (&["0"], Ok(0)),
        (&["42"], Ok(42)),
        (&["007"], Ok(7)),
        (&[" 5 "], Ok(5)),
        (&["18446744073709551615"], Ok(u64::MAX)),
        (&["5, 5"], Ok(5)),
        (&["5,5,5"], Ok(5)),
        (&["5", "5"], Ok(5)),
        (&["5", "05"], Ok(5)),
        (&[""], Err(BodyError::InvalidContentLength)),
        (&["+5"], Err(BodyError::InvalidContentLength)),
        (&["-5"], Err(BodyError::InvalidContentLength)),
        (&["0x5"], Err(BodyError::InvalidContentLength)),
        (&["5 5"], Err(BodyError::InvalidContentLength)),
        (&["5,"], Err(BodyError::InvalidContentLength)),
        (&["5.0"], Err(BodyError::InvalidContentLength)),
        (&["1e3"], Err(BodyError::InvalidContentLength)),
        (
            &["18446744073709551616"],
            Err(BodyError::InvalidContentLength),
        ),
        (&["5, 6"], Err(BodyError::ConflictingContentLengths)),
        (&["5", "6"], Err(BodyError::ConflictingContentLengths)),
    ];
    for (values, expected) in cases {
        let fields: Vec<(&str, &str)> = values.iter().map(|v| ("Content-Length", *v)).collect();
        let expected = expected.clone();
        assert_eq!(
            response(200, &fields),
            expected.clone().map(BodyFraming::ContentLength),
            "{values:?}"
        );
        assert_eq!(
            request(&fields),
            expected.map(BodyFraming::ContentLength),
            "{values:?}"
        );
    }
}

#[test]
fn neither_field() {
    assert_eq!(response(200, &[]), Ok(BodyFraming::UntilEof));
    assert_eq!(response(503, &[("Server", "x")]), Ok(BodyFraming::UntilEof));
    assert_eq!(request(&[]), Ok(BodyFraming::None));
}

#[test]
fn no_body_is_complete_at_once() {
    for framing in [BodyFraming::None, BodyFraming::ContentLength(0)] {
        let mut decoder = BodyDecoder::new(framing, BodyLimits::default());
        assert!(decoder.is_complete());
        assert_eq!(decoder.decode(b"GET / HTTP/1.1"), Ok(0));
        assert_eq!(decoder.finish_eof(), Ok(()));
        assert!(decoder.body().is_empty());
    }
}

#[test]
fn content_length_body_stops_at_its_end() {
    let mut decoder = BodyDecoder::new(BodyFraming::ContentLength(5), BodyLimits::default());
    assert_eq!(decoder.decode(b"he"), Ok(2));
    assert!(!decoder.is_complete());
    assert_eq!(decoder.decode(b"llo\x81\x05frame"), Ok(3));
    assert!(decoder.is_complete());
    assert_eq!(decoder.decode(b"more"), Ok(0));
    assert_eq!(decoder.finish_eof(), Ok(()));
    assert_eq!(decoder.body(), b"hello");
    let (body, trailers) = decoder.into_parts();
    assert_eq!(&body[..], b"hello");
    assert!(trailers.is_empty());
}

#[test]
fn content_length_above_limit_fails_before_buffering() {
    let mut decoder = BodyDecoder::new(BodyFraming::ContentLength(11), small_limits(10));
    assert_eq!(
        decoder.decode(b"0123"),
        Err(BodyError::BodyTooLarge { limit: 10 })
    );
    assert!(decoder.body().is_empty());
    assert!(!decoder.is_complete());
    let mut eof_first = BodyDecoder::new(BodyFraming::ContentLength(11), small_limits(10));
    assert_eq!(
        eof_first.finish_eof(),
        Err(BodyError::BodyTooLarge { limit: 10 })
    );
    // At the limit exactly is fine.
    let mut exact = BodyDecoder::new(BodyFraming::ContentLength(10), small_limits(10));
    assert_eq!(exact.decode(b"0123456789X"), Ok(10));
    assert!(exact.is_complete());
}

#[test]
fn huge_content_length_reserves_nothing() {
    let mut decoder = BodyDecoder::new(
        BodyFraming::ContentLength(u64::MAX),
        small_limits(usize::MAX),
    );
    assert_eq!(decoder.decode(b"abc"), Ok(3));
    assert!(decoder.body.capacity() < 4096);
}

#[test]
fn content_length_truncated() {
    let mut decoder = BodyDecoder::new(BodyFraming::ContentLength(8), BodyLimits::default());
    assert_eq!(decoder.decode(b"abc"), Ok(3));
    let truncated = BodyError::Truncated {
        received: 3,
        expected: Some(8),
    };
    assert_eq!(decoder.finish_eof(), Err(truncated.clone()));
    assert_eq!(decoder.body(), b"abc");
    // The decoder stays failed.
    assert_eq!(decoder.decode(b"defgh"), Err(truncated));
    assert_eq!(decoder.body(), b"abc");
}

#[test]
fn until_eof_body() {
    let mut decoder = BodyDecoder::new(BodyFraming::UntilEof, BodyLimits::default());
    assert_eq!(decoder.decode(b"all of "), Ok(7));
    assert_eq!(decoder.decode(b"it"), Ok(2));
    assert!(!decoder.is_complete());
    assert_eq!(decoder.finish_eof(), Ok(()));
    assert!(decoder.is_complete());
    assert_eq!(decoder.decode(b"after"), Ok(0));
    assert_eq!(decoder.body(), b"all of it");
}

#[test]
fn until_eof_over_limit_keeps_first_bytes() {
    let mut decoder = BodyDecoder::new(BodyFraming::UntilEof, small_limits(5));
    assert_eq!(decoder.decode(b"abc"), Ok(3));
    assert_eq!(decoder.decode(b"de"), Ok(2));
    assert_eq!(
        decoder.decode(b"f"),
        Err(BodyError::BodyTooLarge { limit: 5 })
    );
    assert_eq!(decoder.body(), b"abcde");
    assert_eq!(
        decoder.finish_eof(),
        Err(BodyError::BodyTooLarge { limit: 5 })
    );
    let mut one_piece = BodyDecoder::new(BodyFraming::UntilEof, small_limits(5));
    assert_eq!(
        one_piece.decode(b"abcdefgh"),
        Err(BodyError::BodyTooLarge { limit: 5 })
    );
    assert_eq!(one_piece.body(), b"abcde");
}

#[test]
fn chunked_body_with_trailers_and_leftover() {
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked, BodyLimits::default());
    let wire = b"4\r\nbusy\r\n0\r\nX-Reason: load\r\n\r\n\x81\x00";
    assert_eq!(decoder.decode(wire), Ok(wire.len() - 2));
    assert!(decoder.is_complete());
    assert_eq!(decoder.trailers().get("x-reason"), Some(&b"load"[..]));
    assert_eq!(decoder.finish_eof(), Ok(()));
    let (body, trailers) = decoder.into_parts();
    assert_eq!(&body[..], b"busy");
    assert_eq!(trailers.len(), 1);
}

#[test]
fn chunked_errors_are_wrapped_and_limit_is_uniform() {
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked, BodyLimits::default());
    assert_eq!(
        decoder.decode(b"1\nX\r\n"),
        Err(BodyError::Chunked(ChunkedError::BareLf))
    );
    let mut big = BodyDecoder::new(BodyFraming::Chunked, small_limits(4));
    assert_eq!(big.decode(b"3\r\nabc\r\n"), Ok(8));
    assert_eq!(
        big.decode(b"2\r\nde"),
        Err(BodyError::BodyTooLarge { limit: 4 })
    );
    assert_eq!(big.body(), b"abc");
}

#[test]
fn chunked_truncated() {
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked, BodyLimits::default());
    assert_eq!(decoder.decode(b"5\r\nhel"), Ok(6));
    assert_eq!(
        decoder.finish_eof(),
        Err(BodyError::Truncated {
            received: 3,
            expected: None
        })
    );
    assert_eq!(decoder.body(), b"hel");
    // Missing only the final CRLF is still truncated.
    let mut almost = BodyDecoder::new(BodyFraming::Chunked, BodyLimits::default());
    assert_eq!(almost.decode(b"2\r\nhi\r\n0\r\n"), Ok(10));
    assert!(matches!(
        almost.finish_eof(),
        Err(BodyError::Truncated { .. })
    ));
}

#[test]
fn chunked_limits_are_passed_through() {
    let limits = BodyLimits {
        max_body: 100,
        chunked: ChunkedLimits {
            max_trailers: 0,
            ..ChunkedLimits::default()
        },
    };
    let mut decoder = BodyDecoder::new(BodyFraming::Chunked, limits);
    assert_eq!(
        decoder.decode(b"0\r\nA: b\r\n\r\n"),
        Err(BodyError::Chunked(ChunkedError::TooManyTrailers {
            limit: 0
        }))
    );
}

#[test]
fn framing_is_reported_and_defaults_documented() {
    let decoder = BodyDecoder::new(BodyFraming::UntilEof, BodyLimits::default());
    assert_eq!(decoder.framing(), BodyFraming::UntilEof);
    assert_eq!(BodyLimits::default().max_body, 1024 * 1024);
    assert_eq!(BodyLimits::default().chunked, ChunkedLimits::default());
    assert!(decoder.trailers().is_empty());
}

#[test]
fn split_invariance_over_framings() {
    let cases: [(BodyFraming, &[u8]); 3] = [
        (BodyFraming::ContentLength(6), b"abcdefTAIL"),
        (
            BodyFraming::Chunked,
            b"3;x\r\nabc\r\n3\r\ndef\r\n0\r\nT: v\r\n\r\nTAIL",
        ),
        (BodyFraming::UntilEof, b"abcdefTAIL"),
    ];
    for (framing, wire) in cases {
        let mut whole = BodyDecoder::new(framing, BodyLimits::default());
        let whole_consumed = whole.decode(wire);
        for split in 0..=wire.len() {
            let mut pieces = BodyDecoder::new(framing, BodyLimits::default());
            let first = pieces.decode(&wire[..split]);
            let second = pieces.decode(&wire[split..]);
            let total = first.and_then(|a| second.map(|b| a + b));
            assert_eq!(total, whole_consumed.clone(), "{framing:?} split {split}");
            assert_eq!(pieces.body(), whole.body());
            assert_eq!(pieces.trailers(), whole.trailers());
        }
    }
}
