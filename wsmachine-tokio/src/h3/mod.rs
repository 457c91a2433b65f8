//! WebSockets over HTTP/3 (RFC 9220), both roles: several WebSockets on one
//! QUIC connection, each the same [`WebSocket`](crate::WebSocket) type a
//! `ws://` connection gives, on a [`H3Stream`].
//!
//! QUIC is quinn's (rustls on the ring provider, as the `rustls` feature
//! uses). HTTP/3 is a small layer of this module's own: the published `h3`
//! crate only carries the `:protocol` values `webtransport` and
//! `connect-udp`, and a `websocket` extended CONNECT fails its header
//! parsing. Its codecs are the core's, sans I/O, in [`wsmachine::http3`]
//! (varints, frame headers and SETTINGS, QPACK, Huffman); this module runs
//! the streams. What this layer speaks:
//!
//! - the control stream with SETTINGS `ENABLE_CONNECT_PROTOCOL = 1`,
//!   `QPACK_MAX_TABLE_CAPACITY = 0`, `QPACK_BLOCKED_STREAMS = 0` and
//!   `MAX_FIELD_SECTION_SIZE`; the peer's control stream is read (its
//!   SETTINGS first, GOAWAY noted), its QPACK streams drained, unknown
//!   stream and frame types skipped;
//! - QPACK without a dynamic table: static references and literals out,
//!   Huffman-coded strings in, a bounded field section
//!   ([`DEFAULT_MAX_FIELD_SECTION_SIZE`]);
//! - request streams: a HEADERS frame each way, then DATA frames carrying
//!   the WebSocket's bytes; FIN is the transport's end, a reset
//!   (H3_REQUEST_CANCELLED) its failure, which ends that WebSocket with
//!   [`Error::UnexpectedEof`] (1006) and no
//!   other on the connection.
//!
//! [`connect`](crate::connect) has no HTTP/3 option: it returns a socket over
//! TCP (`MaybeTlsStream<TcpStream>`), and nothing advertises HTTP/3 to a
//! `wss://` URL (no Alt-Svc lookup here), so choosing HTTP/3 is the
//! caller's, with [`Client`].
//!
//! The handshake is the core's ([`wsmachine::handshake::h2`], which covers
//! RFC 8441 and RFC 9220 alike): [`Client`] builds its request with
//! `build_request` and checks the 200 with `check_response`; [`Server`]
//! validates with `validate_request` and answers with `negotiate`'s 200 or
//! `error_response`'s refusal, as the HTTP/2 path does.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use wsmachine_tokio::h3::{Client, client_tls_config};
//! use wsmachine_tokio::{ClientConfig, DeflateConfig, Message};
//!
//! # async fn run(roots: rustls::RootCertStore) -> Result<(), wsmachine_tokio::Error> {
//! let addr = "127.0.0.1:9007".parse().expect("an address");
//! let client = Client::connect_quic(addr, "localhost", client_tls_config(roots)?).await?;
//! // Two WebSockets on the one QUIC connection.
//! let (mut chat, _response) = client.connect("wss://localhost:9007/chat").await?;
//! let config = ClientConfig::new("wss://localhost:9007/feed")
//!     .map_err(wsmachine_tokio::Error::Url)?
//!     .with_deflate(DeflateConfig::default());
//! let (mut feed, response) = client.connect(config).await?;
//! assert_eq!(response.status(), http::StatusCode::OK);
//! chat.send(Message::text("hello")).await?;
//! while let Some(message) = feed.next().await {
//!     println!("{:?}", message?);
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod connection;
mod server;
mod stream;

use std::sync::Arc;

pub use client::Client;
/// quinn, whose `Connection` and `Endpoint` [`Client::handshake`] and
/// [`Server::new`] take, at the version this crate uses.
pub use quinn;
pub use server::Server;
pub use stream::H3Stream;
pub use wsmachine::http3::qpack::{DEFAULT_MAX_FIELD_SECTION_SIZE, QpackError};

use crate::error::Error;

