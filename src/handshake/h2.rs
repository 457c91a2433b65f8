//! WebSockets over HTTP/2 and HTTP/3 (RFC 8441, RFC 9220): the extended
//! CONNECT handshake, on the `http` crate's types (feature `http`).
//!
//! A stream-multiplexing stack (hyper or the h2 crate for HTTP/2, an h3
//! stack for HTTP/3) parses the frames, and hands over an `http::Request`
//! with the `:protocol` pseudo-header as an extension of its own
//! (`hyper::ext::Protocol`, `h2::ext::Protocol`, `h3::ext::Protocol`). This
//! module depends on none of them: the caller passes the `:protocol` value
//! as a `&str`, so every stack calls it the same way.
//!
//! What differs from the HTTP/1.1 handshake:
//! - the request is a `CONNECT` with `:protocol = websocket`, `:scheme`,
//!   `:path` and `:authority`; there is no `Upgrade` or `Connection`, which
//!   HTTP/2 and HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2);
//! - there is no `Sec-WebSocket-Key` and no `Sec-WebSocket-Accept`
//!   (RFC 8441 §5): the stack's own framing already proves the peer speaks
//!   the protocol;
//! - the server accepts with 200, not 101, and refuses with statuses other
//!   than 426, whose mandatory `Upgrade` cannot be sent (RFC 9113 §8.6);
//! - `Origin`, `Sec-WebSocket-Version`, `Sec-WebSocket-Protocol` and
//!   `Sec-WebSocket-Extensions` keep their RFC 6455 meaning, so the origin
//!   policy, the subprotocol and the extensions (permessage-deflate
//!   included) are decided exactly as for HTTP/1.1.
//!
//! After the 200, the stream's DATA carries WebSocket frames: run it with
//! [`Server::new_upgraded`](crate::Server::new_upgraded) or
//! [`Client::new_upgraded`](crate::Client::new_upgraded) and what was
//! negotiated. Client frames are still masked. The end of the stream
//! (`END_STREAM` in HTTP/2, FIN in HTTP/3) is the transport's end: call
//! `receive_eof`. A reset stream (`RST_STREAM` with `CANCEL`, or
//! `H3_REQUEST_CANCELLED`) is a reset of the transport.
//!
//! ```
//! use wsmachine::handshake::h2::{self, PROTOCOL};
//! use wsmachine::handshake::server::{Accept, ServerConfig};
//!
//! // What an HTTP/2 stack hands over for RFC 8441 §5.1's example.
//! let request = http::Request::builder()
//!     .method(http::Method::CONNECT)
//!     .version(http::Version::HTTP_2)
//!     .uri("https://server.example.com/chat")
//!     .header("sec-websocket-protocol", "chat, superchat")
//!     .header("sec-websocket-version", "13")
//!     .header("origin", "http://www.example.com")
//!     .body(())?;
//! let config = ServerConfig::default();
//! let valid = h2::validate_request(&request, Some(PROTOCOL), &config)?;
//! assert_eq!(valid.protocols(), ["chat", "superchat"]);
//!
//! let (response, negotiated) = h2::negotiate(&valid, Accept::default().with_protocol("chat"), &config)?;
//! assert_eq!(response.status(), http::StatusCode::OK);
//! assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
//! assert_eq!(negotiated.protocol(), Some("chat"));
//! // Now: `Server::new_upgraded(&config, &negotiated, now)` on the stream.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::{String, ToString};

use super::client::{ClientConfig, ClientConfigError};
use super::negotiated::NegotiationError;
use super::server::{
    Accept, DecisionError, ErrorResponse, ServerConfig, check_origin_and_offers,
    check_websocket_version,
};
use super::{HandshakeError, HandshakeErrorKind, HandshakeRequest, Negotiated};
use crate::http::{
    ConvertError, HeadError, HeaderError, Headers, HttpVersion, MalformedKind, Request, WriteError,
};

