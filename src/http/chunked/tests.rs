//! Unit tests of `http::chunked`, built only under `cargo test`. An `unwrap`,
//! `expect` or `panic!` here fails a test on a case the test itself built;
//! none of it is compiled into the library or meets a peer's input.

use super::*;
use alloc::vec;

const MAX: u64 = 1 << 20;

/// Decodes `input` whole; returns the result, the data and the decoder.
fn decode_whole(
    input: &[u8],
    limits: ChunkedLimits,
    max_body: u64,
) -> (Result<usize, ChunkedError>, Vec<u8>, ChunkedDecoder) {
    let mut decoder = ChunkedDecoder::new(limits, max_body);
    let mut out = BytesMut::new();
    let result = decoder.decode(input, &mut out);
    (result, out.to_vec(), decoder)
}

/// Decodes `input` in pieces split at `splits`; returns the total consumed
/// (or the first error) and the data.
fn decode_split(
    input: &[u8],
    splits: &[usize],
    limits: ChunkedLimits,
    max_body: u64,
) -> (Result<usize, ChunkedError>, Vec<u8>, ChunkedDecoder) {
    let mut decoder = ChunkedDecoder::new(limits, max_body);
    let mut out = BytesMut::new();
    let mut consumed = 0;
    let mut start = 0;
    let mut result = Ok(0);
    for &end in splits.iter().chain(core::iter::once(&input.len())) {
        match decoder.decode(&input[start..end], &mut out) {
            Ok(n) => consumed += n,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        start = end;
    }
    if result.is_ok() {
        result = Ok(consumed);
    }
    (result, out.to_vec(), decoder)
}

fn decode_bytewise(input: &[u8]) -> (Result<usize, ChunkedError>, Vec<u8>, ChunkedDecoder) {
    let splits: Vec<usize> = (1..input.len()).collect();
    decode_split(input, &splits, ChunkedLimits::default(), MAX)
}

fn error_of(input: &[u8]) -> ChunkedError {
    let (whole, _, _) = decode_whole(input, ChunkedLimits::default(), MAX);
    let (bytewise, _, _) = decode_bytewise(input);
    assert_eq!(whole, bytewise, "split changed the result for {input:?}");
    match whole {
        Err(e) => e,
        Ok(n) => panic!("expected an error for {input:?}, consumed {n}"),
    }
}

fn body_of(input: &[u8]) -> Vec<u8> {
    let (whole, data, decoder) = decode_whole(input, ChunkedLimits::default(), MAX);
    assert_eq!(whole, Ok(input.len()), "for {input:?}");
    assert!(decoder.is_done());
    let (bytewise, data_bytewise, decoder_bytewise) = decode_bytewise(input);
    assert_eq!(bytewise, Ok(input.len()));
    assert!(decoder_bytewise.is_done());
    assert_eq!(data, data_bytewise);
    data
}

#[test]
fn simple_body() {
    assert_eq!(body_of(b"5\r\nhello\r\n0\r\n\r\n"), b"hello");
    assert_eq!(body_of(b"0\r\n\r\n"), b"");
}

#[test]
fn several_chunks() {
    assert_eq!(
        body_of(b"3\r\nabc\r\n1\r\nd\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"),
        b"abcd0123456789abcdef"
    );
}

#[test]
fn hex_either_case_and_leading_zeros() {
    let data = vec![b'x'; 0xab];
    let mut wire = b"00Ab\r\n".to_vec();
    wire.extend_from_slice(&data);
    wire.extend_from_slice(b"\r\n000\r\n\r\n");
    assert_eq!(body_of(&wire), data);
    let mut upper = b"AB\r\n".to_vec();
    upper.extend_from_slice(&data);
    upper.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(body_of(&upper), data);
}

#[test]
fn decoded_len_counts_data() {
    let (_, _, decoder) = decode_whole(b"3\r\nabc\r\n2\r\nde", ChunkedLimits::default(), MAX);
    assert_eq!(decoder.decoded_len(), 5);
    assert!(!decoder.is_done());
}

#[test]
fn split_at_every_position_gives_same_result() {
    let wire: &[u8] =
        b"4;a=b;c=\"q;\"\r\nWiki\r\n05 \t;x\r\npedia\r\n0;end\r\nA: 1\r\nB-x:\t two words \r\n\r\n";
    let (whole, data, decoder) = decode_whole(wire, ChunkedLimits::default(), MAX);
    assert_eq!(whole, Ok(wire.len()));
    assert_eq!(data, b"Wikipedia");
    for i in 0..=wire.len() {
        for j in i..=wire.len() {
            let (r, d, dec) = decode_split(wire, &[i, j], ChunkedLimits::default(), MAX);
            assert_eq!(r, whole, "split at {i},{j}");
            assert_eq!(d, data);
            assert_eq!(dec.trailers(), decoder.trailers());
        }
    }
    assert_eq!(decoder.trailers().get("a"), Some(&b"1"[..]));
    assert_eq!(decoder.trailers().get("b-x"), Some(&b"two words"[..]));
}

#[test]
fn split_between_data_and_crlf() {
    let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), MAX);
    let mut out = BytesMut::new();
    assert_eq!(decoder.decode(b"3\r\nabc", &mut out), Ok(6));
    assert_eq!(decoder.decode(b"\r", &mut out), Ok(1));
    assert_eq!(decoder.decode(b"\n0\r", &mut out), Ok(3));
    assert_eq!(decoder.decode(b"\n\r", &mut out), Ok(2));
    assert!(!decoder.is_done());
    assert_eq!(decoder.decode(b"\nrest", &mut out), Ok(1));
    assert!(decoder.is_done());
    assert_eq!(&out[..], b"abc");
}

