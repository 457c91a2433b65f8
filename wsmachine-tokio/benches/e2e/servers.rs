//! The echo servers, one per library, each written the way its library's
//! own examples write one. They run in a child process of the bench
//! (`e2e server NAME`), on the same runtime: tokio's current-thread
//! scheduler, one task per connection, Nagle off, permessage-deflate off,
//! messages up to [`MAX_MESSAGE`].

use std::io::Write;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// The largest message every server takes: twice the 1 MiB case.
pub const MAX_MESSAGE: usize = 4 << 20;

/// The servers, in the order the tables show them.
pub const SERVERS: [&str; 6] = [
    "wsmachine",
    "wsmachine-send",
    "tokio-tungstenite",
    "fastwebsockets",
    "yawc",
    "minimal",
];

/// Runs the server `name` on an ephemeral loopback port, which it prints
/// on stdout, until the parent closes its stdin (or dies).
pub fn run(name: &str) -> Result<(), String> {
    crate::raise_descriptor_limit();
    crate::pin_server();
    // The parent ends a server by closing the pipe; a server whose parent
    // died goes with it instead of serving forever.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while let Ok(n) = std::io::Read::read(&mut std::io::stdin(), &mut sink) {
            if n == 0 {
                break;
            }
        }
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{port}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
        match name {
            "wsmachine" => serve(listener, wsmachine_echo).await,
            "wsmachine-send" => serve(listener, wsmachine_send_echo).await,
            "tokio-tungstenite" => serve(listener, tungstenite_echo).await,
            "fastwebsockets" => serve(listener, fastwebsockets_http).await,
            "yawc" => serve(listener, yawc_http).await,
            "minimal" => serve(listener, crate::minimal::echo).await,
            other => Err(format!("unknown server {other:?}")),
        }
    })
}

/// Accepts forever, a task per connection.
async fn serve<F, Fut>(listener: TcpListener, handle: F) -> Result<(), String>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors: the load generator will see it.
                eprintln!("e2e server: accept: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(handle(stream));
    }
}

/// wsmachine-tokio as its guide writes an echo: `accept_with`, then
/// `next()` and `feed()`. The stream writes the queued echoes before it
/// waits for the transport, so the echoes of one read go out in one write.
async fn wsmachine_echo(stream: TcpStream) {
    wsmachine_serve(stream, false).await;
}

/// wsmachine-tokio with a write per message: `next()` and `send()`, as
/// tokio-tungstenite's server writes it.
async fn wsmachine_send_echo(stream: TcpStream) {
    wsmachine_serve(stream, true).await;
}

async fn wsmachine_serve(stream: TcpStream, flush_each: bool) {
    let mut config = wsmachine::handshake::server::ServerConfig::default();
    config.config.max_message_size = MAX_MESSAGE as u64;
    config.config.deflate = None;
    let accepted =
        wsmachine_tokio::accept_with(stream, config, |_| wsmachine_tokio::Decision::accept());
    let Ok(mut ws) = accepted.await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if !message.is_data() {
            continue;
        }
        let sent = if flush_each {
            ws.send(message).await
        } else {
            ws.feed(message).await
        };
        if sent.is_err() {
            break;
        }
    }
}

/// tokio-tungstenite: `accept_async_with_config`, then `next()` and
/// `send()`.
async fn tungstenite_echo(stream: TcpStream) {
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_binary() || message.is_text()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// fastwebsockets, as its `echo_server` example: hyper serves the upgrade,
/// `upgrade::upgrade` answers it, and a `FragmentCollector` echoes in an
/// unconstrained task.
async fn fastwebsockets_http(stream: TcpStream) {
    let service = service_fn(|mut request: Request<Incoming>| async move {
        let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut request)?;
        tokio::spawn(tokio::task::unconstrained(fastwebsockets_echo(upgrade)));
        Ok::<_, fastwebsockets::WebSocketError>(response)
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn fastwebsockets_echo(upgrade: fastwebsockets::upgrade::UpgradeFut) {
    let Ok(mut ws) = upgrade.await else {
        return;
    };
    ws.set_max_message_size(MAX_MESSAGE);
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    while let Ok(frame) = ws.read_frame().await {
        let data = match frame.opcode {
            fastwebsockets::OpCode::Close => break,
            fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => true,
            _ => false,
        };
        if data && ws.write_frame(frame).await.is_err() {
            break;
        }
    }
}

/// yawc: hyper serves the upgrade, `WebSocket::upgrade_with_options`
/// answers it, and the socket's `Stream` + `Sink` of frames echoes.
async fn yawc_http(stream: TcpStream) {
    let options = Arc::new(
        yawc::Options::default()
            .with_max_payload_read(MAX_MESSAGE)
            .with_max_read_buffer(MAX_MESSAGE)
            .without_compression(),
    );
    let service = service_fn(move |mut request: Request<Incoming>| {
        let options = Arc::clone(&options);
        async move {
            let (response, upgrade) =
                yawc::WebSocket::upgrade_with_options(&mut request, (*options).clone())?;
            tokio::spawn(yawc_echo(upgrade));
            Ok::<Response<Empty<Bytes>>, yawc::WebSocketError>(response)
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn yawc_echo(upgrade: yawc::UpgradeFut) {
    let Ok(mut ws) = upgrade.await else {
        return;
    };
    while let Some(frame) = ws.next().await {
        let data = matches!(
            frame.opcode(),
            yawc::frame::OpCode::Text | yawc::frame::OpCode::Binary
        );
        if data && ws.send(frame).await.is_err() {
            break;
        }
    }
}
