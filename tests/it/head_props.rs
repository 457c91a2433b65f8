//! Properties of the head parser: write → parse round trips, split
//! invariance, and no panics on arbitrary or mutated bytes.

use proptest::prelude::*;
use wsmachine::http::{
    HeadError, HeadLimits, HeadParser, Headers, HttpVersion, Request, Response, write_request,
    write_response,
};

type RequestOutcome = Result<Option<(Request, usize)>, HeadError>;
type ResponseOutcome = Result<Option<(Response, usize)>, HeadError>;

const TCHARS: &str = "!#$%&'*+.^_`|~0-9A-Za-z-";

fn big_limits() -> HeadLimits {
    HeadLimits {
        max_line_len: 1 << 20,
        max_head_len: 1 << 22,
        max_headers: 1 << 12,
    }
}

fn token() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[{TCHARS}]{{1,12}}")).expect("valid regex")
}

/// A field name that is not one the parser or writer treat specially.
fn plain_name() -> impl Strategy<Value = String> {
    token().prop_filter("special field", |name| {
        !["host", "content-length", "transfer-encoding"]
            .iter()
            .any(|special| name.eq_ignore_ascii_case(special))
    })
}

/// An RFC 9110 field value: field-vchar at both ends, SP/HTAB inside.
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => 0x21u8..=0x7E,
        1 => 0x80u8..=0xFF,
        2 => Just(b' '),
        1 => Just(b'\t'),
    ];
    proptest::collection::vec(byte, 0..24).prop_map(|mut value| {
        while value.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            value.remove(0);
        }
        while value.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            value.pop();
        }
        value
    })
}

fn fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((plain_name(), field_value()), 0..8)
}

fn headers_from(fields: &[(String, Vec<u8>)]) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in fields {
        headers
            .try_push(name.clone(), value.clone())
            .expect("generated field is valid");
    }
    headers
}

