//! The server's side of the opening handshake: the checks on the request
//! (RFC 6455 §4.2.1), the 101 response (§4.2.2) and the error responses.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::BytesMut;

use super::{HandshakeError, HandshakeRequest, Negotiated, is_offered_extension, single_value};
use crate::accept_key::{accept_key, is_valid_key};
use crate::config::Config;
use crate::extensions::header_elements;
use crate::http::{
    BodyFraming, HeadError, HeadLimits, Headers, HttpVersion, Request, WriteError,
    canonical_reason, write_response,
};

/// Everything a server needs for its handshakes and connections.
///
/// ```
/// use wsmachine::handshake::server::ServerConfig;
///
/// let mut config = ServerConfig::default();
/// config.allowed_origins = Some(vec!["https://example.com".into()]);
/// config.head_limits.max_head_len = 16 * 1024;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Limits on the request head.
    pub head_limits: HeadLimits,
    /// When set, requests whose `Origin` is not in the list (ASCII
    /// case-insensitive) get 403. Requests without an `Origin` (non-browser
    /// clients) are refused too while the list is set.
    pub allowed_origins: Option<Vec<String>>,
    /// The connection's settings, permessage-deflate among them (accepted
    /// when a client offers it and the app's [`Accept`] has no extensions
    /// of its own).
    pub config: Config,
}

/// The app's answer to a valid request: what to put in the 101.
///
/// ```
/// use wsmachine::handshake::server::Accept;
///
/// let accept = Accept::default().with_protocol("chat.v2").with_header("X-Served-By", "edge-1");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accept {
    /// The subprotocol chosen from those the client offered.
    pub protocol: Option<String>,
    /// Extension responses, one per element of `Sec-WebSocket-Extensions`.
    pub extensions: Vec<String>,
    /// Extra response headers (cookies, ...).
    pub headers: Headers,
}

impl Accept {
    /// Chooses a subprotocol.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Adds an extra response header.
    pub fn with_header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push(name, value);
        self
    }
}

/// Why [`Server::accept`](crate::Server::accept) or
/// [`Server::reject`](crate::Server::reject) refused. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// No request is waiting for a decision.
    #[error("no handshake request is waiting for a decision")]
    NoPendingRequest,
    /// The subprotocol was not among those the client offered.
    #[error("subprotocol {protocol:?} was not offered")]
    ProtocolNotOffered {
        /// The subprotocol.
        protocol: String,
    },
    /// An extension the client did not offer (RFC 6455 §9.1: the server
    /// answers only with extensions from the client's list).
    #[error("extension {extension:?} was not offered")]
    ExtensionNotOffered {
        /// The extension response.
        extension: String,
    },
    /// A rejection must have a final status other than 101 (200–999).
    #[error("status {status} cannot reject a handshake")]
    InvalidStatus {
        /// The status.
        status: u16,
    },
    /// An extra header the handshake sets itself.
    #[error("header {name} is set by the handshake itself")]
    ReservedHeader {
        /// The header's name.
        name: String,
    },
    /// A header or reason that cannot be written safely.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The app's permessage-deflate answer is malformed, repeated or has
    /// invalid parameters.
    #[cfg(feature = "deflate")]
    #[error("invalid permessage-deflate answer: {0}")]
    InvalidDeflateResponse(crate::extensions::permessage_deflate::DeflateResponseError),
}

/// Checks a request that another HTTP stack already parsed (hyper, axum, a
/// framework's router) as a [`Server`](crate::Server) checks the requests it
/// parses itself: RFC 9112 §3.2's `Host` rule, RFC 6455 §4.2.1 and the
/// server's policy (`allowed_origins`).
///
/// On success, answer with a 101 carrying [`accept_headers`], then run the
/// upgraded stream with [`Server::new_upgraded`](crate::Server::new_upgraded)
/// and what [`negotiate`] agreed. On
/// failure, answer with [`error_response`].
///
/// # Errors
///
/// The [`HandshakeError`] a [`Server`](crate::Server) would report for the
/// same request; [`HandshakeError::status`] gives its status.
///
/// ```
/// use wsmachine::handshake::HandshakeError;
/// use wsmachine::handshake::server::{ServerConfig, validate_request};
/// use wsmachine::http::{Headers, HttpVersion, Request};
///
/// let mut headers = Headers::new();
/// headers.push("Host", "example.com");
/// headers.push("Upgrade", "websocket");
/// headers.push("Connection", "Upgrade");
/// headers.push("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
/// headers.push("Sec-WebSocket-Version", "13");
/// let request = Request {
///     method: "GET".into(),
///     target: "/chat".into(),
///     version: HttpVersion::Http11,
///     headers,
/// };
/// let valid = validate_request(request.clone(), &ServerConfig::default())?;
/// assert_eq!(valid.target(), "/chat");
///
/// let mut plain = request;
/// plain.headers.remove("Upgrade");
/// let error = validate_request(plain, &ServerConfig::default()).unwrap_err();
/// assert_eq!(error, HandshakeError::NotWebSocket);
/// assert_eq!(error.status(), Some(426));
/// # Ok::<(), HandshakeError>(())
/// ```
pub fn validate_request(
    request: Request,
    config: &ServerConfig,
) -> Result<HandshakeRequest, HandshakeError> {
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without
    // Host and to any request with more than one. `HeadParser` enforces this
    // for the requests a `Server` parses; another stack may not.
    match request.headers.get_all("Host").count() {
        0 if request.version == HttpVersion::Http11 => {
            return Err(HandshakeError::InvalidRequestHead(HeadError::MissingHost));
        }
        0 | 1 => {}
        _ => return Err(HandshakeError::InvalidRequestHead(HeadError::DuplicateHost)),
    }
    check_request(request, config)
}

