//! The opening handshake (RFC 6455 §4): building and checking requests and
//! responses, classified failures, and ready rejection responses.
//!
//! The functions here are pure: they build and check heads. The connection
//! types drive them.

pub mod client;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod h2;
mod negotiated;
pub mod server;

pub use negotiated::Negotiated;

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::http::{BodyError, HeadError, HeadFault, Headers, Response};

/// Why an opening handshake failed.
///
/// On a server, every variant that [`HandshakeError::status`] maps to a
/// status has its HTTP error response queued already, with Content-Length
/// and a short text body. [`HandshakeError::kind`] gives a category to count
/// and filter by.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Server: the request head is malformed or over a limit.
    #[error("invalid request head: {0}")]
    InvalidRequestHead(HeadError),
    /// Server: an HTTP/1.0 request (RFC 6455 §4.1 needs 1.1 or later).
    #[error("HTTP/1.0 request; WebSocket needs HTTP/1.1")]
    Http10Request,
    /// Server: a method other than GET.
    #[error("method {method} is not GET")]
    MethodNotAllowed {
        /// The method the request used.
        method: String,
    },
    /// Server: a plain HTTP request, with no `Upgrade: websocket`.
    #[error("not a WebSocket upgrade request")]
    NotWebSocket,
    /// Server: `Upgrade: websocket` without an `upgrade` token in `Connection`.
    #[error("Connection header does not contain upgrade")]
    MissingConnectionUpgrade,
    /// Server: no `Sec-WebSocket-Version`.
    #[error("missing Sec-WebSocket-Version")]
    MissingVersion,
    /// Server: a `Sec-WebSocket-Version` other than 13.
    #[error("unsupported Sec-WebSocket-Version {version:?}")]
    UnsupportedVersion {
        /// The version the client asked for.
        version: String,
    },
    /// Server: no `Sec-WebSocket-Key`.
    #[error("missing Sec-WebSocket-Key")]
    MissingKey,
    /// Server: a `Sec-WebSocket-Key` that is not base64 of 16 bytes, or more
    /// than one.
    #[error("invalid Sec-WebSocket-Key")]
    InvalidKey,
    /// Server: the handshake request carries a body.
    #[error("handshake request with a body")]
    RequestBody,
    /// Server: the `Origin` is not on the allow-list.
    #[error("origin {origin:?} is not allowed")]
    OriginNotAllowed {
        /// The request's origin, if it had one.
        origin: Option<String>,
    },
    /// Server: more bytes arrived before the app decided on the request than
    /// the head limit allows.
    #[error("too much data before the handshake was answered")]
    EarlyData,
    /// Client: the response head is malformed or over a limit.
    #[error("invalid response head: {0}")]
    InvalidResponseHead(HeadError),
    /// Client: a 101 without `Upgrade: websocket`.
    #[error("101 response without Upgrade: websocket")]
    ResponseNotWebSocket,
    /// Client: a 101 without an `upgrade` token in `Connection`.
    #[error("101 response whose Connection does not contain upgrade")]
    ResponseMissingConnectionUpgrade,
    /// Client: a 101 without `Sec-WebSocket-Accept`.
    #[error("101 response without Sec-WebSocket-Accept")]
    MissingAccept,
    /// Client: a `Sec-WebSocket-Accept` that does not match the key.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// Client: the server chose a subprotocol the client did not offer.
    #[error("server chose subprotocol {protocol:?}, which was not offered")]
    UnofferedSubprotocol {
        /// The subprotocol the server named.
        protocol: String,
    },
    /// Client: the server answered with an extension the client did not offer.
    #[error("server answered with extension {extension:?}, which was not offered")]
    UnofferedExtension {
        /// The extension the server named.
        extension: String,
    },
    /// Client: the server's permessage-deflate response does not fit the
    /// offer (RFC 7692 §7).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    #[error("invalid permessage-deflate response: {0}")]
    InvalidDeflateResponse(crate::extensions::permessage_deflate::DeflateResponseError),
    /// Client: the body of a rejection is malformed, truncated or over its
    /// limit. The status and headers still reached the app as
    /// [`Event::HandshakeRejected`](crate::Event::HandshakeRejected).
    #[error("rejection body: {0}")]
    RejectionBody(BodyError),
    /// Either side: the transport ended before the handshake did.
    #[error("the transport ended during the handshake")]
    UnexpectedEof,
    /// Either side: the handshake did not complete within
    /// [`Config::handshake_timeout`](crate::config::Config::handshake_timeout).
    /// A server answers 408.
    #[error("the opening handshake timed out")]
    Timeout,
    /// Either side: an HTTP/2 or HTTP/3 extended CONNECT (RFC 8441,
    /// RFC 9220) that is not a WebSocket handshake, or a refusal of one.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    #[error(transparent)]
    ExtendedConnect(h2::ExtendedConnectError),
    /// Client: the proxy's answer to the CONNECT is malformed, over a
    /// limit, or cut short.
    #[error("proxy: {0}")]
    Proxy(crate::proxy::ProxyError),
}

