//! The axum extractor (feature `axum`): [`WebSocketUpgrade`].
//!
//! It takes HTTP/1.1 upgrades (`GET`, answered 101) and HTTP/2 extended
//! CONNECT requests (RFC 8441, answered 200), which `axum::serve` accepts
//! with axum's `http2` feature; route it with
//! [`any`](axum::routing::any) to take both.
//!
//! ```no_run
//! use axum::{Router, routing::any, response::Response};
//! use wsmachine_tokio::axum::WebSocketUpgrade;
//!
//! async fn ws(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade.on_upgrade(|mut ws| async move {
//!         // recv() has answered pings and the Close; echoing them is harmless.
//!         let echo = async {
//!             while let Some(msg) = ws.recv().await {
//!                 let msg = msg?;
//!                 ws.send(msg).await?;
//!             }
//!             Ok::<(), wsmachine_tokio::Error>(())
//!         };
//!         if let Err(error) = echo.await {
//!             eprintln!("websocket: {error}");
//!         }
//!     })
//! }
//! let app: Router = Router::new().route("/ws", any(ws));
//! ```

use std::fmt;
use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use wsmachine::handshake::h2::{self as extended_connect, ExtendedConnectRequest};
use wsmachine::handshake::server::{
    Accept, ServerConfig, error_response, negotiate, validate_request,
};
use wsmachine::handshake::{HandshakeError, HandshakeRequest, Negotiated};
use wsmachine::http::Headers;
use wsmachine::http::status_to_http;

use crate::socket::WebSocket;
use wsmachine::config::Config;

/// The socket an axum handler gets: a [`WebSocket`] over hyper's upgraded
/// connection (HTTP/1.1) or stream (HTTP/2).
pub type AxumWebSocket = WebSocket<TokioIo<Upgraded>>;

/// An upgrade request, checked by the core as a [`Server`](wsmachine::Server)
/// checks the requests it parses itself: RFC 6455 §4.2.1 for HTTP/1.1,
/// RFC 8441's extended CONNECT for HTTP/2, and the server's head limits
/// (414, 431) on what hyper parsed.
///
/// Extraction refuses a bad request with the core's ready response (400,
/// 405, 426 with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`,
/// 431, ...; over HTTP/2, the extended CONNECT statuses of
/// [`wsmachine::handshake::h2`]), so the handler only sees valid ones.
///
/// The settings start as [`ServerConfig::default()`], as for
/// [`accept`](crate::accept): permessage-deflate is off, and
/// [`Config::deflate`] is its one switch, set through
/// [`config`](Self::config) or [`server_config`](Self::server_config). A
/// subprotocol is chosen with [`protocols`](Self::protocols).
#[must_use = "to upgrade the connection, return the response of on_upgrade"]
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    /// The request line and fields as hyper parsed them, checked again
    /// against the final configuration in `on_upgrade`.
    head: http::Request<()>,
    /// HTTP/2's `:protocol`, which hyper keeps as an extension.
    protocol: Option<hyper::ext::Protocol>,
    checked: Checked,
    on_upgrade: OnUpgrade,
    on_failed_upgrade: F,
    config: ServerConfig,
    accept: Accept,
}

impl<F> fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("head", &self.head)
            .field("checked", &self.checked)
            .field("config", &self.config)
            .field("accept", &self.accept)
            .finish_non_exhaustive()
    }
}

/// A request that passed the rules of its HTTP version.
#[derive(Debug)]
enum Checked {
    Http1(HandshakeRequest),
    Http2(ExtendedConnectRequest),
}

impl Checked {
    fn protocols(&self) -> &[String] {
        match self {
            Checked::Http1(request) => &request.protocols,
            Checked::Http2(request) => request.protocols(),
        }
    }
}