/// The `:protocol` value of a WebSocket extended CONNECT (RFC 8441 §5).
pub const PROTOCOL: &str = "websocket";

/// Why an extended CONNECT is not a WebSocket handshake, or why a server
/// refused one.
///
/// It reaches the app as [`HandshakeError::ExtendedConnect`], whose
/// [`status`](HandshakeError::status) and [`kind`](HandshakeError::kind)
/// come from here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtendedConnectError {
    /// Server: a request over an HTTP version other than 2 and 3 (505).
    /// An HTTP/1.1 request goes through
    /// [`server::validate_request`](crate::handshake::server::validate_request).
    #[error("extended CONNECT over {version:?}; it needs HTTP/2 or HTTP/3")]
    HttpVersion {
        /// The request's version.
        version: http::Version,
    },
    /// Server: a method other than CONNECT (405, with `allow: CONNECT`).
    #[error("method {method} is not CONNECT")]
    NotConnect {
        /// The method the request used.
        method: String,
    },
    /// Server: a CONNECT without `:protocol`, which asks for a TCP tunnel,
    /// not a WebSocket (400).
    #[error("CONNECT without :protocol is a tunnel request, not a WebSocket")]
    PlainConnect,
    /// Server: a `:protocol` other than `websocket` (501).
    #[error("unsupported :protocol {protocol:?}")]
    UnknownProtocol {
        /// The protocol the client asked for.
        protocol: String,
    },
    /// Server: `:scheme`, `:path` or `:authority` is missing (400).
    #[error("extended CONNECT without {name}")]
    MissingPseudoHeader {
        /// The missing pseudo-header, with its colon.
        name: &'static str,
    },
    /// Server: a `:scheme` other than `http` and `https` (400).
    #[error("unsupported :scheme {scheme:?}")]
    UnsupportedScheme {
        /// The scheme the request named.
        scheme: String,
    },
    /// Server: a field HTTP/2 and HTTP/3 forbid (`connection`, `upgrade`,
    /// `keep-alive`, `proxy-connection`, `transfer-encoding`, a `te` other
    /// than `trailers`) (400).
    #[error("connection-specific header {name} in an HTTP/2 or HTTP/3 request")]
    ConnectionSpecificHeader {
        /// The field's name.
        name: String,
    },
    /// Server: no `sec-websocket-version` (400, naming 13).
    #[error("missing sec-websocket-version")]
    MissingVersion,
    /// Server: a `sec-websocket-version` other than 13 (400, naming 13).
    #[error("unsupported sec-websocket-version {version:?}")]
    UnsupportedVersion {
        /// The version the client asked for.
        version: String,
    },
    /// Client: the server answered with a status other than 200.
    #[error("the server refused the extended CONNECT with status {status}")]
    Refused {
        /// The server's status.
        status: u16,
    },
}

impl ExtendedConnectError {
    /// The failure's category.
    pub fn kind(&self) -> HandshakeErrorKind {
        use HandshakeErrorKind as Kind;
        match self {
            ExtendedConnectError::HttpVersion { .. } => Kind::HttpVersion,
            ExtendedConnectError::NotConnect { .. } => Kind::MethodNotAllowed,
            ExtendedConnectError::PlainConnect | ExtendedConnectError::UnknownProtocol { .. } => {
                Kind::NotWebSocket
            }
            ExtendedConnectError::MissingPseudoHeader { .. }
            | ExtendedConnectError::UnsupportedScheme { .. }
            | ExtendedConnectError::ConnectionSpecificHeader { .. } => Kind::MalformedHttp,
            ExtendedConnectError::MissingVersion
            | ExtendedConnectError::UnsupportedVersion { .. } => Kind::BadVersion,
            ExtendedConnectError::Refused { .. } => Kind::Refused,
        }
    }

