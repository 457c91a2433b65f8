//! WebSockets over HTTP/2 (RFC 8441), the client side: several WebSockets
//! on one HTTP/2 connection, each the same [`WebSocket`] type a `ws://`
//! connection gives.
//!
//! [`Client::handshake`] starts HTTP/2 on a transport the caller opened
//! (TCP for h2c with prior knowledge, or TLS whose ALPN chose `h2`), runs
//! the connection on a task of its own, and waits for the server's
//! SETTINGS: a server that does not announce
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 §3) is
//! [`Error::ExtendedConnectDisabled`]. Each [`Client::connect`] then sends
//! an extended CONNECT on a new stream (`:protocol websocket`, `:scheme`,
//! `:authority` and `:path` from the URL, `sec-websocket-version: 13`, the
//! subprotocols and extensions offered, permessage-deflate included) and
//! checks the server's 200 with the core's rules
//! ([`wsmachine::handshake::h2`]). The stream's DATA frames then carry the
//! WebSocket's frames; its end (`END_STREAM`) is the transport's end.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use wsmachine_tokio::h2::Client;
//! use wsmachine_tokio::{ClientConfig, DeflateConfig, Message};
//!
//! # async fn run() -> Result<(), wsmachine_tokio::Error> {
//! let tcp = tokio::net::TcpStream::connect("127.0.0.1:9004").await?;
//! let client = Client::handshake(tcp).await?;
//! // Two WebSockets on the one connection.
//! let (mut chat, _response) = client.connect("ws://127.0.0.1:9004/chat").await?;
//! let config = ClientConfig::new("ws://127.0.0.1:9004/feed")
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
//!
//! The server side needs no module of its own: an HTTP/2 server (hyper's,
//! with `enable_connect_protocol`) hands over the stream, which
//! [`WebSocket::from_upgraded_server`] runs after the core's
//! [`validate_request`](wsmachine::handshake::h2::validate_request) and
//! [`negotiate`](wsmachine::handshake::h2::negotiate); the `h2_echo`
//! example does this.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsmachine::config::Config;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::h2 as extended_connect;
use wsmachine::http::{BodyError, Headers};

use crate::client::IntoClientConfig;
use crate::error::{Error, Timeout};
use crate::socket::WebSocket;

/// An HTTP/2 connection whose server allows extended CONNECT, on which
/// [`connect`](Self::connect) opens WebSockets.
///
/// Cloning gives another handle on the same connection, for another task.
/// The connection ends once every handle and every stream opened on it are
/// dropped or closed.
#[derive(Clone, Debug)]
pub struct Client {
    send_request: ::h2::client::SendRequest<Bytes>,
}

impl Client {
    /// Starts HTTP/2 as a client on `io` and waits for the server's
    /// SETTINGS, within [`Config::handshake_timeout`]'s default (10 s).
    ///
    /// `io` is a transport to the server that speaks HTTP/2 from its first
    /// byte: a TCP stream to an h2c server that takes prior knowledge, or a
    /// TLS stream whose ALPN agreed on `h2`. The connection runs on a task
    /// spawned on the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::ExtendedConnectDisabled`] when the server's SETTINGS do not
    /// enable extended CONNECT; [`Error::Http2`] when HTTP/2 fails (a
    /// server that does not speak it, a GOAWAY); [`Error::Timeout`] with
    /// [`Timeout::Connect`] when the server's SETTINGS do not come in time.
    pub async fn handshake<S>(io: S) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let result = handshake(io).await;
        if let Err(error) = &result {
            crate::trace::failure(error);
        }
        result
    }

    /// Opens a WebSocket on a new stream of the connection: sends the
    /// extended CONNECT for `request` (a `ws://` or `wss://` URL, or a
    /// [`ClientConfig`] with subprotocols, extensions, headers and the
    /// connection's settings) and checks the answer.
    ///
    /// The URL gives `:scheme` (`http` for `ws://`, `https` for `wss://`),
    /// `:authority` and `:path`; the transport is the connection's, so the
    /// config's proxy and connect timeout are not used. The request and
    /// its answer have [`Config::handshake_timeout`]. Returns the socket
    /// and the server's 200 response, whose `sec-websocket-protocol` and
    /// `sec-websocket-extensions` the socket already follows.
    ///
    /// # Errors
    /// [`Error::Url`] for a URL that is not a WebSocket URL;
    /// [`Error::Config`] for a config the core cannot send;
    /// [`Error::Rejected`] when the server answers with a status other than
    /// 200, with its headers and body (up to
    /// [`BodyLimits::max_body`](wsmachine::http::BodyLimits::max_body));
    /// [`Error::Handshake`] for a 200 that does not fit the offer (a
    /// subprotocol or extension not offered), or with
    /// `HandshakeError::Timeout` when the answer does not come in time;
    /// [`Error::Http2`] when the stream or the connection fails.
    pub async fn connect(
        &self,
        request: impl IntoClientConfig,
    ) -> Result<(WebSocket<H2Stream>, http::Response<()>), Error> {
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
    ) -> Result<(WebSocket<H2Stream>, http::Response<()>), Error> {
        let mut request = extended_connect::build_request(&config).map_err(Error::Config)?;
        request
            .extensions_mut()
            .insert(::h2::ext::Protocol::from(extended_connect::PROTOCOL));
        let deadline = tokio::time::Instant::now() + config.config.handshake_timeout;
        let timed_out = |_| Error::Handshake(HandshakeError::Timeout);
        let exchange = async {
            let mut send_request = self.send_request.clone().ready().await?;
            let (response, send) = send_request.send_request(request, false)?;
            Ok::<_, ::h2::Error>((response.await?, send))
        };
        let (response, send) = tokio::time::timeout_at(deadline, exchange)
            .await
            .map_err(timed_out)?
            .map_err(Error::Http2)?;
        let (parts, mut body) = response.into_parts();
        let response = http::Response::from_parts(parts, ());
        if response.status() != http::StatusCode::OK {
            // The refusal's body, as an HTTP/1.1 refusal's is kept.
            let limit = config.body_limits.max_body;
            let (body, body_error) = tokio::time::timeout_at(deadline, read_body(&mut body, limit))
                .await
                .map_err(timed_out)?;
            return Err(Error::Rejected {
                status: response.status().as_u16(),
                headers: Box::new(Headers::try_from(response.headers()).unwrap_or_default()),
                body,
                body_error,
            });
        }
        // Dropping `send` and `body` on a failure resets the stream
        // (RST_STREAM with CANCEL).
        let negotiated =
            extended_connect::check_response(&response, &config).map_err(Error::Handshake)?;
        let socket =
            WebSocket::from_upgraded_client(H2Stream::new(send, body), &config, &negotiated);
        Ok((socket, response))
    }
}

