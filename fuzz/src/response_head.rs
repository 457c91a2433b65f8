//! Fuzz check for `HeadParser::parse_response`: the outcome does not depend
//! on how the bytes are split, a complete head ends with a blank line, and a
//! parsed head written back with `write_response` parses to the same head.

use wsmachine::http::{HeadLimits, HeadParser, HttpVersion, Response, write_response};

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
    let whole = super::split::parse_split_invariant(LIMITS, HeadParser::parse_response, data);

    let Ok(Some((response, head_len))) = whole else {
        return;
    };
    assert!(head_len <= data.len());
    assert!(head_len <= LIMITS.max_head_len);
    assert!(data[..head_len].ends_with(b"\r\n\r\n"));
    assert!((100..=999).contains(&response.status));
    let alone = HeadParser::new(LIMITS).parse_response(&data[..head_len]);
    assert_eq!(alone, Ok(Some((response.clone(), head_len))));

    // An interim response is followed by the next head: after reset the
    // parser reads what follows as a fresh head.
    if response.status < 200 {
        let mut parser = HeadParser::new(LIMITS);
        let _ = parser.parse_response(data);
        parser.reset();
        assert_eq!(
            parser.parse_response(&data[head_len..]),
            HeadParser::new(LIMITS).parse_response(&data[head_len..])
        );
    }

    // Framing is the writer's to set, so it is taken out before writing.
    let mut headers = response.headers.clone();
    headers.remove("content-length");
    headers.remove("transfer-encoding");
    let mut wire = Vec::new();
    write_response(&mut wire, response.status, &response.reason, &headers, b"")
        .expect("a parsed response head can be written");
    let bodiless = response.status < 200 || response.status == 204 || response.status == 304;
    if !bodiless {
        headers.push("Content-Length", "0");
    }
    let expected = Response {
        version: HttpVersion::Http11,
        headers,
        ..response
    };
    let reparsed = HeadParser::new(ROOMY).parse_response(&wire);
    assert_eq!(reparsed, Ok(Some((expected, wire.len()))));
}
