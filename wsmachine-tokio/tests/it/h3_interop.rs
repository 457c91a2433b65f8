//! WebSockets over HTTP/3 (RFC 9220) in both roles, each against stacks
//! that are not ours:
//!
//! - a client on aioquic's `H3Connection` (`h3_interop/h3_client.py`, with
//!   its own frames and a zlib permessage-deflate) against the `h3_echo`
//!   example, bad requests included;
//! - the driver's client (`wsmachine_tokio::h3::Client`) against a server on
//!   aioquic (`h3_interop/h3_server.py`), which also resets a stream in the
//!   middle of a message, and against hypercorn's HTTP/3 (`--quic-bind`,
//!   on aioquic and wsproto) serving `h2_interop/asgi_echo.py`;
//!
//! aioquic's own example programs are in `h3_aioquic_examples.rs`, the
//! driver's client and server together in `h3.rs`.
//!
//! Certificates are made at each test's start (rcgen) and written as PEM
//! files for the Python side. Python, aioquic and hypercorn are installed
//! into `<target>/interop/venv` when missing (`tests/system` at the root).
#![cfg(feature = "h3")]

#[allow(dead_code)]
#[path = "../../examples/h3_client.rs"]
pub(crate) mod h3_client;
#[allow(dead_code)]
#[path = "../../examples/h3_echo.rs"]
pub(crate) mod h3_echo;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{
    binary_of_len, bounded, close_cleanly, close_handshake, echo_every_size, text_of_len,
};
use crate::system;
use futures_util::StreamExt;
use wsmachine_tokio::h3::{Client, client_tls_config};
use wsmachine_tokio::{ClientConfig, DeflateConfig, Error, Message};

/// Sizes across the frame-length encodings, and messages of many DATA
/// frames and QUIC flow-control windows.
pub(crate) const SIZES: [usize; 6] = [0, 125, 126, 65_536, 200_000, 1 << 20];

pub(crate) fn python() -> PathBuf {
    system::interop_python("the HTTP/3 interop tests run aioquic and hypercorn")
}

pub(crate) fn script_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it")
        .join(name)
}

/// A certificate for localhost and 127.0.0.1, as DER and as PEM files in
/// a directory of the test's own (removed when dropped).
pub(crate) struct Certificate {
    pub(crate) cert: rustls::pki_types::CertificateDer<'static>,
    pub(crate) key: rustls::pki_types::PrivateKeyDer<'static>,
    dir: PathBuf,
}

impl Certificate {
    pub(crate) fn new(test: &str) -> Certificate {
        let (cert, key, pem) = h3_echo::self_signed();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("h3_interop-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for the certificate");
        std::fs::write(dir.join("cert.pem"), pem).expect("write the certificate");
        let rustls::pki_types::PrivateKeyDer::Pkcs8(pkcs8) = &key else {
            panic!("rcgen makes PKCS#8 keys")
        };
        let key_pem = pem_of("PRIVATE KEY", pkcs8.secret_pkcs8_der());
        std::fs::write(dir.join("key.pem"), key_pem).expect("write the key");
        Certificate { cert, key, dir }
    }