async fn handshake<S>(io: S) -> Result<Client, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = tokio::time::Instant::now() + Config::default().handshake_timeout;
    let settings = async {
        let (send_request, mut connection) = ::h2::client::handshake(io).await?;
        let mut ping_pong = connection.ping_pong();
        tokio::spawn(async move {
            // Its failure reaches every stream and request as theirs.
            let _ = connection.await;
        });
        // RFC 9113 §3.4: the server's preface, its first frame, is its
        // SETTINGS; h2 applies them before it reads the next frame. So once
        // our PING is answered, whether extended CONNECT is on is known.
        if let Some(ping_pong) = ping_pong.as_mut() {
            ping_pong.ping(::h2::Ping::opaque()).await?;
        }
        send_request.ready().await
    };
    let send_request = tokio::time::timeout_at(deadline, settings)
        .await
        .map_err(|_| Error::Timeout(Timeout::Connect))?
        .map_err(Error::Http2)?;
    if !send_request.is_extended_connect_protocol_enabled() {
        return Err(Error::ExtendedConnectDisabled);
    }
    Ok(Client { send_request })
}

/// A refused request's body, up to `limit` bytes.
async fn read_body(body: &mut ::h2::RecvStream, limit: usize) -> (Bytes, Option<BodyError>) {
    let mut read = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else {
            let received = read.len() as u64;
            let expected = None;
            return (
                read.freeze(),
                Some(BodyError::Truncated { received, expected }),
            );
        };
        let _ = body.flow_control().release_capacity(chunk.len());
        if read.len() + chunk.len() > limit {
            return (read.freeze(), Some(BodyError::BodyTooLarge { limit }));
        }
        read.extend_from_slice(&chunk);
    }
    (read.freeze(), None)
}

/// An HTTP/2 stream as a byte transport, for a [`WebSocket`]: what the
/// peer sends in DATA frames is read, what is written goes out in DATA
/// frames, no faster than the peer's flow-control window admits, and a
/// shutdown ends the stream (`END_STREAM`). The end of the peer's side is
/// the end of the reads; a reset (`RST_STREAM`) is a
/// [`ConnectionReset`](io::ErrorKind::ConnectionReset) error.
///
/// [`Client::connect`] makes one; [`new`](Self::new) wraps a stream that
/// an app opened or accepted with the h2 crate itself.
#[derive(Debug)]
pub struct H2Stream {
    send: ::h2::SendStream<Bytes>,
    recv: ::h2::RecvStream,
    /// What arrived in a DATA frame and was not read yet.
    pending: Bytes,
}

impl H2Stream {
    /// The stream of one accepted extended CONNECT: its sending half and
    /// the body of the response (client) or request (server).
    pub fn new(send: ::h2::SendStream<Bytes>, recv: ::h2::RecvStream) -> Self {
        H2Stream {
            send,
            recv,
            pending: Bytes::new(),
        }
    }
}

fn io_error(error: ::h2::Error) -> io::Error {
    if error.is_io() {
        return error
            .into_io()
            .unwrap_or_else(|| io::ErrorKind::Other.into());
    }
    if error.is_reset() {
        return io::Error::new(io::ErrorKind::ConnectionReset, error);
    }
    io::Error::other(error)
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // No room: nothing to read, and not the end either.
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        while self.pending.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                // END_STREAM: the transport's end.
                None => return Poll::Ready(Ok(())),
                Some(Ok(data)) => {
                    // The window opens again as the bytes are taken.
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.pending = data;
                }
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
            }
        }
        let len = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..len]);
        self.pending.advance(len);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Only what the peer's window admits is copied, so memory stays
        // bounded by the window.
        self.send.reserve_capacity(buf.len());
        loop {
            match ready!(self.send.poll_capacity(cx)) {
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Some(Err(error)) => return Poll::Ready(Err(io_error(error))),
                Some(Ok(0)) => {}
                Some(Ok(capacity)) => {
                    let len = capacity.min(buf.len());
                    self.send
                        .send_data(Bytes::copy_from_slice(&buf[..len]), false)
                        .map_err(io_error)?;
                    return Poll::Ready(Ok(len));
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // h2 writes what it was given as soon as the connection task runs.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // END_STREAM on an empty DATA frame. After a reset or an earlier
        // end there is nothing left to end.
        let _ = self.send.send_data(Bytes::new(), true);
        Poll::Ready(Ok(()))
    }
}
