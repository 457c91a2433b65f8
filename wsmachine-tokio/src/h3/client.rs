//! The client side: WebSockets opened with extended CONNECT requests on
//! one QUIC connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use quinn::{Connection, Endpoint, VarInt};
use tokio::time::Instant;
use wsmachine::config::Config;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::h2 as extended_connect;
use wsmachine::http::{BodyError, Headers};
use wsmachine::http3::frame;
use wsmachine::http3::qpack::{self, DEFAULT_MAX_FIELD_SECTION_SIZE};

use super::codes::{
    H3_FRAME_UNEXPECTED, H3_MESSAGE_ERROR, H3_NO_ERROR, QPACK_DECOMPRESSION_FAILED,
};
use super::connection::{self, FrameReader, LocalStreams, ReadFrameError, SettingsReceiver};
use super::{H3Stream, Http3Error, protocol_error};
use crate::client::IntoClientConfig;
use crate::error::{Error, Timeout};
use crate::socket::WebSocket;

/// How often [`Client::connect_quic`]'s connection sends a QUIC PING when
/// nothing else goes out.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(10);

/// An HTTP/3 connection whose server allows extended CONNECT, on which
/// [`connect`](Self::connect) opens WebSockets, each on a request stream
/// of its own.
///
/// Cloning gives another handle on the same connection. The connection
/// closes (H3_NO_ERROR) once every handle and every WebSocket opened on it
/// are dropped.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connection: Connection,
    /// Kept for the connection's lifetime; `None` for a caller's connection.
    _endpoint: Option<Endpoint>,
    _local_streams: LocalStreams,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.connection
            .close(VarInt::from_u32(H3_NO_ERROR as u32), b"");
    }
}

impl Client {
    /// Connects over QUIC to `addr` (from a local UDP port of the system's
    /// choosing) and starts HTTP/3, as [`handshake`](Self::handshake). The
    /// connection sends a QUIC PING after 10 s without traffic, so quiet
    /// WebSockets outlive QUIC's idle timeout (30 s by default).
    /// `server_name` is checked against the server's certificate; `tls`
    /// gets the ALPN `h3` if it has none ([`client_tls_config`] makes one
    /// for a set of roots).
    ///
    /// [`client_tls_config`]: super::client_tls_config
    ///
    /// # Errors
    /// [`Error::Http3`] with [`Http3Error::TlsConfig`] for a TLS config
    /// without TLS 1.3, [`Http3Error::Connect`] for a bad server name,
    /// [`Http3Error::Connection`] when QUIC or TLS fails; [`Error::Io`] when
    /// no UDP socket can be had; then as [`handshake`](Self::handshake).
    pub async fn connect_quic(
        addr: SocketAddr,
        server_name: &str,
        mut tls: rustls::ClientConfig,
    ) -> Result<Client, Error> {
        let result = async {
            if tls.alpn_protocols.is_empty() {
                tls.alpn_protocols = vec![super::ALPN.to_vec()];
            }
            let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
                .map_err(|_| Http3Error::TlsConfig)?;
            let local: SocketAddr = match addr {
                SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
                SocketAddr::V6(_) => ([0u16; 8], 0).into(),
            };
            let endpoint = Endpoint::client(local)?;
            let mut config = quinn::ClientConfig::new(Arc::new(crypto));
            // QUIC closes a connection idle for 30 s (quinn's default), and a
            // quiet WebSocket sends nothing: QUIC pings keep it open.
            let mut transport = quinn::TransportConfig::default();
            transport.keep_alive_interval(Some(KEEP_ALIVE));
            config.transport_config(Arc::new(transport));
            let deadline = Instant::now() + Config::default().handshake_timeout;
            let connecting = endpoint
                .connect_with(config, addr, server_name)
                .map_err(Http3Error::Connect)?;
            let connection = tokio::time::timeout_at(deadline, connecting)
                .await
                .map_err(|_| Error::Timeout(Timeout::Connect))?
                .map_err(Http3Error::Connection)?;
            start(connection, Some(endpoint), deadline).await
        }
        .await;
        if let Err(error) = &result {
            crate::trace::failure(error);
        }
        result
    }

