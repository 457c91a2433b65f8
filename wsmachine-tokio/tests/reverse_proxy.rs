//! Behind a real reverse proxy (nginx or HAProxy, configured as
//! docs/deployment.md recommends): what must pass through it intact.
//!
//! These tests need the proxy started in front of them, so their target
//! is not part of `cargo test` (`test = false`); `tests/reverse_proxy/run.sh` starts nginx and
//! HAProxy and runs it by name, once per proxy, with
//!
//! - `WSMACHINE_REVERSE_PROXY`: the proxy's name, for messages;
//! - `WSMACHINE_REVERSE_PROXY_ADDR`: where it listens (`127.0.0.1:PORT`);
//! - `WSMACHINE_REVERSE_PROXY_BACKEND`: its one upstream, which
//!   `close_codes_rejections_and_drops_pass_through` binds and serves;
//! - `WSMACHINE_REVERSE_PROXY_IDLE`: the proxy's idle timeout for an
//!   upgraded connection in seconds (short, so that the drop happens fast);
//! - `WSMACHINE_REVERSE_PROXY_PID`: the proxy's process, which the test
//!   stops last, mid-message;
//! - `WSMACHINE_REVERSE_PROXY_CONNECTIONS`: for
//!   `connections_through_the_balancer`, how many to open.

#[path = "it/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use support::{bounded, masked_frame, unmasked_frame, upgrade_request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wsmachine_tokio::{Decision, Error, Message, WebSocket};

/// The body of the 403 that `accept_with` sends for `/forbidden`.
const FORBIDDEN_BODY: &str = "no entry: this body must reach the client whole";

/// The messages sent whole before the message that the proxy cuts.
const WHOLE: [&str; 3] = ["one", "two", "three"];

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run tests/reverse_proxy/run.sh, which starts the proxy")
    })
}

fn proxy_name() -> String {
    env("WSMACHINE_REVERSE_PROXY")
}

fn proxy_addr() -> SocketAddr {
    env("WSMACHINE_REVERSE_PROXY_ADDR")
        .parse()
        .expect("WSMACHINE_REVERSE_PROXY_ADDR is ADDR:PORT")
}

/// What the backend saw of one connection that the proxy cut.
#[derive(Debug)]
struct ServerEnd {
    messages: Vec<Message>,
    error: Option<Error>,
}

/// The backend behind the proxy: a listener whose connections are told
/// apart by their request target.
///
/// - `/forbidden`: `Decision::respond(403, FORBIDDEN_BODY)`;
/// - `/echo`: an echo (with the defaults: protocol errors close with the
///   core's code);
/// - `/cut-to-client`: after the upgrade, the server writes the `WHOLE`
///   messages and the start of a fragmented one straight onto the TCP
///   stream, then waits for the proxy to cut the connection;
/// - `/cut-from-client`: the server reads until the proxy cuts it.
///
/// How each cut connection ended on the server goes to `ends`.
async fn serve_backend(listener: TcpListener, ends: mpsc::UnboundedSender<(String, ServerEnd)>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let ends = ends.clone();
        tokio::spawn(async move {
            let mut target = String::new();
            let accepted = wsmachine_tokio::accept_with(stream, Default::default(), |request| {
                target = request.target().to_owned();
                if target == "/forbidden" {
                    Decision::respond(403, FORBIDDEN_BODY)
                } else {
                    Decision::accept()
                }
            })
            .await;
            let Ok(mut ws) = accepted else {
                return;
            };
            match target.as_str() {
                "/cut-to-client" => {
                    let raw = start_of_a_cut_message(false);
                    if ws.get_mut().write_all(&raw).await.is_err() {
                        return;
                    }
                    let end = read_to_the_end(&mut ws).await;
                    let _ = ends.send((target, end));
                }
                "/cut-from-client" => {
                    let end = read_to_the_end(&mut ws).await;
                    let _ = ends.send((target, end));
                }
                _ => support::echo(ws).await,
            }
        });
    }
}

