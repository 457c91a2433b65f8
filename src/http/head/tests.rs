//! Unit tests of `http::head`, built only under `cargo test`. An `unwrap`,
//! `expect` or `panic!` here fails a test on a case the test itself built;
//! none of it is compiled into the library or meets a peer's input.

use super::*;
use alloc::vec::Vec;

const HANDSHAKE: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn limits(max_line_len: usize, max_head_len: usize, max_headers: usize) -> HeadLimits {
    HeadLimits {
        max_line_len,
        max_head_len,
        max_headers,
    }
}

fn request(bytes: &[u8]) -> Result<Option<(Request, usize)>, HeadError> {
    HeadParser::default().parse_request(bytes)
}

fn response(bytes: &[u8]) -> Result<Option<(Response, usize)>, HeadError> {
    HeadParser::default().parse_response(bytes)
}

fn malformed<T>(kind: MalformedKind) -> Result<T, HeadError> {
    Err(HeadError::Malformed(kind))
}

/// Feeds `bytes` one more byte per call, as a slow peer would send them.
fn trickle_request(
    parser: &mut HeadParser,
    bytes: &[u8],
) -> Result<Option<(Request, usize)>, HeadError> {
    for end in 0..=bytes.len() {
        match parser.parse_request(&bytes[..end]) {
            Ok(None) => {}
            done => return done,
        }
    }
    Ok(None)
}

#[test]
fn parses_a_handshake_request() {
    let (req, len) = request(HANDSHAKE).unwrap().unwrap();
    assert_eq!(len, HANDSHAKE.len());
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/chat?x=1");
    assert_eq!(req.version, HttpVersion::Http11);
    let names: Vec<&str> = req.headers.iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "Host",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version"
        ]
    );
    assert_eq!(req.headers.get_str("sec-websocket-version"), Some("13"));
}

#[test]
fn control_bytes_anywhere_in_a_long_line_are_found() {
    // The scan skips plain 8-byte words; a control byte at any position
    // of a word, in any line, still fails the head, as it does when fed
    // one byte at a time.
    let value = "v".repeat(40);
    let clean = alloc::format!("GET /{value} HTTP/1.1\r\nHost: h\r\nX-Long: {value}\r\n\r\n");
    let positions = clean.len() - 4;
    for position in 1..positions {
        if matches!(clean.as_bytes()[position], b'\r' | b'\n' | b' ' | b':') {
            continue;
        }
        for bad in [0x00, 0x01, 0x1f, 0x7f] {
            let mut wire = clean.clone().into_bytes();
            wire[position] = bad;
            let whole = request(&wire);
            assert!(whole.is_err(), "{bad:#x} at {position}: {whole:?}");
            let mut parser = HeadParser::default();
            assert_eq!(trickle_request(&mut parser, &wire), whole);
        }
    }
    assert!(request(clean.as_bytes()).unwrap().is_some());
}

#[test]
fn byte_by_byte_feed_scans_each_byte_once_and_runs_httparse_once() {
    let mut parser = HeadParser::default();
    let mut wire = HANDSHAKE.to_vec();
    wire.extend_from_slice(b"trailing frame bytes");
    let (req, len) = trickle_request(&mut parser, &wire).unwrap().unwrap();
    assert_eq!(len, HANDSHAKE.len());
    assert_eq!(parser.httparse_calls, 1);
    assert_eq!(parser.examined, HANDSHAKE.len());
    assert_eq!(request(HANDSHAKE).unwrap().unwrap().0, req);
}