    /// The status a server answers with, or `None` for a client-side
    /// failure.
    pub fn status(&self) -> Option<u16> {
        Some(match self {
            ExtendedConnectError::HttpVersion { .. } => 505,
            ExtendedConnectError::NotConnect { .. } => 405,
            // A WebSocket endpoint is no proxy: a tunnel request is one it
            // cannot serve, answered as HTTP/1.1 answers a plain request,
            // but with 400 since HTTP/2 has no 426 (RFC 9113 §8.6).
            ExtendedConnectError::PlainConnect => 400,
            // RFC 9220 §3: an unknown or unsupported :protocol SHOULD get
            // 501; RFC 8441 says nothing else, so HTTP/2 gets the same.
            ExtendedConnectError::UnknownProtocol { .. } => 501,
            // RFC 9113 §8.1.1 and RFC 9114 §4.1.2: a malformed request;
            // as a response, 400.
            ExtendedConnectError::MissingPseudoHeader { .. }
            | ExtendedConnectError::UnsupportedScheme { .. }
            | ExtendedConnectError::ConnectionSpecificHeader { .. } => 400,
            // RFC 6455 §4.4 asks for 426, which needs an Upgrade field that
            // RFC 9113 §8.2.2 forbids: 400, still naming the version.
            ExtendedConnectError::MissingVersion
            | ExtendedConnectError::UnsupportedVersion { .. } => 400,
            ExtendedConnectError::Refused { .. } => return None,
        })
    }

    /// The fields the error response carries besides `content-type`, none
    /// of them connection-specific.
    pub(crate) fn response_headers(&self) -> Headers {
        let mut headers = Headers::new();
        match self {
            // RFC 9110 §15.5.6: a 405 lists the allowed methods.
            ExtendedConnectError::NotConnect { .. } => headers.push("allow", "CONNECT"),
            // RFC 6455 §4.4: name the versions this server supports.
            ExtendedConnectError::MissingVersion
            | ExtendedConnectError::UnsupportedVersion { .. } => {
                headers.push("sec-websocket-version", "13");
            }
            _ => {}
        }
        headers
    }
}

impl From<ExtendedConnectError> for HandshakeError {
    fn from(error: ExtendedConnectError) -> Self {
        HandshakeError::ExtendedConnect(error)
    }
}

/// Server: a valid extended CONNECT for a WebSocket, for the app to accept
/// with [`negotiate`] or refuse with a response of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedConnectRequest {
    /// The offers and fields, in the shape the HTTP/1.1 rules share; its
    /// request line is a stand-in, never shown.
    handshake: HandshakeRequest,
    version: http::Version,
    scheme: String,
    authority: String,
}

impl ExtendedConnectRequest {
    /// `:path`: the path and query.
    pub fn path(&self) -> &str {
        &self.handshake.request.target
    }

    /// `:authority`: the host, and the port when there is one.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `:scheme`: `https` for a `wss` URL, `http` for `ws` (RFC 8441 §5).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `HTTP_2` or `HTTP_3`.
    pub fn version(&self) -> http::Version {
        self.version
    }

    /// The `origin` field, if any.
    pub fn origin(&self) -> Option<&str> {
        self.handshake.origin()
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.handshake.protocols
    }

    /// The extension offers, one string per offer as sent.
    pub fn extensions(&self) -> &[String] {
        &self.handshake.extensions
    }

    /// The request's fields (pseudo-headers are not fields).
    pub fn headers(&self) -> &Headers {
        self.handshake.headers()
    }
}

