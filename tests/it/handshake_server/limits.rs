//! Limits: 414 and 431, at and one past each boundary.

use super::*;

/// The sample request with its target padded so that the request line,
/// without CRLF, is `len` bytes long.
fn request_with_request_line_len(len: usize) -> Vec<u8> {
    let fixed = "GET /chat?q= HTTP/1.1".len();
    let pad = "a".repeat(len - fixed);
    let request = String::from_utf8(upgrade_request("")).unwrap().replacen(
        "GET /chat HTTP/1.1",
        &format!("GET /chat?q={pad} HTTP/1.1"),
        1,
    );
    assert_eq!(request.find("\r\n"), Some(len));
    request.into_bytes()
}

#[test]
fn a_request_line_at_the_limit_passes_and_one_byte_more_is_414() {
    let at_limit = request_with_request_line_len(SMALL_LIMITS.max_line_len);
    let outcome = feed_every_way(server_with_limits(SMALL_LIMITS), &at_limit, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));

    assert_refused(
        server_with_limits(SMALL_LIMITS),
        &request_with_request_line_len(SMALL_LIMITS.max_line_len + 1),
        HandshakeError::InvalidRequestHead(HeadError::RequestLineTooLong {
            limit: SMALL_LIMITS.max_line_len,
        }),
        HandshakeErrorKind::HeadTooLarge,
        414,
        "HTTP/1.1 414 URI Too Long",
        &[],
    );
}

#[test]
fn the_default_request_line_limit_is_8_kib() {
    let at_limit = request_with_request_line_len(8192);
    let mut server = server();
    server.receive(T0, &at_limit).unwrap();
    assert!(matches!(
        drain_events(&mut server).as_slice(),
        [Event::Request(_)]
    ));
    let over = request_with_request_line_len(8193);
    let mut server = self::server();
    // The refusal comes as soon as the line is over, without its end.
    assert_eq!(
        server.receive(T0, &over[..8193]),
        Err(Error::Handshake(HandshakeError::InvalidRequestHead(
            HeadError::RequestLineTooLong { limit: 8192 }
        )))
    );
    assert!(drain_transmit(&mut server).starts_with(b"HTTP/1.1 414 URI Too Long\r\n"));
}

/// The sample request with `count` extra `X-Pad-i: 1` header fields.
fn request_with_extra_headers(count: usize) -> Vec<u8> {
    let extra: String = (0..count).map(|i| format!("X-Pad-{i}: 1\r\n")).collect();
    upgrade_request(&extra)
}

#[test]
fn header_count_at_the_limit_passes_and_one_more_is_431() {
    // The sample request has 5 fields of its own.
    let at_limit = request_with_extra_headers(SMALL_LIMITS.max_headers - 5);
    let outcome = feed_every_way(server_with_limits(SMALL_LIMITS), &at_limit, false);
    assert_eq!(outcome.error, None);
    let [Event::Request(request)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(request.headers().len(), SMALL_LIMITS.max_headers);

    assert_refused(
        server_with_limits(SMALL_LIMITS),
        &request_with_extra_headers(SMALL_LIMITS.max_headers - 4),
        HandshakeError::InvalidRequestHead(HeadError::TooManyHeaders {
            limit: SMALL_LIMITS.max_headers,
        }),
        HandshakeErrorKind::HeadTooLarge,
        431,
        "HTTP/1.1 431 Request Header Fields Too Large",
        &[],
    );
}

/// The sample request padded with `X-Pad` fields to exactly `len` bytes,
/// blank line included. Each padding line is 14 to 60 bytes with its CRLF.
fn request_of_len(len: usize) -> Vec<u8> {
    let mut remaining = len - upgrade_request("").len();
    let mut extra = String::new();
    let mut index = 0;
    while remaining > 0 {
        let line_len = match remaining {
            0..=60 => remaining,
            61..=74 => remaining - 14,
            _ => 60,
        };
        let prefix = format!("X-Pad-{index}: ");
        let value_len = line_len - prefix.len() - 2;
        assert!(value_len >= 1, "cannot pad by {remaining}");
        extra.push_str(&prefix);
        extra.push_str(&"v".repeat(value_len));
        extra.push_str("\r\n");
        remaining -= line_len;
        index += 1;
    }
    let request = upgrade_request(&extra);
    assert_eq!(request.len(), len);
    request
}

#[test]
fn a_head_at_the_size_limit_passes_and_one_byte_more_is_431() {
    let limits = HeadLimits {
        max_headers: 128,
        ..SMALL_LIMITS
    };
    let at_limit = request_of_len(limits.max_head_len);
    let outcome = feed_every_way(server_with_limits(limits), &at_limit, false);
    assert_eq!(outcome.error, None);
    assert!(matches!(outcome.events.as_slice(), [Event::Request(_)]));

    assert_refused(
        server_with_limits(limits),
        &request_of_len(limits.max_head_len + 1),
        HandshakeError::InvalidRequestHead(HeadError::HeadTooLarge {
            limit: limits.max_head_len,
        }),
        HandshakeErrorKind::HeadTooLarge,
        431,
        "HTTP/1.1 431 Request Header Fields Too Large",
        &[],
    );
}

#[test]
fn a_header_line_over_the_limit_is_431() {
    let at_limit = format!("X-Long: {}\r\n", "v".repeat(SMALL_LIMITS.max_line_len - 8));
    let outcome = feed_every_way(
        server_with_limits(SMALL_LIMITS),
        &upgrade_request(&at_limit),
        false,
    );
    assert_eq!(outcome.error, None);
    let over = format!("X-Long: {}\r\n", "v".repeat(SMALL_LIMITS.max_line_len - 7));
    assert_refused(
        server_with_limits(SMALL_LIMITS),
        &upgrade_request(&over),
        HandshakeError::InvalidRequestHead(HeadError::HeaderLineTooLong {
            limit: SMALL_LIMITS.max_line_len,
        }),
        HandshakeErrorKind::HeadTooLarge,
        431,
        "HTTP/1.1 431 Request Header Fields Too Large",
        &[],
    );
}