/// A category of handshake failure, for metrics and log filtering.
///
/// ```
/// use wsmachine::handshake::{HandshakeError, HandshakeErrorKind};
///
/// let error = HandshakeError::NotWebSocket;
/// assert_eq!(error.kind(), HandshakeErrorKind::NotWebSocket);
/// assert_eq!(error.kind().as_str(), "not_websocket");
/// assert_eq!(error.status(), Some(426));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HandshakeErrorKind {
    /// A plain HTTP request: a health check, a browser, a scanner.
    NotWebSocket,
    /// A method other than GET.
    MethodNotAllowed,
    /// Bytes that are not well-formed HTTP: garbage, a TLS ClientHello.
    MalformedHttp,
    /// A head over a size limit.
    HeadTooLarge,
    /// An HTTP version other than 1.1.
    HttpVersion,
    /// A WebSocket version other than 13, or none.
    BadVersion,
    /// A missing or malformed `Sec-WebSocket-Key`.
    BadKey,
    /// Another violation of RFC 6455 §4.2.1 by the request.
    BadRequest,
    /// An origin not on the allow-list.
    OriginRejected,
    /// A server response that breaks RFC 6455 §4.1.
    InvalidResponse,
    /// A rejection whose body could not be read whole.
    RejectionBody,
    /// The transport ended mid-handshake.
    Eof,
    /// The handshake took longer than its deadline: often a client that
    /// sent part of a request and stopped.
    Timeout,
    /// An HTTP/2 or HTTP/3 server answered an extended CONNECT with a
    /// status other than 200.
    Refused,
    /// The proxy's answer to the CONNECT could not be read; see
    /// [`ProxyError::kind`](crate::proxy::ProxyError::kind) for more.
    Proxy,
}

impl HandshakeErrorKind {
    /// A stable snake_case label, e.g. for a metrics dimension.
    pub const fn as_str(self) -> &'static str {
        match self {
            HandshakeErrorKind::NotWebSocket => "not_websocket",
            HandshakeErrorKind::MethodNotAllowed => "method_not_allowed",
            HandshakeErrorKind::MalformedHttp => "malformed_http",
            HandshakeErrorKind::HeadTooLarge => "head_too_large",
            HandshakeErrorKind::HttpVersion => "http_version",
            HandshakeErrorKind::BadVersion => "bad_version",
            HandshakeErrorKind::BadKey => "bad_key",
            HandshakeErrorKind::BadRequest => "bad_request",
            HandshakeErrorKind::OriginRejected => "origin_rejected",
            HandshakeErrorKind::InvalidResponse => "invalid_response",
            HandshakeErrorKind::RejectionBody => "rejection_body",
            HandshakeErrorKind::Eof => "eof",
            HandshakeErrorKind::Timeout => "timeout",
            HandshakeErrorKind::Refused => "refused",
            HandshakeErrorKind::Proxy => "proxy",
        }
    }
}