/// Why [`WebSocketUpgrade`] refused a request; its response is the core's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeRejection {
    /// An HTTP/1.1 request that breaks RFC 6455 §4.2.1, the head limits or
    /// the server's policy.
    #[error(transparent)]
    Handshake(HandshakeError),
    /// An HTTP/2 request that is not a WebSocket extended CONNECT
    /// (RFC 8441), or breaks the head limits or the server's policy;
    /// answered as [`h2::error_response`](extended_connect::error_response)
    /// answers, without HTTP/1.1's connection fields.
    #[error(transparent)]
    ExtendedConnect(HandshakeError),
    /// The request cannot be expressed as an HTTP/1.1 head (a header value
    /// with a NUL, a method that is not a token).
    #[error("the request cannot be read as an upgrade request")]
    Malformed,
    /// The server does not offer the connection for an upgrade (not
    /// hyper's server with upgrades).
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for UpgradeRejection {
    fn into_response(self) -> Response {
        match self {
            UpgradeRejection::Handshake(error) => match error_response(&error) {
                Some(answer) => response(answer.status, &answer.headers, Body::from(answer.body)),
                None => plain(StatusCode::BAD_REQUEST, "bad request\n"),
            },
            UpgradeRejection::ExtendedConnect(error) => {
                match extended_connect::error_response(&error) {
                    Some(answer) => answer.map(Body::from),
                    None => plain(StatusCode::BAD_REQUEST, "bad request\n"),
                }
            }
            UpgradeRejection::Malformed => plain(StatusCode::BAD_REQUEST, "malformed request\n"),
            UpgradeRejection::NotUpgradable => plain(
                StatusCode::UPGRADE_REQUIRED,
                "cannot upgrade this connection\n",
            ),
        }
    }
}

/// The core's checks for the request's HTTP version: the head limits, then
/// RFC 6455 §4.2.1 for HTTP/1.x or RFC 8441 for HTTP/2 and later.
fn check(
    head: &http::Request<()>,
    protocol: Option<&hyper::ext::Protocol>,
    config: &ServerConfig,
) -> Result<Checked, UpgradeRejection> {
    let multiplexed = head.version() >= http::Version::HTTP_2;
    let refuse = |error: HandshakeError| {
        #[cfg(feature = "tracing")]
        tracing::debug!(kind = error.kind().as_str(), error = %error, "websocket upgrade refused");
        if multiplexed {
            UpgradeRejection::ExtendedConnect(error)
        } else {
            UpgradeRejection::Handshake(error)
        }
    };
    // hyper's own limits are far looser (a 64 KiB line passes); the core
    // bounds what one handshake may carry.
    config
        .head_limits
        .check_request(head)
        .map_err(|error| refuse(HandshakeError::InvalidRequestHead(error)))?;
    if multiplexed {
        let protocol = protocol.map(hyper::ext::Protocol::as_str);
        return extended_connect::validate_request(head, protocol, config)
            .map(Checked::Http2)
            .map_err(refuse);
    }
    let request =
        wsmachine::http::Request::try_from(head).map_err(|_| UpgradeRejection::Malformed)?;
    validate_request(request, config)
        .map(Checked::Http1)
        .map_err(refuse)
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut head = http::Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.version_mut() = parts.version;
        *head.headers_mut() = parts.headers.clone();
        let protocol = parts.extensions.get::<hyper::ext::Protocol>().cloned();
        let config = ServerConfig::default();
        let checked = check(&head, protocol.as_ref(), &config)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(UpgradeRejection::NotUpgradable)?;
        Ok(WebSocketUpgrade {
            head,
            protocol,
            checked,
            on_upgrade,
            on_failed_upgrade: DefaultOnFailedUpgrade,
            config,
            accept: Accept::default(),
        })
    }
}

impl<F> WebSocketUpgrade<F> {
    /// The request target (HTTP/1.1) or `:path` (HTTP/2): the path and
    /// query.
    pub fn path(&self) -> &str {
        match &self.checked {
            Checked::Http1(request) => request.target(),
            Checked::Http2(request) => request.path(),
        }
    }

    /// Whether the request is an HTTP/2 extended CONNECT, answered with
    /// 200 rather than 101.
    pub fn is_extended_connect(&self) -> bool {
        matches!(self.checked, Checked::Http2(_))
    }

    /// The subprotocols the client offered in `Sec-WebSocket-Protocol`, in
    /// its order of preference.
    pub fn requested_protocols(&self) -> &[String] {
        self.checked.protocols()
    }

    /// Sets the connection's settings (limits, timers, permessage-deflate),
    /// as [`accept_with_config`](crate::accept_with_config) takes them: the
    /// same type with the same defaults, so the same `Config` negotiates
    /// the same way here and there. permessage-deflate is on exactly when
    /// the `Config` in effect has [`Config::deflate`] set; this call and
    /// [`server_config`](Self::server_config) each replace the `Config`,
    /// and the last one wins.
    pub fn config(mut self, config: Config) -> Self {
        self.config.config = config;
        self
    }