/// Checks a request against RFC 6455 §4.2.1 and the server's policy.
pub(crate) fn check_request(
    request: Request,
    config: &ServerConfig,
) -> Result<HandshakeRequest, HandshakeError> {
    if request.version == HttpVersion::Http10 {
        return Err(HandshakeError::Http10Request);
    }
    // RFC 6455 §4.2.1, items 1 to 6, in order.
    if request.method != "GET" {
        return Err(HandshakeError::MethodNotAllowed {
            method: request.method.clone(),
        });
    }
    let headers = &request.headers;
    if !headers.contains_token("Upgrade", "websocket") {
        return Err(HandshakeError::NotWebSocket);
    }
    if !headers.contains_token("Connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    match single_value(headers, "Sec-WebSocket-Key") {
        None => return Err(HandshakeError::MissingKey),
        Some(Some(key)) if is_valid_key(key) => {}
        Some(_) => return Err(HandshakeError::InvalidKey),
    }
    check_websocket_version(headers)?;
    // RFC 6455 §4.1: the handshake is a GET without a body; a body would be
    // read as frames.
    match BodyFraming::for_request(headers) {
        Ok(BodyFraming::None) | Ok(BodyFraming::ContentLength(0)) => {}
        _ => return Err(HandshakeError::RequestBody),
    }
    check_origin_and_offers(request, config)
}

/// RFC 6455 §4.2.1, item 6: one `Sec-WebSocket-Version`, and it is 13.
///
/// The errors are HTTP/1.1's; an extended CONNECT answers them with another
/// status (the `h2` module).
pub(crate) fn check_websocket_version(headers: &Headers) -> Result<(), HandshakeError> {
    match single_value(headers, "Sec-WebSocket-Version") {
        None => Err(HandshakeError::MissingVersion),
        Some(Some(b"13")) => Ok(()),
        Some(_) => {
            let versions: Vec<&[u8]> = headers.get_all("Sec-WebSocket-Version").collect();
            Err(HandshakeError::UnsupportedVersion {
                version: String::from_utf8_lossy(&versions.join(&b", "[..])).into_owned(),
            })
        }
    }
}

/// The rules every version of the handshake shares once the request is a
/// WebSocket one: the server's origin policy (RFC 6455 §10.2), then the
/// subprotocol and extension offers (§4.2.1, items 8 and 9).
pub(crate) fn check_origin_and_offers(
    request: Request,
    config: &ServerConfig,
) -> Result<HandshakeRequest, HandshakeError> {
    let headers = &request.headers;
    if let Some(allowed) = &config.allowed_origins {
        let origin = headers.get_str("Origin");
        let permitted = origin.is_some_and(|origin| {
            allowed
                .iter()
                .any(|entry| entry.eq_ignore_ascii_case(origin))
        });
        if !permitted {
            return Err(HandshakeError::OriginNotAllowed {
                origin: origin.map(String::from),
            });
        }
    }
    let protocols = headers
        .tokens("Sec-WebSocket-Protocol")
        .map(String::from)
        .collect();
    let extensions = header_elements(headers)
        .into_iter()
        .map(String::from)
        .collect();
    Ok(HandshakeRequest {
        request,
        protocols,
        extensions,
    })
}

