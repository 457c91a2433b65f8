//! The echo server over HTTP/2 (RFC 8441): hyper's HTTP/2 server in
//! cleartext with prior knowledge (h2c), the extended CONNECT protocol on.
//!
//! ```text
//! cargo run -p wsmachine-tokio --features http --example h2_echo [-- ADDR]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9004; with port 0 the system picks one, and
//! the `listening on` line names it. Every extended CONNECT with
//! `:protocol = websocket`, at any path, becomes a WebSocket on its own
//! stream, so several share one HTTP/2 connection. It keeps `echo_server`'s
//! contract: every text or binary message comes back whole, as the same
//! type; a Close is answered; permessage-deflate is accepted when offered.
//! A request that is not a WebSocket extended CONNECT gets the core's
//! ready error response (405, 400, 501, ...) and the connection goes on.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::h2 as extended_connect;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine_tokio::WebSocket;

/// The echo server's configuration: permessage-deflate accepted when a
/// client offers it.
pub fn server_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.deflate = Some(DeflateConfig::default());
    config
}

/// Serves every connection `listener` accepts, each on its own task.
///
/// # Errors
/// The listener's failure.
pub async fn serve(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(serve_connection(tcp, peer, Arc::clone(&config)));
    }
}

/// One HTTP/2 connection: its streams are requests, each WebSocket one a
/// task of its own.
async fn serve_connection(tcp: TcpStream, peer: SocketAddr, config: Arc<ServerConfig>) {
    let _ = tcp.set_nodelay(true);
    let service = service_fn(move |request| {
        let config = Arc::clone(&config);
        async move { Ok::<_, Infallible>(answer(request, config)) }
    });
    // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, without which a
    // client may not send :protocol.
    let result = http2::Builder::new(TokioExecutor::new())
        .enable_connect_protocol()
        .serve_connection(TokioIo::new(tcp), service)
        .await;
    if let Err(error) = result {
        eprintln!("{peer}: HTTP/2 connection failed: {error}");
    }
}

/// The answer to one request: the 200 that starts a WebSocket, or the
/// core's error response.
fn answer(mut request: Request<Incoming>, config: Arc<ServerConfig>) -> Response<Full<Bytes>> {
    // hyper exposes the :protocol pseudo-header as a request extension.
    let protocol = request
        .extensions()
        .get::<hyper::ext::Protocol>()
        .map(hyper::ext::Protocol::as_str);
    let valid = match extended_connect::validate_request(&request, protocol, &config) {
        Ok(valid) => valid,
        Err(error) => {
            eprintln!("{} {}: refused: {error}", request.method(), request.uri());
            return match extended_connect::error_response(&error) {
                Some(response) => response.map(|body| Full::new(Bytes::from(body))),
                None => status_only(StatusCode::BAD_REQUEST),
            };
        }
    };
    let (response, negotiated) =
        match extended_connect::negotiate(&valid, Accept::default(), &config) {
            Ok(answer) => answer,
            Err(error) => {
                eprintln!("{}: cannot accept: {error}", valid.path());
                return status_only(StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
    let path = valid.path().to_owned();
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        // Resolves once hyper has sent the 200 and handed over the stream.
        let stream = match on_upgrade.await {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("{path}: the stream was not handed over: {error}");
                return;
            }
        };
        let socket = WebSocket::from_upgraded_server(TokioIo::new(stream), &config, &negotiated);
        echo(socket, &path).await;
    });
    response.map(|()| Full::new(Bytes::new()))
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Sends every text and binary message back; the driver answers pings and
/// the Close, and ends the stream (END_STREAM) when the connection is over.
async fn echo<S>(mut socket: WebSocket<S>, path: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = socket.next().await {
        match message {
            Ok(message) if message.is_data() => {
                // Written with the rest of the read's echoes, before the
                // stream waits.
                if let Err(error) = socket.feed(message).await {
                    eprintln!("{path}: send failed: {error}");
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("{path}: {error}");
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9004".into());
    if let Some(extra) = args.next() {
        eprintln!("h2_echo: unexpected argument {extra:?}");
        eprintln!("usage: h2_echo [ADDR]");
        return ExitCode::from(2);
    }
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("h2_echo: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(local) => eprintln!("listening on {local} (h2c, extended CONNECT)"),
        Err(_) => eprintln!("listening on {addr} (h2c, extended CONNECT)"),
    }
    match serve(listener, Arc::new(server_config())).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("h2_echo: {error}");
            ExitCode::FAILURE
        }
    }
}
