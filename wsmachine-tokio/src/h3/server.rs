//! The server side: QUIC connections accepted, their requests validated
//! and answered with the core's rules, WebSockets handed to the app.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use quinn::{Connection, Endpoint, RecvStream, SendStream, VarInt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::h2::{
    self as extended_connect, ExtendedConnectError, ExtendedConnectRequest,
};
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::http::HeadError;
use wsmachine::http3::frame;
use wsmachine::http3::qpack::{self, QpackError};

use super::codes::{
    H3_FRAME_UNEXPECTED, H3_MESSAGE_ERROR, H3_NO_ERROR, QPACK_DECOMPRESSION_FAILED,
};
use super::connection::{self, FrameReader};
use super::{H3Stream, Http3Error};
use crate::error::Error;
use crate::socket::WebSocket;

/// How many accepted WebSockets wait for [`Server::accept`] before the
/// connections' tasks wait for room.
const ACCEPT_QUEUE: usize = 64;

/// The app's choice for a valid request: the subprotocol, extensions and
/// extra headers of its 200.
type Decide = dyn Fn(&ExtendedConnectRequest) -> Accept + Send + Sync;

/// An HTTP/3 server of WebSockets: accepts QUIC connections on its
/// endpoint, and on each, every extended CONNECT request stream.
///
/// Each request is checked with the core's
/// [`validate_request`](wsmachine::handshake::h2::validate_request) (as
/// HTTP/3); a valid one is answered with
/// [`negotiate`](wsmachine::handshake::h2::negotiate)'s 200
/// (permessage-deflate when the config has it and the client offers it)
/// and its WebSocket waits for [`accept`](Self::accept); any other gets
/// [`error_response`](wsmachine::handshake::h2::error_response)'s status,
/// fields and body, then the stream's end: 501 for another `:protocol`,
/// 400 for a missing `:authority` or a `sec-websocket-version` other than
/// 13, 405 for another method, as over HTTP/2. Dropping the server stops
/// accepting connections.
#[derive(Debug)]
pub struct Server {
    endpoint: Endpoint,
    accepted: mpsc::Receiver<(WebSocket<H3Stream>, ExtendedConnectRequest)>,
    acceptor: JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    config: Arc<ServerConfig>,
    decide: Arc<Decide>,
    accepted: mpsc::Sender<(WebSocket<H3Stream>, ExtendedConnectRequest)>,
}

impl Server {
    /// Listens on UDP `addr` with `tls` (ALPN `h3` added if it has none;
    /// [`server_tls_config`](super::server_tls_config) makes one), and
    /// serves WebSockets with `config` on a task of its own.
    ///
    /// # Errors
    /// [`Error::Http3`] with [`Http3Error::TlsConfig`] for a TLS config
    /// without TLS 1.3; [`Error::Io`] when the address cannot be bound.
    pub fn bind(
        addr: SocketAddr,
        mut tls: rustls::ServerConfig,
        config: ServerConfig,
    ) -> Result<Server, Error> {
        if tls.alpn_protocols.is_empty() {
            tls.alpn_protocols = vec![super::ALPN.to_vec()];
        }
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|_| Http3Error::TlsConfig)?;
        let quic = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let endpoint = Endpoint::server(quic, addr)?;
        Ok(Server::new(endpoint, config, |_| Accept::default()))
    }

    /// Serves WebSockets on an endpoint the caller made (with a server
    /// config whose ALPN offers `h3`), `decide` choosing the subprotocol,
    /// extensions and extra headers of each valid request's 200.
    pub fn new(
        endpoint: Endpoint,
        config: ServerConfig,
        decide: impl Fn(&ExtendedConnectRequest) -> Accept + Send + Sync + 'static,
    ) -> Server {
        let (sender, accepted) = mpsc::channel(ACCEPT_QUEUE);
        let shared = Shared {
            config: Arc::new(config),
            decide: Arc::new(decide),
            accepted: sender,
        };
        let listening = endpoint.clone();
        let acceptor = tokio::spawn(async move {
            while let Some(incoming) = listening.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let result = async {
                        let connection = incoming.await.map_err(Http3Error::Connection)?;
                        serve_connection(connection, shared).await
                    }
                    .await;
                    if let Err(error) = result {
                        crate::trace::failure(&error);
                    }
                });
            }
        });
        Server {
            endpoint,
            accepted,
            acceptor,
        }
    }

    /// The next WebSocket a client opened, open, with its request (path,
    /// authority, origin, offers); `None` once the server cannot accept
    /// any more.
    pub async fn accept(&mut self) -> Option<(WebSocket<H3Stream>, ExtendedConnectRequest)> {
        self.accepted.recv().await
    }

    /// The UDP address the server listens on.
    ///
    /// # Errors
    /// The socket's failure to say.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The QUIC endpoint, for its statistics or to close it.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// One connection: our control streams, the peer's, and a task per