    /// Starts HTTP/3 as a client on a QUIC connection the caller made
    /// (whose ALPN agreed on `h3`): opens the control stream with our
    /// SETTINGS and waits for the server's, within
    /// [`Config::handshake_timeout`]'s default (10 s).
    ///
    /// # Errors
    /// [`Error::ExtendedConnectDisabled`] when the server's SETTINGS do not
    /// enable extended CONNECT (RFC 9220 §3); [`Error::Http3`] when the
    /// connection fails first; [`Error::Timeout`] with [`Timeout::Connect`]
    /// when the SETTINGS do not come in time.
    pub async fn handshake(connection: Connection) -> Result<Client, Error> {
        let deadline = Instant::now() + Config::default().handshake_timeout;
        let result = start(connection, None, deadline).await;
        if let Err(error) = &result {
            crate::trace::failure(error);
        }
        result
    }

    /// The QUIC connection, for its statistics or its remote address.
    pub fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    /// Opens a WebSocket on a new request stream: sends the extended
    /// CONNECT for `request` (a `wss://` or `ws://` URL, or a
    /// [`ClientConfig`] with subprotocols, extensions, headers and the
    /// connection's settings) and checks the answer.
    ///
    /// The URL gives `:scheme` (`https` for `wss://`), `:authority` and
    /// `:path`; the transport is the connection's, so the config's proxy
    /// and connect timeout are not used. The request and its answer have
    /// [`Config::handshake_timeout`]. Returns the socket and the server's
    /// 200, whose `sec-websocket-protocol` and `sec-websocket-extensions`
    /// the socket already follows.
    ///
    /// # Errors
    /// [`Error::Url`] for a URL that is not a WebSocket URL;
    /// [`Error::Config`] for a config the core cannot send;
    /// [`Error::Rejected`] for a status other than 200, with its headers and
    /// body (up to [`BodyLimits::max_body`](wsmachine::http::BodyLimits::max_body));
    /// [`Error::Handshake`] for a 200 that does not fit the offer, or with
    /// `HandshakeError::Timeout`; [`Error::Http3`] when the stream or the
    /// connection fails, or the response is not valid HTTP/3.
    pub async fn connect(
        &self,
        request: impl IntoClientConfig,
    ) -> Result<(WebSocket<H3Stream>, http::Response<()>), Error> {
        let result = match request.into_client_config() {
            Ok(config) => self.open(config).await,
            Err(error) => Err(error),
        };
        if let Err(error) = &result {
            crate::trace::failure(error);
        }
        result
    }

    async fn open(
        &self,
        config: ClientConfig,
    ) -> Result<(WebSocket<H3Stream>, http::Response<()>), Error> {
        let mut request = extended_connect::build_request(&config).map_err(Error::Config)?;
        *request.version_mut() = http::Version::HTTP_3;
        let deadline = Instant::now() + config.config.handshake_timeout;
        let timed_out = |_| Error::Handshake(HandshakeError::Timeout);
        let exchange = async {
            let (mut send, recv) = self
                .inner
                .connection
                .open_bi()
                .await
                .map_err(Http3Error::Connection)?;
            send.write_all(&encode_request(&request))
                .await
                .map_err(|error| Http3Error::Stream(error.into()))?;
            let mut reader = FrameReader::new(recv);
            let response = read_response(&mut reader, config.head_limits.max_head_len).await?;
            Ok::<_, Error>((send, reader, response))
        };
        let (mut send, mut reader, response) = tokio::time::timeout_at(deadline, exchange)
            .await
            .map_err(timed_out)??;
        if response.status() != http::StatusCode::OK {
            let limit = config.body_limits.max_body;
            let (body, body_error) =
                tokio::time::timeout_at(deadline, read_body(&mut reader, limit))
                    .await
                    .map_err(timed_out)?;
            let _ = send.finish();
            return Err(Error::Rejected {
                status: response.status().as_u16(),
                headers: Box::new(Headers::try_from(response.headers()).unwrap_or_default()),
                body,
                body_error,
            });
        }
        // Dropping the stream on a failure resets it (H3_REQUEST_CANCELLED).
        let stream = H3Stream::new(send, reader, Some(self.inner.clone()));
        let negotiated =
            extended_connect::check_response(&response, &config).map_err(Error::Handshake)?;
        let socket = WebSocket::from_upgraded_client(stream, &config, &negotiated);
        Ok((socket, response))
    }
}

