//! An axum app with a WebSocket echo: the driver's `axum` extractor.
//!
//! ```text
//! cargo run -p wsmachine-tokio --features axum --example axum_echo [-- ADDR] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9003. `GET /` serves an HTML page whose script
//! talks to `/ws`; `/ws` echoes every text or binary message, with
//! permessage-deflate accepted when the browser offers it, and takes RFC 8441
//! extended CONNECTs over h2c too (axum's `http2` feature, on here). A bad
//! upgrade request to `/ws` gets the core's ready response (426 with
//! `Sec-WebSocket-Version: 13` for a wrong version, 400, ...).

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::response::{Html, Response};
use axum::routing::{any, get};
use tokio::net::TcpListener;
use wsmachine_tokio::Config;
use wsmachine_tokio::axum::WebSocketUpgrade;

pub use common::{LogSink, PAGE};

/// The app's state: where log lines go.
#[derive(Clone)]
pub struct App {
    /// The log, or none with `--quiet`.
    pub sink: Option<LogSink>,
}

/// The routes: the page and the echo endpoint.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        // any: HTTP/2 WebSockets are CONNECT requests, HTTP/1.1 ones GET.
        .route("/ws", any(ws))
        .with_state(app)
}

async fn ws(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let target = upgrade.path().to_owned();
    log(&app, peer, &format!("accepted {target}"));
    // permessage-deflate is off by default, here as for `accept`.
    let upgrade = upgrade.config(Config::default().deflate(true));
    upgrade.on_upgrade(move |ws| async move {
        let line = |line: &str| log(&app, peer, line);
        common::echo(ws, &line).await;
    })
}

fn log(app: &App, peer: SocketAddr, line: &str) {
    if let Some(sink) = &app.sink {
        sink(&format!("{peer} {line}"));
    }
}

/// Serves `router` on `listener` until the process ends.
///
/// # Errors
/// When accepting connections fails for good.
pub async fn serve(listener: TcpListener, app: App) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:9003");
    let mut quiet = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quiet" | "-q" => quiet = true,
            other if other.starts_with('-') => {
                eprintln!("axum_echo: unknown option {other}");
                eprintln!("usage: axum_echo [ADDR] [--quiet]");
                return ExitCode::from(2);
            }
            other => addr = other.into(),
        }
    }
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("axum_echo: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().map_or(addr, |addr| addr.to_string());
    eprintln!("axum_echo: serving http://{bound}/ and ws://{bound}/ws");
    let sink: Option<LogSink> =
        (!quiet).then(|| Arc::new(|line: &str| eprintln!("{line}")) as LogSink);
    match serve(listener, App { sink }).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("axum_echo: {error}");
            ExitCode::FAILURE
        }
    }
}