    pub(crate) fn cert_file(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    pub(crate) fn key_file(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    pub(crate) fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("a root");
        roots
    }

    pub(crate) async fn client_to(&self, addr: SocketAddr) -> Client {
        let tls = client_tls_config(self.roots()).expect("TLS config");
        Client::connect_quic(addr, "localhost", tls)
            .await
            .expect("HTTP/3 with extended CONNECT")
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A Python process, killed when dropped, whose stdout and stderr lines
/// are echoed; `port` is what the first line `port_in` finds one in says.
pub(crate) struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    /// Starts `args` in `dir` and waits for a line naming its port.
    fn start(dir: &Path, args: &[String], port_in: fn(&str) -> Option<u16>) -> PythonServer {
        let (child, port) = spawn_logged(dir, args, Some(port_in));
        let port = port
            .recv_timeout(Duration::from_secs(30))
            .expect("the Python server did not say where it listens within 30 s");
        PythonServer { child, port }
    }

    /// Starts `args` in `dir` for a server told to listen on `port`; a
    /// QUIC client's first packets are sent again until it does.
    pub(crate) fn start_on(dir: &Path, args: &[String], port: u16) -> PythonServer {
        let (child, _) = spawn_logged(dir, args, None);
        PythonServer { child, port }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// Runs the venv's python with `args` in `dir` (also its `PYTHONPATH`, for
/// the modules there), echoing its output lines, and sends the port the
/// first line `port_in` finds one in names.
fn spawn_logged(
    dir: &Path,
    args: &[String],
    port_in: Option<fn(&str) -> Option<u16>>,
) -> (Child, std::sync::mpsc::Receiver<u16>) {
    let mut child = Command::new(python())
        .args(args)
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python server");
    let (found, port) = std::sync::mpsc::channel();
    let outputs: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout")),
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for output in outputs {
        let found = found.clone();
        // Reads to the end, so that the process never blocks on a pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                let Ok(line) = line else { break };
                eprintln!("python server: {line}");
                if let Some(port) = port_in.and_then(|port_in| port_in(&line)) {
                    let _ = found.send(port);
                }
            }
        });
    }
    (child, port)
}

/// The digits after `prefix` in `line`, as a port.
fn port_after(line: &str, prefix: &str) -> Option<u16> {
    let rest = line.split(prefix).nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three WebSockets at once on one QUIC connection, one with
/// permessage-deflate, their echoes interleaved, then a fourth after them.
pub(crate) async fn several_on_one_connection(client: &Client, base: &str, clean_close: bool) {
    let settings = wsmachine_tokio::Config::default().close_timeout(Duration::from_secs(1));
    let plain = ClientConfig::new(&format!("{base}/plain"))
        .expect("url")
        .with_config(settings.clone());
    let (mut first, response) = client.connect(plain.clone()).await.expect("first");
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_3);
    assert!(response.headers().get("sec-websocket-extensions").is_none());
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
    echo_every_size(&mut first, &SIZES, 7).await;
    let last = Message::text("still here");
    if clean_close {
        close_cleanly(first).await;
        second.send(last.clone()).await.expect("send");
        assert_eq!(second.next().await.expect("echo").expect("text"), last);
        close_cleanly(second).await;
    } else {
        // Dropped: reset (H3_REQUEST_CANCELLED), which the peer takes.
        drop(first);
        second.send(last.clone()).await.expect("send");
        assert_eq!(second.next().await.expect("echo").expect("text"), last);
        drop(second);
    }
    third.send(last.clone()).await.expect("send");
    assert_eq!(third.next().await.expect("echo").expect("text"), last);
    // The connection opens another WebSocket after those.
    let (mut fourth, _) = client.connect(plain).await.expect("fourth");
    echo_every_size(&mut fourth, &SIZES, 11).await;
    if clean_close {
        close_cleanly(third).await;
        close_cleanly(fourth).await;
    } else {
        drop(third);
        close_handshake(fourth).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioquic_client_against_h3_echo() {
    let python = tokio::task::spawn_blocking(python).await.expect("venv");
    let certificate = Certificate::new("aioquic-client");
    bounded(async {
        let server = h3_echo::bind(
            "127.0.0.1:0".parse().expect("addr"),
            certificate.cert.clone(),
            certificate.key.clone_key(),
        )
        .expect("bind");
        let addr = server.local_addr().expect("addr");
        tokio::spawn(h3_echo::serve(server));
        let output = tokio::process::Command::new(python)
            .arg("h3_client.py")
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .arg(certificate.cert_file())
            .current_dir(script_dir("h3_interop"))
            .kill_on_drop(true)
            .output()
            .await
            .expect("run h3_client.py");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}{stderr}");
        assert!(
            output.status.success(),
            "h3_client.py failed: {stdout}{stderr}"
        );
        assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
        assert!(
            stdout.contains("ok deflate: binary of 1048576 bytes echoed"),
            "{stdout}"
        );
        let status = |name: &str| {
            let prefix = format!("status {name}: ");
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("no status for {name}: {stdout}"))
                .to_owned()
        };
        // The statuses of the HTTP/2 path (h2_interop.rs): the core's.
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

/// `h3_interop/h3_server.py` with the certificate, started off the
/// runtime (it may install the venv first).
async fn aioquic_server(certificate: &Certificate) -> PythonServer {
    let args = [
        "h3_server.py".to_string(),
        certificate.cert_file().display().to_string(),
        certificate.key_file().display().to_string(),
    ];
    tokio::task::spawn_blocking(move || {
        PythonServer::start(&script_dir("h3_interop"), &args, |line| {
            port_after(line, "listening on ")
        })
    })
    .await
    .expect("start h3_server.py")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_against_aioquic_server() {
    let certificate = Certificate::new("aioquic-server");
    let server = aioquic_server(&certificate).await;
    let addr = server.addr();
    bounded(async {
        let client = certificate.client_to(addr).await;
        several_on_one_connection(&client, &format!("wss://localhost:{}", addr.port()), true).await;
    })
    .await;
    drop(server);
}

/// aioquic's server resets one stream in the middle of an echo: that
/// WebSocket ends with a typed error (1006, the transport's failure), and
/// another on the same QUIC connection goes on echoing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_mid_message_ends_one_websocket_only() {
    let certificate = Certificate::new("reset");
    let server = aioquic_server(&certificate).await;
    let addr = server.addr();
    bounded(async {
        let client = certificate.client_to(addr).await;
        let base = format!("wss://localhost:{}", addr.port());
        let (mut doomed, _) = client
            .connect(format!("{base}/reset"))
            .await
            .expect("doomed");
        let (mut other, _) = client
            .connect(format!("{base}/other"))
            .await
            .expect("other");
        let hello = Message::text("before");
        other.send(hello.clone()).await.expect("send");
        assert_eq!(other.next().await.expect("echo").expect("text"), hello);
        // The echo of this one stops halfway: half a frame, then a reset.
        doomed
            .send(Message::binary(binary_of_len(100_000, 1)))
            .await
            .expect("send");
        match doomed.next().await {
            Some(Err(Error::UnexpectedEof)) => {}
            other => panic!("not the typed end of a reset stream: {other:?}"),
        }
        assert!(doomed.next().await.is_none(), "the reset WebSocket is over");
        // The other WebSocket, and the connection, are untouched.
        echo_every_size(&mut other, &SIZES, 2).await;
        let (mut after, _) = client
            .connect(format!("{base}/after"))
            .await
            .expect("after");
        let last = Message::text("after the reset");
        after.send(last.clone()).await.expect("send");
        assert_eq!(after.next().await.expect("echo").expect("text"), last);
        close_cleanly(other).await;
        close_cleanly(after).await;
    })
    .await;
    drop(server);
}

/// hypercorn serving `h2_interop/asgi_echo.py` over HTTP/3 (and TLS over
/// TCP, unused) with the certificate, on ports of its choosing.
async fn hypercorn(certificate: &Certificate) -> PythonServer {
    let args: Vec<String> = [
        "-m",
        "hypercorn",
        "--bind",
        "127.0.0.1:0",
        "--quic-bind",
        "127.0.0.1:0",
        "--certfile",
        &certificate.cert_file().display().to_string(),
        "--keyfile",
        &certificate.key_file().display().to_string(),
        "asgi_echo:app",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    tokio::task::spawn_blocking(move || {
        // Its QUIC line: `Running on https://127.0.0.1:PORT (QUIC)`.
        PythonServer::start(&script_dir("h2_interop"), &args, |line| {
            line.contains("(QUIC)")
                .then(|| port_after(line, "https://127.0.0.1:"))
                .flatten()
        })
    })
    .await
    .expect("start hypercorn")
}

/// hypercorn 0.18 serves WebSockets over HTTP/3 (`--quic-bind`): extended
/// CONNECT on (aioquic's SETTINGS), permessage-deflate from wsproto, the
/// first subprotocol offered chosen.
///
/// As over HTTP/2 (h2_interop.rs), after a closing handshake it forgets
/// the stream without ending it (no FIN, no reset), so a closing handshake
/// here ends with the client's close timeout. Worse than over HTTP/2, the
/// client's FIN that follows on a stream it forgot (after a Close, or
/// after a refusal) leaves hypercorn's QUIC listener deaf to every
/// connection (seen with 0.18.0; its `DataReceived` handler looks the
/// stream up unguarded). So the closing handshake is the last thing this
/// test does, the WebSockets before it end by a reset, which hypercorn
/// takes, and the refusal has a hypercorn of its own
/// (`driver_client_keeps_the_refusal_of_hypercorn`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_against_hypercorn() {
    let certificate = Certificate::new("hypercorn");
    let server = hypercorn(&certificate).await;
    let addr = server.addr();
    bounded(async {
        let client = certificate.client_to(addr).await;
        let base = format!("wss://localhost:{}", addr.port());
        let config = ClientConfig::new(&format!("{base}/chat"))
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
        drop(socket);
        several_on_one_connection(&client, &base, false).await;
    })
    .await;
    drop(server);
}

/// The app's denial response (an ASGI `websocket.http.response`) reaches
/// the driver's client whole: status, fields and body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_keeps_the_refusal_of_hypercorn() {
    let certificate = Certificate::new("hypercorn-refusal");
    let server = hypercorn(&certificate).await;
    let addr = server.addr();
    bounded(async {
        let client = certificate.client_to(addr).await;
        let error = client
            .connect(format!("wss://localhost:{}/refuse", addr.port()))
            .await
            .expect_err("refused");
        let Error::Rejected {
            status,
            headers,
            body,
            body_error,
        } = error
        else {
            panic!("not a refusal: {error:?}")
        };
        assert_eq!(status, 403);
        assert_eq!(headers.get_str("x-why"), Some("refused"));
        assert_eq!(&body[..], b"go away\n");
        assert_eq!(body_error, None);
    })
    .await;
    drop(server);
}