    /// Replaces the whole server configuration: the connection's settings
    /// (its `config`, permessage-deflate included) and the server's policy
    /// (`allowed_origins`, `head_limits`). The request is checked again
    /// against it in [`on_upgrade`](Self::on_upgrade), so an origin list or
    /// tighter limits apply; extraction already applied the default head
    /// limits, which this cannot loosen.
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Chooses the first of `protocols` that the client offered, if any.
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        self.accept.protocol = protocols
            .into_iter()
            .find(|protocol| {
                self.checked
                    .protocols()
                    .iter()
                    .any(|p| p == protocol.as_ref())
            })
            .map(|protocol| protocol.as_ref().to_owned());
        self
    }

    /// The subprotocol chosen so far.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.accept.protocol.as_deref()
    }

    /// Adds a header to the 101 (or HTTP/2's 200).
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.accept.headers.push(name, value);
        self
    }

    /// Sets what runs when hyper cannot hand the connection over once the
    /// handler has answered (the client went away before the response was
    /// written); by default nothing does, but a DEBUG event with the
    /// `tracing` feature.
    ///
    /// ```
    /// use axum::response::Response;
    /// use wsmachine_tokio::axum::WebSocketUpgrade;
    ///
    /// async fn handler(upgrade: WebSocketUpgrade) -> Response {
    ///     upgrade
    ///         .on_failed_upgrade(|error| eprintln!("upgrade failed: {error}"))
    ///         .on_upgrade(|ws| async move { drop(ws) })
    /// }
    /// ```
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade {
            head: self.head,
            protocol: self.protocol,
            checked: self.checked,
            on_upgrade: self.on_upgrade,
            on_failed_upgrade: callback,
            config: self.config,
            accept: self.accept,
        }
    }

    /// Answers with the 101 (HTTP/1.1) or 200 (HTTP/2) and, once hyper has
    /// handed the connection over, runs `callback` with the socket in a
    /// task of its own.
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(AxumWebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let WebSocketUpgrade {
            head,
            protocol,
            checked: _,
            on_upgrade,
            on_failed_upgrade,
            config,
            accept,
        } = self;
        // The config may have changed since extraction (an origin list).
        let checked = match check(&head, protocol.as_ref(), &config) {
            Ok(checked) => checked,
            Err(rejection) => return rejection.into_response(),
        };
        let Some((answer, negotiated)) = answer(&checked, accept, &config) else {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot accept\n");
        };
        tokio::spawn(async move {
            // Resolves once hyper has sent the response and let go of the
            // connection or stream.
            match on_upgrade.await {
                Ok(upgraded) => {
                    let ws = WebSocket::from_upgraded_server(
                        TokioIo::new(upgraded),
                        &config,
                        &negotiated,
                    );
                    callback(ws).await;
                }
                Err(error) => on_failed_upgrade.call(axum::Error::new(error)),
            }
        });
        answer
    }
}

/// The response accepting `checked` with the app's choices, and what it
/// agreed; `None` when the choices cannot be sent (a reserved header).
fn answer(
    checked: &Checked,
    accept: Accept,
    config: &ServerConfig,
) -> Option<(Response, Negotiated)> {
    match checked {
        Checked::Http1(request) => {
            let (headers, negotiated) = negotiate(request, accept, config).ok()?;
            Some((response(101, &headers, Body::empty()), negotiated))
        }
        // RFC 8441 §5: 200, no Upgrade, Connection or Sec-WebSocket-Accept.
        Checked::Http2(request) => {
            let (answer, negotiated) = extended_connect::negotiate(request, accept, config).ok()?;
            Some((answer.map(|()| Body::empty()), negotiated))
        }
    }
}

/// What runs when hyper's upgrade fails after the response was sent: see
/// [`WebSocketUpgrade::on_failed_upgrade`]. Any `FnOnce(axum::Error)` is
/// one, as for axum's own extractor.
pub trait OnFailedUpgrade: Send + 'static {
    /// Runs the callback with hyper's error.
    fn call(self, error: axum::Error);
}

impl<F> OnFailedUpgrade for F
where
    F: FnOnce(axum::Error) + Send + 'static,
{
    fn call(self, error: axum::Error) {
        self(error);
    }
}

/// The default [`OnFailedUpgrade`]: nothing, but a DEBUG event with the
/// `tracing` feature.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    fn call(self, error: axum::Error) {
        #[cfg(feature = "tracing")]
        tracing::debug!(error = %error, "websocket upgrade failed after the response");
    }
}

/// A response with the core's status and headers.
fn response(status: u16, headers: &Headers, body: Body) -> Response {
    let (Ok(status), Ok(map)) = (status_to_http(status), HeaderMap::try_from(headers)) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "bad response\n");
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = map;
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}
