//! Conversions to and from the `http` crate's types (feature `http`).
//!
//! What does not carry over:
//! - `http::HeaderMap` lowercases names and groups the values of each name
//!   together (names in order of first appearance), so a trip through it
//!   loses the names' case and the interleaving of different names.
//! - `http::Response` has no reason phrase: converting to it drops ours;
//!   converting from it gives the status's canonical reason, or "".
//! - Bodies are not converted; an `http` message's body is ignored.

use alloc::string::{String, ToString};

use super::head::{HeadError, HeadLimits, HttpVersion, Request, Response};
use super::headers::{HeaderError, Headers, is_token};

/// Why a value could not be converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The method is not one `http::Method` (or RFC 9110's token rule)
    /// accepts.
    #[error("invalid method")]
    InvalidMethod,
    /// `http::Uri` refused the request target.
    #[error("request target is not a URI the http crate accepts")]
    InvalidUri,
    /// The URI is not a target we can write: empty or not visible ASCII.
    #[error("URI is not a valid request target")]
    InvalidTarget,
    /// `http::HeaderName` refused a field name.
    #[error("header name {name:?} refused by the http crate")]
    InvalidHeaderName {
        /// The refused name.
        name: String,
    },
    /// `http::HeaderValue` refused a field's value.
    #[error("value of header {name:?} refused by the http crate")]
    InvalidHeaderValue {
        /// The name of the field whose value was refused.
        name: String,
    },
    /// A field from `http` breaks our stricter rules (e.g. a value with
    /// leading whitespace, which `http` allows).
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The status code is outside 100..=999.
    #[error("invalid status code {status}")]
    InvalidStatus {
        /// The refused code.
        status: u16,
    },
    /// An `http::Version` other than HTTP/1.0 and HTTP/1.1.
    #[error("unsupported HTTP version {version:?}")]
    UnsupportedVersion {
        /// The refused version.
        version: http::Version,
    },
}

/// Our status code as an `http::StatusCode`.
///
/// # Errors
///
/// [`ConvertError::InvalidStatus`] if `status` is outside 100..=999.
///
/// ```
/// use wsmachine::http::status_to_http;
///
/// assert_eq!(status_to_http(101)?, http::StatusCode::SWITCHING_PROTOCOLS);
/// assert!(status_to_http(42).is_err());
/// # Ok::<(), wsmachine::http::ConvertError>(())
/// ```
pub fn status_to_http(status: u16) -> Result<http::StatusCode, ConvertError> {
    http::StatusCode::from_u16(status).map_err(|_| ConvertError::InvalidStatus { status })
}

/// An `http::StatusCode` as our status code (always 100..=999).
///
/// ```
/// use wsmachine::http::status_from_http;
///
/// assert_eq!(status_from_http(http::StatusCode::BAD_REQUEST), 400);
/// ```
pub fn status_from_http(status: http::StatusCode) -> u16 {
    status.as_u16()
}

impl From<HttpVersion> for http::Version {
    fn from(version: HttpVersion) -> Self {
        match version {
            HttpVersion::Http10 => http::Version::HTTP_10,
            HttpVersion::Http11 => http::Version::HTTP_11,
        }
    }
}

impl TryFrom<http::Version> for HttpVersion {
    type Error = ConvertError;

    fn try_from(version: http::Version) -> Result<Self, Self::Error> {
        match version {
            http::Version::HTTP_10 => Ok(HttpVersion::Http10),
            http::Version::HTTP_11 => Ok(HttpVersion::Http11),
            version => Err(ConvertError::UnsupportedVersion { version }),
        }
    }
}

impl TryFrom<&Headers> for http::HeaderMap {
    type Error = ConvertError;

    /// Converts every field, in order; names are lowercased by `http`.
    fn try_from(headers: &Headers) -> Result<Self, Self::Error> {
        let mut map = http::HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let header_name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConvertError::InvalidHeaderName { name: name.into() })?;
            let header_value = http::HeaderValue::from_bytes(value)
                .map_err(|_| ConvertError::InvalidHeaderValue { name: name.into() })?;
            map.append(header_name, header_value);
        }
        Ok(map)
    }
}

impl TryFrom<&http::HeaderMap> for Headers {
    type Error = ConvertError;

