//! WebSocket inside a plain hyper 1.x HTTP/1 server: hyper parses the
//! requests, the core decides the upgrade, the driver runs the socket.
//!
//! ```text
//! cargo run -p wsmachine-tokio --features http --example hyper_upgrade [-- ADDR] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9005 (axum_echo has 9003, h2_echo 9004). `GET /` serves the
//! same page as `axum_echo`; `/ws` echoes. For `/ws` the handler:
//! 1. converts hyper's request with the core's `http` conversion and checks
//!    it with `validate_request`, the checks a `Server` makes itself;
//! 2. answers a bad request with `error_response` (426 with `Upgrade:
//!    websocket` for a plain GET, 405 with `Allow: GET`, ...);
//! 3. answers a good one with the 101 that `negotiate` builds
//!    (permessage-deflate when offered), and once hyper has switched hands
//!    the upgraded stream to `WebSocket::from_upgraded` with what was agreed.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::server::{
    Accept, ServerConfig, error_response, negotiate, validate_request,
};
use wsmachine::http::{Headers, status_to_http};
use wsmachine_tokio::WebSocket;

pub use common::{LogSink, PAGE};

/// What every connection shares.
pub struct App {
    /// The handshake policy and the connections' behaviour.
    pub config: ServerConfig,
    /// Where log lines go.
    pub sink: Option<LogSink>,
}

/// The configuration: 16 MiB messages, permessage-deflate on.
pub fn app_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.max_message_size = 16 << 20;
    config.config.deflate = Some(DeflateConfig::default());
    config
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:9005");
    let mut quiet = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quiet" | "-q" => quiet = true,
            other if other.starts_with('-') => {
                eprintln!("hyper_upgrade: unknown option {other}");
                eprintln!("usage: hyper_upgrade [ADDR] [--quiet]");
                return ExitCode::from(2);
            }
            other => addr = other.into(),
        }
    }
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("hyper_upgrade: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().map_or(addr, |addr| addr.to_string());
    eprintln!("hyper_upgrade: serving http://{bound}/ and ws://{bound}/ws");
    let sink: Option<LogSink> =
        (!quiet).then(|| Arc::new(|line: &str| eprintln!("{line}")) as LogSink);
    serve(
        listener,
        Arc::new(App {
            config: app_config(),
            sink,
        }),
    )
    .await;
    ExitCode::SUCCESS
}

/// Accepts connections forever, each served by hyper in its own task.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(route(request, &app, peer)) }
            });
            // The timer makes hyper's deadline for a request head take
            // effect, and `with_upgrades` keeps the connection's I/O for
            // `hyper::upgrade::on` after a 101.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn log(app: &App, peer: SocketAddr, line: &str) {
    if let Some(sink) = &app.sink {
        sink(&format!("{peer} {line}"));
    }
}

fn route(request: Request<Incoming>, app: &Arc<App>, peer: SocketAddr) -> Response<Full<Bytes>> {
    match (request.uri().path(), request.method()) {
        ("/", &Method::GET | &Method::HEAD) => {
            let mut response = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        ("/ws", _) => upgrade(request, app, peer),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Checks an upgrade request with the core and answers it.
fn upgrade(
    mut request: Request<Incoming>,
    app: &Arc<App>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let Ok(head) = wsmachine::http::Request::try_from(&request) else {
        return plain(StatusCode::BAD_REQUEST, "malformed request\n");
    };
    let handshake = match validate_request(head, &app.config) {
        Ok(handshake) => handshake,
        Err(error) => {
            log(
                app,
                peer,
                &format!("handshake failed: kind={}", error.kind().as_str()),
            );
            return match error_response(&error) {
                Some(answer) => {
                    let status =
                        status_to_http(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    with_headers(status, &answer.headers, Bytes::from(answer.body))
                }
                None => plain(StatusCode::BAD_REQUEST, "bad request\n"),
            };
        }
    };
    let (headers, negotiated) = match negotiate(&handshake, Accept::default(), &app.config) {
        Ok(agreed) => agreed,
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot accept\n"),
    };
    log(app, peer, &format!("accepted {}", handshake.target()));
    let on_upgrade = hyper::upgrade::on(&mut request);
    let app = Arc::clone(app);
    tokio::spawn(async move {
        // Resolves once hyper has written the 101 and let go of the stream.
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let ws = WebSocket::from_upgraded_server(TokioIo::new(upgraded), &app.config, &negotiated);
        let line = |line: &str| log(&app, peer, line);
        common::echo(ws, &line).await;
    });
    with_headers(StatusCode::SWITCHING_PROTOCOLS, &headers, Bytes::new())
}

fn with_headers(status: StatusCode, headers: &Headers, body: Bytes) -> Response<Full<Bytes>> {
    let Ok(map) = HeaderMap::try_from(headers) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "bad response headers\n");
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = map;
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