/// Checks an HTTP/2 or HTTP/3 request as a WebSocket extended CONNECT
/// (RFC 8441 §4 and §5, RFC 9220 §3), with the server's origin policy and
/// the offers parsed as for HTTP/1.1. `protocol` is the `:protocol`
/// pseudo-header as the stack exposes it, `None` when absent.
///
/// The stack builds the request's URI from `:scheme`, `:authority` and
/// `:path`, which is where they are read from.
///
/// On success, answer with [`negotiate`]'s 200. On failure, answer with
/// [`error_response`].
///
/// # Errors
///
/// [`HandshakeError::ExtendedConnect`] for a request that is not a
/// WebSocket extended CONNECT or asks for another WebSocket version;
/// [`HandshakeError::OriginNotAllowed`] (403) as for HTTP/1.1;
/// [`HandshakeError::InvalidRequestHead`] (400) for a field whose name or
/// value wsmachine refuses (RFC 9113 §8.2.1: no surrounding whitespace).
///
/// ```
/// use wsmachine::handshake::h2::{self, ExtendedConnectError};
/// use wsmachine::handshake::server::ServerConfig;
/// use wsmachine::handshake::HandshakeError;
///
/// let request = http::Request::builder()
///     .method(http::Method::CONNECT)
///     .version(http::Version::HTTP_3)
///     .uri("https://example.com/socket")
///     .header("sec-websocket-version", "8")
///     .body(())?;
/// let error = h2::validate_request(&request, Some("websocket"), &ServerConfig::default()).unwrap_err();
/// assert_eq!(error, HandshakeError::ExtendedConnect(ExtendedConnectError::UnsupportedVersion { version: "8".into() }));
/// assert_eq!(error.status(), Some(400));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn validate_request<B>(
    request: &http::Request<B>,
    protocol: Option<&str>,
    config: &ServerConfig,
) -> Result<ExtendedConnectRequest, HandshakeError> {
    // RFC 8441 defines extended CONNECT for HTTP/2, RFC 9220 for HTTP/3;
    // an HTTP/1.1 request has a key to check instead.
    let version = request.version();
    if version != http::Version::HTTP_2 && version != http::Version::HTTP_3 {
        return Err(ExtendedConnectError::HttpVersion { version }.into());
    }
    // RFC 8441 §4: an extended CONNECT is a CONNECT with :protocol.
    if request.method() != http::Method::CONNECT {
        return Err(ExtendedConnectError::NotConnect {
            method: request.method().to_string(),
        }
        .into());
    }
    // RFC 9113 §8.5: without :protocol, a CONNECT asks for a tunnel.
    let Some(protocol) = protocol else {
        return Err(ExtendedConnectError::PlainConnect.into());
    };
    // RFC 8441 §5: the value MUST be "websocket"; compared as HTTP/1.1's
    // `Upgrade: websocket` is (RFC 6455 §4.2.1, item 3).
    if !protocol.eq_ignore_ascii_case(PROTOCOL) {
        return Err(ExtendedConnectError::UnknownProtocol {
            protocol: protocol.to_string(),
        }
        .into());
    }
    // RFC 8441 §4 and §5: :scheme and :path MUST be present, and
    // :authority names the target. (An `http::Uri` with a scheme always
    // has an authority and a path, so the authority is looked at first.)
    let uri = request.uri();
    let missing = |name| ExtendedConnectError::MissingPseudoHeader { name };
    let authority = uri.authority().ok_or(missing(":authority"))?;
    let scheme = uri.scheme_str().ok_or(missing(":scheme"))?;
    let path = uri
        .path_and_query()
        .map(http::uri::PathAndQuery::as_str)
        .filter(|path| !path.is_empty())
        .ok_or(missing(":path"))?;
    // RFC 8441 §5: https for wss URIs, http for ws URIs.
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(ExtendedConnectError::UnsupportedScheme {
            scheme: scheme.to_string(),
        }
        .into());
    }
    if let Some(name) = connection_specific_field(request.headers()) {
        return Err(ExtendedConnectError::ConnectionSpecificHeader { name }.into());
    }
    let headers = Headers::try_from(request.headers()).map_err(|error| {
        HandshakeError::InvalidRequestHead(HeadError::Malformed(malformed_field(&error)))
    })?;
    // RFC 8441 §5: Sec-WebSocket-Version is used as RFC 6455 defines it;
    // only the status of its failure differs.
    check_websocket_version(&headers).map_err(|error| match error {
        HandshakeError::MissingVersion => ExtendedConnectError::MissingVersion.into(),
        HandshakeError::UnsupportedVersion { version } => {
            ExtendedConnectError::UnsupportedVersion { version }.into()
        }
        other => other,
    })?;
    // RFC 8441 §5: no Sec-WebSocket-Key processing; Origin, the
    // subprotocols and the extensions as in RFC 6455.
    let stand_in = Request {
        method: String::from("CONNECT"),
        target: String::from(path),
        version: HttpVersion::Http11,
        headers,
    };
    let handshake = check_origin_and_offers(stand_in, config)?;
    Ok(ExtendedConnectRequest {
        handshake,
        version,
        scheme: scheme.to_string(),
        authority: authority.as_str().to_string(),
    })
}

