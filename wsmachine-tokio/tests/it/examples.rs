//! The examples, run in the test's runtime on ephemeral ports: each is
//! included whole as a module, and driven through its public functions.

#[allow(dead_code)]
#[path = "../../examples/tokio_echo.rs"]
mod tokio_echo;

#[allow(dead_code)]
#[path = "../../examples/tokio_client.rs"]
mod tokio_client;

#[allow(dead_code)]
#[path = "../../examples/tokio_autobahn_client.rs"]
mod tokio_autobahn_client;

use crate::{fake_fuzzingserver, support};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{answering_server, bounded, loopback};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine_tokio::{CloseCode, Message};

/// The lines a server logged.
#[derive(Clone, Default)]
struct LogLines(Arc<Mutex<Vec<String>>>);

impl LogLines {
    fn sink(&self) -> tokio_echo::LogSink {
        let lines = Arc::clone(&self.0);
        Arc::new(move |line: &str| lines.lock().expect("lock").push(line.to_string()))
    }

    /// Waits until a line contains `needle`.
    async fn wait_for(&self, needle: &str) -> String {
        loop {
            if let Some(line) = self
                .0
                .lock()
                .expect("lock")
                .iter()
                .find(|l| l.contains(needle))
            {
                return line.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

async fn start_tokio_echo() -> (SocketAddr, LogLines) {
    let (listener, addr) = loopback().await;
    let options = tokio_echo::parse_args([]).expect("defaults");
    assert_eq!(options.addr, "127.0.0.1:9002");
    assert!(options.deflate, "deflate is on by default");
    let lines = LogLines::default();
    let config = Arc::new(tokio_echo::server_config(&options));
    tokio::spawn(tokio_echo::serve(listener, config, Some(lines.sink())));
    (addr, lines)
}

#[tokio::test]
async fn tokio_echo_echoes_with_deflate_and_closes() {
    bounded(async {
        let (addr, lines) = start_tokio_echo().await;
        let mut config = ClientConfig::new(&format!("ws://{addr}/echo")).expect("url");
        config.config.deflate = Some(DeflateConfig::default());
        let (mut ws, accepted) = wsmachine_tokio::connect(config).await.expect("connect");
        assert!(
            accepted
                .extensions
                .iter()
                .any(|e| e.starts_with("permessage-deflate")),
            "{:?}",
            accepted.extensions
        );
        let text = "compress me ".repeat(100);
        ws.send(Message::text(text.clone())).await.expect("send");
        assert_eq!(
            ws.next().await.expect("echo").expect("ok").as_text(),
            Some(text.as_str())
        );
        let data = Bytes::from(vec![9u8; 70_000]);
        ws.send(Message::Binary(data.clone())).await.expect("send");
        assert_eq!(
            ws.next().await.expect("echo").expect("ok"),
            Message::Binary(data)
        );
        ws.send(Message::Ping(Bytes::from_static(b"hi")))
            .await
            .expect("ping");
        assert_eq!(
            ws.next().await.expect("pong").expect("ok"),
            Message::Pong(Bytes::from_static(b"hi"))
        );
        ws.close(CloseCode::NORMAL, "done").await.expect("close");
        assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(_))))));
        assert!(ws.next().await.is_none());
        lines.wait_for("accepted /echo").await;
        lines.wait_for("closed: code=1000").await;
    })
    .await;
}

#[tokio::test]
async fn tokio_echo_echoes_for_tungstenite() {
    bounded(async {
        let (addr, _) = start_tokio_echo().await;
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .expect("connect");
        use tokio_tungstenite::tungstenite::Message as T;
        ws.send(T::text("hello")).await.expect("send");
        assert_eq!(
            ws.next().await.expect("echo").expect("ok"),
            T::text("hello")
        );
        ws.close(None).await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn tokio_echo_answers_a_plain_get_with_426_and_logs_the_kind() {
    bounded(async {
        let (addr, lines) = start_tokio_echo().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 426 "), "{response}");
        lines
            .wait_for("handshake failed: kind=not_websocket status=426")
            .await;
    })
    .await;
}

#[tokio::test]
async fn tokio_client_prints_the_echoes_and_closes_cleanly() {
    bounded(async {
        let (addr, _) = start_tokio_echo().await;
        let mut printed = Vec::new();
        let messages = vec!["one".to_string(), "two".to_string()];
        let outcome = tokio_client::run(&format!("ws://{addr}/"), &messages, &mut |line| {
            printed.push(line.to_string())
        })
        .await;
        assert_eq!(outcome, tokio_client::Outcome::CleanClose);
        assert_eq!(outcome.exit_code(), 0);
        assert_eq!(printed, ["text: one", "text: two"]);
    })
    .await;
}

#[tokio::test]
async fn tokio_client_prints_a_chunked_503_whole_and_exits_with_2() {
    bounded(async {
        let addr = answering_server(
            b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\
              Retry-After: 5\r\n\r\n5\r\nbusy,\r\na\r\n try later\r\n0\r\n\r\n",
        )
        .await;
        let mut printed = Vec::new();
        let outcome = tokio_client::run(&format!("ws://{addr}/"), &[], &mut |line| {
            printed.push(line.to_string())
        })
        .await;
        assert_eq!(outcome.exit_code(), 2);
        assert_eq!(printed[0], "rejected: 503");
        assert_eq!(printed[1], "body: busy, try later");
        assert!(
            printed.contains(&"header: Retry-After: 5".to_string()),
            "{printed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn tokio_client_reports_a_redirect_without_following_it() {
    bounded(async {
        let addr = answering_server(
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let mut printed = Vec::new();
        let url = format!("ws://{addr}/here");
        let outcome =
            tokio_client::run(&url, &[], &mut |line| printed.push(line.to_string())).await;
        assert_eq!(outcome, tokio_client::Outcome::Rejected);
        let expected = format!("redirect: ws://{addr}/elsewhere (not followed)");
        assert!(printed.contains(&expected), "{printed:?}");
    })
    .await;
}

#[tokio::test]
async fn tokio_client_fails_with_1_when_nothing_listens() {
    bounded(async {
        let addr = {
            let (listener, addr) = loopback().await;
            drop(listener);
            addr
        };
        let outcome = tokio_client::run(&format!("ws://{addr}/"), &[], &mut |_| {}).await;
        assert_eq!(outcome.exit_code(), 1);
        let tokio_client::Outcome::Failed(message) = outcome else {
            panic!("expected a failure");
        };
        assert!(message.starts_with("transport: "), "{message}");
    })
    .await;
}

#[tokio::test]
async fn tokio_autobahn_client_runs_every_case_and_updates_the_reports() {
    bounded(async {
        let (base, record) = fake_fuzzingserver::start_fake_fuzzingserver();
        let mut printed = Vec::new();
        tokio_autobahn_client::run(&base, &mut |line| printed.push(line.to_string()))
            .await
            .expect("the run");
        assert_eq!(
            printed,
            [
                "cases: 2",
                "case 1/2: 2 messages echoed, closed: code=1000",
                "case 2/2: 2 messages echoed, closed: code=1000",
                "reports updated for agent wsmachine-tokio",
            ]
        );
        assert_eq!(
            *record.lock().expect("lock"),
            [
                "getCaseCount",
                "case 1 agent=wsmachine-tokio: pass",
                "case 2 agent=wsmachine-tokio: pass",
                "updateReports agent=wsmachine-tokio",
            ]
        );
    })
    .await;
}