async fn start(
    connection: Connection,
    endpoint: Option<Endpoint>,
    deadline: Instant,
) -> Result<Client, Error> {
    let mut settings = connection::spawn_peer_streams(connection.clone());
    let local_streams =
        connection::open_local_streams(&connection, DEFAULT_MAX_FIELD_SECTION_SIZE).await?;
    let inner = Inner {
        connection,
        _endpoint: endpoint,
        _local_streams: local_streams,
    };
    let peer = tokio::time::timeout_at(
        deadline,
        wait_for_settings(&inner.connection, &mut settings),
    )
    .await
    .map_err(|_| Error::Timeout(Timeout::Connect))??;
    // RFC 9220 §3: without the setting, a client must not send :protocol.
    if !peer.enable_connect_protocol {
        return Err(Error::ExtendedConnectDisabled);
    }
    Ok(Client {
        inner: Arc::new(inner),
    })
}

async fn wait_for_settings(
    connection: &Connection,
    settings: &mut SettingsReceiver,
) -> Result<frame::PeerSettings, Error> {
    use futures_util::future::{Either, select};
    let received = std::pin::pin!(settings.wait_for(Option::is_some));
    let closed = std::pin::pin!(connection.closed());
    match select(received, closed).await {
        Either::Left((Ok(peer), _)) => Ok(peer.unwrap_or_default()),
        // The task that reads the control stream ended: the connection did.
        Either::Left((Err(_), closed)) => Err(Http3Error::Connection(closed.await).into()),
        Either::Right((error, _)) => Err(Http3Error::Connection(error).into()),
    }
}

/// The HEADERS frame of an extended CONNECT (RFC 9220 §3): the
/// pseudo-header fields, `:protocol websocket` among them, then the fields.
fn encode_request(request: &http::Request<()>) -> BytesMut {
    let uri = request.uri();
    let scheme = uri.scheme_str().unwrap_or("https");
    let authority = uri.authority().map_or("", |authority| authority.as_str());
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let pseudo = [
        (":method", request.method().as_str()),
        (":protocol", extended_connect::PROTOCOL),
        (":scheme", scheme),
        (":authority", authority),
        (":path", path),
    ];
    let fields = pseudo
        .iter()
        .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
        .chain(
            request
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes())),
        );
    let mut section = BytesMut::new();
    qpack::encode_field_section(fields, &mut section);
    let mut frame = BytesMut::new();
    frame::encode_header(frame::HEADERS, section.len() as u64, &mut frame);
    frame.extend_from_slice(&section);
    frame
}

