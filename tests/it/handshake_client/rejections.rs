//! Rejections: a final status other than 101, reported with its headers and
//! the exact body, however it is framed.

use super::*;

/// Feeds `response` every way (then EOF if `eof`) and returns the one
/// rejection it reports, checking that nothing is sent, the client is
/// closed, and the error is `error`.
fn rejection_of(response: &[u8], eof: bool, error: Option<BodyError>) -> Rejection {
    rejection_with(maker(config()), response, eof, error)
}

fn rejection_with(
    make: impl Fn() -> Client<FixedEntropy>,
    response: &[u8],
    eof: bool,
    error: Option<BodyError>,
) -> Rejection {
    let outcome = feed_every_way(&make, response, eof);
    assert_eq!(
        outcome.error,
        error
            .clone()
            .map(|e| Error::Handshake(HandshakeError::RejectionBody(e))),
        "{:?}",
        String::from_utf8_lossy(response)
    );
    assert_eq!(outcome.transmitted, b"");
    assert_eq!(outcome.state, State::Closed);
    let [Event::HandshakeRejected(rejection)] = outcome.events.as_slice() else {
        panic!("{:?}", outcome.events)
    };
    assert_eq!(rejection.body_error, error);
    if !eof {
        // Complete before EOF, so EOF afterwards changes nothing.
        assert_eq!(feed_every_way(&make, response, true), outcome);
    }
    (**rejection).clone()
}

#[test]
fn a_503_with_a_chunked_body_reaches_the_app_whole() {
    // The motivating story: a load balancer's 503, chunked, with chunk
    // extensions and a trailer.
    let response = b"HTTP/1.1 503 Service Unavailable\r\n\
        Content-Type: text/plain\r\n\
        Retry-After: 30\r\n\
        Transfer-Encoding: chunked\r\n\
        \r\n\
        5;name=value\r\nbusy,\r\n\
        7\r\n sorry!\r\n\
        A; a=1; b=\"q\"\r\n try later\r\n\
        0\r\n\
        X-Trace: abc123\r\n\
        \r\n";
    for eof in [false, true] {
        let rejection = rejection_of(response, eof, None);
        assert_eq!(rejection.status, 503);
        assert_eq!(rejection.reason, "Service Unavailable");
        assert_eq!(&rejection.body[..], b"busy, sorry! try later");
        assert_eq!(
            rejection.headers.get_str("Content-Type"),
            Some("text/plain")
        );
        assert_eq!(rejection.trailers.get_str("X-Trace"), Some("abc123"));
        assert_eq!(rejection.trailers.len(), 1);
        assert_eq!(rejection.retry_after_seconds(), Some(30));
        assert!(!rejection.is_redirect());
    }
}

#[test]
fn the_rejection_is_reported_before_eof_when_its_body_is_framed() {
    let mut client = client_after_request(config());
    client
        .receive(
            T0,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope",
        )
        .unwrap();
    let events = drain_events(&mut client);
    assert!(
        matches!(events.as_slice(), [Event::HandshakeRejected(r)] if &r.body[..] == b"nope"),
        "{events:?}"
    );
    assert_eq!(client.state(), State::Closed);
    assert_eq!(
        client.error(),
        None,
        "a rejection is an answer, not a fault"
    );
    assert_eq!(client.receive_eof(T0), Ok(()));
    assert_eq!(drain_events(&mut client), vec![]);
}

#[test]
fn a_content_length_body() {
    let rejection = rejection_of(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nX-Why: policy\r\n\r\nforbidden",
        false,
        None,
    );
    assert_eq!(rejection.status, 403);
    assert_eq!(&rejection.body[..], b"forbidden");
    assert_eq!(rejection.headers.get_str("x-why"), Some("policy"));
    assert!(rejection.trailers.is_empty());
}

#[test]
fn transfer_encoding_wins_over_content_length() {
    let rejection = rejection_of(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nbad\r\n0\r\n\r\n",
        false,
        None,
    );
    assert_eq!(&rejection.body[..], b"bad");
}

#[test]
fn a_body_until_eof_is_complete_only_at_eof() {
    let response = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\noops, \x81\x05Hello";
    let pending = feed_every_way(maker(config()), response, false);
    assert_eq!(pending.events, vec![], "the body may go on");
    assert_eq!(pending.error, None);
    assert_eq!(pending.state, State::Connecting);
    let rejection = rejection_of(response, true, None);
    assert_eq!(rejection.status, 500);
    // Everything up to EOF is body, including what looks like a frame.
    assert_eq!(&rejection.body[..], b"oops, \x81\x05Hello");
}