#[test]
fn trailing_bytes_are_not_consumed_and_done_consumes_nothing() {
    let wire = b"1\r\nx\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
    let (result, _, mut decoder) = decode_whole(wire, ChunkedLimits::default(), MAX);
    assert_eq!(result, Ok(wire.len() - 17));
    let mut out = BytesMut::new();
    assert_eq!(decoder.decode(b"more", &mut out), Ok(0));
    assert!(out.is_empty());
}

#[test]
fn empty_input_consumes_nothing() {
    let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), MAX);
    let mut out = BytesMut::new();
    assert_eq!(decoder.decode(b"", &mut out), Ok(0));
    assert!(!decoder.is_done());
}

#[test]
fn empty_size_is_rejected() {
    assert_eq!(error_of(b"\r\n"), ChunkedError::EmptySize);
    assert_eq!(error_of(b";ext\r\n"), ChunkedError::EmptySize);
    assert_eq!(error_of(b"1\r\nx\r\n\r\n"), ChunkedError::EmptySize);
}

#[test]
fn non_hex_size_bytes_are_rejected() {
    assert_eq!(
        error_of(b"0x10\r\n"),
        ChunkedError::InvalidSizeDigit { byte: b'x' }
    );
    assert_eq!(
        error_of(b"+1\r\n"),
        ChunkedError::InvalidSizeDigit { byte: b'+' }
    );
    assert_eq!(
        error_of(b"-1\r\n"),
        ChunkedError::InvalidSizeDigit { byte: b'-' }
    );
    assert_eq!(
        error_of(b"1_0\r\n"),
        ChunkedError::InvalidSizeDigit { byte: b'_' }
    );
    assert_eq!(
        error_of(b"g\r\n"),
        ChunkedError::InvalidSizeDigit { byte: b'g' }
    );
    assert_eq!(
        error_of(b"1 x\r\n"),
        ChunkedError::InvalidSizeDigit { byte: b'x' }
    );
}

#[test]
fn leading_or_inner_whitespace_is_rejected() {
    assert_eq!(error_of(b" 1\r\n"), ChunkedError::InvalidWhitespace);
    assert_eq!(error_of(b"\t1\r\n"), ChunkedError::InvalidWhitespace);
    assert_eq!(error_of(b"1 0\r\n"), ChunkedError::InvalidWhitespace);
}

#[test]
fn whitespace_after_size_is_allowed() {
    assert_eq!(body_of(b"1 \t \r\nx\r\n0\t;a\r\n\r\n"), b"x");
    assert_eq!(body_of(b"1 ;a=b\r\nx\r\n0\r\n\r\n"), b"x");
}

