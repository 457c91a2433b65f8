//! Properties of the head writers: for any input, either an error with
//! nothing written, or output whose every line is intact and which parses
//! back to exactly the given fields. Whether the input is acceptable is
//! decided here by an oracle written from the RFC grammar, not by the
//! crate's own checks.

use proptest::prelude::*;
use wsmachine::http::{
    HeadError, HeadLimits, HeadParser, Headers, HttpVersion, WriteError, write_request,
    write_response,
};

fn limits() -> HeadLimits {
    HeadLimits {
        max_line_len: 1 << 20,
        max_head_len: 1 << 22,
        max_headers: 1 << 12,
    }
}

/// RFC 9110 §5.6.2 tchar.
fn oracle_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn oracle_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(oracle_tchar)
}

/// RFC 9110 §5.5 field-value.
fn oracle_field_value(v: &[u8]) -> bool {
    let vchar = |b: u8| (0x21..=0x7E).contains(&b) || b >= 0x80;
    v.iter().all(|&b| vchar(b) || b == b' ' || b == b'\t')
        && v.first().is_none_or(|&b| vchar(b))
        && v.last().is_none_or(|&b| vchar(b))
}

fn oracle_fields_ok(headers: &[(String, Vec<u8>)]) -> bool {
    headers.iter().all(|(n, v)| {
        oracle_token(n)
            && oracle_field_value(v)
            && !n.eq_ignore_ascii_case("content-length")
            && !n.eq_ignore_ascii_case("transfer-encoding")
    })
}

/// Text that leans towards the characters injection needs.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::string::string_regex("[a-zA-Z0-9 \\r\\n\\t\\x00:/\\x7f\\x0b-]{0,12}")
            .expect("valid regex"),
        1 => any::<String>(),
        2 => proptest::string::string_regex("[A-Za-z-]{1,10}").expect("valid regex"),
        1 => Just("Content-Length".to_string()),
        1 => Just("transfer-encoding".to_string()),
    ]
}

fn nasty_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => nasty_string().prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

fn nasty_fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((nasty_string(), nasty_bytes()), 0..5)
}

fn headers_from(fields: &[(String, Vec<u8>)]) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in fields {
        headers.push(name.clone(), value.clone());
    }
    headers
}