#[test]
fn large_head_fed_byte_by_byte_is_linear() {
    let mut wire = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..100 {
        wire.extend_from_slice(alloc::format!("X-Filler-{i}: {}\r\n", "v".repeat(200)).as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    assert!(wire.len() < HeadLimits::DEFAULT.max_head_len);
    let mut parser = HeadParser::default();
    let (req, len) = trickle_request(&mut parser, &wire).unwrap().unwrap();
    assert_eq!(len, wire.len());
    assert_eq!(req.headers.len(), 101);
    assert_eq!(parser.examined, wire.len());
    assert_eq!(parser.httparse_calls, 1);
}

#[test]
fn failed_feed_stops_scanning_and_repeats_the_error() {
    let mut parser = HeadParser::default();
    let wire = b"GET / HTTP/1.1\nHost: h\r\n\r\n";
    let first = trickle_request(&mut parser, wire);
    assert_eq!(first, malformed(MalformedKind::BareLf));
    assert_eq!(parser.examined, 15);
    assert_eq!(parser.parse_request(wire), first);
    assert_eq!(parser.examined, 15);
    assert_eq!(parser.httparse_calls, 0);
}

#[test]
fn complete_head_repeats_on_later_calls() {
    let mut parser = HeadParser::default();
    let first = parser.parse_request(HANDSHAKE).unwrap();
    assert!(first.is_some());
    assert_eq!(parser.parse_request(HANDSHAKE).unwrap(), first);
    assert_eq!(parser.examined, HANDSHAKE.len());
}

#[test]
fn request_line_at_the_line_limit_passes_one_more_byte_fails_before_crlf() {
    let line_limit = 32;
    // "GET " + target + " HTTP/1.1" is exactly line_limit bytes.
    let target = alloc::format!("/{}", "a".repeat(line_limit - 4 - 9 - 1));
    let exact = alloc::format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut parser = HeadParser::new(limits(line_limit, 1024, 8));
    assert!(parser.parse_request(exact.as_bytes()).unwrap().is_some());

    let longer = alloc::format!("GET {target}a HTTP/1.1");
    assert_eq!(longer.len(), line_limit + 1);
    let mut parser = HeadParser::new(limits(line_limit, 1024, 8));
    // Exactly at the limit without a CRLF yet: still waiting.
    assert_eq!(
        parser.parse_request(&longer.as_bytes()[..line_limit]),
        Ok(None)
    );
    assert_eq!(
        parser.parse_request(longer.as_bytes()),
        Err(HeadError::RequestLineTooLong { limit: line_limit })
    );
    assert_eq!(
        HeadError::RequestLineTooLong { limit: 1 }.server_status(),
        414
    );
}

#[test]
fn header_line_at_the_line_limit_passes_one_more_byte_fails_early() {
    let line_limit = 20;
    let field = alloc::format!("X: {}", "v".repeat(line_limit - 3));
    assert_eq!(field.len(), line_limit);
    let exact = alloc::format!("GET / HTTP/1.1\r\nHost: h\r\n{field}\r\n\r\n");
    let mut parser = HeadParser::new(limits(line_limit, 1024, 8));
    let (req, _) = parser.parse_request(exact.as_bytes()).unwrap().unwrap();
    assert_eq!(req.headers.get("x").map(<[u8]>::len), Some(line_limit - 3));

    let partial = alloc::format!("GET / HTTP/1.1\r\nHost: h\r\n{field}v");
    let mut parser = HeadParser::new(limits(line_limit, 1024, 8));
    let err = parser.parse_request(partial.as_bytes());
    assert_eq!(err, Err(HeadError::HeaderLineTooLong { limit: line_limit }));
    assert_eq!(err.unwrap_err().server_status(), 431);
}

#[test]
fn status_line_too_long_has_its_own_error() {
    let mut parser = HeadParser::new(limits(16, 1024, 8));
    assert_eq!(
        parser.parse_response(b"HTTP/1.1 200 OK and more"),
        Err(HeadError::StatusLineTooLong { limit: 16 })
    );
}

#[test]
fn head_at_the_size_limit_passes_one_more_byte_fails_early() {
    let head = b"GET / HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n";
    let mut parser = HeadParser::new(limits(64, head.len(), 8));
    assert!(parser.parse_request(head).unwrap().is_some());

    let mut bigger = head.to_vec();
    bigger.splice(head.len() - 4..head.len() - 4, *b"2");
    let mut parser = HeadParser::new(limits(64, head.len(), 8));
    // Everything but the final LF fits; the final LF is one too many.
    assert_eq!(parser.parse_request(&bigger[..head.len()]), Ok(None));
    assert_eq!(
        parser.parse_request(&bigger),
        Err(HeadError::HeadTooLarge { limit: head.len() })
    );
}

#[test]
fn bytes_after_the_head_do_not_count_towards_its_size() {
    let mut wire = HANDSHAKE.to_vec();
    wire.extend_from_slice(&[0u8; 100]);
    let mut parser = HeadParser::new(limits(64, HANDSHAKE.len(), 8));
    assert_eq!(
        parser.parse_request(&wire).unwrap().map(|(_, len)| len),
        Some(HANDSHAKE.len())
    );
}

#[test]
fn header_count_at_the_limit_passes_one_more_fails_at_its_first_byte() {
    let four = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let mut parser = HeadParser::new(limits(64, 1024, 4));
    let (req, _) = parser.parse_request(four).unwrap().unwrap();
    assert_eq!(req.headers.len(), 4);

    let five = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD";
    let mut parser = HeadParser::new(limits(64, 1024, 4));
    assert_eq!(parser.parse_request(&five[..five.len() - 1]), Ok(None));
    assert_eq!(
        parser.parse_request(five),
        Err(HeadError::TooManyHeaders { limit: 4 })
    );
    let mut parser = HeadParser::new(limits(64, 1024, 4));
    assert_eq!(
        parser.parse_response(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE"),
        Err(HeadError::TooManyHeaders { limit: 4 })
    );
}

#[test]
fn zero_headers_allowed_for_responses() {
    let mut parser = HeadParser::new(limits(64, 1024, 0));
    let (resp, _) = parser
        .parse_response(b"HTTP/1.1 200 OK\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(resp.headers.is_empty());
}

#[test]
fn other_http_versions_are_unsupported_not_malformed() {
    assert_eq!(
        request(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
        Err(HeadError::UnsupportedVersion { major: 2, minor: 0 })
    );
    assert_eq!(
        request(b"GET / HTTP/1.2\r\n"),
        Err(HeadError::UnsupportedVersion { major: 1, minor: 2 })
    );
    // The HTTP/2 connection preface fails at its first line.
    assert_eq!(
        request(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Err(HeadError::UnsupportedVersion { major: 2, minor: 0 })
    );
    assert_eq!(
        response(b"HTTP/3.0 200 OK\r\n\r\n"),
        Err(HeadError::UnsupportedVersion { major: 3, minor: 0 })
    );
    assert_eq!(
        HeadError::UnsupportedVersion { major: 2, minor: 0 }.server_status(),
        505
    );
}

#[test]
fn non_http_versions_are_malformed() {
    for line in [
        &b"GET / FOO/1.1\r\n"[..],
        b"GET / http/1.1\r\n",
        b"GET / HTTP/1.10\r\n",
        b"GET / HTTP/2\r\n",
        b"GET /\r\n",
        b"GET / HTTP/1.1 \r\n",
    ] {
        assert_eq!(
            request(line),
            malformed(MalformedKind::InvalidVersion),
            "{line:?}"
        );
    }
    assert_eq!(
        response(b"SSH-2.0-OpenSSH_9.6\r\n"),
        malformed(MalformedKind::InvalidVersion)
    );
}

#[test]
fn tls_client_hello_is_malformed_at_its_first_byte() {
    let hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut parser = HeadParser::default();
    assert_eq!(
        parser.parse_request(&hello[..1]),
        malformed(MalformedKind::ControlCharacter)
    );
    assert_eq!(request(&hello), malformed(MalformedKind::ControlCharacter));
    assert_eq!(
        response(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        malformed(MalformedKind::ControlCharacter)
    );
    assert_eq!(
        HeadError::Malformed(MalformedKind::BareLf).server_status(),
        400
    );
}

#[test]
fn line_endings_must_be_crlf() {
    assert_eq!(
        request(b"GET / HTTP/1.1\nHost: h\n\n"),
        malformed(MalformedKind::BareLf)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\n\r\n"),
        malformed(MalformedKind::BareLf)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\r\n\n"),
        malformed(MalformedKind::BareLf)
    );
    assert_eq!(
        response(b"HTTP/1.1 200 OK\n\n"),
        malformed(MalformedKind::BareLf)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\rHost: h\r\n\r\n"),
        malformed(MalformedKind::BareCr)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"),
        malformed(MalformedKind::BareCr)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\r\n"),
        malformed(MalformedKind::BareCr)
    );
}

#[test]
fn control_characters_are_refused_anywhere_but_htab_in_values() {
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\0\r\n\r\n"),
        malformed(MalformedKind::ControlCharacter)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n"),
        malformed(MalformedKind::ControlCharacter)
    );
    let (req, _) = request(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\t\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(req.headers.get("x"), Some(&b"a\tb"[..]));
    assert_eq!(
        request(b"GET\t/ HTTP/1.1\r\n"),
        malformed(MalformedKind::InvalidMethod)
    );
}

#[test]
fn leading_empty_lines_are_refused() {
    assert_eq!(
        request(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        malformed(MalformedKind::LeadingEmptyLine)
    );
    assert_eq!(
        response(b"\r\nHTTP/1.1 200 OK\r\n\r\n"),
        malformed(MalformedKind::LeadingEmptyLine)
    );
}

#[test]
fn folded_lines_and_leading_whitespace_are_refused() {
    assert_eq!(
        request(b"GET / HTTP/1.1\r\n Host: h\r\n\r\n"),
        malformed(MalformedKind::WhitespaceBeforeFirstHeader)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n"),
        malformed(MalformedKind::ObsoleteLineFolding)
    );
    assert_eq!(
        response(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
        malformed(MalformedKind::ObsoleteLineFolding)
    );
}

#[test]
fn request_line_fields_are_checked_when_the_line_ends() {
    let mut parser = HeadParser::default();
    assert_eq!(
        parser.parse_request(b"GET / HTTP/9.9\r\n"),
        Err(HeadError::UnsupportedVersion { major: 9, minor: 9 })
    );
    assert_eq!(
        request(b"G(T / HTTP/1.1\r\n"),
        malformed(MalformedKind::InvalidMethod)
    );
    assert_eq!(
        request(b" / HTTP/1.1\r\n"),
        malformed(MalformedKind::InvalidMethod)
    );
    assert_eq!(
        request(b"GET  / HTTP/1.1\r\n"),
        malformed(MalformedKind::InvalidTarget)
    );
    assert_eq!(
        request("GET /é HTTP/1.1\r\n".as_bytes()),
        malformed(MalformedKind::InvalidTarget)
    );
    assert_eq!(request(b"GET\r\n"), malformed(MalformedKind::InvalidTarget));
}

#[test]
fn host_is_required_once_in_http11() {
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nX: y\r\n\r\n"),
        Err(HeadError::MissingHost)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
        Err(HeadError::DuplicateHost)
    );
    assert_eq!(
        request(b"GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n"),
        Err(HeadError::DuplicateHost)
    );
    let (req, _) = request(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
    assert_eq!(req.version, HttpVersion::Http10);
    assert!(req.headers.is_empty());
}

#[test]
fn header_syntax_errors_come_from_httparse() {
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
        malformed(MalformedKind::InvalidHeaderName)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
        malformed(MalformedKind::InvalidHeaderName)
    );
    assert_eq!(
        request(b"GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n"),
        malformed(MalformedKind::InvalidHeaderName)
    );
    assert_eq!(
        response(b"HTTP/1.1 200 OK\r\nBad(Name): x\r\n\r\n"),
        malformed(MalformedKind::InvalidHeaderName)
    );
}

#[test]
fn names_keep_case_and_values_lose_surrounding_whitespace() {
    let (req, _) = request(
        b"GET / HTTP/1.1\r\nhOsT:h\r\nX-Y:  \t v a l \t \r\nEmpty:\r\nObs: \xe9t\xe9\r\n\r\n",
    )
    .unwrap()
    .unwrap();
    let fields: Vec<(&str, &[u8])> = req.headers.iter().collect();
    assert_eq!(
        fields,
        [
            ("hOsT", &b"h"[..]),
            ("X-Y", b"v a l"),
            ("Empty", b""),
            ("Obs", b"\xe9t\xe9")
        ]
    );
}

#[test]
fn status_code_is_three_digits_from_100() {
    for line in [
        &b"HTTP/1.1 099 Odd\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 20x OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 \r\n\r\n",
    ] {
        assert_eq!(
            response(line),
            malformed(MalformedKind::InvalidStatusCode),
            "{line:?}"
        );
    }
    let (resp, _) = response(b"HTTP/1.1 999 Max\r\n\r\n").unwrap().unwrap();
    assert_eq!(resp.status, 999);
    let (resp, _) = response(b"HTTP/1.0 100 Continue\r\n\r\n").unwrap().unwrap();
    assert_eq!((resp.status, resp.version), (100, HttpVersion::Http10));
}

#[test]
fn reason_phrase_may_be_empty_absent_or_not_utf8() {
    let (resp, _) = response(b"HTTP/1.1 101\r\n\r\n").unwrap().unwrap();
    assert_eq!((resp.status, resp.reason.as_str()), (101, ""));
    let (resp, _) = response(b"HTTP/1.1 204 \r\n\r\n").unwrap().unwrap();
    assert_eq!(resp.reason, "");
    let (resp, _) = response(b"HTTP/1.1 400  Bad\tRequest \r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(resp.reason, " Bad\tRequest ");
    let (resp, _) = response("HTTP/1.1 403 Verböten\r\n\r\n".as_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(resp.reason, "Verböten");
    let (resp, _) = response(b"HTTP/1.1 403 Verb\xf6ten\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(resp.reason, "Verb\u{fffd}ten");
}

#[test]
fn reset_starts_the_next_head_after_an_interim_response() {
    let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    let mut parser = HeadParser::default();
    let (interim, len) = parser.parse_response(wire).unwrap().unwrap();
    assert_eq!(interim.status, 100);
    parser.reset();
    let (fin, rest_len) = parser.parse_response(&wire[len..]).unwrap().unwrap();
    assert_eq!(fin.status, 101);
    assert_eq!(len + rest_len, wire.len());
}

#[test]
fn a_shorter_buffer_or_other_kind_restarts_the_scan() {
    let mut parser = HeadParser::default();
    assert_eq!(parser.parse_request(b"GET / HTTP/1.1\r\nHo"), Ok(None));
    // Broken contract: a different, shorter buffer. The parser starts over.
    let (resp, _) = parser
        .parse_response(b"HTTP/1.1 200 OK\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(resp.status, 200);
    assert!(parser.parse_request(b"GET").unwrap().is_none());
    assert!(parser.parse_request(b"").unwrap().is_none());
    assert!(parser.parse_request(HANDSHAKE).unwrap().is_some());
}

#[test]
fn empty_input_is_incomplete() {
    assert_eq!(request(b""), Ok(None));
    assert_eq!(response(b""), Ok(None));
    assert_eq!(request(b"GET / HTTP/1.1\r\nHost: h\r\n\r"), Ok(None));
}

#[test]
fn zero_limits_refuse_the_first_byte() {
    let mut parser = HeadParser::new(limits(0, 0, 0));
    assert_eq!(
        parser.parse_request(b"G"),
        Err(HeadError::HeadTooLarge { limit: 0 })
    );
    let mut parser = HeadParser::new(limits(0, 100, 0));
    assert_eq!(
        parser.parse_request(b"G"),
        Err(HeadError::RequestLineTooLong { limit: 0 })
    );
}
