//! The echo servers, each written the way its library's own examples or
//! guide write one, in two groups that are compared within themselves only:
//!
//! - **per message** (`Group::PerMessage`): every echo is written and
//!   flushed before the next message is read;
//! - **batched** (`Group::Batched`): echoes are queued while more messages
//!   are ready and written when the read side would wait.
//!
//! `minimal` (`minimal.rs`) is the hand-written floor, no peer. The
//! `-tuned` servers are for the idle-memory case only: the library set up
//! as its documentation advises for many connections.
//!
//! They run in a child process of the bench (`e2e server NAME`), on the
//! same runtime: tokio's current-thread scheduler, one task per connection,
//! Nagle off, permessage-deflate off, UTF-8 validation of text on, messages
//! up to [`max_message`] bytes ([`MAX_MESSAGE`] unless `E2E_MAX_MESSAGE`
//! says otherwise). The hostile mode (`hostile.rs`) also starts
//! `wsmachine-deflate` and `yawc-deflate`, the per-message servers with
//! permessage-deflate on; they are not in [`SERVERS`].

use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::{Sink, SinkExt, Stream, StreamExt, TryStreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, BufWriter, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The largest message every server takes: four times the 1 MiB case.
pub const MAX_MESSAGE: usize = 4 << 20;

/// The largest message every server of this process takes, in bytes:
/// `E2E_MAX_MESSAGE` (the hostile mode raises it for Autobahn's 16 MiB
/// cases, the same for every library) or [`MAX_MESSAGE`]. A message of
/// exactly this size is taken: fastwebsockets and yawc refuse a size that
/// reaches their limit, so they are given one byte more.
pub fn max_message() -> usize {
    std::env::var("E2E_MAX_MESSAGE")
        .ok()
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or(MAX_MESSAGE)
}

/// How a server writes its echoes; ratios are taken within a group only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// A write (and flush) per echo.
    PerMessage,
    /// Echoes queued, written when the read side would wait.
    Batched,
    /// The hand-written floor, `minimal`.
    Floor,
    /// Idle-memory case only: tuned for many connections.
    Tuned,
}

impl Group {
    /// The key in the JSON and the tables.
    pub fn name(self) -> &'static str {
        match self {
            Group::PerMessage => "per message",
            Group::Batched => "batched",
            Group::Floor => "floor",
            Group::Tuned => "tuned",
        }
    }
}

/// The subject of each group: the server the ratios are about.
pub const SUBJECTS: [(Group, &str); 2] = [
    (Group::PerMessage, "wsmachine-send"),
    (Group::Batched, "wsmachine-feed"),
];

/// The servers, `library-idiom`, in the order the tables show them.
pub const SERVERS: [(&str, Group); 11] = [
    ("wsmachine-send", Group::PerMessage),
    ("tokio-tungstenite-send", Group::PerMessage),
    ("fastwebsockets-write_frame", Group::PerMessage),
    ("yawc-send", Group::PerMessage),
    ("wsmachine-feed", Group::Batched),
    ("tokio-tungstenite-forward", Group::Batched),
    ("fastwebsockets-buffered", Group::Batched),
    ("yawc-feed", Group::Batched),
    ("minimal", Group::Floor),
    ("tokio-tungstenite-tuned", Group::Tuned),
    ("yawc-tuned", Group::Tuned),
];

/// The group of the server `name`.
pub fn group(name: &str) -> Option<Group> {
    SERVERS.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
}

