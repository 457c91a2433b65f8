//! WebSockets over HTTP/2 (RFC 8441) in both roles, each against stacks
//! that are not ours:
//!
//! - the driver's client (`wsmachine_tokio::h2::Client`) against hyper's
//!   HTTP/2 server (the `h2_echo` example) and against hypercorn, a Python
//!   ASGI server on hyper-h2 and wsproto (`h2_interop/asgi_echo.py`), over
//!   h2c with prior knowledge, which both take, and (with `rustls`) over
//!   TLS whose ALPN chose `h2`, with a certificate made at the test's start;
//! - a client on Python's hyper-h2 (`h2_interop/h2_client.py`, with its own
//!   frames and a zlib permessage-deflate) against `h2_echo`, bad requests
//!   included.
//!
//! Python, hypercorn and h2 are installed into `<target>/interop/venv`
//! when missing (`tests/system` at the root).
#![cfg(feature = "h2")]

#[allow(dead_code)]
#[path = "../../examples/h2_client.rs"]
mod h2_client;
#[allow(dead_code)]
#[path = "../../examples/h2_echo.rs"]
mod h2_echo;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{
    assert_example_answers, binary_of_len, bounded, close_cleanly, close_handshake,
    echo_every_size, loopback, text_of_len,
};
use crate::system;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::h2::Client;
use wsmachine_tokio::{ClientConfig, DeflateConfig, Error, Message};

/// Sizes across the frame-length encodings, and messages of several DATA
/// frames and flow-control windows.
const SIZES: [usize; 6] = [0, 125, 126, 65_536, 200_000, 1_000_000];

fn python() -> PathBuf {
    system::interop_python("the HTTP/2 interop tests run hypercorn and a hyper-h2 client")
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/h2_interop")
        .join(name)
}

async fn start_h2_echo(config: ServerConfig) -> SocketAddr {
    let (listener, addr) = loopback().await;
    tokio::spawn(h2_echo::serve(listener, Arc::new(config)));
    addr
}

async fn client_to(addr: SocketAddr) -> Client {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    Client::handshake(tcp)
        .await
        .expect("HTTP/2 with extended CONNECT")
}

/// How the WebSockets of [`several_on_one_connection`] end.
#[derive(Clone, Copy, PartialEq)]
enum Ends {
    /// Each with a whole closing handshake and the stream's end both ways,
    /// while the others go on.
    Cleanly,
    /// The last with a closing handshake, the others by dropping them
    /// (RST_STREAM with CANCEL).
    LastWithACloseHandshake,
}