/// Every CR in `head` is followed by LF, every LF preceded by CR, and the
/// head has exactly `lines` CRLFs (start line, fields, blank line).
fn assert_lines_intact(head: &[u8], lines: usize) -> Result<(), TestCaseError> {
    let mut crlf = 0;
    for (i, &b) in head.iter().enumerate() {
        if b == b'\r' {
            prop_assert_eq!(head.get(i + 1), Some(&b'\n'));
            crlf += 1;
        }
        if b == b'\n' {
            prop_assert!(i > 0 && head[i - 1] == b'\r');
        }
    }
    prop_assert_eq!(crlf, lines);
    Ok(())
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(1024)))]

    #[test]
    fn requests_are_refused_or_parse_back_exactly(
        method in prop_oneof![2 => Just("GET".to_string()), 1 => nasty_string()],
        target in prop_oneof![2 => Just("/".to_string()), 1 => nasty_string()],
        fields in nasty_fields(),
        body in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        // The parser needs one Host line; put it first so the random fields
        // stay as generated.
        let mut all = vec![("Host".to_string(), b"h".to_vec())];
        all.extend(fields.iter().cloned());
        let headers = headers_from(&all);
        let acceptable = oracle_token(&method)
            && !target.is_empty()
            && target.bytes().all(|b| (0x21..=0x7E).contains(&b))
            && oracle_fields_ok(&all);

        let mut out = b"prefix".to_vec();
        let result = write_request(&mut out, &method, &target, &headers, &body);
        prop_assert_eq!(result.is_ok(), acceptable, "{:?}", result);
        if result.is_err() {
            prop_assert_eq!(&out[..], b"prefix");
            return Ok(());
        }
        let wire = &out[6..];
        let extra = usize::from(!body.is_empty());
        let outcome = HeadParser::new(limits()).parse_request(wire);
        if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            prop_assert_eq!(outcome, Err(HeadError::DuplicateHost));
            return Ok(());
        }
        let (request, len) = outcome.expect("parses").expect("complete");
        assert_lines_intact(&wire[..len], all.len() + extra + 2)?;
        prop_assert_eq!(&wire[len..], &body[..]);
        prop_assert_eq!(request.method, method);
        prop_assert_eq!(request.target, target);
        prop_assert_eq!(request.version, HttpVersion::Http11);
        let mut expected = headers.clone();
        if !body.is_empty() {
            expected.push("Content-Length", body.len().to_string());
        }
        prop_assert_eq!(request.headers, expected);
    }

    #[test]
    fn responses_are_refused_or_parse_back_exactly(
        status in prop_oneof![3 => 100u16..=999, 1 => any::<u16>()],
        reason in nasty_string(),
        fields in nasty_fields(),
        body in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let headers = headers_from(&fields);
        let bodiless = status < 200 || status == 204 || status == 304;
        let acceptable = (100..=999).contains(&status)
            && !reason.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7F)
            && oracle_fields_ok(&fields)
            && (body.is_empty() || !bodiless);

        let mut out = b"prefix".to_vec();
        let result = write_response(&mut out, status, &reason, &headers, &body);
        prop_assert_eq!(result.is_ok(), acceptable, "{:?}", result);
        if let Err(error) = result {
            prop_assert_eq!(&out[..], b"prefix");
            if acceptable_but_for_body(status, &reason, &fields) && !body.is_empty() {
                prop_assert_eq!(error, WriteError::BodyNotAllowed { status });
            }
            return Ok(());
        }
        let wire = &out[6..];
        let (response, len) = HeadParser::new(limits())
            .parse_response(wire)
            .expect("parses")
            .expect("complete");
        let extra = usize::from(!bodiless);
        assert_lines_intact(&wire[..len], fields.len() + extra + 2)?;
        prop_assert_eq!(&wire[len..], &body[..]);
        prop_assert_eq!(response.status, status);
        prop_assert_eq!(response.reason, reason);
        let mut expected = headers.clone();
        if !bodiless {
            expected.push("Content-Length", body.len().to_string());
        }
        prop_assert_eq!(response.headers, expected);
    }

    #[test]
    fn fixed_buffers_are_filled_exactly_or_left_alone(
        size in 0usize..80,
        fields in proptest::collection::vec(
            (proptest::string::string_regex("[A-Za-z]{1,6}").expect("valid regex"),
             proptest::string::string_regex("[a-z]{0,6}").expect("valid regex")),
            0..4,
        ),
    ) {
        let mut headers = Headers::new();
        for (name, value) in &fields {
            headers.push(name.clone(), value.clone().into_bytes());
        }
        let mut growable = Vec::new();
        write_response(&mut growable, 200, "OK", &headers, b"body").expect("valid");

        let mut storage = vec![0xAAu8; size];
        let mut window: &mut [u8] = &mut storage;
        let result = write_response(&mut window, 200, "OK", &headers, b"body");
        if size >= growable.len() {
            prop_assert_eq!(result, Ok(()));
            prop_assert_eq!(&storage[..growable.len()], &growable[..]);
        } else {
            prop_assert_eq!(
                result,
                Err(WriteError::OutputTooSmall { needed: growable.len(), remaining: size })
            );
            prop_assert!(storage.iter().all(|&b| b == 0xAA));
        }
    }
}

/// Whether a response is refused only because it carries a body where
/// none is allowed.
fn acceptable_but_for_body(status: u16, reason: &str, fields: &[(String, Vec<u8>)]) -> bool {
    let bodiless = (100..200).contains(&status) || status == 204 || status == 304;
    bodiless
        && !reason
            .bytes()
            .any(|b| (b < 0x20 && b != b'\t') || b == 0x7F)
        && oracle_fields_ok(fields)
}