#[test]
fn bodiless_statuses_end_at_the_head() {
    for (status, reason) in [(204, "No Content"), (304, "Not Modified")] {
        let mut response =
            format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 10\r\n\r\n").into_bytes();
        response.extend_from_slice(b"\x81\x05Hello");
        for eof in [false, true] {
            let rejection = rejection_of(&response, eof, None);
            assert_eq!(rejection.status, status);
            assert!(rejection.body.is_empty());
        }
    }
}

#[test]
fn interim_responses_before_a_rejection_are_skipped() {
    let response = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n\
        HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 6\r\n\r\nlog in";
    let rejection = rejection_of(response, false, None);
    assert_eq!(rejection.status, 401);
    assert_eq!(
        rejection.headers.get_str("WWW-Authenticate"),
        Some("Bearer")
    );
    assert!(
        !rejection.headers.contains("Link"),
        "the 103's fields are not merged"
    );
    assert_eq!(&rejection.body[..], b"log in");
}

#[test]
fn a_malformed_chunked_body_is_reported_with_what_came_before() {
    let response = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
        4\r\nbusy\r\nzz\r\nmore\r\n0\r\n\r\n";
    let error = BodyError::Chunked(ChunkedError::InvalidSizeDigit { byte: b'z' });
    for eof in [false, true] {
        let rejection = rejection_of(response, eof, Some(error.clone()));
        assert_eq!(rejection.status, 503);
        assert_eq!(&rejection.body[..], b"busy");
        assert_eq!(
            HandshakeError::RejectionBody(error.clone()).kind(),
            HandshakeErrorKind::RejectionBody
        );
    }
    // Chunk data not followed by CRLF.
    let response = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
        4\r\nbusyX\r\n0\r\n\r\n";
    let rejection = rejection_of(
        response,
        false,
        Some(BodyError::Chunked(ChunkedError::MissingCrlfAfterData)),
    );
    assert_eq!(&rejection.body[..], b"busy");
}

#[test]
fn invalid_framing_headers_are_reported_with_the_head() {
    for (framing, error) in [
        ("Content-Length: abc", BodyError::InvalidContentLength),
        (
            "Content-Length: 3\r\nContent-Length: 4",
            BodyError::ConflictingContentLengths,
        ),
        (
            "Transfer-Encoding: chunked, chunked",
            BodyError::ChunkedAppliedTwice,
        ),
    ] {
        let response = format!("HTTP/1.1 403 Forbidden\r\n{framing}\r\n\r\nabc");
        let rejection = rejection_of(response.as_bytes(), false, Some(error));
        assert_eq!(rejection.status, 403);
        assert!(rejection.body.is_empty());
    }
}

#[test]
fn a_truncated_body_at_eof_keeps_what_arrived() {
    let response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 20\r\n\r\nonly part";
    let pending = feed_every_way(maker(config()), response, false);
    assert_eq!(pending.events, vec![]);
    assert_eq!(pending.state, State::Connecting);
    let rejection = rejection_of(
        response,
        true,
        Some(BodyError::Truncated {
            received: 9,
            expected: Some(20),
        }),
    );
    assert_eq!(&rejection.body[..], b"only part");

    let chunked =
        b"HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n8\r\nmor";
    let rejection = rejection_of(
        chunked,
        true,
        Some(BodyError::Truncated {
            received: 7,
            expected: None,
        }),
    );
    assert_eq!(&rejection.body[..], b"busymor");
}

fn limited_client(max_body: usize) -> impl Fn() -> Client<FixedEntropy> {
    let mut config = config();
    config.body_limits.max_body = max_body;
    maker(config)
}

