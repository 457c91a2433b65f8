//! Serialising request and response heads so that no input can inject a line.
//!
//! Every field is checked against the grammar [`super::HeadParser`] accepts
//! before the first byte is written, so an error leaves the output
//! untouched, and output that is written parses back to the same fields.
//! Message framing (`Content-Length`, `Transfer-Encoding`) is the writer's
//! job alone: a caller cannot set it, so it cannot contradict the body.

use bytes::BufMut;

use super::headers::{HeaderError, Headers, is_token};
use crate::invariant::Kept;

/// Why a head could not be written. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The method is not a token.
    #[error("invalid method: not an RFC 9110 token")]
    InvalidMethod,
    /// The target is empty or holds a byte other than visible ASCII (so no
    /// SP, CR, LF or NUL).
    #[error("invalid request target: empty or not visible ASCII")]
    InvalidTarget,
    /// The status code is outside 100..=999.
    #[error("invalid status code {status}: must be 100 to 999")]
    InvalidStatus {
        /// The refused code.
        status: u16,
    },
    /// The reason phrase holds a control character other than HTAB, or DEL.
    #[error("invalid reason phrase: control character")]
    InvalidReason,
    /// A header field has an invalid name or value.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The caller set `Content-Length` or `Transfer-Encoding`.
    #[error("header {name:?} is set by the writer, not the caller")]
    FramingHeaderNotAllowed {
        /// The name as the caller spelled it.
        name: alloc::string::String,
    },
    /// A body was given for a status that never has one (1xx, 204, 304).
    #[error("status {status} cannot carry a body")]
    BodyNotAllowed {
        /// The status code.
        status: u16,
    },
    /// The output buffer has less room than the message needs.
    #[error("output has room for {remaining} bytes, message needs {needed}")]
    OutputTooSmall {
        /// The bytes the message needs.
        needed: usize,
        /// The room the output had.
        remaining: usize,
    },
}

const CRLF: &[u8] = b"\r\n";
const HEADER_SEPARATOR: &[u8] = b": ";
const CONTENT_LENGTH: &[u8] = b"Content-Length";
const HTTP_11: &[u8] = b"HTTP/1.1";

/// Writes `METHOD target HTTP/1.1\r\n`, the headers, `Content-Length` when
/// `body` is non-empty, the blank line, and `body`.
///
/// # Errors
///
/// A [`WriteError`] if the method is not a token, the target is not
/// visible ASCII, a header would not survive the trip (see
/// [`Headers::try_push`]), the caller set a framing header, or `out` has too
/// little room. `out` is unchanged on error.
///
/// ```
/// use wsmachine::http::{Headers, write_request};
///
/// let mut headers = Headers::new();
/// headers.try_push("Host", "example.com")?;
/// let mut out = Vec::new();
/// write_request(&mut out, "GET", "/chat", &headers, b"")?;
/// assert_eq!(out, b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n");
///
/// let mut evil = Headers::new();
/// evil.push("X", "a\r\nInjected: yes");
/// assert!(write_request(&mut out, "GET", "/", &evil, b"").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_request(
    out: &mut impl BufMut,
    method: &str,
    target: &str,
    headers: &Headers,
    body: &[u8],
) -> Result<(), WriteError> {
    // RFC 9112 §3.1: method = token.
    if !is_token(method) {
        return Err(WriteError::InvalidMethod);
    }
    // RFC 9112 §3.2: the target is a URI form: visible ASCII, non-empty.
    if target.is_empty() || !target.bytes().all(|b| matches!(b, 0x21..=0x7E)) {
        return Err(WriteError::InvalidTarget);
    }
    check_headers(headers)?;

    let length = if body.is_empty() {
        Digits::none()
    } else {
        Digits::new(body.len())
    };
    // "METHOD SP target SP HTTP/1.1 CRLF"
    let start_line_len = method
        .len()
        .saturating_add(target.len())
        .saturating_add(1 + 1 + HTTP_11.len() + CRLF.len());
    let needed = message_len(start_line_len, headers, &length, body.len());
    reserve(out, needed)?;

    out.put_slice(method.as_bytes());
    out.put_u8(b' ');
    out.put_slice(target.as_bytes());
    out.put_u8(b' ');
    out.put_slice(HTTP_11);
    out.put_slice(CRLF);
    put_fields(out, headers, &length, body);
    Ok(())
}