/// Reads until the connection ends; the messages, then the error that ended it.
async fn read_to_the_end(ws: &mut WebSocket<TcpStream>) -> ServerEnd {
    let mut messages = Vec::new();
    let mut error = None;
    while let Some(next) = ws.recv().await {
        match next {
            Ok(message) => messages.push(message),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    ServerEnd { messages, error }
}

/// The `WHOLE` text messages, then two 64 KiB fragments of a binary
/// message that never finishes (no FIN), as frames from a client
/// (`masked`) or a server.
fn start_of_a_cut_message(masked: bool) -> Vec<u8> {
    let frame = |opcode: u8, fin: bool, payload: &[u8]| {
        if masked {
            masked_frame(opcode, fin, payload)
        } else {
            unmasked_frame(opcode, fin, payload)
        }
    };
    let mut bytes = Vec::new();
    for text in WHOLE {
        bytes.extend(frame(0x1, true, text.as_bytes()));
    }
    let chunk = vec![0x5a; 64 << 10];
    bytes.extend(frame(0x2, false, &chunk));
    bytes.extend(frame(0x0, false, &chunk));
    bytes
}

/// Reads one frame from a server: (opcode, payload), or `None` at the end.
async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.ok()?;
    assert_eq!(head[1] & 0x80, 0, "a server frame is never masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await.ok()?;
            u64::from(u16::from_be_bytes(len))
        }
        127 => {
            let mut len = [0u8; 8];
            stream.read_exact(&mut len).await.ok()?;
            u64::from_be_bytes(len)
        }
        len => u64::from(len),
    };
    let mut payload = vec![0u8; usize::try_from(len).expect("a small frame")];
    stream.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// Reads an HTTP response: its head (as text) and its Content-Length body.
async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> (String, Vec<u8>) {
    let head = String::from_utf8(support::raw::read_head(stream).await).expect("a text head");
    let length = header(&head, "content-length")
        .map_or(0, |value| value.parse::<usize>().expect("a Content-Length"));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("the whole body");
    (head, body)
}

/// The value of a header in a response head, its name matched without case
/// (proxies may change the case of names: HAProxy sends them lower case).
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// A raw client upgraded through the proxy at `target`.
async fn raw_upgrade(proxy: SocketAddr, target: &str) -> TcpStream {
    let mut stream = TcpStream::connect(proxy)
        .await
        .expect("connect to the proxy");
    stream
        .write_all(upgrade_request(target).as_bytes())
        .await
        .expect("the request");
    let head = support::raw::read_head(&mut stream).await;
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "upgrade through the proxy: {}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// Sends `frame` on an upgraded raw client; the server's Close must come
/// back through the proxy with `code`.
async fn close_code_for(proxy: SocketAddr, frame: Vec<u8>, code: u16, what: &str) {
    let name = proxy_name();
    let mut stream = raw_upgrade(proxy, "/echo").await;
    stream.write_all(&frame).await.expect("the bad frame");
    let (opcode, payload) = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut stream))
        .await
        .unwrap_or_else(|_| panic!("{name}: no Close within 10 s after {what}"))
        .unwrap_or_else(|| panic!("{name}: the connection ended without a Close after {what}"));
    assert_eq!(opcode, 0x8, "{name}: a Close after {what}");
    assert!(
        payload.len() >= 2,
        "{name}: a Close with a code: {payload:?}"
    );
    assert_eq!(
        u16::from_be_bytes([payload[0], payload[1]]),
        code,
        "{name}: the close code after {what} (reason {:?})",
        String::from_utf8_lossy(&payload[2..])
    );
    println!(
        "{name}: {what}: Close {code} {:?} through the proxy",
        String::from_utf8_lossy(&payload[2..])
    );
}

