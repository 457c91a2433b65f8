//! Fuzz check for `HeadParser::parse_request`: the outcome does not depend
//! on how the bytes are split, a complete head ends with a blank line, and a
//! parsed head written back with `write_request` parses to the same head.

use wsmachine::http::{HeadError, HeadLimits, HeadParser, HttpVersion, Request, write_request};

/// Small limits, so that the fuzzer reaches every limit error.
const LIMITS: HeadLimits = HeadLimits {
    max_line_len: 256,
    max_head_len: 2048,
    max_headers: 24,
};

/// Limits no re-serialised head of an accepted input can reach.
const ROOMY: HeadLimits = HeadLimits {
    max_line_len: 1 << 16,
    max_head_len: 1 << 16,
    max_headers: 1 << 10,
};

/// Runs the checks on one input.
pub fn run(data: &[u8]) {
    let whole = super::split::parse_split_invariant(LIMITS, HeadParser::parse_request, data);

    let Ok(Some((request, head_len))) = whole else {
        return;
    };
    assert!(head_len <= data.len());
    assert!(head_len <= LIMITS.max_head_len);
    assert!(data[..head_len].ends_with(b"\r\n\r\n"));
    // Bytes after the head are not part of it.
    let alone = HeadParser::new(LIMITS).parse_request(&data[..head_len]);
    assert_eq!(alone, Ok(Some((request.clone(), head_len))));

    // Framing is the writer's to set, so it is taken out before writing.
    let mut headers = request.headers.clone();
    headers.remove("content-length");
    headers.remove("transfer-encoding");
    let mut wire = Vec::new();
    write_request(&mut wire, &request.method, &request.target, &headers, b"")
        .expect("a parsed request head can be written");
    let reparsed = HeadParser::new(ROOMY).parse_request(&wire);
    // The writer always says HTTP/1.1, which requires Host.
    if request.version == HttpVersion::Http10 && !headers.contains("host") {
        assert_eq!(reparsed, Err(HeadError::MissingHost));
        return;
    }
    let expected = Request {
        version: HttpVersion::Http11,
        headers,
        ..request
    };
    assert_eq!(reparsed, Ok(Some((expected, wire.len()))));
}