/// request stream, until the connection ends.
async fn serve_connection(connection: Connection, shared: Shared) -> Result<(), Error> {
    // The client's SETTINGS matter to a client only; they are read so that
    // its control stream is checked.
    let _settings = connection::spawn_peer_streams(connection.clone());
    let _local_streams =
        connection::open_local_streams(&connection, shared.config.head_limits.max_head_len).await?;
    while let Ok((send, recv)) = connection.accept_bi().await {
        let shared = shared.clone();
        let connection = connection.clone();
        tokio::spawn(async move {
            if let Err(error) = serve_request(&connection, send, recv, shared).await {
                crate::trace::failure(&error);
            }
        });
    }
    Ok(())
}

/// Reads one request's head and answers it.
async fn serve_request(
    connection: &Connection,
    mut send: SendStream,
    recv: RecvStream,
    shared: Shared,
) -> Result<(), Error> {
    let mut reader = FrameReader::new(recv);
    let deadline = tokio::time::Instant::now() + shared.config.config.handshake_timeout;
    let limit = shared.config.head_limits.max_head_len;
    let reading = read_request_fields(&mut reader, limit);
    let fields = match tokio::time::timeout_at(deadline, reading).await {
        Ok(Ok(fields)) => fields,
        Ok(Err(Http3Error::Qpack(QpackError::TooLarge { limit }))) => {
            // The core's 431, as for an HTTP/1.1 head over its limit.
            let error = HandshakeError::InvalidRequestHead(HeadError::HeadTooLarge { limit });
            let response = extended_connect::error_response(&error)
                .unwrap_or_else(|| status_only(431, "request header fields too large\n"));
            refuse(send, reader, response).await?;
            return Err(Error::Handshake(error));
        }
        Ok(Err(Http3Error::Qpack(error))) => {
            // RFC 9204 §2.2: a section that cannot be decoded is a
            // connection error.
            connection.close(VarInt::from_u32(QPACK_DECOMPRESSION_FAILED as u32), b"");
            return Err(Http3Error::Qpack(error).into());
        }
        Ok(Err(error)) => {
            let _ = send.reset(VarInt::from_u32(H3_MESSAGE_ERROR as u32));
            return Err(error.into());
        }
        Err(_) => {
            let timeout = HandshakeError::Timeout;
            let response = extended_connect::error_response(&timeout)
                .unwrap_or_else(|| status_only(408, "timeout\n"));
            return refuse(send, reader, response).await;
        }
    };
    let RequestHead {
        request,
        protocol,
        missing,
    } = match request_from_fields(fields) {
        Ok(head) => head,
        Err(reason) => return refuse(send, reader, status_only(400, reason)).await,
    };
    let config = &shared.config;
    // The core's bounds on a head (line lengths, field count), as the
    // axum extractor applies them to HTTP/2 requests.
    let checked = config
        .head_limits
        .check_request(&request)
        .map_err(HandshakeError::InvalidRequestHead)
        .and_then(|()| extended_connect::validate_request(&request, protocol.as_deref(), config));
    let valid = match checked {
        Ok(valid) => valid,
        Err(error) => {
            // A URI cannot be without a scheme and with an authority, so the
            // core sees a missing :scheme or :path as a missing :authority.
            let error = match (error, missing) {
                (
                    HandshakeError::ExtendedConnect(ExtendedConnectError::MissingPseudoHeader {
                        ..
                    }),
                    Some(name),
                ) => ExtendedConnectError::MissingPseudoHeader { name }.into(),
                (error, _) => error,
            };
            let response = extended_connect::error_response(&error)
                .unwrap_or_else(|| status_only(400, "bad request\n"));
            refuse(send, reader, response).await?;
            return Err(Error::Handshake(error));
        }
    };
    let (response, negotiated) =
        match extended_connect::negotiate(&valid, (shared.decide)(&valid), config) {
            Ok(answer) => answer,
            Err(error) => {
                refuse(
                    send,
                    reader,
                    status_only(500, "the handshake decision was refused\n"),
                )
                .await?;
                return Err(Error::Decision(error));
            }
        };
    send.write_all(&encode_headers(response.status(), response.headers()))
        .await
        .map_err(|error| Http3Error::Stream(error.into()))?;
    let socket =
        WebSocket::from_upgraded_server(H3Stream::new(send, reader, None), config, &negotiated);
    // A server dropped meanwhile drops the WebSocket, which resets it.
    let _ = shared.accepted.send((socket, valid)).await;
    Ok(())
}