/// Is `error` the end of the transport, typed: EOF or an I/O error (a
/// proxy may reset rather than close)?
fn is_transport_end(error: &Error) -> bool {
    matches!(error, Error::UnexpectedEof | Error::Io(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_rejections_and_drops_pass_through() {
    bounded(async {
        let name = proxy_name();
        let proxy = proxy_addr();
        let idle: u64 = env("WSMACHINE_REVERSE_PROXY_IDLE")
            .parse()
            .expect("WSMACHINE_REVERSE_PROXY_IDLE is seconds");
        let listener = TcpListener::bind(env("WSMACHINE_REVERSE_PROXY_BACKEND"))
            .await
            .expect("bind the proxy's upstream address");
        let (ends_tx, mut ends) = mpsc::unbounded_channel();
        tokio::spawn(serve_backend(listener, ends_tx));

        // A reserved opcode (3): the server closes with 1002.
        close_code_for(proxy, masked_frame(0x3, true, b"x"), 1002, "opcode 3").await;
        // Invalid UTF-8 in a text message: 1007.
        close_code_for(
            proxy,
            masked_frame(0x1, true, &[0xce, 0xba, 0xff, 0xfe]),
            1007,
            "invalid UTF-8",
        )
        .await;

        // The app's 403 arrives with its status and its body.
        let url = format!("ws://{proxy}/forbidden");
        match wsmachine_tokio::connect(url.as_str()).await {
            Err(Error::Rejected {
                status,
                body,
                body_error,
                ..
            }) => {
                assert_eq!(status, 403, "{name}: the app's status");
                assert_eq!(body, Bytes::from(FORBIDDEN_BODY), "{name}: the app's body");
                assert!(body_error.is_none(), "{name}: {body_error:?}");
                println!("{name}: 403 with its body {:?} through the proxy", body);
            }
            other => panic!("{name}: expected the app's 403, got {other:?}"),
        }

        // No Sec-WebSocket-Version: 426 with `Sec-WebSocket-Version: 13`.
        let mut stream = TcpStream::connect(proxy).await.expect("connect");
        let request = upgrade_request("/echo").replace("Sec-WebSocket-Version: 13\r\n", "");
        stream.write_all(request.as_bytes()).await.expect("request");
        let (head, body) = read_response(&mut stream).await;
        assert!(
            head.starts_with("HTTP/1.1 426"),
            "{name}: a request without a version: {head}"
        );
        assert_eq!(
            header(&head, "sec-websocket-version"),
            Some("13"),
            "{name}: the version the server speaks: {head}"
        );
        println!(
            "{name}: 426 through the proxy, head as the client got it:\n{}\n  body: {:?}",
            head.trim_end()
                .lines()
                .map(|l| format!("  | {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&body)
        );

        // The proxy cuts a connection while the server is in the middle of
        // a message: the client gets every whole message, then a typed end
        // of the transport; so does the server.
        let bound = Duration::from_secs(idle + 10);
        let url = format!("ws://{proxy}/cut-to-client");
        let (mut ws, _) = wsmachine_tokio::connect(url.as_str())
            .await
            .expect("upgrade through the proxy");
        let mut got = Vec::new();
        let end = tokio::time::timeout(bound, async {
            loop {
                match ws.recv().await {
                    Some(Ok(message)) => got.push(message),
                    Some(Err(error)) => return Some(error),
                    None => return None,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{name}: the client saw no end within {bound:?}"));
        let texts: Vec<_> = got.iter().filter_map(Message::as_text).collect();
        assert_eq!(
            texts, WHOLE,
            "{name}: the client got the whole messages first"
        );
        assert_eq!(got.len(), WHOLE.len(), "{name}: nothing else: {got:?}");
        let end =
            end.unwrap_or_else(|| panic!("{name}: the client's stream ended without an error"));
        assert!(is_transport_end(&end), "{name}: the client's end: {end:?}");
        println!("{name}: cut mid-message, the client got {texts:?}, then {end:?}");
        let (target, server_end) = tokio::time::timeout(bound, ends.recv())
            .await
            .expect("the server's end in time")
            .expect("the server reports");
        assert_eq!(target, "/cut-to-client");
        let error = server_end.error.as_ref().expect("the server saw an error");
        assert!(
            is_transport_end(error),
            "{name}: the server's end: {server_end:?}"
        );
        println!("{name}: ... and the server got {error:?}");

        // The other way: a client cut in the middle of its message. The
        // server gets the whole messages, then a typed end.
        let mut stream = raw_upgrade(proxy, "/cut-from-client").await;
        stream
            .write_all(&start_of_a_cut_message(true))
            .await
            .expect("the messages");
        let (target, server_end) = tokio::time::timeout(bound, ends.recv())
            .await
            .unwrap_or_else(|_| panic!("{name}: the server saw no end within {bound:?}"))
            .expect("the server reports");
        assert_eq!(target, "/cut-from-client");
        let texts: Vec<_> = server_end
            .messages
            .iter()
            .filter_map(Message::as_text)
            .collect();
        assert_eq!(
            texts, WHOLE,
            "{name}: the server got the whole messages first"
        );
        assert_eq!(
            server_end.messages.len(),
            WHOLE.len(),
            "{name}: {server_end:?}"
        );
        let error = server_end.error.as_ref().expect("the server saw an error");
        assert!(
            is_transport_end(error),
            "{name}: the server's end: {server_end:?}"
        );
        println!(
            "{name}: cut mid-message from the client, the server got {texts:?}, then {error:?}"
        );
        // And the raw client's side ends too (EOF or a reset).
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(bound, stream.read_to_end(&mut rest)).await;
        assert!(ended.is_ok(), "{name}: the proxy closed the client's side");

        // Last, the proxy itself stops (SIGTERM: nginx's fast shutdown,
        // HAProxy's hard stop) while the server is in the middle of a
        // message: the same typed ends, well before the idle timeout.
        let pid = env("WSMACHINE_REVERSE_PROXY_PID");
        let url = format!("ws://{proxy}/cut-to-client");
        let (mut ws, _) = wsmachine_tokio::connect(url.as_str())
            .await
            .expect("upgrade through the proxy");
        let mut got = Vec::new();
        while got.len() < WHOLE.len() {
            match tokio::time::timeout(bound, ws.recv()).await {
                Ok(Some(Ok(message))) => got.push(message),
                other => panic!("{name}: expected the whole messages, got {other:?}"),
            }
        }
        let stopped = std::time::Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "{name}: kill -TERM {pid}: {status}");
        let end = tokio::time::timeout(bound, ws.recv())
            .await
            .unwrap_or_else(|_| panic!("{name}: the client saw no end within {bound:?}"));
        let elapsed = stopped.elapsed();
        let texts: Vec<_> = got.iter().filter_map(Message::as_text).collect();
        assert_eq!(texts, WHOLE, "{name}: the whole messages first");
        match end {
            Some(Err(error)) if is_transport_end(&error) => {
                println!(
                    "{name}: proxy stopped mid-message, the client got {texts:?}, then {error:?}"
                )
            }
            other => panic!("{name}: the client's end after the proxy stopped: {other:?}"),
        }
        assert!(
            elapsed < Duration::from_secs(idle),
            "{name}: the end came from the stop, not the idle timeout: {elapsed:?}"
        );
        let (target, server_end) = tokio::time::timeout(bound, ends.recv())
            .await
            .expect("the server's end in time")
            .expect("the server reports");
        assert_eq!(target, "/cut-to-client");
        let error = server_end.error.as_ref().expect("the server saw an error");
        assert!(
            is_transport_end(error),
            "{name}: the server's end: {server_end:?}"
        );
        println!("{name}: ... and the server got {error:?}");
    })
    .await;
}

/// Opens `WSMACHINE_REVERSE_PROXY_CONNECTIONS` connections one after the
/// other through the proxy, each an echo and a clean close; the script
/// then counts where each landed in the servers' logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_through_the_balancer() {
    bounded(async {
        let name = proxy_name();
        let proxy = proxy_addr();
        let count: usize = env("WSMACHINE_REVERSE_PROXY_CONNECTIONS")
            .parse()
            .expect("a count");
        for i in 0..count {
            let url = format!("ws://{proxy}/conn-{i}");
            let (mut ws, _) = wsmachine_tokio::connect(url.as_str())
                .await
                .unwrap_or_else(|e| panic!("{name}: connection {i}: {e}"));
            let text = format!("hello {i}");
            ws.send(Message::text(text.clone())).await.expect("send");
            match ws.recv().await {
                Some(Ok(message)) => {
                    assert_eq!(message.as_text(), Some(text.as_str()), "{name}: the echo")
                }
                other => panic!("{name}: connection {i}: expected the echo, got {other:?}"),
            }
            ws.close(wsmachine_tokio::CloseCode::NORMAL, "")
                .await
                .expect("close");
            // The server's Close, then the end.
            while let Some(next) = ws.recv().await {
                next.unwrap_or_else(|e| panic!("{name}: connection {i}: closing: {e}"));
            }
        }
        println!("{name}: {count} connections, each echoed and closed");
    })
    .await;
}