/// The header fields of the 101 response that accepts `request` with the
/// app's `accept`: `Upgrade`, `Connection`, `Sec-WebSocket-Accept` (RFC 6455
/// §4.2.2), the chosen subprotocol and extensions, then the app's extra
/// headers.
///
/// A [`Server`](crate::Server) writes exactly these. An app whose HTTP stack
/// did the upgrade (see [`validate_request`]) puts them on its own 101.
///
/// # Errors
///
/// [`DecisionError::ProtocolNotOffered`] and
/// [`DecisionError::ExtensionNotOffered`] for a choice the client did not
/// offer; [`DecisionError::ReservedHeader`] for an extra header the
/// handshake sets itself; [`DecisionError::Write`] for a header that cannot
/// be written safely or a framing header (a 101 has no body).
///
/// ```
/// use wsmachine::handshake::server::{Accept, ServerConfig, accept_headers, validate_request};
/// use wsmachine::http::{Headers, HttpVersion, Request};
///
/// let mut headers = Headers::new();
/// headers.push("Host", "example.com");
/// headers.push("Upgrade", "websocket");
/// headers.push("Connection", "Upgrade");
/// headers.push("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
/// headers.push("Sec-WebSocket-Version", "13");
/// headers.push("Sec-WebSocket-Protocol", "chat, superchat");
/// let request = Request { method: "GET".into(), target: "/".into(), version: HttpVersion::Http11, headers };
/// let request = validate_request(request, &ServerConfig::default())?;
///
/// let response = accept_headers(&request, &Accept::default().with_protocol("chat"))?;
/// assert_eq!(response.get_str("Sec-WebSocket-Accept"), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
/// assert_eq!(response.get_str("Sec-WebSocket-Protocol"), Some("chat"));
/// assert!(accept_headers(&request, &Accept::default().with_protocol("mqtt")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_headers(
    request: &HandshakeRequest,
    accept: &Accept,
) -> Result<Headers, DecisionError> {
    if let Some(protocol) = &accept.protocol
        && !request.protocols.contains(protocol)
    {
        return Err(DecisionError::ProtocolNotOffered {
            protocol: protocol.clone(),
        });
    }
    if let Some(extension) = accept
        .extensions
        .iter()
        .find(|extension| !is_offered_extension(&request.extensions, extension))
    {
        return Err(DecisionError::ExtensionNotOffered {
            extension: extension.clone(),
        });
    }
    check_extra_headers(&accept.headers)?;
    // An HTTP/2 request has no key (RFC 8441 §5): its answer carries no
    // accept hash, and this one's is not sent.
    let key = request
        .request
        .headers
        .get("Sec-WebSocket-Key")
        .unwrap_or_default();
    let mut headers = Headers::new();
    headers.push("Upgrade", "websocket");
    headers.push("Connection", "Upgrade");
    headers.push("Sec-WebSocket-Accept", accept_key(key));
    if let Some(protocol) = &accept.protocol {
        headers.push("Sec-WebSocket-Protocol", protocol.as_str());
    }
    if !accept.extensions.is_empty() {
        headers.push("Sec-WebSocket-Extensions", accept.extensions.join(", "));
    }
    for (name, value) in accept.headers.iter() {
        headers.push(name, value);
    }
    // The same checks `write_response` makes, so that headers handed to
    // another HTTP stack are as safe as the ones a `Server` writes.
    headers.validate().map_err(WriteError::Header)?;
    for (name, _) in headers.iter() {
        // RFC 9110 §8.6 and RFC 9112 §6.1: a 1xx response has no content
        // and carries neither Content-Length nor Transfer-Encoding.
        if name.eq_ignore_ascii_case("Content-Length")
            || name.eq_ignore_ascii_case("Transfer-Encoding")
        {
            return Err(WriteError::FramingHeaderNotAllowed { name: name.into() }.into());
        }
    }
    Ok(headers)
}

/// Writes the 101 response accepting `request`, and returns what it
/// agreed.
pub(crate) fn write_accept(
    request: &HandshakeRequest,
    accept: Accept,
    config: &ServerConfig,
    out: &mut BytesMut,
) -> Result<Negotiated, DecisionError> {
    let (headers, negotiated) = negotiate(request, accept, config)?;
    write_response(out, 101, "Switching Protocols", &headers, &[])?;
    Ok(negotiated)
}

