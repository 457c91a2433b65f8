//! The axum extractor (feature `axum`): [`WebSocketUpgrade`].
//!
//! ```no_run
//! use axum::{Router, routing::get, response::Response};
//! use futures_util::{SinkExt, StreamExt};
//! use wsmachine_tokio::axum::WebSocketUpgrade;
//!
//! async fn ws(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade.on_upgrade(|mut ws| async move {
//!         while let Some(Ok(message)) = ws.next().await {
//!             if message.is_data() && ws.send(message).await.is_err() { break; }
//!         }
//!     })
//! }
//! let app: Router = Router::new().route("/ws", get(ws));
//! ```

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use wsmachine::handshake::server::{
    Accept, ServerConfig, error_response, negotiate, validate_request,
};
use wsmachine::handshake::{HandshakeError, HandshakeRequest};
use wsmachine::http::Headers;
use wsmachine::http::status_to_http;

use crate::socket::WebSocket;
use wsmachine::config::Config;

/// The socket an axum handler gets: a [`WebSocket`] over hyper's upgraded
/// connection.
pub type AxumWebSocket = WebSocket<TokioIo<Upgraded>>;

/// An upgrade request, checked by the core as a [`Server`](wsmachine::Server)
/// checks the requests it parses itself (RFC 6455 §4.2.1).
///
/// Extraction refuses a bad request with the core's ready response (400,
/// 405, 426 with `Upgrade: websocket` and `Sec-WebSocket-Version: 13`,
/// ...), so the handler only sees valid ones. permessage-deflate is
/// accepted when offered once [`config`](Self::config) turns it on (off by
/// default, as for [`accept`](crate::accept)); a subprotocol is chosen with
/// [`protocols`](Self::protocols).
#[derive(Debug)]
pub struct WebSocketUpgrade {
    request: HandshakeRequest,
    on_upgrade: OnUpgrade,
    config: ServerConfig,
    accept: Accept,
}

/// Why [`WebSocketUpgrade`] refused a request; its response is the core's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeRejection {
    /// The request breaks RFC 6455 §4.2.1 or the server's policy.
    #[error(transparent)]
    Handshake(HandshakeError),
    /// The request cannot be expressed as an HTTP/1.1 head (a header value
    /// with a NUL, a method that is not a token).
    #[error("the request cannot be read as an upgrade request")]
    Malformed,
    /// The server does not offer the connection for an upgrade (not
    /// hyper's HTTP/1 server with upgrades).
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
            UpgradeRejection::Malformed => plain(StatusCode::BAD_REQUEST, "malformed request\n"),
            UpgradeRejection::NotUpgradable => plain(
                StatusCode::UPGRADE_REQUIRED,
                "cannot upgrade this connection\n",
            ),
        }
    }
}

fn check(parts: &Parts, config: &ServerConfig) -> Result<HandshakeRequest, UpgradeRejection> {
    let mut head = http::Request::new(());
    *head.method_mut() = parts.method.clone();
    *head.uri_mut() = parts.uri.clone();
    *head.version_mut() = parts.version;
    *head.headers_mut() = parts.headers.clone();
    let head =
        wsmachine::http::Request::try_from(&head).map_err(|_| UpgradeRejection::Malformed)?;
    validate_request(head, config).map_err(|error| {
        let rejection = UpgradeRejection::Handshake(error);
        #[cfg(feature = "tracing")]
        if let UpgradeRejection::Handshake(error) = &rejection {
            tracing::debug!(kind = error.kind().as_str(), error = %error, "websocket upgrade refused");
        }
        rejection
    })
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = UpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let config = ServerConfig::default();
        let request = check(parts, &config)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(UpgradeRejection::NotUpgradable)?;
        Ok(WebSocketUpgrade {
            request,
            on_upgrade,
            config,
            accept: Accept::default(),
        })
    }
}

impl WebSocketUpgrade {
    /// The checked request: target, headers, offered subprotocols and
    /// extensions.
    pub fn request(&self) -> &HandshakeRequest {
        &self.request
    }

    /// Sets the connection's settings (limits, timers, permessage-deflate),
    /// as [`accept_with_config`](crate::accept_with_config) takes them: the
    /// same type with the same defaults, permessage-deflate off until
    /// [`Config::deflate`] turns it on.
    pub fn config(mut self, config: Config) -> Self {
        self.config.config = config;
        self
    }

    /// Replaces the whole server configuration: the connection's settings
    /// and the server's policy (`allowed_origins`, head limits). The request
    /// is checked again against it in [`on_upgrade`](Self::on_upgrade).
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
                self.request
                    .protocols
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

    /// Adds a header to the 101.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) -> Self {
        self.accept.headers.push(name, value);
        self
    }

    /// Answers with the 101 and, once hyper has switched protocols, runs
    /// `callback` with the socket in a task of its own.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(AxumWebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let WebSocketUpgrade {
            request,
            on_upgrade,
            config,
            accept,
        } = self;
        // The config may have changed since extraction (an origin list).
        let request = match validate_request(request.request, &config) {
            Ok(request) => request,
            Err(error) => return UpgradeRejection::Handshake(error).into_response(),
        };
        let (headers, negotiated) = match negotiate(&request, accept, &config) {
            Ok(agreed) => agreed,
            Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot accept\n"),
        };
        tokio::spawn(async move {
            // Resolves once hyper has written the 101 and let go of the
            // connection; an error means the client went away.
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let ws = WebSocket::from_upgraded_server(TokioIo::new(upgraded), &config, &negotiated);
            callback(ws).await;
        });
        response(101, &headers, Body::empty())
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
