//! The server's side of the opening handshake: the checks on the request
//! (RFC 6455 §4.2.1), the 101 response (§4.2.2) and the error responses.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::BytesMut;

use super::client::single_value;
use super::{HandshakeError, HandshakeRequest, is_offered_extension};
use crate::accept_key::{accept_key, is_valid_key};
use crate::config::Config;
use crate::extensions::header_elements;
use crate::http::{
    BodyFraming, HeadLimits, Headers, HttpVersion, Request, WriteError, canonical_reason,
    write_response,
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
    /// The connection's behaviour once open.
    pub config: Config,
    /// permessage-deflate to accept when a client offers it and the app's
    /// [`Accept`] has no extensions of its own. Default off.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::extensions::permessage_deflate::DeflateConfig>,
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
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
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
    match single_value(headers, "Sec-WebSocket-Version") {
        None => return Err(HandshakeError::MissingVersion),
        Some(Some(b"13")) => {}
        Some(_) => {
            let versions: Vec<&[u8]> = headers.get_all("Sec-WebSocket-Version").collect();
            return Err(HandshakeError::UnsupportedVersion {
                version: String::from_utf8_lossy(&versions.join(&b", "[..])).into_owned(),
            });
        }
    }
    // RFC 6455 §4.1: the handshake is a GET without a body; a body would be
    // read as frames.
    match BodyFraming::for_request(headers) {
        Ok(BodyFraming::None) | Ok(BodyFraming::ContentLength(0)) => {}
        _ => return Err(HandshakeError::RequestBody),
    }
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

/// Writes the 101 response accepting `request`.
pub(crate) fn write_accept(
    request: &HandshakeRequest,
    accept: &Accept,
    out: &mut BytesMut,
) -> Result<(), DecisionError> {
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
    let key = request
        .request
        .headers
        .get("Sec-WebSocket-Key")
        .unwrap_or(&[]);
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
    write_response(out, 101, "Switching Protocols", &headers, &[])?;
    Ok(())
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

/// Writes the error response a failed handshake calls for, if any.
pub(crate) fn write_error_response(error: &HandshakeError, out: &mut BytesMut) {
    let Some(status) = error.status() else {
        return;
    };
    let mut headers = error.response_headers();
    headers.push("Content-Type", "text/plain; charset=utf-8");
    let body = alloc::format!("{error}\n");
    // The status comes from a fixed table and the headers are constants, so
    // this cannot fail; if it ever did, the connection would just close.
    let _ = write_response(
        out,
        status,
        canonical_reason(status).unwrap_or(""),
        &headers,
        body.as_bytes(),
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