#[test]
fn size_overflow_is_rejected() {
    // 16 hex digits fit in u64, 17 significant ones do not.
    let (result, _, _) = decode_whole(b"ffffffffffffffff\r\n", ChunkedLimits::default(), u64::MAX);
    assert_eq!(result, Ok(18));
    assert_eq!(
        error_of(b"10000000000000000\r\n"),
        ChunkedError::SizeOverflow
    );
}

#[test]
fn endless_leading_zeros_hit_size_line_limit() {
    let limits = ChunkedLimits::default();
    let mut zeros = vec![b'0'; limits.max_size_line];
    zeros.extend_from_slice(b"\r\n\r\n");
    assert_eq!(body_of(&zeros), b"");
    let endless = vec![b'0'; 10_000];
    let expected = ChunkedError::SizeLineTooLong {
        limit: limits.max_size_line,
    };
    assert_eq!(error_of(&endless), expected);
    // Trailing whitespace counts toward the same bound.
    let mut padded = b"1".to_vec();
    padded.extend_from_slice(&vec![b' '; limits.max_size_line]);
    assert_eq!(error_of(&padded), expected);
}

#[test]
fn bare_lf_is_rejected_everywhere() {
    // Go CVE-2025-22871: a bare LF ending a size line.
    assert_eq!(error_of(b"1\nX\r\n0\r\n\r\n"), ChunkedError::BareLf);
    assert_eq!(error_of(b"\n"), ChunkedError::BareLf);
    assert_eq!(error_of(b"1 \nX"), ChunkedError::BareLf);
    assert_eq!(error_of(b"1;ext\nX"), ChunkedError::BareLf);
    assert_eq!(error_of(b"1;\"quoted\n\"\r\nX"), ChunkedError::BareLf);
    assert_eq!(error_of(b"0\r\nA: b\n\r\n"), ChunkedError::BareLf);
    assert_eq!(error_of(b"0\r\n\n"), ChunkedError::BareLf);
}

#[test]
fn bare_cr_is_rejected_everywhere() {
    assert_eq!(error_of(b"1\rX\r\n"), ChunkedError::BareCr);
    assert_eq!(error_of(b"1;a\rb\r\n"), ChunkedError::BareCr);
    assert_eq!(error_of(b"0\r\nA: b\rc\r\n\r\n"), ChunkedError::BareCr);
    assert_eq!(error_of(b"0\r\n\rX"), ChunkedError::BareCr);
}

#[test]
fn data_must_be_followed_by_crlf() {
    // h11 CVE-2025-43859: bytes other than CRLF after the chunk data.
    assert_eq!(
        error_of(b"3\r\nabcXX0\r\n\r\n"),
        ChunkedError::MissingCrlfAfterData
    );
    assert_eq!(error_of(b"3\r\nabc\rX"), ChunkedError::MissingCrlfAfterData);
    assert_eq!(
        error_of(b"3\r\nabc\n0\r\n\r\n"),
        ChunkedError::MissingCrlfAfterData
    );
    // A chunk longer than declared is caught at the first extra byte.
    let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), MAX);
    let mut out = BytesMut::new();
    assert_eq!(
        decoder.decode(b"2\r\nabc\r\n", &mut out),
        Err(ChunkedError::MissingCrlfAfterData)
    );
    assert_eq!(&out[..], b"ab");
}

#[test]
fn body_limit_is_checked_before_data_is_buffered() {
    let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), 10);
    let mut out = BytesMut::new();
    assert_eq!(decoder.decode(b"6\r\nabcdef\r\n", &mut out), Ok(11));
    // 6 + 5 > 10: refused at the end of the size digits, data not read.
    assert_eq!(
        decoder.decode(b"5\r\nghijk\r\n", &mut out),
        Err(ChunkedError::BodyTooLarge { limit: 10 })
    );
    assert_eq!(&out[..], b"abcdef");
    assert_eq!(decoder.decoded_len(), 6);
    // Exactly the limit is fine.
    let exact = b"6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n";
    let (result, data, _) = decode_whole(exact, ChunkedLimits::default(), 10);
    assert_eq!(result, Ok(exact.len()));
    assert_eq!(data, b"abcdefghij");
}

