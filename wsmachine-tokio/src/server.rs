//! The server side: [`accept`] and [`accept_with`].

use std::future::poll_fn;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use wsmachine::handshake::HandshakeRequest;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::http::Headers;
use wsmachine::{Event, Server};

use crate::conn::Conn;
use crate::error::{Error, from_core};
use crate::socket::WebSocket;
use wsmachine::config::Config;

/// What [`accept_with`]'s callback decides about a valid upgrade request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Decision {
    /// Upgrade, with a subprotocol, extensions or headers of the app's
    /// choosing. With `ServerConfig::deflate` set and no extensions in the
    /// `Accept`, permessage-deflate is negotiated from the config.
    Accept(Accept),
    /// Answer with this response instead (a health check's 200, a 403, a
    /// redirect): framed with Content-Length, then the connection ends.
    Respond {
        /// The status: 200–999, not 101.
        status: u16,
        /// Header fields (not `Connection`, which is set to `close`).
        headers: Headers,
        /// The body.
        body: Bytes,
    },
}

impl Decision {
    /// Accept with no subprotocol and the config's extensions.
    pub fn accept() -> Self {
        Decision::Accept(Accept::default())
    }

    /// Answer with `status` and a body, and no extra headers.
    pub fn respond(status: u16, body: impl Into<Bytes>) -> Self {
        Decision::Respond {
            status,
            headers: Headers::new(),
            body: body.into(),
        }
    }
}

/// Serves the opening handshake on `io` with the default settings and
/// accepts every valid request.
///
/// # Errors
/// As [`accept_with`].
pub fn accept<S>(io: S) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with_config(io, Config::default())
}

/// [`accept`] with the connection's settings: limits, timers,
/// permessage-deflate.
///
/// ```no_run
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), wsmachine_tokio::Error> {
/// use wsmachine_tokio::Config;
///
/// let config = Config::default().max_message_size(16 << 20).deflate(true);
/// let ws = wsmachine_tokio::accept_with_config(stream, config).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`accept_with`].
pub fn accept_with_config<S>(
    io: S,
    config: Config,
) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut server = ServerConfig::default();
    server.config = config;
    accept_with(io, server, |_| Decision::accept())
}

/// Serves the opening handshake on `io`: a request that breaks RFC 6455 gets
/// the core's ready response (400, 405, 426 with `Sec-WebSocket-Version: 13`,
/// ...); a valid one goes to `callback`, which accepts it or answers it.
/// `config` has the server's policy (allowed origins, head limits) and the
/// connection's settings (`config.config`).
///
/// The handshake deadline is `Config::handshake_timeout`.
///
/// # Errors
/// [`Error::Handshake`] for a bad request, with the core's `kind()` for
/// metrics (the response was sent); [`Error::Responded`] when the callback
/// answered; [`Error::Decision`] when its `Accept` cannot be carried out
/// (the client got a 500); [`Error::Io`] for a transport failure.
pub fn accept_with<S, F>(
    io: S,
    config: ServerConfig,
    callback: F,
) -> impl Future<Output = Result<WebSocket<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Decision,
{
    // The handshake's state (the engine's futures, the finishing timer)
    // lives in a box let go of when it ends: the caller's future, which
    // holds this one while it runs, then carries none of it for the
    // connection's life.
    Box::pin(accept_boxed(io, config, callback))
}

async fn accept_boxed<S, F>(io: S, config: ServerConfig, callback: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Decision,
{
    let conn = Conn::Server(Box::new(Server::new(config)));
    let mut ws = WebSocket::new(conn, io, Instant::now());
    let result = handshake(&mut ws, callback).await;
    if let Err(error) = &result {
        crate::trace::failure(error);
    }
    result.map(|()| ws)
}

async fn handshake<S, F>(ws: &mut WebSocket<S>, callback: F) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Decision,
{
    let mut callback = Some(callback);
    loop {
        let Some(event) = poll_fn(|cx| ws.poll_engine(cx)).await? else {
            return Err(ended(ws));
        };
        let Event::Request(request) = event else {
            continue;
        };
        let Some(callback) = callback.take() else {
            continue;
        };
        let decision = callback(&request);
        let now = ws.now();
        let Conn::Server(server) = ws.conn_mut() else {
            return Err(Error::Closed);
        };
        let protocol = match &decision {
            Decision::Accept(accept) => accept.protocol.clone(),
            Decision::Respond { .. } => None,
        };
        match decision {
            Decision::Accept(accept) => match server.accept(now, accept) {
                Ok(()) => {
                    ws.set_protocol(protocol);
                    // The 101 goes out now, even to an app that sends
                    // nothing before it reads.
                    ws.take_output();
                    poll_fn(|cx| {
                        futures_sink::Sink::<crate::Message>::poll_flush(
                            std::pin::Pin::new(&mut *ws),
                            cx,
                        )
                    })
                    .await?;
                    return Ok(());
                }
                Err(error) => {
                    let _ = server.reject(500, &Headers::new(), b"cannot accept\n");
                    finish(ws).await;
                    return Err(Error::Decision(error));
                }
            },
            Decision::Respond {
                status,
                headers,
                body,
            } => {
                let result = server.reject(status, &headers, &body);
                if let Err(error) = result {
                    let _ = server.reject(500, &Headers::new(), b"cannot respond\n");
                    finish(ws).await;
                    return Err(Error::Decision(error));
                }
                finish(ws).await;
                return Err(Error::Responded { status });
            }
        }
    }
}

/// How long a refused connection may take to take its response.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes what is queued (a response) and shuts the transport down, within
/// a bound: a client that never reads cannot hold the task.
pub(crate) async fn finish<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    let drain = async { while let Ok(Some(_)) = poll_fn(|cx| ws.poll_engine(cx)).await {} };
    let _ = tokio::time::timeout(FINISH_TIMEOUT, drain).await;
}

/// The error of a handshake whose connection ended.
pub(crate) fn ended<S>(ws: &WebSocket<S>) -> Error {
    match ws.conn().error() {
        Some(error) => from_core(error.clone()),
        None => Error::Closed,
    }
}