/// The ALPN protocol of HTTP/3 (RFC 9114 §3.1).
pub const ALPN: &[u8] = b"h3";

/// HTTP/3 error codes (RFC 9114 §8.1) this layer sends or names.
pub mod codes {
    /// No error: a connection or stream closed on purpose.
    pub const H3_NO_ERROR: u64 = 0x100;
    /// A peer broke HTTP/3 in a way no more specific code names.
    pub const H3_GENERAL_PROTOCOL_ERROR: u64 = 0x101;
    /// A stream of a type the peer may not open, or a second control stream.
    pub const H3_STREAM_CREATION_ERROR: u64 = 0x103;
    /// The peer closed its control stream.
    pub const H3_CLOSED_CRITICAL_STREAM: u64 = 0x104;
    /// A frame not allowed on its stream or in its place.
    pub const H3_FRAME_UNEXPECTED: u64 = 0x105;
    /// A frame whose layout is wrong.
    pub const H3_FRAME_ERROR: u64 = 0x106;
    /// Invalid SETTINGS.
    pub const H3_SETTINGS_ERROR: u64 = 0x109;
    /// The control stream did not start with SETTINGS.
    pub const H3_MISSING_SETTINGS: u64 = 0x10a;
    /// A request or WebSocket abandoned before its end.
    pub const H3_REQUEST_CANCELLED: u64 = 0x10c;
    /// A stream that ended before its request or response was whole.
    pub const H3_REQUEST_INCOMPLETE: u64 = 0x10d;
    /// A malformed request or response.
    pub const H3_MESSAGE_ERROR: u64 = 0x10e;
    /// A field section that QPACK cannot decode (RFC 9204 §6).
    pub const QPACK_DECOMPRESSION_FAILED: u64 = 0x200;
}

/// Why HTTP/3 failed, for [`Error::Http3`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Http3Error {
    /// QUIC could not start a connection (a bad address or server name).
    #[error("QUIC connect: {0}")]
    Connect(quinn::ConnectError),
    /// The QUIC connection failed or was closed (a TLS failure, a timeout,
    /// the peer's CONNECTION_CLOSE with an HTTP/3 error code).
    #[error("QUIC connection: {0}")]
    Connection(quinn::ConnectionError),
    /// A request stream failed before its WebSocket was open (reset,
    /// stopped, or ended early).
    #[error("HTTP/3 request stream: {0}")]
    Stream(std::io::Error),
    /// The peer broke HTTP/3 (RFC 9114 §8): the code this layer closed the
    /// connection or the stream with, and why.
    #[error("the peer broke HTTP/3 (error {code:#x}): {reason}")]
    Protocol {
        /// The HTTP/3 error code ([`codes`]).
        code: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// A field section that could not be decoded, or is over the limit.
    #[error("QPACK: {0}")]
    Qpack(QpackError),
    /// A rustls configuration QUIC cannot use (no TLS 1.3 cipher suite
    /// with an initial suite).
    #[error("the TLS configuration has no cipher suite QUIC can start with")]
    TlsConfig,
}

impl From<Http3Error> for Error {
    fn from(error: Http3Error) -> Self {
        Error::Http3(error)
    }
}

fn protocol_error(code: u64, reason: &'static str) -> Error {
    Error::Http3(Http3Error::Protocol { code, reason })
}

/// The ring provider, as the driver's TLS uses; aws-lc-rs would need cmake.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration for HTTP/3 that trusts `roots`: TLS 1.3
/// (which QUIC requires) on the ring provider, ALPN `h3`.
///
/// # Errors
/// [`Error::Tls`] when the provider cannot offer TLS 1.3.
pub fn client_tls_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// A rustls server configuration for HTTP/3 with `cert_chain` and `key`:
/// TLS 1.3 on the ring provider, ALPN `h3`.
///
/// # Errors
/// [`Error::Tls`](crate::Error) for a key that does not fit the
/// certificate or that ring cannot use.
pub fn server_tls_config(
    cert_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)
        .map_err(Error::Tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}