/// The final response's head: interim (1xx) responses are passed over,
/// frames of unknown types skipped.
async fn read_response(
    reader: &mut FrameReader,
    limit: usize,
) -> Result<http::Response<()>, Error> {
    loop {
        let (frame_type, len) = reader
            .read_frame_header()
            .await
            .map_err(|error| read_error(error, limit))?
            .ok_or_else(|| {
                protocol_error(H3_MESSAGE_ERROR, "the stream ended before a response")
            })?;
        match frame_type {
            frame::HEADERS => {
                let section = reader
                    .read_payload(len, limit as u64)
                    .await
                    .map_err(|error| read_error(error, limit))?;
                let fields =
                    qpack::decode_field_section(&section, limit).map_err(Http3Error::Qpack)?;
                let response = response_from_fields(fields)?;
                if !response.status().is_informational() {
                    return Ok(response);
                }
            }
            frame::DATA => {
                return Err(protocol_error(
                    H3_FRAME_UNEXPECTED,
                    "DATA before the response's HEADERS",
                ));
            }
            frame_type if frame::is_http2_only(frame_type) || is_control(frame_type) => {
                return Err(protocol_error(
                    H3_FRAME_UNEXPECTED,
                    "a control frame on a request stream",
                ));
            }
            _ => reader
                .skip(len)
                .await
                .map_err(|error| read_error(error, limit))?,
        }
    }
}

fn is_control(frame_type: u64) -> bool {
    matches!(
        frame_type,
        frame::SETTINGS
            | frame::GOAWAY
            | frame::CANCEL_PUSH
            | frame::MAX_PUSH_ID
            | frame::PUSH_PROMISE
    )
}

fn read_error(error: ReadFrameError, limit: usize) -> Error {
    match error {
        ReadFrameError::Stream(error) => Http3Error::Stream(error).into(),
        ReadFrameError::Truncated => {
            protocol_error(H3_MESSAGE_ERROR, "the stream ended inside a frame")
        }
        ReadFrameError::TooLarge => Http3Error::Qpack(super::QpackError::TooLarge { limit }).into(),
    }
}

/// A response from its decoded fields: `:status` and nothing else among
/// the pseudo-header fields, before the other fields (RFC 9114 §4.3.2).
fn response_from_fields(fields: Vec<qpack::Field>) -> Result<http::Response<()>, Error> {
    let malformed = |reason| protocol_error(H3_MESSAGE_ERROR, reason);
    let mut response = http::Response::new(());
    *response.version_mut() = http::Version::HTTP_3;
    let mut status = None;
    for (name, value) in fields {
        if name.first() == Some(&b':') {
            if name != b":status" || status.is_some() || !response.headers().is_empty() {
                return Err(malformed("a pseudo-header field a response may not have"));
            }
            status = Some(
                http::StatusCode::from_bytes(&value)
                    .map_err(|_| malformed("an invalid :status"))?,
            );
            continue;
        }
        let name = http::HeaderName::from_bytes(&name)
            .map_err(|_| protocol_error(QPACK_DECOMPRESSION_FAILED, "an invalid field name"))?;
        let value = http::HeaderValue::from_bytes(&value)
            .map_err(|_| malformed("an invalid field value"))?;
        response.headers_mut().append(name, value);
    }
    *response.status_mut() = status.ok_or_else(|| malformed("a response without :status"))?;
    Ok(response)
}

/// A refused request's body: its DATA frames until FIN, up to `limit`.
async fn read_body(reader: &mut FrameReader, limit: usize) -> (Bytes, Option<BodyError>) {
    let mut body = BytesMut::new();
    let truncated = |body: &BytesMut| BodyError::Truncated {
        received: body.len() as u64,
        expected: None,
    };
    loop {
        let (frame_type, len) = match reader.read_frame_header().await {
            Ok(Some(header)) => header,
            Ok(None) => return (body.freeze(), None),
            Err(_) => {
                let error = truncated(&body);
                return (body.freeze(), Some(error));
            }
        };
        if frame_type != frame::DATA {
            if reader.skip(len).await.is_err() {
                let error = truncated(&body);
                return (body.freeze(), Some(error));
            }
            continue;
        }
        if body.len() as u64 + len > limit as u64 {
            return (body.freeze(), Some(BodyError::BodyTooLarge { limit }));
        }
        match reader.read_payload(len, limit as u64).await {
            Ok(data) => body.extend_from_slice(&data),
            Err(_) => {
                let error = truncated(&body);
                return (body.freeze(), Some(error));
            }
        }
    }
}