    /// Converts every field, grouped by name as `http` iterates them.
    ///
    /// Each field is checked with [`Headers::try_push`].
    fn try_from(map: &http::HeaderMap) -> Result<Self, Self::Error> {
        let mut headers = Headers::new();
        for (name, value) in map {
            headers.try_push(name.as_str(), value.as_bytes())?;
        }
        Ok(headers)
    }
}

impl TryFrom<&Request> for http::Request<()> {
    type Error = ConvertError;

    /// ```
    /// use wsmachine::http::HeadParser;
    ///
    /// let wire = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n";
    /// let (request, _) = HeadParser::default().parse_request(wire)?.expect("complete");
    /// let converted = http::Request::try_from(&request)?;
    /// assert_eq!(converted.uri().path(), "/chat");
    /// assert_eq!(converted.headers()["host"], "example.com");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn try_from(request: &Request) -> Result<Self, Self::Error> {
        let method = http::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| ConvertError::InvalidMethod)?;
        let uri =
            http::Uri::try_from(request.target.as_str()).map_err(|_| ConvertError::InvalidUri)?;
        let mut converted = http::Request::new(());
        *converted.method_mut() = method;
        *converted.uri_mut() = uri;
        *converted.version_mut() = request.version.into();
        *converted.headers_mut() = http::HeaderMap::try_from(&request.headers)?;
        Ok(converted)
    }
}

impl TryFrom<Request> for http::Request<()> {
    type Error = ConvertError;

    fn try_from(request: Request) -> Result<Self, Self::Error> {
        http::Request::try_from(&request)
    }
}

impl<B> TryFrom<&http::Request<B>> for Request {
    type Error = ConvertError;

    /// The body is ignored.
    fn try_from(request: &http::Request<B>) -> Result<Self, Self::Error> {
        let method = request.method().as_str();
        // RFC 9112 §3.1: method = token; `http` allows more (any bytes of an
        // extension method are checked only loosely).
        if !is_token(method) {
            return Err(ConvertError::InvalidMethod);
        }
        let target = request.uri().to_string();
        // RFC 9112 §3.2: the target is visible ASCII.
        if target.is_empty() || !target.bytes().all(|b| matches!(b, 0x21..=0x7E)) {
            return Err(ConvertError::InvalidTarget);
        }
        Ok(Request {
            method: method.into(),
            target,
            version: HttpVersion::try_from(request.version())?,
            headers: Headers::try_from(request.headers())?,
        })
    }
}

impl TryFrom<&Response> for http::Response<()> {
    type Error = ConvertError;

    /// The reason phrase is dropped: `http::Response` has none.
    fn try_from(response: &Response) -> Result<Self, Self::Error> {
        let mut converted = http::Response::new(());
        *converted.status_mut() = status_to_http(response.status)?;
        *converted.version_mut() = response.version.into();
        *converted.headers_mut() = http::HeaderMap::try_from(&response.headers)?;
        Ok(converted)
    }
}

impl TryFrom<Response> for http::Response<()> {
    type Error = ConvertError;

    fn try_from(response: Response) -> Result<Self, Self::Error> {
        http::Response::try_from(&response)
    }
}

impl<B> TryFrom<&http::Response<B>> for Response {
    type Error = ConvertError;

    /// The reason is the status's canonical reason, or empty. The body is
    /// ignored.
    fn try_from(response: &http::Response<B>) -> Result<Self, Self::Error> {
        Ok(Response {
            status: status_from_http(response.status()),
            reason: response.status().canonical_reason().unwrap_or("").into(),
            version: HttpVersion::try_from(response.version())?,
            headers: Headers::try_from(response.headers())?,
        })
    }
}