/// Decides the extensions of the 200 that accepts `request`, as
/// [`server::negotiate`](crate::handshake::server::negotiate) does for a
/// 101, and returns the response with what was agreed.
///
/// The response carries `sec-websocket-protocol` and
/// `sec-websocket-extensions` for the choices, then the app's extra
/// headers; no `upgrade`, `connection` or `sec-websocket-accept`
/// (RFC 8441 §5). With the `deflate` feature and
/// [`Config::deflate`](crate::config::Config::deflate) set, an `accept` without extensions answers the client's
/// permessage-deflate offer. Send the response, then run the stream with
/// [`Server::new_upgraded`](crate::Server::new_upgraded) and the returned
/// [`Negotiated`].
///
/// # Errors
///
/// As [`server::negotiate`](crate::handshake::server::negotiate); and
/// [`DecisionError::ReservedHeader`] for an extra header HTTP/2 and HTTP/3
/// forbid (`keep-alive`, `proxy-connection`, `te`).
pub fn negotiate(
    request: &ExtendedConnectRequest,
    accept: Accept,
    config: &ServerConfig,
) -> Result<(http::Response<()>, Negotiated), DecisionError> {
    if let Some((name, _)) = accept
        .headers
        .iter()
        .find(|(name, _)| is_connection_specific(name))
    {
        return Err(DecisionError::ReservedHeader {
            name: name.to_string(),
        });
    }
    let (headers, negotiated) = super::server::negotiate(&request.handshake, accept, config)?;
    let mut response = http::Response::new(());
    *response.status_mut() = http::StatusCode::OK;
    *response.version_mut() = request.version;
    // RFC 8441 §5: no key, so no accept value; RFC 9113 §8.2.2: no
    // Upgrade or Connection. The app cannot have set these three itself.
    let mut fields = Headers::new();
    for (name, value) in headers.iter() {
        let http1_only = ["Upgrade", "Connection", "Sec-WebSocket-Accept"]
            .iter()
            .any(|dropped| dropped.eq_ignore_ascii_case(name));
        if !http1_only {
            fields.push(name, value);
        }
    }
    *response.headers_mut() =
        to_header_map(&fields).map_err(|error| DecisionError::Write(WriteError::Header(error)))?;
    Ok((response, negotiated))
}