/// Three WebSockets at once on one connection, the echoes interleaved,
/// then a fourth after them.
async fn several_on_one_connection(client: &Client, base: &str, ends: Ends) {
    let settings = wsmachine_tokio::Config::default().close_timeout(Duration::from_secs(1));
    let plain = ClientConfig::new(&format!("{base}/plain"))
        .expect("url")
        .with_config(settings.clone());
    let (mut first, response) = client.connect(plain.clone()).await.expect("first");
    assert_eq!(response.status(), http::StatusCode::OK);
    assert!(response.headers().get("sec-websocket-extensions").is_none());
    assert!(response.headers().get("sec-websocket-accept").is_none());
    let deflate = ClientConfig::new(&format!("{base}/deflate"))
        .expect("url")
        .with_config(settings)
        .with_deflate(DeflateConfig::default());
    let (mut second, response) = client.connect(deflate).await.expect("second");
    let agreed = response.headers()["sec-websocket-extensions"]
        .to_str()
        .expect("ascii");
    assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
    let (mut third, _) = client.connect(plain.clone()).await.expect("third");
    for round in 0..3 {
        let one = Message::text(text_of_len(40_000, round));
        let two = Message::binary(binary_of_len(70_000, round));
        let three = Message::text(text_of_len(10, round));
        first.send(one.clone()).await.expect("send on the first");
        second.send(two.clone()).await.expect("send on the second");
        third.send(three.clone()).await.expect("send on the third");
        let (echo_three, echo_two, echo_one) =
            tokio::join!(third.next(), second.next(), first.next());
        assert_eq!(echo_one.expect("an echo").expect("message"), one);
        assert_eq!(echo_two.expect("an echo").expect("message"), two);
        assert_eq!(echo_three.expect("an echo").expect("message"), three);
    }
    echo_every_size(&mut second, &SIZES, 3).await;
    let last = Message::text("still here");
    if ends == Ends::Cleanly {
        close_cleanly(first).await;
        second.send(last.clone()).await.expect("send");
        assert_eq!(second.next().await.expect("echo").expect("text"), last);
        close_cleanly(second).await;
        third.send(last.clone()).await.expect("send");
        assert_eq!(third.next().await.expect("echo").expect("text"), last);
        close_cleanly(third).await;
    } else {
        drop(first);
        second.send(last.clone()).await.expect("send");
        assert_eq!(second.next().await.expect("echo").expect("text"), last);
        drop(second);
        third.send(last.clone()).await.expect("send");
        assert_eq!(third.next().await.expect("echo").expect("text"), last);
        drop(third);
    }
    // The connection opens another WebSocket after those.
    let (mut fourth, _) = client.connect(plain).await.expect("fourth");
    echo_every_size(&mut fourth, &SIZES, 11).await;
    match ends {
        Ends::Cleanly => close_cleanly(fourth).await,
        Ends::LastWithACloseHandshake => close_handshake(fourth).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_against_h2_echo_several_websockets_on_one_connection() {
    bounded(async {
        let addr = start_h2_echo(h2_echo::server_config()).await;
        let client = client_to(addr).await;
        several_on_one_connection(&client, &format!("ws://{addr}"), Ends::Cleanly).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_h2_client_example_against_h2_echo() {
    bounded(async {
        let addr = start_h2_echo(h2_echo::server_config()).await;
        let answers = h2_client::run(&format!("ws://{addr}/example"), "hi", 3).await;
        assert_example_answers(answers, "hi", 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_gets_a_typed_error_without_extended_connect() {
    bounded(async {
        // hyper's HTTP/2 server, extended CONNECT left off.
        let (listener, addr) = loopback().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            let service = hyper::service::service_fn(|_request| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Empty::<
                    bytes::Bytes,
                >::new()))
            });
            let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .await;
        });
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let error = Client::handshake(tcp)
            .await
            .expect_err("no extended CONNECT");
        assert!(matches!(error, Error::ExtendedConnectDisabled), "{error:?}");
        assert_eq!(error.kind_str(), "extended_connect_disabled");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_keeps_the_refusal_of_h2_echo() {
    bounded(async {
        // An origin policy the client's request does not meet: the core's
        // 403, with its body.
        let mut config = h2_echo::server_config();
        config.allowed_origins = Some(vec!["https://allowed.example".into()]);
        let addr = start_h2_echo(config).await;
        let client = client_to(addr).await;
        let error = client
            .connect(format!("ws://{addr}/echo"))
            .await
            .expect_err("refused");
        let Error::Rejected { status, body, .. } = error else {
            panic!("not a refusal: {error:?}")
        };
        assert_eq!(status, 403);
        assert!(!body.is_empty());
        // The refusal ends its stream only: an allowed origin opens.
        let allowed = ClientConfig::new(&format!("ws://{addr}/echo"))
            .expect("url")
            .with_origin("https://allowed.example");
        let (mut socket, _) = client.connect(allowed).await.expect("allowed");
        socket.send(Message::text("hi")).await.expect("send");
        assert_eq!(
            socket.next().await.expect("echo").expect("text"),
            Message::text("hi")
        );
    })
    .await;
}

/// A hypercorn process serving `asgi_echo.py` on a loopback port, killed
/// when dropped.
struct Hypercorn {
    child: Child,
    addr: SocketAddr,
}

impl Hypercorn {
    /// hypercorn over h2c (prior knowledge), or with `tls_args`
    /// (`--certfile`, `--keyfile`) over TLS, where its ALPN offers `h2`.
    fn start(tls_args: &[String]) -> Hypercorn {
        let python = python();
        let dir = script("");
        let mut child = Command::new(python)
            .args(["-m", "hypercorn", "--bind", "127.0.0.1:0"])
            .args(tls_args)
            .arg("asgi_echo:app")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hypercorn");
        let stderr = child.stderr.take().expect("stderr");
        let (found, port) = std::sync::mpsc::channel();
        // Reads hypercorn's log to its end, so that it never blocks on a
        // full pipe; its `Running on http://127.0.0.1:PORT` line names
        // the port (`https://` with TLS).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("hypercorn: {line}");
                let rest = ["http://127.0.0.1:", "https://127.0.0.1:"]
                    .iter()
                    .find_map(|prefix| line.split(prefix).nth(1));
                if let Some(rest) = rest {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = found.send(digits.parse::<u16>().expect("a port"));
                }
            }
        });
        let mut server = Hypercorn {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let port = port
            .recv_timeout(Duration::from_secs(30))
            .expect("hypercorn did not say where it listens within 30 s");
        server.addr.set_port(port);
        server
    }
}

impl Drop for Hypercorn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// hypercorn 0.18 takes h2c with prior knowledge, enables extended
/// CONNECT and negotiates permessage-deflate (wsproto's) over HTTP/2.
///
/// After a closing handshake it forgets the stream without ending it (no
/// `END_STREAM`, no `RST_STREAM`), and the client's own `END_STREAM` that
/// follows makes it drop the whole connection (a `KeyError` on the DATA
/// frame of a stream it forgot; its `StreamEnded` handler has the guard
/// its `DataReceived` handler lacks). So a closing handshake here is the
/// last use of its connection, and its stream's end comes from the
/// client's close timeout; the other WebSockets end by a reset, which
/// hypercorn takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_against_hypercorn() {
    let server = tokio::task::spawn_blocking(|| Hypercorn::start(&[]))
        .await
        .expect("start");
    let addr = server.addr;
    bounded(async {
        let client = client_to(addr).await;
        several_on_one_connection(
            &client,
            &format!("ws://{addr}"),
            Ends::LastWithACloseHandshake,
        )
        .await;
        // A new connection for what follows: hypercorn's ends the
        // connection when the client ends a stream that it has closed.
        let client = client_to(addr).await;

        // The app's denial response reaches the client whole.
        let error = client
            .connect(format!("ws://{addr}/refuse"))
            .await
            .expect_err("refused");
        let Error::Rejected {
            status,
            headers,
            body,
            ..
        } = error
        else {
            panic!("not a refusal: {error:?}")
        };
        assert_eq!(status, 403);
        assert_eq!(headers.get_str("x-why"), Some("refused"));
        assert_eq!(&body[..], b"go away\n");
        // The first subprotocol offered is chosen.
        let config = ClientConfig::new(&format!("ws://{addr}/chat"))
            .expect("url")
            .with_protocol("chat")
            .with_protocol("superchat");
        let (mut socket, response) = client.connect(config).await.expect("subprotocol");
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        assert_eq!(socket.protocol(), Some("chat"));
        socket
            .send(Message::binary(vec![1, 2, 3]))
            .await
            .expect("send");
        assert_eq!(
            socket.next().await.expect("echo").expect("binary"),
            Message::binary(vec![1, 2, 3])
        );
        close_handshake(socket).await;
    })
    .await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_h2_python_client_against_h2_echo() {
    let python = tokio::task::spawn_blocking(python).await.expect("venv");
    bounded(async {
        let addr = start_h2_echo(h2_echo::server_config()).await;
        let mut command = tokio::process::Command::new(python);
        command
            .arg(script("h2_client.py"))
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .kill_on_drop(true);
        let output = command.output().await.expect("run h2_client.py");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}{stderr}");
        assert!(
            output.status.success(),
            "h2_client.py failed: {stdout}{stderr}"
        );
        assert!(stdout.contains("h2 client: "), "{stdout}");
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
        let status = |name: &str| {
            let prefix = format!("status {name}: ");
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("no status for {name}: {stdout}"))
                .to_owned()
        };
        assert_eq!(status("wrong :protocol"), "501");
        assert_eq!(status("missing :authority"), "400");
        assert_eq!(
            status("sec-websocket-version 8"),
            "400 sec-websocket-version: 13"
        );
        assert_eq!(
            status("missing sec-websocket-version"),
            "400 sec-websocket-version: 13"
        );
        assert_eq!(
            status("bad extension offer"),
            "200, sec-websocket-extensions: None"
        );
    })
    .await;
}

/// `wss://` over HTTP/2: TLS whose ALPN chose `h2`, with a certificate the
/// test makes (rcgen) and the client trusts, and `:scheme https`.
#[cfg(feature = "rustls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_over_tls_with_alpn_h2_against_hypercorn() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("h2_interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the certificate");
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, certified.cert.pem()).expect("write the certificate");
    std::fs::write(&key_file, certified.signing_key.serialize_pem()).expect("write the key");
    let tls_args = vec![
        "--certfile".to_string(),
        cert_file.display().to_string(),
        "--keyfile".to_string(),
        key_file.display().to_string(),
    ];
    let server = tokio::task::spawn_blocking(move || Hypercorn::start(&tls_args))
        .await
        .expect("start");
    let port = server.addr.port();
    bounded(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).expect("root");
        let mut tls = wsmachine_tokio::tls_client_config(roots).expect("a TLS config");
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
        let tcp = TcpStream::connect(server.addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let stream = connector.connect(name, tcp).await.expect("TLS");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let client = Client::handshake(stream).await.expect("HTTP/2 over TLS");
        let config = ClientConfig::new(&format!("wss://localhost:{port}/secure"))
            .expect("url")
            .with_deflate(DeflateConfig::default());
        let (mut socket, response) = client.connect(config).await.expect("wss over h2");
        let agreed = response.headers()["sec-websocket-extensions"]
            .to_str()
            .expect("ascii");
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        echo_every_size(&mut socket, &SIZES, 5).await;
        let (mut second, _) = client
            .connect(format!("wss://localhost:{port}/second"))
            .await
            .expect("a second wss over the connection");
        second.send(Message::text("two")).await.expect("send");
        assert_eq!(
            second.next().await.expect("echo").expect("text"),
            Message::text("two")
        );
        drop(second);
        close_handshake(socket).await;
    })
    .await;
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