/// Runs the server `name` on an ephemeral loopback port, which it prints
/// on stdout, until the parent closes its stdin (or dies).
pub fn run(name: &str) -> Result<(), String> {
    crate::raise_descriptor_limit();
    crate::pin_server();
    crate::count_allocations_if_asked();
    // The parent ends a server by closing the pipe; a server whose parent
    // died goes with it instead of serving forever. A line `allocs` asks
    // for the allocations counted so far (`E2E_ALLOCS=1`).
    std::thread::spawn(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.trim() == "allocs" {
                let count = crate::allocations();
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "{count}");
                let _ = stdout.flush();
            }
            line.clear();
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
            "wsmachine-send" => serve(listener, |s| wsmachine_serve(s, true, false)).await,
            "wsmachine-feed" => serve(listener, |s| wsmachine_serve(s, false, false)).await,
            "wsmachine-deflate" => serve(listener, |s| wsmachine_serve(s, true, true)).await,
            "tokio-tungstenite-send" => {
                serve(listener, |s| tungstenite_send(s, tungstenite_config())).await
            }
            "tokio-tungstenite-tuned" => {
                let config = tungstenite_config().read_buffer_size(4 * 1024);
                serve(listener, move |s| tungstenite_send(s, config)).await
            }
            "tokio-tungstenite-forward" => serve(listener, tungstenite_forward).await,
            "fastwebsockets-write_frame" => {
                serve(listener, |s| fastwebsockets_http(s, false)).await
            }
            "fastwebsockets-buffered" => serve(listener, |s| fastwebsockets_http(s, true)).await,
            "yawc-send" => serve(listener, |s| yawc_http(s, yawc_options(), false)).await,
            "yawc-feed" => serve(listener, |s| yawc_http(s, yawc_options(), true)).await,
            "yawc-deflate" => {
                // The preset its docs call "a good default for most
                // applications".
                let options = Arc::new((*yawc_options()).clone().with_balanced_compression());
                serve(listener, move |s| yawc_http(s, Arc::clone(&options), false)).await
            }
            "yawc-tuned" => {
                // yawc's `Options::with_write_buffer_capacity` example:
                // "Many idle connections: start both buffers at 1 KiB."
                let options = Arc::new(
                    (*yawc_options())
                        .clone()
                        .with_read_buffer_capacity(1024)
                        .with_write_buffer_capacity(1024),
                );
                serve(listener, move |s| yawc_http(s, Arc::clone(&options), false)).await
            }
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

/// wsmachine-tokio, `accept_with`, then `next()` and, per message,
/// `send()` (its `examples/plain_echo.rs`) or `feed()` (its guide's echo,
/// `examples/common/mod.rs`, and docs/tokio.md "Replies in one write": the
/// stream writes the queued echoes before it waits for the transport, so
/// the echoes of one read go out in one write). `deflate`: permessage-deflate
/// with the core's defaults, as docs/deflate.md turns it on.
async fn wsmachine_serve(stream: TcpStream, flush_each: bool, deflate: bool) {
    let mut config = wsmachine::handshake::server::ServerConfig::default();
    config.config.max_message_size = max_message() as u64;
    config.config.deflate = deflate.then(wsmachine::config::DeflateConfig::default);
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

/// Limits as large as the other servers'; the rest tungstenite's defaults.
fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(max_message()))
        .max_frame_size(Some(max_message()))
}

/// tokio-tungstenite as its `examples/autobahn-server.rs` (lines 19-29):
/// `next()`, then `send()` for every text or binary message.
async fn tungstenite_send(stream: TcpStream, config: tungstenite::protocol::WebSocketConfig) {
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_binary() || message.is_text()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// tokio-tungstenite as its `examples/echo-server.rs` (lines 47-52):
/// `split()`, the text and binary messages filtered, `forward()` to the
/// sink. `Forward` feeds each message and flushes when the stream would
/// wait.
async fn tungstenite_forward(stream: TcpStream) {
    let Ok(ws) =
        tokio_tungstenite::accept_async_with_config(stream, Some(tungstenite_config())).await
    else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|msg| std::future::ready(msg.is_text() || msg.is_binary()))
        .forward(write)
        .await;
}