#[test]
fn huge_declared_size_reserves_nothing() {
    let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), u64::MAX);
    let mut out = BytesMut::new();
    assert_eq!(decoder.decode(b"7fffffffffffffff\r\nab", &mut out), Ok(20));
    assert_eq!(&out[..], b"ab");
    assert!(out.capacity() < 4096, "capacity {}", out.capacity());
    // The declared size is too large for a 1 MiB body: refused.
    assert_eq!(
        error_of(b"7fffffffffffffff\r\nab"),
        ChunkedError::BodyTooLarge { limit: MAX }
    );
}

#[test]
fn body_limit_is_checked_before_extension_is_read() {
    let (result, _, _) = decode_whole(b"b;ext\r\n", ChunkedLimits::default(), 10);
    assert_eq!(result, Err(ChunkedError::BodyTooLarge { limit: 10 }));
}

#[test]
fn extensions_count_over_the_whole_body() {
    let limits = ChunkedLimits {
        max_extension_bytes: 10,
        ..ChunkedLimits::default()
    };
    // ";abcd" is 5 bytes, twice is the limit exactly.
    let (ok, data, _) = decode_whole(b"1;abcd\r\nx\r\n0;abcd\r\n\r\n", limits, MAX);
    assert_eq!(ok, Ok(21));
    assert_eq!(data, b"x");
    let (err, _, _) = decode_whole(b"1;abcd\r\nx\r\n1;abcd\r\ny\r\n0;\r\n\r\n", limits, MAX);
    assert_eq!(err, Err(ChunkedError::ExtensionsTooLong { limit: 10 }));
}

#[test]
fn many_tiny_chunks_with_long_extensions_are_bounded() {
    // Node.js CVE-2024-22019: each chunk is small, but the extension bytes
    // pile up without limit unless counted for the whole body.
    let limits = ChunkedLimits::default();
    let mut wire = Vec::new();
    let extension = vec![b'a'; 1000];
    for _ in 0..100 {
        wire.extend_from_slice(b"1;");
        wire.extend_from_slice(&extension);
        wire.extend_from_slice(b"\r\nx\r\n");
    }
    let (result, data, _) = decode_whole(&wire, limits, MAX);
    assert_eq!(
        result,
        Err(ChunkedError::ExtensionsTooLong {
            limit: limits.max_extension_bytes
        })
    );
    // The error arrives after about 16 chunks, not at the end.
    assert_eq!(data.len(), limits.max_extension_bytes / 1001);
}

#[test]
fn quoted_strings_in_extensions_get_no_special_treatment() {
    // A CRLF inside quotes still ends the line.
    assert_eq!(body_of(b"1;a=\"x\r\nx\r\n0\r\n\r\n"), b"x");
    assert_eq!(body_of(b"1;a=\"\\\"\r\nx\r\n0\r\n\r\n"), b"x");
}

#[test]
fn last_chunk_with_extensions_and_zeros() {
    assert_eq!(body_of(b"000;a=b;c\r\n\r\n"), b"");
}

#[test]
fn trailers_are_parsed_and_trimmed() {
    let (result, _, decoder) = decode_whole(
        b"0\r\nX-A:  v1 \r\nContent-Length: 99\r\nx-a:\r\nTransfer-Encoding: chunked\r\n\r\n",
        ChunkedLimits::default(),
        MAX,
    );
    assert!(result.is_ok());
    let trailers = decoder.trailers();
    assert_eq!(trailers.len(), 4);
    let all: Vec<&[u8]> = trailers.get_all("x-a").collect();
    assert_eq!(all, [&b"v1"[..], &b""[..]]);
    assert_eq!(trailers.get("content-length"), Some(&b"99"[..]));
    assert_eq!(decoder.decoded_len(), 0);
    assert!(decoder.is_done());
    let trailers = decoder.into_trailers();
    assert_eq!(trailers.iter().next(), Some(("X-A", &b"v1"[..])));
}

#[test]
fn framing_headers_in_trailers_change_nothing() {
    // A Content-Length trailer cannot make the decoder read further.
    let wire = b"0\r\nContent-Length: 5\r\n\r\nhello";
    let (result, data, decoder) = decode_whole(wire, ChunkedLimits::default(), MAX);
    assert_eq!(result, Ok(wire.len() - 5));
    assert!(data.is_empty());
    assert!(decoder.is_done());
}

