//! The driver's one error type.

use bytes::Bytes;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::{ClientConfigError, UrlError};
use wsmachine::handshake::server::DecisionError;
use wsmachine::http::{BodyError, Headers};

/// Why a handshake, a read or a send failed.
///
/// Each layer has its own variant: the server's answer ([`Error::Rejected`]),
/// the handshake ([`Error::Handshake`], with the core's
/// [`kind()`](HandshakeError::kind) for metrics), the peer's violations
/// ([`Error::Protocol`], with the core's close code) and the transport
/// ([`Error::Io`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Client: the server answered the handshake with a status other than
    /// 101. Its headers and decoded body (Content-Length, chunked or until
    /// EOF) are kept; `body_error` says why the body is incomplete, if it is.
    #[error("the server rejected the handshake with status {status}")]
    Rejected {
        /// The status code.
        status: u16,
        /// The response's header fields.
        headers: Box<Headers>,
        /// The decoded body, or what arrived of it before `body_error`.
        body: Bytes,
        /// Why the body is incomplete, if it is.
        body_error: Option<BodyError>,
    },
    /// Client: the HTTP proxy refused the tunnel (a 407 wants credentials).
    /// Its headers (`Proxy-Authenticate`) and decoded body are kept. Never
    /// confused with the server's own [`Error::Rejected`].
    #[error("the proxy refused the tunnel with status {status}")]
    ProxyRejected {
        /// The proxy's status code.
        status: u16,
        /// The proxy's header fields.
        headers: Box<Headers>,
        /// The decoded body, or what arrived of it before `body_error`.
        body: Bytes,
        /// Why the body is incomplete, if it is.
        body_error: Option<BodyError>,
    },
    /// Server: the app's callback answered the request with a response of
    /// its own (a health check's 200, a 403, a redirect), which was sent.
    #[error("the request was answered with status {status} instead of an upgrade")]
    Responded {
        /// The status sent.
        status: u16,
    },
    /// The opening handshake failed. On a server the core's error response
    /// (400, 426, ...) was sent first.
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// The server's decision could not be carried out (a subprotocol the
    /// client did not offer, a header that cannot be sent). The client got
    /// a 500.
    #[error("the handshake decision was refused: {0}")]
    Decision(DecisionError),
    /// The connection failed after the handshake: the peer broke RFC 6455
    /// (its close code is [`wsmachine::Error::close_code`]), the transport
    /// ended without a closing handshake, or a timer expired. Everything
    /// the peer sent before it was delivered first.
    #[error("connection failed: {0}")]
    Protocol(wsmachine::Error),
    /// A message the core refuses to send (a ping over 125 bytes, a close
    /// code that may not be sent). Nothing was sent.
    #[error("cannot send: {0}")]
    Send(wsmachine::SendError),
    /// The URL is not a `ws://` or `wss://` URL.
    #[error("invalid URL: {0}")]
    Url(UrlError),
    /// The client configuration cannot be sent (a header with CR or LF, a
    /// subprotocol that is not a token) or the entropy source failed.
    #[error("invalid client configuration: {0}")]
    Config(ClientConfigError),
    /// A `wss://` URL without the `rustls` feature.
    #[error("wss:// needs the rustls feature")]
    TlsNotEnabled,
    /// The transport failed.
    #[error("transport error: {0}")]
    Io(#[from] std::io::Error),
    /// The connection is closed: nothing more can be sent.
    #[error("the connection is closed")]
    Closed,
}

impl Error {
    /// The handshake failure's category, for metrics: the core's
    /// [`HandshakeError::kind`].
    pub fn handshake_kind(&self) -> Option<wsmachine::handshake::HandshakeErrorKind> {
        match self {
            Error::Handshake(error) => Some(error.kind()),
            Error::Protocol(wsmachine::Error::Handshake(error)) => Some(error.kind()),
            _ => None,
        }
    }

    /// A stable snake_case label of the failure, for metrics and the
    /// `tracing` feature's events: the handshake kind (`not_websocket`,
    /// `bad_key`, ...) or the layer (`rejected`, `protocol`, `io`, ...).
    pub fn kind_str(&self) -> &'static str {
        if let Some(kind) = self.handshake_kind() {
            return kind.as_str();
        }
        match self {
            Error::Rejected { .. } => "rejected",
            Error::ProxyRejected { .. } => "proxy_rejected",
            Error::Responded { .. } => "responded",
            Error::Decision(_) => "decision",
            Error::Protocol(_) => "protocol",
            Error::Send(_) => "send",
            Error::Url(_) => "url",
            Error::Config(_) => "config",
            Error::TlsNotEnabled => "tls_not_enabled",
            Error::Io(_) => "io",
            Error::Closed => "closed",
            Error::Handshake(error) => error.kind().as_str(),
        }
    }
}

/// A core error reported after the handshake: handshake failures keep
/// their own variant, so `kind()` stays one match away.
pub(crate) fn from_core(error: wsmachine::Error) -> Error {
    match error {
        wsmachine::Error::Handshake(error) => Error::Handshake(error),
        other => Error::Protocol(other),
    }
}
