//! WebSocket inside an ordinary hyper 1.x HTTP/1 server: hyper parses the
//! requests, wsmachine decides the upgrade and runs the connection.
//!
//! ```text
//! cargo run --example hyper_upgrade --features http [-- ADDR] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9003. `GET /` serves an HTML page whose script
//! talks to `/ws`; `/ws` is an echo endpoint. For `/ws` the handler:
//! 1. converts hyper's request with the `http` feature's conversion and
//!    checks it with `validate_request`, the checks a `Server` makes on the
//!    requests it parses itself;
//! 2. answers a bad request with `error_response` (426 with
//!    `Upgrade: websocket` for a plain GET, 405 with `Allow: GET`, ...);
//! 3. answers a good one with a 101 carrying `accept_headers`, and once
//!    hyper has switched (`hyper::upgrade::on`) hands the upgraded stream to
//!    `Server::new_open` and runs the same echo loop as `tokio_echo`.
//!
//! Bytes the client sent right after its request (an eager first frame) are
//! part of the upgraded stream: hyper hands back what it read past the head.

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
use wsmachine::Server;
use wsmachine::handshake::server::{
    Accept, ServerConfig, accept_headers, error_response, validate_request,
};
use wsmachine::http::{Headers, status_to_http};

use common::{Clock, ConnLog, LogSink, run_echo, stderr_sink};

/// The page at `/`: a text box that sends to `/ws` and shows the echoes.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>wsmachine echo</title></head>
<body>
<h1>wsmachine echo</h1>
<form id="form"><input id="text" value="hello" autofocus> <button>Send</button></form>
<pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
const socket = new WebSocket(`ws://${location.host}/ws`);
socket.onopen = () => log("open");
socket.onmessage = (event) => log("echo: " + event.data);
socket.onclose = (event) => log(`closed: ${event.code}`);
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  socket.send(document.getElementById("text").value);
};
</script>
</body>
</html>
"#;

/// What every connection shares.
pub struct App {
    /// The handshake policy and the connections' behaviour.
    pub config: ServerConfig,
    /// Where log lines go.
    pub sink: Option<LogSink>,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:9003");
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
    eprintln!("hyper_upgrade: serving http://{addr}/ and ws://{addr}/ws");
    let app = Arc::new(App {
        config: app_config(),
        sink: stderr_sink(quiet),
    });
    serve(listener, app).await;
    ExitCode::SUCCESS
}

/// The configuration: 16 MiB messages, as the other examples.
pub fn app_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.limits.max_message_size = 16 << 20;
    config.config.limits.max_frame_payload = 16 << 20;
    config
}

/// Accepts connections forever, each served by hyper in its own task.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                if let Some(sink) = &app.sink {
                    sink(&format!("accept failed: {error}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let log = ConnLog::new(peer, app.sink.clone());
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(route(request, &app, peer)) }
            });
            // The timer makes hyper's 30 s deadline for a request head take
            // effect (what `tokio_echo`'s handshake timeout does), and
            // `with_upgrades` keeps the connection's I/O for
            // `hyper::upgrade::on` after a 101.
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(error) = served {
                log.line(&format!("http error: {error}"));
            }
        });
    }
}

/// Picks the handler for a request.
fn route(request: Request<Incoming>, app: &Arc<App>, peer: SocketAddr) -> Response<Full<Bytes>> {
    match request.uri().path() {
        "/" => match *request.method() {
            Method::GET | Method::HEAD => {
                let mut response = Response::new(Full::new(Bytes::from_static(PAGE.as_bytes())));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
                );
                response
            }
            _ => {
                let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
                response.headers_mut().insert(
                    hyper::header::ALLOW,
                    hyper::header::HeaderValue::from_static("GET, HEAD"),
                );
                response
            }
        },
        "/ws" => upgrade(request, app, ConnLog::new(peer, app.sink.clone())),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Validates an upgrade request with the crate's checks and answers it: an
/// error response, or a 101 whose connection is then run by wsmachine.
fn upgrade(mut request: Request<Incoming>, app: &Arc<App>, log: ConnLog) -> Response<Full<Bytes>> {
    // The `http` feature's conversion; it refuses what wsmachine would not
    // write, such as a header value with a NUL.
    let head = match wsmachine::http::Request::try_from(&request) {
        Ok(head) => head,
        Err(error) => {
            log.line(&format!("unconvertible request: {error}"));
            return plain(StatusCode::BAD_REQUEST, "malformed request\n");
        }
    };
    let handshake = match validate_request(head, &app.config) {
        Ok(handshake) => handshake,
        Err(error) => {
            log.handshake_failed(&error);
            return match error_response(&error) {
                Some(answer) => {
                    let status =
                        status_to_http(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    with_headers(status, &answer.headers, Bytes::from(answer.body))
                }
                // Only client-side failures have no response; a request
                // cannot produce one.
                None => plain(StatusCode::BAD_REQUEST, "bad request\n"),
            };
        }
    };
    let headers = match accept_headers(&handshake, &Accept::default()) {
        Ok(headers) => headers,
        Err(error) => {
            log.line(&format!("accept failed: {error}"));
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot accept\n");
        }
    };
    log.line(&format!("accepted {}", handshake.target()));
    let on_upgrade = hyper::upgrade::on(&mut request);
    let config = app.config.config.clone();
    let max_message_size = usize::try_from(config.limits.max_message_size).unwrap_or(usize::MAX);
    tokio::spawn(async move {
        // Resolves once hyper has written the 101 and given up the stream.
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                log.line(&format!("upgrade failed: {error}"));
                return;
            }
        };
        let clock = Clock::start();
        let server = Server::new_open(config, clock.now());
        let stream = TokioIo::new(upgraded);
        // Open from the start, so the handshake timeout never applies.
        let no_handshake = Duration::ZERO;
        if let Err(error) =
            run_echo(server, clock, stream, max_message_size, no_handshake, &log).await
        {
            log.line(&format!("transport error: {error}"));
        }
    });
    with_headers(StatusCode::SWITCHING_PROTOCOLS, &headers, Bytes::new())
}

/// A response with wsmachine's headers. `http` lowercases the names.
fn with_headers(status: StatusCode, headers: &Headers, body: Bytes) -> Response<Full<Bytes>> {
    let map = match HeaderMap::try_from(headers) {
        Ok(map) => map,
        // The crate's headers are checked when built; this is a safety net.
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "bad response headers\n"),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = map;
    response
}

/// A plain text response.
fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