/// The fields of the request's HEADERS frame, frames of unknown types
/// before it skipped.
async fn read_request_fields(
    reader: &mut FrameReader,
    limit: usize,
) -> Result<Vec<qpack::Field>, Http3Error> {
    let stream_error = |error| match error {
        connection::ReadFrameError::Stream(error) => Http3Error::Stream(error),
        connection::ReadFrameError::TooLarge => Http3Error::Qpack(QpackError::TooLarge { limit }),
        connection::ReadFrameError::Truncated => Http3Error::Protocol {
            code: H3_MESSAGE_ERROR,
            reason: "the request stream ended inside a frame",
        },
    };
    loop {
        let Some((frame_type, len)) = reader.read_frame_header().await.map_err(stream_error)?
        else {
            return Err(Http3Error::Protocol {
                code: H3_MESSAGE_ERROR,
                reason: "the request stream ended before its HEADERS",
            });
        };
        match frame_type {
            frame::HEADERS => {
                let section = reader
                    .read_payload(len, limit as u64)
                    .await
                    .map_err(stream_error)?;
                return qpack::decode_field_section(&section, limit).map_err(Http3Error::Qpack);
            }
            frame::DATA
            | frame::SETTINGS
            | frame::GOAWAY
            | frame::CANCEL_PUSH
            | frame::MAX_PUSH_ID => {
                return Err(Http3Error::Protocol {
                    code: H3_FRAME_UNEXPECTED,
                    reason: "a frame other than HEADERS first on a request stream",
                });
            }
            _ => reader.skip(len).await.map_err(stream_error)?,
        }
    }
}

/// The request the fields describe, for the core: method, a URI from
/// `:scheme`, `:authority` and `:path`, HTTP/3, the fields; the
/// `:protocol` apart; and which of `:scheme` and `:path` is missing while
/// `:authority` is not, which the URI cannot tell. Malformed field
/// sections (RFC 9114 §4.3.1) are refused with why.
fn request_from_fields(fields: Vec<qpack::Field>) -> Result<RequestHead, &'static str> {
    let mut pseudo: [Option<String>; 5] = Default::default();
    const NAMES: [&str; 5] = [":method", ":scheme", ":authority", ":path", ":protocol"];
    let mut headers = http::HeaderMap::new();
    for (name, value) in fields {
        // RFC 9114 §4.2: a name with uppercase letters is malformed.
        if name.iter().any(u8::is_ascii_uppercase) {
            return Err("an uppercase field name\n");
        }
        if name.first() == Some(&b':') {
            let index = NAMES
                .iter()
                .position(|known| known.as_bytes() == name)
                .ok_or("an unknown pseudo-header field\n")?;
            if pseudo[index].is_some() || !headers.is_empty() {
                return Err("a repeated or misplaced pseudo-header field\n");
            }
            let value =
                String::from_utf8(value).map_err(|_| "a pseudo-header field that is not text\n")?;
            pseudo[index] = Some(value);
            continue;
        }
        let name = http::HeaderName::from_bytes(&name).map_err(|_| "an invalid field name\n")?;
        let value =
            http::HeaderValue::from_bytes(&value).map_err(|_| "an invalid field value\n")?;
        headers.append(name, value);
    }
    let [method, scheme, authority, path, protocol] = pseudo;
    let method = method.ok_or("a request without :method\n")?;
    let method = http::Method::from_bytes(method.as_bytes()).map_err(|_| "an invalid :method\n")?;
    let missing = match (&scheme, &authority, &path) {
        (None, Some(_), _) => Some(":scheme"),
        (Some(_), Some(_), None) => Some(":path"),
        _ => None,
    };
    let uri = match (scheme, authority, path) {
        (Some(scheme), Some(authority), Some(path)) => format!("{scheme}://{authority}{path}"),
        (_, _, Some(path)) if missing.is_none() => path,
        _ => String::from("/"),
    };
    let uri: http::Uri = uri
        .parse()
        .map_err(|_| "an invalid :scheme, :authority or :path\n")?;
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = http::Version::HTTP_3;
    *request.headers_mut() = headers;
    Ok(RequestHead {
        request,
        protocol,
        missing,
    })
}

