//! aioquic's own example programs over HTTP/3 (RFC 9220), which pip does
//! not install: `examples/http3_client.py` (a `wss://` client on wsproto)
//! against the `h3_echo` example, and `examples/http3_server.py` (an ASGI
//! server whose WebSockets run on wsproto, without permessage-deflate)
//! serving `h2_interop/asgi_echo.py` to the driver's client. Their
//! directory comes from aioquic's source distribution, for the venv's
//! aioquic version, fetched with pip into `<target>/interop` when missing.
#![cfg(feature = "h3")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::h3_interop::{Certificate, PythonServer, h3_echo, python, script_dir};
use crate::support::{bounded, close_cleanly, text_of_len};
use crate::system;
use futures_util::StreamExt;
use wsmachine_tokio::{ClientConfig, Message};

/// aioquic's `examples` directory, unpacked from its source distribution
/// for the venv's aioquic version when missing.
fn aioquic_examples(python: &Path) -> PathBuf {
    // The tests of this module fetch it at once otherwise.
    static FETCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _fetching = FETCHING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let version = Command::new(python)
        .args(["-c", "import aioquic; print(aioquic.__version__)"])
        .output()
        .expect("ask aioquic its version");
    let version = String::from_utf8(version.stdout).expect("a version");
    let version = version.trim();
    let interop = system::target_dir().join("interop");
    let examples = interop.join(format!("aioquic-{version}/examples"));
    let complete = || {
        ["http3_client.py", "http3_server.py"]
            .iter()
            .all(|script| examples.join(script).is_file())
    };
    if complete() {
        return examples;
    }
    let download = interop.join(format!("aioquic-sdist-{}", std::process::id()));
    let status = Command::new(python)
        .args(["-m", "pip", "download", "--quiet"])
        .args(["--disable-pip-version-check", "--no-binary", ":all:"])
        .args(["--no-deps", "--dest"])
        .arg(&download)
        .arg(format!("aioquic=={version}"))
        .status()
        .expect("run pip download");
    assert!(status.success(), "pip could not download aioquic's sources");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(download.join(format!("aioquic-{version}.tar.gz")))
        .arg("-C")
        .arg(&interop)
        .arg(format!("aioquic-{version}/examples"))
        .status()
        .expect("run tar");
    assert!(status.success(), "tar could not unpack aioquic's examples");
    let _ = std::fs::remove_dir_all(download);
    assert!(
        complete(),
        "no example programs in aioquic {version}'s sources"
    );
    examples
}

/// The venv's python and aioquic's examples, off the runtime (either may
/// be installed first).
async fn python_and_examples() -> (PathBuf, PathBuf) {
    tokio::task::spawn_blocking(|| {
        let python = python();
        let examples = aioquic_examples(&python);
        (python, examples)
    })
    .await
    .expect("venv")
}

/// aioquic's example client opens a `wss://` URL (offering the
/// subprotocols chat and superchat) and exchanges two messages with
/// `h3_echo`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aioquics_example_client_against_h3_echo() {
    let (python, examples) = python_and_examples().await;
    let certificate = Certificate::new("aioquic-example-client");
    bounded(async {
        let server = h3_echo::bind(
            "127.0.0.1:0".parse().expect("addr"),
            certificate.cert.clone(),
            certificate.key.clone_key(),
        )
        .expect("bind");
        let port = server.local_addr().expect("addr").port();
        tokio::spawn(h3_echo::serve(server));
        let output = tokio::process::Command::new(python)
            .arg(examples.join("http3_client.py"))
            .arg("--ca-certs")
            .arg(certificate.cert_file())
            .arg(format!("wss://localhost:{port}/ws"))
            .kill_on_drop(true)
            .output()
            .await
            .expect("run http3_client.py");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}{stderr}");
        assert!(output.status.success(), "http3_client.py failed");
        for i in 0..2 {
            assert!(
                stdout.contains(&format!("< Hello {i}, WebSocket!")),
                "{stdout}"
            );
        }
        // It ended its connection itself, with H3_NO_ERROR.
        assert!(
            stderr.contains("Connection close sent (code 0x100"),
            "{stderr}"
        );
    })
    .await;
}

/// A UDP port that was free a moment ago, for a server that cannot be
/// told to pick one.
fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

/// aioquic's example server runs `asgi_echo.py`'s WebSockets: three at once
/// on one QUIC connection, the first subprotocol offered chosen, each
/// closed cleanly (its Close, then FIN).
///
/// Its WebSocket handler passes each of wsproto's events on as a whole
/// message, also the pieces of a message that arrives in several reads, so
/// a message larger than a packet comes back cut into several (seen with
/// aioquic 1.7.2's example). The messages here fit in one packet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driver_client_against_aioquics_example_server() {
    let (_, examples) = python_and_examples().await;
    let certificate = Certificate::new("aioquic-example-server");
    let port = free_udp_port();
    let args: Vec<String> = vec![
        examples.join("http3_server.py").display().to_string(),
        "--certificate".into(),
        certificate.cert_file().display().to_string(),
        "--private-key".into(),
        certificate.key_file().display().to_string(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "asgi_echo:app".into(),
    ];
    let server = PythonServer::start_on(&script_dir("h2_interop"), &args, port);
    let addr: SocketAddr = server.addr();
    bounded(async {
        let client = certificate.client_to(addr).await;
        let base = format!("wss://localhost:{port}");
        let chat = ClientConfig::new(&format!("{base}/chat"))
            .expect("url")
            .with_protocol("chat")
            .with_protocol("superchat");
        let (mut first, response) = client.connect(chat).await.expect("first");
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        let (mut second, _) = client.connect(format!("{base}/b")).await.expect("second");
        let (mut third, _) = client.connect(format!("{base}/c")).await.expect("third");
        for round in 0..3 {
            let messages = [
                Message::text(text_of_len(600, round)),
                Message::binary(vec![round as u8; 125]),
                Message::text(""),
            ];
            first.send(messages[0].clone()).await.expect("send");
            second.send(messages[1].clone()).await.expect("send");
            third.send(messages[2].clone()).await.expect("send");
            let (one, two, three) = tokio::join!(first.next(), second.next(), third.next());
            assert_eq!(one.expect("echo").expect("message"), messages[0]);
            assert_eq!(two.expect("echo").expect("message"), messages[1]);
            assert_eq!(three.expect("echo").expect("message"), messages[2]);
        }
        for size in [0, 1, 125, 126, 900] {
            let binary = Message::binary(vec![7u8; size]);
            second.send(binary.clone()).await.expect("send");
            assert_eq!(second.next().await.expect("echo").expect("binary"), binary);
        }
        close_cleanly(first).await;
        third.send(Message::text("still open")).await.expect("send");
        let echo = third.next().await.expect("echo").expect("text");
        assert_eq!(echo, Message::text("still open"));
        close_cleanly(second).await;
        close_cleanly(third).await;
    })
    .await;
    drop(server);
}