impl HandshakeError {
    /// The failure's category.
    pub fn kind(&self) -> HandshakeErrorKind {
        use HandshakeErrorKind as Kind;
        match self {
            HandshakeError::InvalidRequestHead(error)
            | HandshakeError::InvalidResponseHead(error) => match error.fault() {
                HeadFault::TooLarge => Kind::HeadTooLarge,
                HeadFault::Version => Kind::HttpVersion,
                HeadFault::Malformed => Kind::MalformedHttp,
            },
            HandshakeError::Http10Request => Kind::HttpVersion,
            HandshakeError::MethodNotAllowed { .. } => Kind::MethodNotAllowed,
            HandshakeError::NotWebSocket => Kind::NotWebSocket,
            HandshakeError::MissingConnectionUpgrade
            | HandshakeError::RequestBody
            | HandshakeError::EarlyData => Kind::BadRequest,
            HandshakeError::MissingVersion | HandshakeError::UnsupportedVersion { .. } => {
                Kind::BadVersion
            }
            HandshakeError::MissingKey | HandshakeError::InvalidKey => Kind::BadKey,
            HandshakeError::OriginNotAllowed { .. } => Kind::OriginRejected,
            HandshakeError::ResponseNotWebSocket
            | HandshakeError::ResponseMissingConnectionUpgrade
            | HandshakeError::MissingAccept
            | HandshakeError::AcceptMismatch
            | HandshakeError::UnofferedSubprotocol { .. }
            | HandshakeError::UnofferedExtension { .. } => Kind::InvalidResponse,
            #[cfg(feature = "deflate")]
            HandshakeError::InvalidDeflateResponse(_) => Kind::InvalidResponse,
            HandshakeError::RejectionBody(_) => Kind::RejectionBody,
            HandshakeError::UnexpectedEof => Kind::Eof,
            HandshakeError::Timeout => Kind::Timeout,
            #[cfg(feature = "http")]
            HandshakeError::ExtendedConnect(error) => error.kind(),
            HandshakeError::Proxy(_) => Kind::Proxy,
        }
    }

    /// The HTTP status a server answers this failure with, or `None` for a
    /// client-side failure (a client sends no response).
    ///
    /// With [`Error::close_code`](crate::Error::close_code) this is the only
    /// place where errors become wire values.
    pub fn status(&self) -> Option<u16> {
        Some(match self {
            // The HTTP layer knows which of its limits each status names.
            HandshakeError::InvalidRequestHead(error) => error.server_status(),
            HandshakeError::Http10Request => 505,
            HandshakeError::MethodNotAllowed { .. } => 405,
            // RFC 9110 §15.5.22 with RFC 6455 §4.4: 426 names what to upgrade to.
            HandshakeError::NotWebSocket
            | HandshakeError::MissingVersion
            | HandshakeError::UnsupportedVersion { .. } => 426,
            HandshakeError::MissingConnectionUpgrade
            | HandshakeError::MissingKey
            | HandshakeError::InvalidKey
            | HandshakeError::RequestBody
            | HandshakeError::EarlyData => 400,
            HandshakeError::OriginNotAllowed { .. } => 403,
            // RFC 9110 §15.5.9: the server did not receive a complete request
            // in the time it was prepared to wait.
            HandshakeError::Timeout => 408,
            HandshakeError::InvalidResponseHead(_)
            | HandshakeError::ResponseNotWebSocket
            | HandshakeError::ResponseMissingConnectionUpgrade
            | HandshakeError::MissingAccept
            | HandshakeError::AcceptMismatch
            | HandshakeError::UnofferedSubprotocol { .. }
            | HandshakeError::UnofferedExtension { .. }
            | HandshakeError::RejectionBody(_)
            | HandshakeError::UnexpectedEof
            | HandshakeError::Proxy(_) => return None,
            #[cfg(feature = "deflate")]
            HandshakeError::InvalidDeflateResponse(_) => return None,
            // HTTP/2 and HTTP/3 have statuses of their own (no 426).
            #[cfg(feature = "http")]
            HandshakeError::ExtendedConnect(error) => return error.status(),
        })
    }

    /// The header fields the error response carries besides the framing and
    /// `Content-Type`: `Allow` for 405; `Upgrade` (and `Sec-WebSocket-Version`
    /// for a version problem) for 426; and `Connection`.
    pub(crate) fn response_headers(&self) -> Headers {
        #[cfg(feature = "http")]
        if let HandshakeError::ExtendedConnect(error) = self {
            return error.response_headers();
        }
        let mut headers = Headers::new();
        if matches!(self, HandshakeError::MethodNotAllowed { .. }) {
            // RFC 9110 §15.5.6: a 405 lists the allowed methods.
            headers.push("Allow", "GET");
        }
        if self.status() == Some(426) {
            // RFC 9110 §7.8: a 426 MUST name the protocol to upgrade to.
            headers.push("Upgrade", "websocket");
        }
        if matches!(
            self,
            HandshakeError::MissingVersion | HandshakeError::UnsupportedVersion { .. }
        ) {
            // RFC 6455 §4.4: name the versions this server supports.
            headers.push("Sec-WebSocket-Version", "13");
        }
        // The connection ends after an error response. RFC 9110 §7.8: a
        // sender of Upgrade also sends the `upgrade` connection option, so
        // that intermediaries do not forward Upgrade.
        if headers.contains("Upgrade") {
            headers.push("Connection", "upgrade, close");
        } else {
            headers.push("Connection", "close");
        }
        headers
    }
}

