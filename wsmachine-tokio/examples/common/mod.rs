//! What the server examples share: the echo behind every endpoint, the
//! accept loop of the TCP servers, and the page that `axum_echo` and
//! `hyper_upgrade` serve at `/`.
//!
//! Not an example of its own: cargo builds only `examples/*.rs` and
//! `examples/*/main.rs` as examples. The transport loop is the driver's;
//! this is only what the app does with the messages.

#![allow(dead_code)]

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use wsmachine_tokio::{Message, WebSocket};

/// Where log lines go: stderr in the examples, a vector in the tests.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// One connection's log: each line after its peer's address, to the sink
/// if there is one.
#[derive(Clone)]
pub struct PeerLog {
    peer: std::net::SocketAddr,
    sink: Option<LogSink>,
}

impl PeerLog {
    /// Logs `line`.
    pub fn line(&self, line: &str) {
        if let Some(sink) = &self.sink {
            sink(&format!("{} {line}", self.peer));
        }
    }
}

/// Accepts connections forever, each served by `serve` in its own task.
pub async fn accept_forever<F, Fut>(
    listener: tokio::net::TcpListener,
    sink: Option<LogSink>,
    serve: F,
) where
    F: Fn(tokio::net::TcpStream, PeerLog) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, usually: wait for some to come back
                // rather than spin.
                if let Some(sink) = &sink {
                    sink(&format!("accept failed: {error}"));
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let log = PeerLog {
            peer,
            sink: sink.clone(),
        };
        tokio::spawn(serve(stream, log));
    }
}

/// The page at `/`: a text box that sends to `/ws` and shows the echoes.
/// Each event adds one line to `#log` (`open`, `echo: TEXT`, `closed:
/// CODE`), for a person or a browser test to read.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>wsmachine echo</title></head>
<body>
<h1>wsmachine echo</h1>
<form id="form"><input id="text" value="hello" autofocus> <button>Send</button></form>
<pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws`);
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

/// Echoes every text or binary message whole, as the same type, until the
/// connection ends; logs how it ended.
pub async fn echo<S>(mut ws: WebSocket<S>, log: &(dyn Fn(&str) + Sync))
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(item) = ws.next().await {
        match item {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                // Queued: the stream writes every queued echo before it
                // waits for more bytes, so the echoes of one read go out in
                // one write. Fails only once the connection is closing; the
                // peer's Close is being answered then, so the echo is dropped.
                let _ = ws.feed(message).await;
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(1005, |frame| frame.code.0);
                log(&format!("closed: code={code}"));
            }
            // Pings are answered by the core.
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Err(error) => log(&format!("closed: error: {error}")),
        }
    }
}