/// Decides the extensions of the 101 for `request`, and returns its header
/// fields with what was agreed: the answer a [`Server`](crate::Server)
/// gives, for an app whose HTTP stack does the upgrade.
///
/// With the `deflate` feature and [`Config::deflate`](crate::config::Config::deflate) set, an
/// `accept` without extensions answers the first permessage-deflate offer
/// the config can honour. An `accept` with extensions is the app's own
/// answer, and a permessage-deflate element in it is run as it says.
/// Start the upgraded stream with
/// [`Server::new_upgraded`](crate::Server::new_upgraded) and the returned
/// [`Negotiated`].
///
/// # Errors
///
/// As [`accept_headers`], and [`DecisionError::InvalidDeflateResponse`]
/// for a permessage-deflate answer of the app's that is malformed.
///
/// ```
/// use wsmachine::handshake::server::{Accept, ServerConfig, negotiate, validate_request};
/// use wsmachine::http::{Headers, HttpVersion, Request};
///
/// let mut headers = Headers::new();
/// headers.push("Host", "example.com");
/// headers.push("Upgrade", "websocket");
/// headers.push("Connection", "Upgrade");
/// headers.push("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
/// headers.push("Sec-WebSocket-Version", "13");
/// headers.push("Sec-WebSocket-Protocol", "chat");
/// let request = Request { method: "GET".into(), target: "/".into(), version: HttpVersion::Http11, headers };
/// let config = ServerConfig::default();
/// let request = validate_request(request, &config)?;
/// let (response, negotiated) = negotiate(&request, Accept::default().with_protocol("chat"), &config)?;
/// assert_eq!(response.get_str("Sec-WebSocket-Protocol"), Some("chat"));
/// assert_eq!(negotiated.protocol(), Some("chat"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(not(feature = "deflate"), allow(unused_mut, unused_variables))]
pub fn negotiate(
    request: &HandshakeRequest,
    mut accept: Accept,
    config: &ServerConfig,
) -> Result<(Headers, Negotiated), DecisionError> {
    #[cfg(feature = "deflate")]
    if accept.extensions.is_empty()
        && let Some(deflate) = &config.config.deflate
        && let Some(agreed) = deflate.negotiate(&request.extensions)
    {
        accept.extensions.push(agreed.to_string());
    }
    let headers = accept_headers(request, &accept)?;
    let negotiated = Negotiated::checked(accept.protocol, accept.extensions)?;
    Ok((headers, negotiated))
}

/// Writes the app's rejection: its status, headers and body, framed with
/// Content-Length and followed by the end of the connection.
pub(crate) fn write_rejection(
    status: u16,
    extra: &Headers,
    body: &[u8],
    out: &mut BytesMut,
) -> Result<(), DecisionError> {
    if !(200..=999).contains(&status) {
        return Err(DecisionError::InvalidStatus { status });
    }
    if extra.contains("Connection") {
        return Err(DecisionError::ReservedHeader {
            name: "Connection".to_string(),
        });
    }
    let mut headers = extra.clone();
    headers.push("Connection", "close");
    write_response(
        out,
        status,
        canonical_reason(status).unwrap_or(""),
        &headers,
        body,
    )?;
    Ok(())
}

/// The HTTP error response a server sends for a failed handshake: what a
/// [`Server`](crate::Server) queues itself, for an app whose HTTP stack
/// answers instead (see [`validate_request`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The status, from [`HandshakeError::status`].
    pub status: u16,
    /// The header fields besides the framing (`Content-Length`, which the
    /// HTTP stack sets from the body): `Allow` for 405, `Upgrade` and
    /// `Sec-WebSocket-Version` for 426, `Connection`, `Content-Type`.
    pub headers: Headers,
    /// A one-line plain text body naming the failure.
    pub body: String,
}

/// The error response for a failed handshake, or `None` for a failure that
/// gets no response (a client-side failure, the end of the transport).
///
/// ```
/// use wsmachine::handshake::HandshakeError;
/// use wsmachine::handshake::server::error_response;
///
/// let response = error_response(&HandshakeError::NotWebSocket).unwrap();
/// assert_eq!(response.status, 426);
/// assert_eq!(response.headers.get_str("Upgrade"), Some("websocket"));
/// assert!(error_response(&HandshakeError::UnexpectedEof).is_none());
/// ```
pub fn error_response(error: &HandshakeError) -> Option<ErrorResponse> {
    let status = error.status()?;
    let mut headers = error.response_headers();
    headers.push("Content-Type", "text/plain; charset=utf-8");
    Some(ErrorResponse {
        status,
        headers,
        body: alloc::format!("{error}\n"),
    })
}

/// Writes the error response a failed handshake calls for, if any.
pub(crate) fn write_error_response(error: &HandshakeError, out: &mut BytesMut) {
    let Some(response) = error_response(error) else {
        return;
    };
    // The status comes from a fixed table and the headers are constants, so
    // this cannot fail; if it ever did, the connection would just close.
    let _ = write_response(
        out,
        response.status,
        canonical_reason(response.status).unwrap_or(""),
        &response.headers,
        response.body.as_bytes(),
    );
}

fn check_extra_headers(headers: &Headers) -> Result<(), DecisionError> {
    for (name, _) in headers.iter() {
        let reserved = [
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions",
        ]
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name));
        if reserved {
            return Err(DecisionError::ReservedHeader {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