#[test]
fn malformed_trailers_are_rejected() {
    for wire in [
        &b"0\r\nNoColon\r\n\r\n"[..],
        b"0\r\n: empty name\r\n\r\n",
        b"0\r\nName : space before colon\r\n\r\n",
        b"0\r\nNa me: x\r\n\r\n",
        b"0\r\n folded: x\r\n\r\n",
        b"0\r\nA: b\r\n continuation\r\n\r\n",
        b"0\r\nA: nul\0here\r\n\r\n",
        b"0\r\nA: bell\x07\r\n\r\n",
        b"0\r\nA: del\x7f\r\n\r\n",
        b"0\r\nA: \x0cform feed\r\n\r\n",
        b"0\r\nN\xc3\xa4me: x\r\n\r\n",
    ] {
        assert_eq!(error_of(wire), ChunkedError::InvalidTrailer, "{wire:?}");
    }
    // obs-text is allowed in the value.
    let (result, _, decoder) =
        decode_whole(b"0\r\nA: caf\xe9\r\n\r\n", ChunkedLimits::default(), MAX);
    assert!(result.is_ok());
    assert_eq!(decoder.trailers().get("a"), Some(&b"caf\xe9"[..]));
}

#[test]
fn trailer_count_is_bounded() {
    let limits = ChunkedLimits {
        max_trailers: 2,
        ..ChunkedLimits::default()
    };
    let (ok, _, _) = decode_whole(b"0\r\nA: 1\r\nB: 2\r\n\r\n", limits, MAX);
    assert!(ok.is_ok());
    let (err, _, decoder) = decode_whole(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits, MAX);
    assert_eq!(err, Err(ChunkedError::TooManyTrailers { limit: 2 }));
    assert_eq!(decoder.trailers().len(), 2);
}

#[test]
fn trailer_bytes_are_bounded() {
    // "A: 1234\r\n" is 9 bytes.
    let limits = ChunkedLimits {
        max_trailer_bytes: 18,
        ..ChunkedLimits::default()
    };
    let (ok, _, _) = decode_whole(b"0\r\nA: 1234\r\nB: 1234\r\n\r\n", limits, MAX);
    assert!(ok.is_ok());
    let (err, _, _) = decode_whole(b"0\r\nA: 1234\r\nB: 12345\r\n\r\n", limits, MAX);
    assert_eq!(err, Err(ChunkedError::TrailersTooLarge { limit: 18 }));
    // One endless trailer line is stopped at the limit, whatever its split.
    let mut endless = b"0\r\nA: ".to_vec();
    endless.extend_from_slice(&[b'v'; 100]);
    let (whole, _, _) = decode_whole(&endless, limits, MAX);
    assert_eq!(whole, Err(ChunkedError::TrailersTooLarge { limit: 18 }));
}

#[test]
fn error_is_sticky() {
    let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), MAX);
    let mut out = BytesMut::new();
    assert_eq!(decoder.decode(b"1\nX", &mut out), Err(ChunkedError::BareLf));
    assert_eq!(
        decoder.decode(b"1\r\nX\r\n0\r\n\r\n", &mut out),
        Err(ChunkedError::BareLf)
    );
    assert!(out.is_empty());
    assert!(!decoder.is_done());
}

#[test]
fn default_limits() {
    let limits = ChunkedLimits::default();
    assert_eq!(limits.max_size_line, 64);
    assert_eq!(limits.max_extension_bytes, 16 * 1024);
    assert_eq!(limits.max_trailer_bytes, 8 * 1024);
    assert_eq!(limits.max_trailers, 32);
}

#[test]
fn errors_display() {
    use alloc::string::ToString;
    assert_eq!(
        ChunkedError::InvalidSizeDigit { byte: b'x' }.to_string(),
        "invalid byte 0x78 in chunk size"
    );
    assert_eq!(
        ChunkedError::BodyTooLarge { limit: 7 }.to_string(),
        "chunked body larger than 7 bytes"
    );
}