/// Cut points inside `len` bytes, ascending.
fn cuts(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|c| c % (len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Feeds `data` as a growing buffer that stops at each cut, then whole.
fn feed_request(limits: HeadLimits, data: &[u8], cuts: &[usize]) -> RequestOutcome {
    let mut parser = HeadParser::new(limits);
    for &cut in cuts {
        match parser.parse_request(&data[..cut]) {
            Ok(None) => {}
            done => return done,
        }
    }
    parser.parse_request(data)
}

fn feed_response(limits: HeadLimits, data: &[u8], cuts: &[usize]) -> ResponseOutcome {
    let mut parser = HeadParser::new(limits);
    for &cut in cuts {
        match parser.parse_response(&data[..cut]) {
            Ok(None) => {}
            done => return done,
        }
    }
    parser.parse_response(data)
}

fn limits() -> impl Strategy<Value = HeadLimits> {
    (0usize..80, 0usize..300, 0usize..10).prop_map(|(line, head, headers)| HeadLimits {
        max_line_len: line,
        max_head_len: head,
        max_headers: headers,
    })
}

/// A valid request written by the writer, with a Host field at `host_at`.
fn request_parts() -> impl Strategy<Value = (String, String, Headers, Vec<u8>)> {
    (
        token(),
        proptest::string::string_regex("[!-~]{1,40}").expect("valid regex"),
        fields(),
        any::<prop::sample::Index>(),
        field_value().prop_filter("Host needs a value", |v| !v.is_empty()),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(method, target, mut fields, host_at, host, body)| {
            let at = host_at.index(fields.len() + 1);
            fields.insert(at, ("Host".to_string(), host));
            (method, target, headers_from(&fields), body)
        })
}

fn response_parts() -> impl Strategy<Value = (u16, String, Headers, Vec<u8>)> {
    (
        100u16..=999,
        proptest::string::string_regex("[^\\x00-\\x08\\x0a-\\x1f\\x7f]{0,20}")
            .expect("valid regex"),
        fields(),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(status, reason, fields, body)| {
            let bodiless = status < 200 || status == 204 || status == 304;
            let body = if bodiless { Vec::new() } else { body };
            (status, reason, headers_from(&fields), body)
        })
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(512)))]

    #[test]
    fn written_requests_parse_back_whole_and_split(
        (method, target, headers, body) in request_parts(),
        trailing in proptest::collection::vec(any::<u8>(), 0..16),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = Vec::new();
        write_request(&mut wire, &method, &target, &headers, &body).expect("valid request");
        let head_len = wire.len() - body.len();
        wire.extend_from_slice(&trailing);

        let whole = HeadParser::new(big_limits()).parse_request(&wire);
        let (request, len) = whole.clone().expect("parses").expect("complete");
        prop_assert_eq!(len, head_len);
        prop_assert_eq!(&wire[len..len + body.len()], &body[..]);
        prop_assert_eq!(&request.method, &method);
        prop_assert_eq!(&request.target, &target);
        prop_assert_eq!(request.version, HttpVersion::Http11);
        let mut expected = headers.clone();
        if !body.is_empty() {
            expected.push("Content-Length", body.len().to_string());
        }
        prop_assert_eq!(&request.headers, &expected);

        let split = feed_request(big_limits(), &wire, &cuts(wire.len(), &raw_cuts));
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn written_responses_parse_back_whole_and_split(
        (status, reason, headers, body) in response_parts(),
        trailing in proptest::collection::vec(any::<u8>(), 0..16),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = Vec::new();
        write_response(&mut wire, status, &reason, &headers, &body).expect("valid response");
        let head_len = wire.len() - body.len();
        wire.extend_from_slice(&trailing);

        let whole = HeadParser::new(big_limits()).parse_response(&wire);
        let (response, len) = whole.clone().expect("parses").expect("complete");
        prop_assert_eq!(len, head_len);
        prop_assert_eq!(response.status, status);
        prop_assert_eq!(&response.reason, &reason);
        prop_assert_eq!(response.version, HttpVersion::Http11);
        let mut expected = headers.clone();
        if !(status < 200 || status == 204 || status == 304) {
            expected.push("Content-Length", body.len().to_string());
        }
        prop_assert_eq!(&response.headers, &expected);

        let split = feed_response(big_limits(), &wire, &cuts(wire.len(), &raw_cuts));
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn byte_by_byte_feed_matches_whole((method, target, headers, body) in request_parts()) {
        let mut wire = Vec::new();
        write_request(&mut wire, &method, &target, &headers, &body).expect("valid request");
        let every: Vec<usize> = (0..=wire.len()).collect();
        prop_assert_eq!(
            feed_request(big_limits(), &wire, &every),
            HeadParser::new(big_limits()).parse_request(&wire)
        );
    }

    #[test]
    fn arbitrary_bytes_give_the_same_outcome_however_split(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        limits in limits(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let cuts = cuts(data.len(), &raw_cuts);
        let whole = HeadParser::new(limits).parse_request(&data);
        prop_assert_eq!(feed_request(limits, &data, &cuts), whole);
        let whole = HeadParser::new(limits).parse_response(&data);
        prop_assert_eq!(feed_response(limits, &data, &cuts), whole);
    }

    #[test]
    fn mutated_heads_give_the_same_outcome_however_split(
        (method, target, headers, _body) in request_parts(),
        (status, reason, response_headers, _) in response_parts(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        limits in limits(),
        use_limits in any::<bool>(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let limits = if use_limits { limits } else { big_limits() };
        let mut request_wire = Vec::new();
        write_request(&mut request_wire, &method, &target, &headers, b"").expect("valid");
        let mut response_wire = Vec::new();
        write_response(&mut response_wire, status, &reason, &response_headers, b"").expect("valid");
        for wire in [&mut request_wire, &mut response_wire] {
            for (at, byte, kind) in &edits {
                if wire.is_empty() {
                    break;
                }
                let at = at.index(wire.len());
                match kind {
                    0 => wire[at] = *byte,
                    1 => wire.insert(at, *byte),
                    _ => {
                        wire.remove(at);
                    }
                }
            }
        }
        let whole = HeadParser::new(limits).parse_request(&request_wire);
        let cut = cuts(request_wire.len(), &raw_cuts);
        prop_assert_eq!(feed_request(limits, &request_wire, &cut), whole.clone());
        if let Ok(Some((_, len))) = whole {
            prop_assert!(len <= request_wire.len());
            prop_assert_eq!(&request_wire[len - 4..len], b"\r\n\r\n");
        }
        let whole = HeadParser::new(limits).parse_response(&response_wire);
        let cut = cuts(response_wire.len(), &raw_cuts);
        prop_assert_eq!(feed_response(limits, &response_wire, &cut), whole.clone());
        if let Ok(Some((_, len))) = whole {
            prop_assert_eq!(&response_wire[len - 4..len], b"\r\n\r\n");
        }
    }

    #[test]
    fn bytes_after_the_head_never_change_it(
        (method, target, headers, _body) in request_parts(),
        after in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut wire = Vec::new();
        write_request(&mut wire, &method, &target, &headers, b"").expect("valid");
        let alone = HeadParser::new(big_limits()).parse_request(&wire);
        wire.extend_from_slice(&after);
        prop_assert_eq!(HeadParser::new(big_limits()).parse_request(&wire), alone);
    }

    #[test]
    fn limits_fail_the_same_way_fed_whole_or_split(
        (method, target, headers, _body) in request_parts(),
        limits in limits(),
        raw_cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut wire = Vec::new();
        write_request(&mut wire, &method, &target, &headers, b"").expect("valid");
        let whole = HeadParser::new(limits).parse_request(&wire);
        prop_assert_eq!(feed_request(limits, &wire, &cuts(wire.len(), &raw_cuts)), whole.clone());
        // Within the limits the head parses; past one of them it fails with
        // that limit's error.
        let start_line = wire.iter().position(|b| *b == b'\r').expect("CRLF");
        let longest_field = wire[start_line + 2..]
            .split(|b| *b == b'\n')
            .map(|line| line.len().saturating_sub(1))
            .max()
            .unwrap_or(0);
        let within = start_line <= limits.max_line_len
            && longest_field <= limits.max_line_len
            && wire.len() <= limits.max_head_len
            && headers.len() <= limits.max_headers;
        match whole {
            Ok(Some(_)) => prop_assert!(within),
            Err(
                HeadError::RequestLineTooLong { .. }
                | HeadError::HeaderLineTooLong { .. }
                | HeadError::HeadTooLarge { .. }
                | HeadError::TooManyHeaders { .. },
            ) => prop_assert!(!within),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