/// fastwebsockets as its `examples/echo_server.rs` (lines 27-55): hyper
/// serves the upgrade, `upgrade::upgrade` answers it, and a
/// `FragmentCollector` echoes with `read_frame` and `write_frame` in an
/// unconstrained task. `buffered`: the same loop over a `BufWriter` that
/// is flushed when a read would wait ([`FlushBeforeRead`]); fastwebsockets
/// writes straight to its stream, and its `flush` doc (src/lib.rs:513-517)
/// is about buffered streams such as TLS.
async fn fastwebsockets_http(stream: TcpStream, buffered: bool) {
    let service = service_fn(move |mut request: Request<Incoming>| async move {
        let (response, upgrade) = fastwebsockets::upgrade::upgrade(&mut request)?;
        tokio::spawn(tokio::task::unconstrained(async move {
            let Ok(ws) = upgrade.await else {
                return;
            };
            if buffered {
                let io = FlushBeforeRead(BufWriter::new(ws.into_inner()));
                let ws =
                    fastwebsockets::WebSocket::after_handshake(io, fastwebsockets::Role::Server);
                fastwebsockets_echo(ws).await;
            } else {
                fastwebsockets_echo(ws).await;
            }
        }));
        Ok::<_, fastwebsockets::WebSocketError>(response)
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn fastwebsockets_echo<S>(mut ws: fastwebsockets::WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Its check is `len >= max`, per frame.
    ws.set_max_message_size(max_message() + 1);
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

/// A write-buffering transport that writes its buffer out before a read
/// waits: fastwebsockets' writes then go out once per read, as the batched
/// servers' do.
struct FlushBeforeRead<S>(BufWriter<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for FlushBeforeRead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let inner = Pin::new(&mut self.0);
        match inner.poll_read(cx, buf) {
            Poll::Pending => {
                ready!(Pin::new(&mut self.0).poll_flush(cx))?;
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for FlushBeforeRead<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// yawc's options: limits as large as the other servers' (its limits are
/// exclusive, hence the byte more), no compression, and UTF-8 validation
/// of text on (`Options::with_utf8`; off by default).
fn yawc_options() -> Arc<yawc::Options> {
    Arc::new(
        yawc::Options::default()
            .with_max_payload_read(max_message() + 1)
            .with_max_read_buffer(max_message() + 1)
            .without_compression()
            .with_utf8(),
    )
}

/// yawc as the echo server its README links (`examples/echo_server.rs` of
/// its repository, not shipped in the crate): hyper serves the upgrade,
/// `WebSocket::upgrade_with_options` answers it, and the socket's
/// `Stream` and `Sink` of frames echo in an unconstrained task: `send()` per frame,
/// or (`batched`) `feed()` while frames are ready and a flush before
/// waiting ([`next_or_flush`]). The example leaves `.with_utf8()`
/// commented out; here it is on, as every other server validates text.
async fn yawc_http(stream: TcpStream, options: Arc<yawc::Options>, batched: bool) {
    let service = service_fn(move |mut request: Request<Incoming>| {
        let options = Arc::clone(&options);
        async move {
            let (response, upgrade) =
                yawc::WebSocket::upgrade_with_options(&mut request, (*options).clone())?;
            tokio::spawn(tokio::task::unconstrained(yawc_echo(upgrade, batched)));
            Ok::<Response<Empty<Bytes>>, yawc::WebSocketError>(response)
        }
    });
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

async fn yawc_echo(upgrade: yawc::UpgradeFut, batched: bool) {
    let Ok(mut ws) = upgrade.await else {
        return;
    };
    loop {
        let next = if batched {
            match next_or_flush(&mut ws).await {
                Ok(next) => next,
                Err(_) => break,
            }
        } else {
            ws.next().await
        };
        let Some(frame) = next else {
            break;
        };
        let data = matches!(
            frame.opcode(),
            yawc::frame::OpCode::Text | yawc::frame::OpCode::Binary
        );
        if !data {
            continue;
        }
        let sent = if batched {
            ws.feed(frame).await
        } else {
            ws.send(frame).await
        };
        if sent.is_err() {
            break;
        }
    }
}

/// The next item, flushing the sink first if none is ready: what
/// `StreamExt::forward` does between items.
async fn next_or_flush<S, T, E>(ws: &mut S) -> Result<Option<T>, E>
where
    S: Stream<Item = T> + Sink<T, Error = E> + Unpin,
{
    std::future::poll_fn(|cx| match ws.poll_next_unpin(cx) {
        Poll::Ready(item) => Poll::Ready(Ok(item)),
        Poll::Pending => match ws.poll_flush_unpin(cx) {
            Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        },
    })
    .await
}