/// Server: a valid opening handshake request, for the app to accept or
/// reject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// The whole request head.
    pub request: crate::http::Request,
    /// The subprotocols the client offered, in its order of preference.
    pub protocols: Vec<String>,
    /// The extension offers, one string per offer as sent
    /// (`permessage-deflate; client_max_window_bits`).
    pub extensions: Vec<String>,
}

impl HandshakeRequest {
    /// The request target: path and query.
    pub fn target(&self) -> &str {
        &self.request.target
    }

    /// The `Origin` header, if any.
    pub fn origin(&self) -> Option<&str> {
        self.request.headers.get_str("Origin")
    }

    /// The request's header fields.
    pub fn headers(&self) -> &Headers {
        &self.request.headers
    }
}

/// Client: the server's acceptance of the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The whole 101 response head.
    pub response: Response,
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// The extensions in effect, as the server answered them.
    pub extensions: Vec<String>,
}

/// Client: a final response other than 101.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The response's header fields.
    pub headers: Headers,
    /// The decoded body: whole, or what arrived before `body_error`.
    pub body: Bytes,
    /// Trailer fields of a chunked body.
    pub trailers: Headers,
    /// Why the body is incomplete, if it is.
    pub body_error: Option<BodyError>,
}

impl From<crate::http::final_response::FinalResponse> for Rejection {
    fn from(read: crate::http::final_response::FinalResponse) -> Self {
        Rejection {
            status: read.response.status,
            reason: read.response.reason,
            headers: read.response.headers,
            body: read.body,
            trailers: read.trailers,
            body_error: read.body_error,
        }
    }
}
impl Rejection {
    /// The `Retry-After` header as a number of seconds, when it is one
    /// (RFC 9110 §10.2.3 also allows an HTTP date, returned by
    /// [`Headers::get_str`] as text).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        let value = self.headers.get_str("Retry-After")?.trim();
        // RFC 9110 §10.2.3: delay-seconds = 1*DIGIT (no sign, which `parse`
        // would take).
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    }

    /// Whether the status is a redirect with a `Location` (301, 302, 303,
    /// 307, 308). Redirects are reported, never followed.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308) && self.headers.contains("Location")
    }

    /// The redirect target, resolved against the URL the request went to
    /// (RFC 3986 §5.2: `.` and `..` segments removed). A `Location` with a
    /// scheme is returned as sent, whatever the scheme.
    ///
    /// ```
    /// # use wsmachine::handshake::Rejection;
    /// # use wsmachine::http::Headers;
    /// let mut headers = Headers::new();
    /// headers.push("Location", "/v2/socket");
    /// let rejection = Rejection { status: 301, reason: "Moved".into(), headers,
    ///     body: Default::default(), trailers: Headers::new(), body_error: None };
    /// assert_eq!(
    ///     rejection.redirect_location("ws://example.com:8080/v1/socket?x=1").as_deref(),
    ///     Some("ws://example.com:8080/v2/socket")
    /// );
    /// ```
    pub fn redirect_location(&self, request_url: &str) -> Option<String> {
        if !self.is_redirect() {
            return None;
        }
        let location = self.headers.get_str("Location")?.trim();
        Some(crate::url::resolve_reference(request_url, location))
    }
}

/// The value of a field that must appear once: `None` when absent,
/// `Some(None)` when repeated.
pub(crate) fn single_value<'a>(headers: &'a Headers, name: &'a str) -> Option<Option<&'a [u8]>> {
    let mut values = headers.get_all(name);
    let first = values.next()?;
    Some(if values.next().is_some() {
        None
    } else {
        Some(first)
    })
}

/// Whether an extension element (`name; params`) names an extension among
/// `offers`, compared by name, ASCII case-insensitively.
pub(crate) fn is_offered_extension(offers: &[String], element: &str) -> bool {
    fn name(element: &str) -> &str {
        element.split(';').next().unwrap_or("").trim()
    }
    offers
        .iter()
        .any(|offer| name(offer).eq_ignore_ascii_case(name(element)))
}