/// Writes `HTTP/1.1 status reason\r\n`, the headers, `Content-Length`, the
/// blank line, and `body`.
///
/// `Content-Length` is always written except for 1xx, 204 and 304
/// responses, where it never is (RFC 9110 §8.6) and the body must be empty.
/// `reason` may be empty.
///
/// # Errors
///
/// A [`WriteError`] if the status is outside 100..=999, the reason holds a
/// control character, a header would not survive the trip, the caller set a
/// framing header, a body was given where none is allowed, or `out` has too
/// little room. `out` is unchanged on error.
///
/// ```
/// use wsmachine::http::{Headers, canonical_reason, write_response};
///
/// let mut headers = Headers::new();
/// headers.try_push("Upgrade", "websocket")?;
/// let mut out = Vec::new();
/// write_response(&mut out, 101, canonical_reason(101).unwrap_or(""), &headers, b"")?;
/// assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
///
/// out.clear();
/// write_response(&mut out, 400, "Bad Request", &Headers::new(), b"no")?;
/// assert_eq!(out, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_response(
    out: &mut impl BufMut,
    status: u16,
    reason: &str,
    headers: &Headers,
    body: &[u8],
) -> Result<(), WriteError> {
    // RFC 9112 §4: status-code = 3DIGIT, and RFC 9110 §15 classes start at 1.
    if !(100..=999).contains(&status) {
        return Err(WriteError::InvalidStatus { status });
    }
    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
    if reason
        .bytes()
        .any(|b| (b < 0x20 && b != b'\t') || b == 0x7F)
    {
        return Err(WriteError::InvalidReason);
    }
    check_headers(headers)?;

    // RFC 9110 §8.6: no Content-Length in 1xx and 204; RFC 9110 §15.4.5:
    // a 304 has no content, and its Content-Length would describe the
    // selected representation, which we do not know.
    let bodiless = status < 200 || status == 204 || status == 304;
    let length = if bodiless {
        if !body.is_empty() {
            return Err(WriteError::BodyNotAllowed { status });
        }
        Digits::none()
    } else {
        Digits::new(body.len())
    };
    // "HTTP/1.1 SP 3DIGIT SP reason CRLF"
    let start_line_len = reason
        .len()
        .saturating_add(HTTP_11.len() + 1 + 3 + 1 + CRLF.len());
    let needed = message_len(start_line_len, headers, &length, body.len());
    reserve(out, needed)?;

    out.put_slice(HTTP_11);
    out.put_u8(b' ');
    out.put_slice(Digits::new(usize::from(status)).as_bytes());
    out.put_u8(b' ');
    out.put_slice(reason.as_bytes());
    out.put_slice(CRLF);
    put_fields(out, headers, &length, body);
    Ok(())
}

/// The standard reason phrase for the codes a handshake server sends or a
/// client meets, from RFC 9110 §15 (and RFC 6585 for 428, 429, 431).
///
/// ```
/// use wsmachine::http::canonical_reason;
///
/// assert_eq!(canonical_reason(101), Some("Switching Protocols"));
/// assert_eq!(canonical_reason(426), Some("Upgrade Required"));
/// assert_eq!(canonical_reason(299), None);
/// ```
pub const fn canonical_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => return None,
    })
}

/// Refuses fields that would not survive the trip and framing fields.
fn check_headers(headers: &Headers) -> Result<(), WriteError> {
    headers.validate()?;
    for (name, _) in headers {
        // RFC 9112 §6: framing comes from Content-Length or Transfer-Encoding;
        // the writer sets it from the body so that it cannot lie.
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return Err(WriteError::FramingHeaderNotAllowed { name: name.into() });
        }
    }
    Ok(())
}

/// The whole message's length. The parts are in memory already, so their
/// sum is far below `usize::MAX`; saturation only guards the arithmetic.
fn message_len(
    start_line_len: usize,
    headers: &Headers,
    length: &Digits,
    body_len: usize,
) -> usize {
    let fields = headers
        .iter()
        .map(|(name, value)| field_len(name.len(), value.len()))
        .fold(0usize, usize::saturating_add);
    let framing = if length.is_empty() {
        0
    } else {
        field_len(CONTENT_LENGTH.len(), length.len())
    };
    start_line_len
        .saturating_add(fields)
        .saturating_add(framing)
        .saturating_add(CRLF.len())
        .saturating_add(body_len)
}

fn field_len(name_len: usize, value_len: usize) -> usize {
    name_len
        .saturating_add(HEADER_SEPARATOR.len())
        .saturating_add(value_len)
        .saturating_add(CRLF.len())
}