impl HeadLimits {
    /// Checks a request another HTTP stack parsed (hyper, axum) against
    /// these limits, with the errors [`HeadParser`](super::HeadParser)
    /// gives for the same head: 414 for the request line, 431 for a header
    /// line, the number of fields or the whole head.
    ///
    /// The request is measured as the HTTP/1.1 head that carries it: the
    /// request line `METHOD SP target SP HTTP/1.1` (for HTTP/2 and HTTP/3,
    /// the target is `:path`, and `:authority` counts as the `host` line it
    /// replaces), one `name: value` line per field, each with its CRLF,
    /// and the blank line.
    ///
    /// # Errors
    ///
    /// [`HeadError::RequestLineTooLong`], [`HeadError::HeaderLineTooLong`],
    /// [`HeadError::TooManyHeaders`] or [`HeadError::HeadTooLarge`].
    ///
    /// ```
    /// use wsmachine::http::{HeadError, HeadLimits};
    ///
    /// let request = http::Request::builder()
    ///     .uri("/chat")
    ///     .header("cookie", "a".repeat(9000))
    ///     .body(())?;
    /// let error = HeadLimits::default().check_request(&request).unwrap_err();
    /// assert_eq!(error, HeadError::HeaderLineTooLong { limit: 8192 });
    /// assert_eq!(error.server_status(), 431);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_request<B>(&self, request: &http::Request<B>) -> Result<(), HeadError> {
        const VERSION_LEN: usize = "HTTP/1.1".len();
        const CRLF: usize = 2;
        let uri = request.uri();
        let multiplexed = request.version() >= http::Version::HTTP_2;
        // HTTP/1.1's target is as sent (hyper keeps an absolute form
        // whole); HTTP/2's URI is rebuilt from the pseudo-headers.
        let target_len = if multiplexed {
            uri.path_and_query().map_or(1, |path| path.as_str().len())
        } else {
            uri.to_string().len()
        };
        let request_line = request.method().as_str().len() + 1 + target_len + 1 + VERSION_LEN;
        if request_line > self.max_line_len {
            return Err(HeadError::RequestLineTooLong {
                limit: self.max_line_len,
            });
        }
        let authority = uri
            .authority()
            .filter(|_| multiplexed)
            .map(|authority| "host: ".len() + authority.as_str().len());
        let fields = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + ": ".len() + value.len());
        let mut head_len = request_line + CRLF + CRLF;
        let mut count = 0usize;
        for line in authority.into_iter().chain(fields) {
            if line > self.max_line_len {
                return Err(HeadError::HeaderLineTooLong {
                    limit: self.max_line_len,
                });
            }
            count += 1;
            if count > self.max_headers {
                return Err(HeadError::TooManyHeaders {
                    limit: self.max_headers,
                });
            }
            head_len = head_len.saturating_add(line + CRLF);
        }
        if head_len > self.max_head_len {
            return Err(HeadError::HeadTooLarge {
                limit: self.max_head_len,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HeadParser, write_request, write_response};
    use alloc::format;
    use alloc::vec::Vec;

    fn parsed_request(wire: &[u8]) -> Request {
        HeadParser::default()
            .parse_request(wire)
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn request_round_trips_through_http() {
        let ours = parsed_request(
            b"GET /chat?room=1 HTTP/1.1\r\nhost: example.com\r\nupgrade: websocket\r\n\
connection: Upgrade\r\nconnection: keep-alive\r\n\r\n",
        );
        let theirs = http::Request::try_from(&ours).unwrap();
        assert_eq!(theirs.method(), http::Method::GET);
        assert_eq!(theirs.uri().path(), "/chat");
        assert_eq!(theirs.uri().query(), Some("room=1"));
        assert_eq!(theirs.version(), http::Version::HTTP_11);
        let connection: Vec<&[u8]> = theirs
            .headers()
            .get_all("connection")
            .iter()
            .map(http::HeaderValue::as_bytes)
            .collect();
        assert_eq!(connection, [&b"Upgrade"[..], b"keep-alive"]);
        // Lowercase names, grouped by name: the same in both directions.
        assert_eq!(Request::try_from(&theirs).unwrap(), ours);
        assert_eq!(
            http::Request::try_from(ours.clone()).unwrap().uri(),
            theirs.uri()
        );
    }

    #[test]
    fn request_from_http_is_writable_and_parses_back() {
        let theirs = http::Request::builder()
            .method("OPTIONS")
            .uri("*")
            .header("Host", "h")
            .header("X-Tab", "a\tb")
            .body(Vec::<u8>::new())
            .unwrap();
        let ours = Request::try_from(&theirs).unwrap();
        assert_eq!(
            (ours.method.as_str(), ours.target.as_str()),
            ("OPTIONS", "*")
        );
        let mut wire = Vec::new();
        write_request(&mut wire, &ours.method, &ours.target, &ours.headers, b"").unwrap();
        assert_eq!(parsed_request(&wire), ours);
    }

    #[test]
    fn names_lose_case_and_interleaving_through_header_map() {
        let mut headers = Headers::new();
        headers.push("A", "1");
        headers.push("B", "2");
        headers.push("a", "3");
        let map = http::HeaderMap::try_from(&headers).unwrap();
        let back = Headers::try_from(&map).unwrap();
        let fields: Vec<(&str, &[u8])> = back.iter().collect();
        assert_eq!(fields, [("a", &b"1"[..]), ("a", b"3"), ("b", b"2")]);
    }

    #[test]
    fn values_http_refuses_are_typed_errors() {
        let mut headers = Headers::new();
        headers.push("X", "bad\r\nvalue");
        assert_eq!(
            http::HeaderMap::try_from(&headers),
            Err(ConvertError::InvalidHeaderValue { name: "X".into() })
        );
        let mut headers = Headers::new();
        headers.push("Bad Name", "v");
        assert_eq!(
            http::HeaderMap::try_from(&headers),
            Err(ConvertError::InvalidHeaderName {
                name: "Bad Name".into()
            })
        );
    }

    #[test]
    fn values_we_refuse_from_http_are_typed_errors() {
        let mut map = http::HeaderMap::new();
        map.insert("x", http::HeaderValue::from_static(" padded"));
        assert_eq!(
            Headers::try_from(&map),
            Err(ConvertError::Header(HeaderError::InvalidValue {
                name: "x".into()
            }))
        );
    }

    #[test]
    fn request_fields_http_refuses() {
        let mut ours = parsed_request(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        ours.target = "/a b".into();
        assert_eq!(
            http::Request::try_from(&ours).err(),
            Some(ConvertError::InvalidUri)
        );
        ours.target = "/".into();
        ours.method = "GET /".into();
        assert_eq!(
            http::Request::try_from(&ours).err(),
            Some(ConvertError::InvalidMethod)
        );
    }

    #[test]
    fn http2_versions_are_refused() {
        let theirs = http::Request::builder()
            .version(http::Version::HTTP_2)
            .uri("/")
            .body(())
            .unwrap();
        assert_eq!(
            Request::try_from(&theirs),
            Err(ConvertError::UnsupportedVersion {
                version: http::Version::HTTP_2
            })
        );
        assert_eq!(
            HttpVersion::try_from(http::Version::HTTP_10),
            Ok(HttpVersion::Http10)
        );
        assert_eq!(
            http::Version::from(HttpVersion::Http11),
            http::Version::HTTP_11
        );
    }

    #[test]
    fn response_round_trips_through_http_without_reason() {
        let mut wire = Vec::new();
        let mut headers = Headers::new();
        headers.push("upgrade", "websocket");
        write_response(&mut wire, 101, "Custom Reason", &headers, b"").unwrap();
        let (ours, _) = HeadParser::default()
            .parse_response(&wire)
            .unwrap()
            .unwrap();
        let theirs = http::Response::try_from(&ours).unwrap();
        assert_eq!(theirs.status(), http::StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(theirs.headers()["upgrade"], "websocket");
        let back = Response::try_from(&theirs).unwrap();
        assert_eq!(back.reason, "Switching Protocols");
        assert_eq!(
            Response {
                reason: "Custom Reason".into(),
                ..back
            },
            ours
        );
        assert!(http::Response::try_from(ours).is_ok());
    }

    #[test]
    fn response_status_out_of_range_is_refused() {
        let ours = Response {
            status: 42,
            reason: String::new(),
            version: HttpVersion::Http11,
            headers: Headers::new(),
        };
        assert_eq!(
            http::Response::try_from(&ours).err(),
            Some(ConvertError::InvalidStatus { status: 42 })
        );
        let odd = http::Response::builder().status(599).body(()).unwrap();
        let ours = Response::try_from(&odd).unwrap();
        assert_eq!((ours.status, ours.reason.as_str()), (599, ""));
    }

    #[test]
    fn status_conversions() {
        for status in [100, 101, 200, 404, 999] {
            assert_eq!(status_from_http(status_to_http(status).unwrap()), status);
        }
        for status in [0, 99, 1000] {
            assert_eq!(
                status_to_http(status),
                Err(ConvertError::InvalidStatus { status })
            );
        }
    }

    #[test]
    fn head_limits_measure_a_parsed_request_as_its_http11_head() {
        let limits = HeadLimits {
            max_line_len: 40,
            max_head_len: 120,
            max_headers: 3,
        };
        let request = |target: &str, fields: &[(&str, &str)]| {
            let mut builder = http::Request::builder().uri(target);
            for (name, value) in fields {
                builder = builder.header(*name, *value);
            }
            builder.body(()).unwrap()
        };
        // "GET /aaa HTTP/1.1" is 17 bytes: a 40-byte line allows a
        // 27-byte target, not 28.
        let fits = format!("/{}", "a".repeat(26));
        assert_eq!(limits.check_request(&request(&fits, &[])), Ok(()));
        let long = format!("/{}", "a".repeat(27));
        assert_eq!(
            limits.check_request(&request(&long, &[])),
            Err(HeadError::RequestLineTooLong { limit: 40 })
        );
        // "x: " and 37 bytes is 40; 38 is one too many.
        let value = "v".repeat(37);
        assert_eq!(
            limits.check_request(&request("/", &[("x", &value)])),
            Ok(())
        );
        let value = "v".repeat(38);
        assert_eq!(
            limits.check_request(&request("/", &[("x", &value)])),
            Err(HeadError::HeaderLineTooLong { limit: 40 })
        );
        let four = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")];
        assert_eq!(
            limits.check_request(&request("/", &four)),
            Err(HeadError::TooManyHeaders { limit: 3 })
        );
        // 14 + 2, three lines of 38 + 2, and 2: 138 bytes.
        let value = "v".repeat(35);
        let three = [("a", &*value), ("b", &*value), ("c", &*value)];
        assert_eq!(
            limits.check_request(&request("/", &three)),
            Err(HeadError::HeadTooLarge { limit: 120 })
        );
    }

    #[test]
    fn head_limits_count_http2_authority_as_the_host_line() {
        let limits = HeadLimits {
            max_line_len: 30,
            max_head_len: 1024,
            max_headers: 8,
        };
        let connect = |authority: &str| {
            http::Request::builder()
                .method(http::Method::CONNECT)
                .version(http::Version::HTTP_2)
                .uri(format!("https://{authority}/chat"))
                .body(())
                .unwrap()
        };
        // The request line is "CONNECT /chat HTTP/1.1", not the whole URI.
        assert_eq!(limits.check_request(&connect("example.com")), Ok(()));
        let long = format!("{}.example", "a".repeat(20));
        assert_eq!(
            limits.check_request(&connect(&long)),
            Err(HeadError::HeaderLineTooLong { limit: 30 })
        );
    }

    #[test]
    fn head_limits_on_a_parsed_request_agree_with_the_parser() {
        let limits = HeadLimits {
            max_line_len: 64,
            max_head_len: 200,
            max_headers: 4,
        };
        let loose = HeadLimits {
            max_line_len: 1024,
            max_head_len: 4096,
            max_headers: 64,
        };
        let line = |name: &str, len: usize| format!("{name}: {}\r\n", "v".repeat(len));
        let host = "Host: h\r\n";
        let heads = [
            format!("GET / HTTP/1.1\r\n{host}\r\n"),
            // 74 bytes: 414.
            format!("GET /{} HTTP/1.1\r\n{host}\r\n", "t".repeat(60)),
            // 65 bytes, then 64.
            format!("GET / HTTP/1.1\r\n{host}{}\r\n", line("Cookie", 57)),
            format!("GET / HTTP/1.1\r\n{host}{}\r\n", line("Cookie", 56)),
            // Five fields.
            format!(
                "GET / HTTP/1.1\r\n{host}{}\r\n",
                ["a", "b", "c", "d"].map(|name| line(name, 1)).concat()
            ),
            // 16 + 9 + 3 × 65 + 2 = 222 bytes.
            format!(
                "GET / HTTP/1.1\r\n{host}{}\r\n",
                ["a", "b", "c"].map(|name| line(name, 60)).concat()
            ),
        ];
        for head in heads {
            let expected = HeadParser::new(limits)
                .parse_request(head.as_bytes())
                .map(|parsed| assert!(parsed.is_some(), "{head}"));
            let parsed = HeadParser::new(loose)
                .parse_request(head.as_bytes())
                .unwrap()
                .unwrap()
                .0;
            let request = http::Request::try_from(&parsed).unwrap();
            assert_eq!(limits.check_request(&request), expected, "{head}");
        }
    }
}
