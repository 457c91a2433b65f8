//! The driver's one error type.

use bytes::Bytes;
use wsmachine::error::ProtocolError;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::ClientConfigError;
use wsmachine::handshake::server::DecisionError;
use wsmachine::http::{BodyError, Headers};
use wsmachine::url::UrlError;

/// Why a handshake, a read or a send failed.
///
/// Each layer has its own variant: the server's answer ([`Error::Rejected`]),
/// the handshake ([`Error::Handshake`], with the core's
/// [`kind()`](HandshakeError::kind) for metrics), the peer's violations
/// ([`Error::Protocol`], with the core's close code), the end of the
/// transport ([`Error::UnexpectedEof`]), deadlines ([`Error::Timeout`]),
/// TLS and the transport ([`Error::Io`]). Each variant is one level deep:
/// match on it without unwrapping a core error first.
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
    /// Client: the SOCKS5 proxy refused the tunnel (a reply code, the
    /// credentials, every offered method) or answered with something that
    /// is not SOCKS5, or went away before it answered.
    #[error("SOCKS5 proxy: {0}")]
    Socks5(wsmachine::proxy::Socks5Error),
    /// Client: a proxy variable of the environment (`HTTPS_PROXY`,
    /// `ALL_PROXY`, ...) holds a value that is not a usable proxy URL.
    /// Nothing was sent, direct or otherwise.
    #[error(transparent)]
    ProxyEnv(crate::proxy_env::EnvProxyError),
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
    /// The peer broke RFC 6455 after the handshake. The Close with
    /// [`ProtocolError::close_code`] (1002, 1007, 1009) was written before
    /// this was handed out, after every message that preceded it.
    #[error("the peer broke the protocol: {0}")]
    Protocol(ProtocolError),
    /// The transport ended without a closing handshake (what RFC 6455 calls
    /// 1006). Everything received before it was delivered first.
    #[error("the connection ended without a closing handshake")]
    UnexpectedEof,
    /// A deadline passed: connecting, the closing handshake, or a
    /// keepalive pong. (The opening handshake's deadline is
    /// [`Error::Handshake`] with `HandshakeError::Timeout`, for which a
    /// server sent 408.)
    #[error("{0} timed out")]
    Timeout(Timeout),
    /// The operating system's random source failed while a frame needed a
    /// mask.
    #[error("no randomness for a mask: {0}")]
    Entropy(wsmachine::entropy::EntropyError),
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
    /// TLS failed: a certificate the roots do not trust, a name that does
    /// not match, a protocol alert.
    #[cfg(feature = "rustls")]
    #[error("TLS error: {0}")]
    Tls(rustls::Error),
    /// Client over HTTP/2 or HTTP/3: the server's SETTINGS do not enable
    /// extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 §3,
    /// RFC 9220 §3), so no WebSocket can be opened on the connection.
    #[cfg(any(feature = "h2", feature = "h3"))]
    #[error("the server does not enable extended CONNECT (RFC 8441, RFC 9220)")]
    ExtendedConnectDisabled,
    /// Client over HTTP/2: the connection or the WebSocket's stream failed
    /// before the WebSocket was open (a GOAWAY, a reset stream, a peer that
    /// does not speak HTTP/2).
    #[cfg(feature = "h2")]
    #[error("HTTP/2 error: {0}")]
    Http2(h2::Error),
    /// Over HTTP/3: QUIC or HTTP/3 failed before the WebSocket was open (a
    /// TLS or QUIC failure, a reset request stream, a peer that breaks
    /// HTTP/3 or QPACK).
    #[cfg(feature = "h3")]
    #[error("HTTP/3 error: {0}")]
    Http3(crate::h3::Http3Error),
    /// The transport failed. Its error is in the message, not repeated as a
    /// [`source`](std::error::Error::source).
    #[error("transport error: {0}")]
    Io(std::io::Error),
    /// A failure of a kind that this version of the driver does not name
    /// yet (the core's error type may grow).
    #[error("connection failed: {0}")]
    Other(wsmachine::Error),
    /// The connection is closed: nothing more can be sent.
    #[error("the connection is closed")]
    Closed,
}

/// Which deadline passed, for [`Error::Timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Connecting: name resolution, TCP, a SOCKS5 tunnel, an HTTP proxy's
    /// tunnel for `wss://`, and TLS, within `ClientConfig::connect_timeout`.
    Connect,
    /// The peer's Close, or the server's end of the transport, within
    /// `Config::close_timeout`.
    Close,
    /// A keepalive ping's pong, within `Keepalive::timeout`.
    Pong,
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Timeout::Connect => "connecting",
            Timeout::Close => "the closing handshake",
            Timeout::Pong => "the keepalive pong",
        })
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Io(error)
    }
}

impl Error {
    /// The handshake failure's category, for metrics: the core's
    /// [`HandshakeError::kind`].
    pub fn handshake_kind(&self) -> Option<wsmachine::handshake::HandshakeErrorKind> {
        match self {
            Error::Handshake(error) => Some(error.kind()),
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
            Error::Socks5(_) => "socks5",
            Error::ProxyEnv(_) => "proxy_env",
            Error::Responded { .. } => "responded",
            Error::Decision(_) => "decision",
            Error::Protocol(_) => "protocol",
            Error::UnexpectedEof => "unexpected_eof",
            Error::Timeout(Timeout::Connect) => "connect_timeout",
            Error::Timeout(Timeout::Close) => "close_timeout",
            Error::Timeout(Timeout::Pong) => "pong_timeout",
            Error::Entropy(_) => "entropy",
            #[cfg(feature = "rustls")]
            Error::Tls(_) => "tls",
            #[cfg(any(feature = "h2", feature = "h3"))]
            Error::ExtendedConnectDisabled => "extended_connect_disabled",
            #[cfg(feature = "h2")]
            Error::Http2(_) => "http2",
            #[cfg(feature = "h3")]
            Error::Http3(_) => "http3",
            Error::Other(_) => "other",
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

/// A core error, named by the driver's own variants.
pub(crate) fn from_core(error: wsmachine::Error) -> Error {
    match error {
        wsmachine::Error::Protocol(error) => Error::Protocol(error),
        wsmachine::Error::Handshake(error) => Error::Handshake(error),
        wsmachine::Error::UnexpectedEof => Error::UnexpectedEof,
        wsmachine::Error::CloseTimeout => Error::Timeout(Timeout::Close),
        wsmachine::Error::PongTimeout => Error::Timeout(Timeout::Pong),
        wsmachine::Error::Entropy(error) => Error::Entropy(error),
        other => Error::Other(other),
    }
}