/// The error response for a failed extended CONNECT, or `None` for a
/// failure that gets no response (a client-side one).
///
/// The status is [`HandshakeError::status`]; the fields are those of
/// [`server::error_response`](crate::handshake::server::error_response)
/// without the connection-specific ones HTTP/2 and HTTP/3 forbid, so a
/// version failure names 13 in `sec-websocket-version`. The body is one
/// line of plain text; the stack frames it. A 426, which only an HTTP/1.1
/// error has and which needs `Upgrade`, is answered 400 here.
///
/// ```
/// use wsmachine::handshake::h2::{error_response, ExtendedConnectError};
///
/// let response = error_response(&ExtendedConnectError::MissingVersion.into()).unwrap();
/// assert_eq!(response.status(), http::StatusCode::BAD_REQUEST);
/// assert_eq!(response.headers()["sec-websocket-version"], "13");
/// assert!(response.headers().get("connection").is_none());
/// ```
pub fn error_response(error: &HandshakeError) -> Option<http::Response<String>> {
    let ErrorResponse {
        status,
        headers,
        body,
        ..
    } = super::server::error_response(error)?;
    let status = if status == 426 { 400 } else { status };
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    for (name, value) in headers.iter() {
        if is_connection_specific(name) {
            continue;
        }
        // The fields come from fixed tables, so they convert.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Some(response)
}

/// Client: the extended CONNECT request for `config`'s URL and offers
/// (RFC 8441 §5), as HTTP/2; for HTTP/3, set its version to `HTTP_3`.
///
/// The request has method CONNECT and a URI that gives the stack
/// `:scheme` (`https` for `wss`, `http` for `ws`), `:authority` and
/// `:path`, with `sec-websocket-version: 13`, the origin, the offers and
/// the extra headers. Give it the `:protocol` [`PROTOCOL`] the stack's way
/// (for the h2 crate, the extension `h2::ext::Protocol::from(PROTOCOL)`);
/// stacks send it only once the server has announced
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3).
///
/// # Errors
///
/// As for an HTTP/1.1 client: [`ClientConfigError::ReservedHeader`] for an
/// extra header the handshake sets itself, or one HTTP/2 and HTTP/3 forbid
/// (`keep-alive`, `proxy-connection`, `te`, `transfer-encoding`), and
/// `content-length`; [`ClientConfigError::InvalidProtocol`]; a
/// [`ClientConfigError::Write`] for a field that cannot be sent.
///
/// ```
/// use wsmachine::handshake::client::ClientConfig;
/// use wsmachine::handshake::h2;
///
/// let config = ClientConfig::new("wss://example.com/chat?room=1")?.with_protocol("chat");
/// let request = h2::build_request(&config)?;
/// assert_eq!(request.method(), http::Method::CONNECT);
/// assert_eq!(request.uri(), "https://example.com/chat?room=1");
/// assert_eq!(request.headers()["sec-websocket-version"], "13");
/// assert!(request.headers().get("sec-websocket-key").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_request(config: &ClientConfig) -> Result<http::Request<()>, ClientConfigError> {
    config.check_offer()?;
    if let Some((name, _)) = config.headers.iter().find(|(name, _)| {
        is_connection_specific(name) || name.eq_ignore_ascii_case("content-length")
    }) {
        return Err(ClientConfigError::ReservedHeader {
            name: name.to_string(),
        });
    }
    let mut fields = Headers::new();
    config.push_offer_headers(&mut fields);
    fields.validate().map_err(WriteError::Header)?;
    let headers = to_header_map(&fields).map_err(WriteError::Header)?;
    // RFC 8441 §5: the scheme names the transport's security, the rest of
    // the target URI goes in :authority and :path.
    let scheme = if config.is_secure() { "https" } else { "http" };
    let uri = http::Uri::builder()
        .scheme(scheme)
        .authority(config.host_header())
        .path_and_query(config.resource())
        .build()
        .map_err(|_| WriteError::InvalidTarget)?;
    let mut request = http::Request::new(());
    *request.method_mut() = http::Method::CONNECT;
    *request.uri_mut() = uri;
    *request.version_mut() = http::Version::HTTP_2;
    *request.headers_mut() = headers;
    Ok(request)
}