/// Checks that `out` can take `needed` bytes, since `BufMut::put_slice`
/// panics when it cannot. Growable buffers (`Vec`, `BytesMut`) always can.
fn reserve(out: &mut impl BufMut, needed: usize) -> Result<(), WriteError> {
    let remaining = out.remaining_mut();
    if remaining < needed {
        return Err(WriteError::OutputTooSmall { needed, remaining });
    }
    Ok(())
}

fn put_fields(out: &mut impl BufMut, headers: &Headers, length: &Digits, body: &[u8]) {
    for (name, value) in headers {
        out.put_slice(name.as_bytes());
        out.put_slice(HEADER_SEPARATOR);
        out.put_slice(value);
        out.put_slice(CRLF);
    }
    if !length.is_empty() {
        out.put_slice(CONTENT_LENGTH);
        out.put_slice(HEADER_SEPARATOR);
        out.put_slice(length.as_bytes());
        out.put_slice(CRLF);
    }
    out.put_slice(CRLF);
    out.put_slice(body);
}

/// A number's decimal digits, without allocating.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    const fn none() -> Self {
        Digits {
            buf: [0; 20],
            start: 20,
        }
    }

    fn new(mut n: usize) -> Self {
        let mut digits = Digits::none();
        loop {
            // usize::MAX has 20 digits at most, so `start` never passes 0.
            digits.start = digits.start.saturating_sub(1);
            if let Some(slot) = digits.buf.get_mut(digits.start) {
                // n % 10 < 10, so the cast is lossless.
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 {
                break digits;
            }
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).kept()
    }

    fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HeadParser, HttpVersion};
    use alloc::vec::Vec;

    fn host() -> Headers {
        let mut headers = Headers::new();
        headers.push("Host", "example.com");
        headers
    }

    fn request_bytes(method: &str, target: &str, headers: &Headers, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_request(&mut out, method, target, headers, body).unwrap();
        out
    }

    #[test]
    fn request_without_body_has_no_content_length() {
        let out = request_bytes("GET", "/chat", &host(), b"");
        assert_eq!(out, b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n");
    }

    #[test]
    fn request_with_body_gets_content_length() {
        let out = request_bytes("POST", "/x", &host(), b"hello");
        assert_eq!(
            out,
            b"POST /x HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"
        );
    }

    #[test]
    fn written_request_parses_back() {
        let mut headers = host();
        headers.push("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        headers.push("X-Obs", b"\xe9\tx");
        let out = request_bytes("GET", "*", &headers, b"");
        let (req, len) = HeadParser::default().parse_request(&out).unwrap().unwrap();
        assert_eq!(len, out.len());
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "*");
        assert_eq!(req.version, HttpVersion::Http11);
        assert_eq!(req.headers, headers);
    }

    #[test]
    fn injection_in_header_value_or_name_is_refused() {
        let mut out = b"untouched".to_vec();
        for (name, value) in [
            ("X", &b"a\r\nInjected: yes"[..]),
            ("X", b"a\nb"),
            ("X", b"a\rb"),
            ("X", b"nul\0"),
            ("X", b" leading"),
        ] {
            let mut headers = host();
            headers.push(name, value);
            assert_eq!(
                write_request(&mut out, "GET", "/", &headers, b""),
                Err(WriteError::Header(HeaderError::InvalidValue {
                    name: name.into()
                }))
            );
            assert_eq!(
                write_response(&mut out, 200, "OK", &headers, b""),
                Err(WriteError::Header(HeaderError::InvalidValue {
                    name: name.into()
                }))
            );
        }
        for name in ["Foo\r\nX: y", "", "A B", "A:"] {
            let mut headers = host();
            headers.push(name, "v");
            assert_eq!(
                write_request(&mut out, "GET", "/", &headers, b""),
                Err(WriteError::Header(HeaderError::InvalidName {
                    name: name.into()
                }))
            );
        }
        assert_eq!(out, b"untouched");
    }

    #[test]
    fn bad_method_or_target_is_refused() {
        let mut out = Vec::new();
        for method in ["", "GET /", "G\r\nET", "GÉT"] {
            assert_eq!(
                write_request(&mut out, method, "/", &host(), b""),
                Err(WriteError::InvalidMethod),
                "{method:?}"
            );
        }
        for target in ["", "/a b", "/a\r\nHost: evil", "/\0", "/é", "/\x7f", "/\t"] {
            assert_eq!(
                write_request(&mut out, "GET", target, &host(), b""),
                Err(WriteError::InvalidTarget),
                "{target:?}"
            );
        }
        assert!(out.is_empty());
    }

    #[test]
    fn framing_headers_belong_to_the_writer() {
        let mut out = Vec::new();
        for name in [
            "Content-Length",
            "content-length",
            "Transfer-Encoding",
            "TRANSFER-ENCODING",
        ] {
            let mut headers = host();
            headers.push(name, "0");
            assert_eq!(
                write_request(&mut out, "GET", "/", &headers, b""),
                Err(WriteError::FramingHeaderNotAllowed { name: name.into() })
            );
            assert_eq!(
                write_response(&mut out, 200, "OK", &headers, b""),
                Err(WriteError::FramingHeaderNotAllowed { name: name.into() })
            );
        }
        assert!(out.is_empty());
    }

    #[test]
    fn response_content_length_rules() {
        let mut out = Vec::new();
        write_response(&mut out, 200, "OK", &Headers::new(), b"").unwrap();
        assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        for status in [100, 101, 199, 204, 304] {
            out.clear();
            write_response(&mut out, status, "", &Headers::new(), b"").unwrap();
            assert_eq!(out, alloc::format!("HTTP/1.1 {status} \r\n\r\n").as_bytes());
            assert_eq!(
                write_response(&mut out, status, "", &Headers::new(), b"x"),
                Err(WriteError::BodyNotAllowed { status })
            );
        }
        out.clear();
        write_response(&mut out, 403, "Forbidden", &Headers::new(), b"go away").unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\ngo away"
        );
    }

    #[test]
    fn status_and_reason_are_checked() {
        let mut out = Vec::new();
        for status in [0, 99, 1000, u16::MAX] {
            assert_eq!(
                write_response(&mut out, status, "X", &Headers::new(), b""),
                Err(WriteError::InvalidStatus { status })
            );
        }
        for reason in ["a\r\nX: y", "a\n", "\0", "\x7f", "\x1b[31m"] {
            assert_eq!(
                write_response(&mut out, 200, reason, &Headers::new(), b""),
                Err(WriteError::InvalidReason),
                "{reason:?}"
            );
        }
        assert!(out.is_empty());
        write_response(&mut out, 999, "Tab\there é", &Headers::new(), b"").unwrap();
        let (resp, _) = HeadParser::default().parse_response(&out).unwrap().unwrap();
        assert_eq!((resp.status, resp.reason.as_str()), (999, "Tab\there é"));
    }

    #[test]
    fn a_too_small_fixed_buffer_is_refused_untouched() {
        let mut storage = [b'.'; 40];
        let mut window: &mut [u8] = &mut storage;
        let needed = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n".len();
        assert_eq!(
            write_request(&mut window, "GET", "/chat", &host(), b""),
            Err(WriteError::OutputTooSmall {
                needed,
                remaining: 40
            })
        );
        assert_eq!(storage, [b'.'; 40]);

        let mut storage = [b'.'; 41];
        let mut window: &mut [u8] = &mut storage;
        write_request(&mut window, "GET", "/chat", &host(), b"").unwrap();
        assert!(window.is_empty());
        assert_eq!(
            &storage[..],
            b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n"
        );
    }

    #[test]
    fn writes_into_bytes_mut() {
        let mut out = bytes::BytesMut::new();
        write_response(&mut out, 101, "Switching Protocols", &Headers::new(), b"").unwrap();
        assert_eq!(&out[..], b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    }

    #[test]
    fn digits_are_decimal() {
        for n in [0usize, 7, 10, 99, 100, 12345, usize::MAX] {
            assert_eq!(Digits::new(n).as_bytes(), alloc::format!("{n}").as_bytes());
        }
        assert!(Digits::none().is_empty());
        assert!(Digits::none().as_bytes().is_empty());
    }

    #[test]
    fn canonical_reasons_are_valid_reason_phrases() {
        let mut out = Vec::new();
        for status in 100..=999 {
            if let Some(reason) = canonical_reason(status) {
                out.clear();
                write_response(&mut out, status, reason, &Headers::new(), b"").unwrap();
            }
        }
        assert_eq!(canonical_reason(400), Some("Bad Request"));
        assert_eq!(
            canonical_reason(431),
            Some("Request Header Fields Too Large")
        );
        assert_eq!(canonical_reason(1), None);
    }
}