/// A request as the core takes it, with what its URI cannot carry.
struct RequestHead {
    request: http::Request<()>,
    /// `:protocol`, which the core takes apart.
    protocol: Option<String>,
    /// `:scheme` or `:path`, when missing beside an `:authority`.
    missing: Option<&'static str>,
}

fn status_only(status: u16, body: &str) -> http::Response<String> {
    let mut response = http::Response::new(body.to_owned());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    response
}

/// Sends a refusal: its HEADERS, its body in a DATA frame, then FIN; and
/// stops reading the request.
async fn refuse(
    mut send: SendStream,
    mut reader: FrameReader,
    response: http::Response<String>,
) -> Result<(), Error> {
    let mut out = encode_headers(response.status(), response.headers());
    let body = response.body().as_bytes();
    if !body.is_empty() {
        frame::encode_header(frame::DATA, body.len() as u64, &mut out);
        out.extend_from_slice(body);
    }
    let _ = reader.recv.stop(VarInt::from_u32(H3_NO_ERROR as u32));
    send.write_all(&out)
        .await
        .map_err(|error| Http3Error::Stream(error.into()))?;
    let _ = send.finish();
    Ok(())
}

/// A response's HEADERS frame: `:status`, then the fields.
fn encode_headers(status: http::StatusCode, headers: &http::HeaderMap) -> BytesMut {
    let status = [(&b":status"[..], status.as_str().as_bytes())];
    let fields = status.into_iter().chain(
        headers
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, &str)]) -> Vec<qpack::Field> {
        list.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    const REQUEST: [(&str, &str); 5] = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "https"),
        (":authority", "example.com:4433"),
        (":path", "/chat?room=1"),
    ];

    #[test]
    fn a_request_becomes_an_http3_request_with_its_protocol_apart() {
        let mut list = REQUEST.to_vec();
        list.push(("sec-websocket-version", "13"));
        let head = request_from_fields(fields(&list)).expect("valid");
        assert_eq!(head.request.method(), http::Method::CONNECT);
        assert_eq!(head.request.version(), http::Version::HTTP_3);
        assert_eq!(head.request.uri(), "https://example.com:4433/chat?room=1");
        assert_eq!(head.request.headers()["sec-websocket-version"], "13");
        assert_eq!(head.protocol.as_deref(), Some("websocket"));
        assert_eq!(head.missing, None);
    }

    #[test]
    fn a_missing_scheme_or_path_beside_an_authority_is_named() {
        let without = |name: &str| {
            let list: Vec<_> = REQUEST
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .collect();
            request_from_fields(fields(&list)).expect("parsed").missing
        };
        assert_eq!(without(":scheme"), Some(":scheme"));
        assert_eq!(without(":path"), Some(":path"));
        // Without :authority, the URI has none, and the core names it.
        assert_eq!(without(":authority"), None);
    }

    #[test]
    fn malformed_field_sections_are_refused() {
        let mut misplaced = vec![("origin", "https://example.com")];
        misplaced.extend(REQUEST);
        assert!(request_from_fields(fields(&misplaced)).is_err());
        let mut repeated = REQUEST.to_vec();
        repeated.push((":path", "/again"));
        assert!(request_from_fields(fields(&repeated)).is_err());
        let mut unknown = REQUEST.to_vec();
        unknown.insert(0, (":status", "200"));
        assert!(request_from_fields(fields(&unknown)).is_err());
        let no_method: Vec<_> = REQUEST[1..].to_vec();
        assert!(request_from_fields(fields(&no_method)).is_err());
        // RFC 9114 §4.2: field names are lowercase.
        let mut uppercase = REQUEST.to_vec();
        uppercase.push(("Origin", "x"));
        assert!(request_from_fields(fields(&uppercase)).is_err());
    }
}