/// Client: checks the server's answer to [`build_request`]'s request
/// against the offer in `config`, and returns what was agreed, for
/// [`Client::new_upgraded`](crate::Client::new_upgraded).
///
/// # Errors
///
/// [`ExtendedConnectError::Refused`] for a status other than 200 (RFC 8441
/// §5: a server that agrees answers 200); the errors of an HTTP/1.1
/// client's checks for a subprotocol or an extension that was not offered,
/// or a permessage-deflate answer that does not fit the offer;
/// [`HandshakeError::InvalidResponseHead`] for a field wsmachine refuses.
///
/// ```
/// use wsmachine::handshake::client::ClientConfig;
/// use wsmachine::handshake::h2;
///
/// let config = ClientConfig::new("ws://example.com/")?.with_protocol("chat");
/// let response = http::Response::builder().header("sec-websocket-protocol", "chat").body(())?;
/// let negotiated = h2::check_response(&response, &config)?;
/// assert_eq!(negotiated.protocol(), Some("chat"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_response<B>(
    response: &http::Response<B>,
    config: &ClientConfig,
) -> Result<Negotiated, HandshakeError> {
    let status = response.status().as_u16();
    if status != 200 {
        return Err(ExtendedConnectError::Refused { status }.into());
    }
    let headers = Headers::try_from(response.headers()).map_err(|error| {
        HandshakeError::InvalidResponseHead(HeadError::Malformed(malformed_field(&error)))
    })?;
    // RFC 8441 §5: the subprotocol and extension fields as in RFC 6455.
    let (protocol, extensions) = config.check_choices(&headers)?;
    Negotiated::checked(protocol, extensions).map_err(negotiation_error)
}

/// Whether a field is one HTTP/2 and HTTP/3 forbid in any message
/// (RFC 9113 §8.2.2, RFC 9114 §4.2), `te` included (allowed only as
/// `te: trailers`, which a WebSocket needs no more than anything else).
fn is_connection_specific(name: &str) -> bool {
    [
        "connection",
        "upgrade",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
    ]
    .iter()
    .any(|forbidden| forbidden.eq_ignore_ascii_case(name))
}

/// The first connection-specific field of a request, `te: trailers`
/// excepted (RFC 9113 §8.2.2 allows it).
fn connection_specific_field(headers: &http::HeaderMap) -> Option<String> {
    headers
        .iter()
        .find(|(name, value)| {
            is_connection_specific(name.as_str())
                && !(*name == http::header::TE
                    && value.as_bytes().eq_ignore_ascii_case(b"trailers"))
        })
        .map(|(name, _)| name.as_str().to_string())
}

/// Which part of a field the conversion refused, as a head parser would
/// name it.
fn malformed_field(error: &ConvertError) -> MalformedKind {
    match error {
        ConvertError::Header(HeaderError::InvalidName { .. })
        | ConvertError::InvalidHeaderName { .. } => MalformedKind::InvalidHeaderName,
        _ => MalformedKind::InvalidHeaderValue,
    }
}

/// `fields` as an `http::HeaderMap`, with a refusal as the header error it
/// is.
fn to_header_map(fields: &Headers) -> Result<http::HeaderMap, HeaderError> {
    http::HeaderMap::try_from(fields).map_err(|error| match error {
        ConvertError::Header(error) => error,
        ConvertError::InvalidHeaderName { name } => HeaderError::InvalidName { name },
        ConvertError::InvalidHeaderValue { name } => HeaderError::InvalidValue { name },
        // Converting a header map refuses only names and values.
        _ => HeaderError::InvalidValue {
            name: String::new(),
        },
    })
}

fn negotiation_error(error: NegotiationError) -> HandshakeError {
    match error {
        #[cfg(feature = "deflate")]
        NegotiationError::Deflate(error) => HandshakeError::InvalidDeflateResponse(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn te_trailers_is_the_one_connection_specific_field_allowed() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        assert_eq!(connection_specific_field(&headers), None);
        headers.insert(http::header::TE, http::HeaderValue::from_static("gzip"));
        assert_eq!(connection_specific_field(&headers).as_deref(), Some("te"));
    }

    #[test]
    fn refused_fields_are_named_as_a_parser_names_them() {
        let name = ConvertError::InvalidHeaderName { name: "x y".into() };
        assert_eq!(malformed_field(&name), MalformedKind::InvalidHeaderName);
        let value = ConvertError::Header(HeaderError::InvalidValue { name: "x".into() });
        assert_eq!(malformed_field(&value), MalformedKind::InvalidHeaderValue);
        let mut fields = Headers::new();
        fields.push("x", "a\rb");
        assert_eq!(
            to_header_map(&fields),
            Err(HeaderError::InvalidValue { name: "x".into() })
        );
    }
}