#[test]
fn a_body_at_the_limit_passes_and_one_byte_more_fails() {
    const LIMIT: usize = 16;
    let too_large = BodyError::BodyTooLarge { limit: LIMIT };
    let exact = "x".repeat(LIMIT);
    let over = "x".repeat(LIMIT + 1);

    // Content-Length: refused from the head, before any body byte.
    let response = format!("HTTP/1.1 403 Forbidden\r\nContent-Length: {LIMIT}\r\n\r\n{exact}");
    let rejection = rejection_with(limited_client(LIMIT), response.as_bytes(), false, None);
    assert_eq!(rejection.body, exact.as_bytes());
    let response = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    );
    let rejection = rejection_with(
        limited_client(LIMIT),
        response.as_bytes(),
        false,
        Some(too_large.clone()),
    );
    assert!(rejection.body.is_empty());

    // Chunked, in two chunks.
    let chunked = |body: &str| {
        let (a, b) = body.split_at(5);
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            a.len(),
            b.len()
        )
    };
    let rejection = rejection_with(
        limited_client(LIMIT),
        chunked(&exact).as_bytes(),
        false,
        None,
    );
    assert_eq!(rejection.body, exact.as_bytes());
    let rejection = rejection_with(
        limited_client(LIMIT),
        chunked(&over).as_bytes(),
        false,
        Some(too_large.clone()),
    );
    assert!(rejection.body.len() <= LIMIT);

    // Until EOF: the first LIMIT bytes are kept.
    let response = format!("HTTP/1.1 500 Internal Server Error\r\n\r\n{exact}");
    let rejection = rejection_with(limited_client(LIMIT), response.as_bytes(), true, None);
    assert_eq!(rejection.body, exact.as_bytes());
    let response = format!("HTTP/1.1 500 Internal Server Error\r\n\r\n{over}");
    for eof in [false, true] {
        let rejection = rejection_with(
            limited_client(LIMIT),
            response.as_bytes(),
            eof,
            Some(too_large.clone()),
        );
        assert_eq!(rejection.body, exact.as_bytes());
    }
}

#[test]
fn bytes_after_a_body_are_not_frames() {
    let frame = b"\x81\x05Hello";
    for body in [
        &b"Content-Length: 4\r\n\r\nnope"[..],
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n",
        b"Content-Length: 0\r\n\r\n",
    ] {
        let mut response = b"HTTP/1.1 403 Forbidden\r\n".to_vec();
        response.extend_from_slice(body);
        response.extend_from_slice(frame);
        for eof in [false, true] {
            let rejection = rejection_of(&response, eof, None);
            assert!(!rejection.body.ends_with(b"Hello"));
        }
    }
    // Also a 101 that follows a rejection is not a handshake.
    let mut response = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n".to_vec();
    response.extend(switching_response(""));
    let rejection = rejection_of(&response, false, None);
    assert_eq!(rejection.status, 403);
}

#[test]
fn redirects_resolve_against_the_url() {
    let url = "ws://server.example.com:8080/v1/chat?room=1";
    let config = ClientConfig::new(url).unwrap();
    for (status, location, expected) in [
        (301, "/v2/chat", "ws://server.example.com:8080/v2/chat"),
        (302, "wss://other.example/chat", "wss://other.example/chat"),
        (307, "socket", "ws://server.example.com:8080/v1/socket"),
        (308, "//edge.example/chat", "ws://edge.example/chat"),
        (
            303,
            "?room=2",
            "ws://server.example.com:8080/v1/chat?room=2",
        ),
        // RFC 3986 §5.2.4: dot segments are removed.
        (301, "../v2/chat", "ws://server.example.com:8080/v2/chat"),
        (
            302,
            "./socket?x=1",
            "ws://server.example.com:8080/v1/socket?x=1",
        ),
        (307, "/a/./b/../c", "ws://server.example.com:8080/a/c"),
    ] {
        let response = format!(
            "HTTP/1.1 {status} Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        );
        let rejection = rejection_with(maker(config.clone()), response.as_bytes(), false, None);
        assert!(rejection.is_redirect(), "{status}");
        assert_eq!(
            rejection.redirect_location(config.url()).as_deref(),
            Some(expected),
            "{status} {location}"
        );
    }
    // Not redirects: a redirect status without Location, or Location on
    // another status.
    for response in [
        &b"HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 300 Multiple Choices\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
    ] {
        let rejection = rejection_of(response, false, None);
        assert!(!rejection.is_redirect());
        assert_eq!(rejection.redirect_location(URL), None);
    }
}

#[test]
fn retry_after_is_parsed_when_it_is_seconds() {
    for (value, expected) in [
        ("120", Some(120)),
        (" 5 ", Some(5)),
        ("0", Some(0)),
        ("Fri, 31 Dec 1999 23:59:59 GMT", None),
        ("-1", None),
        ("1.5", None),
        // RFC 9110 §10.2.3: delay-seconds = 1*DIGIT.
        ("+5", None),
        ("", None),
    ] {
        let response = format!(
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n"
        );
        let rejection = rejection_of(response.as_bytes(), false, None);
        assert_eq!(rejection.retry_after_seconds(), expected, "{value:?}");
    }
    let rejection = rejection_of(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        false,
        None,
    );
    assert_eq!(rejection.retry_after_seconds(), None);
}

#[test]
fn a_2xx_is_a_rejection_too() {
    let rejection = rejection_of(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
        false,
        None,
    );
    assert_eq!(rejection.status, 200);
    assert_eq!(&rejection.body[..], b"<html></html>");
}
