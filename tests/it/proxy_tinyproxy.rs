//! The CONNECT tunnel against a real proxy: Debian's tinyproxy, started by
//! each test on a free 127.0.0.1 port with its own config file, in front of
//! a WebSocket echo server driven by the core `Server`. Plus raw proxy stubs
//! for what tinyproxy never sends: a chunked 407 with trailers written one
//! byte at a time, and an answer cut off mid-head.
//!
//! The first test that needs tinyproxy installs it when it is missing
//! (`tinyproxy/system`: apt-get, as root or with passwordless sudo); when it
//! cannot, the tests fail saying what to run. They never skip.

use crate::{support, tinyproxy};

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use tinyproxy::TinyProxy;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::proxy::{ProxyConfig, ProxyError};
use wsmachine::{Client, CloseCode, Error, Event, Opcode, Server, State};

/// The longest any one exchange may take before the test fails.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(15);

/// A WebSocket echo server on 127.0.0.1, one thread per connection, each
/// bounded by read timeouts. Returns its port.
fn start_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the echo server");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_echo(stream));
        }
    });
    port
}

fn serve_echo(mut stream: TcpStream) {
    let epoch = Instant::now();
    let mut server = Server::new(ServerConfig::default());
    let mut buf = [0u8; 4096];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    while epoch.elapsed() < EXCHANGE_LIMIT {
        while let Some(bytes) = server.poll_transmit() {
            if stream.write_all(&bytes).is_err() {
                return;
            }
        }
        if server.state() == State::Closed {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let now = epoch.elapsed();
        let _ = match stream.read(&mut buf) {
            Ok(0) => server.receive_eof(now),
            Ok(n) => server.receive(now, &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                server.handle_timeout(now);
                Ok(())
            }
            Err(_) => return,
        };
        while let Some(event) = server.poll_event() {
            match event {
                Event::Request(_) => {
                    let _ = server.accept(now, Accept::default());
                }
                Event::Frame(frame) if frame.opcode == Opcode::Text => {
                    let _ = server.send_text(&String::from_utf8_lossy(&frame.payload));
                }
                _ => {}
            }
        }
    }
}

/// What a client run saw.
#[derive(Debug)]
struct Run {
    events: Vec<Event>,
    error: Option<Error>,
    state: State,
}

/// Connects to `127.0.0.1:port` and runs a client over it: it sends
/// `message` once accepted and closes once the echo is back.
fn run_client(port: u16, config: ClientConfig, message: &str) -> Run {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut client = Client::new(config, FixedEntropy::new(support::RFC_ENTROPY)).expect("client");
    let epoch = Instant::now();
    let mut events = Vec::new();
    let mut error = None;
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            epoch.elapsed() < EXCHANGE_LIMIT,
            "the exchange took too long; events so far: {events:?}"
        );
        while let Some(bytes) = client.poll_transmit() {
            stream.write_all(&bytes).expect("write");
        }
        if client.state() == State::Closed {
            let _ = stream.shutdown(Shutdown::Both);
            return Run {
                events,
                error,
                state: client.state(),
            };
        }
        let now = epoch.elapsed();
        let result = match stream.read(&mut buf) {
            Ok(0) => client.receive_eof(now),
            Ok(n) => client.receive(now, &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                client.handle_timeout(now);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => client.receive_eof(now),
            Err(e) => panic!("read: {e}"),
        };
        if let Err(e) = result {
            error.get_or_insert(e);
        }
        while let Some(event) = client.poll_event() {
            match &event {
                Event::Accepted(_) => client.send_text(message).expect("send"),
                Event::Frame(frame) if frame.opcode == Opcode::Text => {
                    client.close(now, CloseCode::NORMAL, "").expect("close");
                }
                _ => {}
            }
            events.push(event);
        }
    }
}

fn ws_config(echo_port: u16, proxy_url: &str) -> ClientConfig {
    ClientConfig::new(&format!("ws://127.0.0.1:{echo_port}/echo"))
        .expect("ws URL")
        .with_proxy(ProxyConfig::from_url(proxy_url).expect("proxy URL"))
}

fn echoed(run: &Run) -> Vec<String> {
    run.events
        .iter()
        .filter_map(|event| match event {
            Event::Frame(frame) => Some(String::from_utf8_lossy(&frame.payload).into_owned()),
            _ => None,
        })
        .collect()
}

fn assert_clean_echo(run: &Run, message: &str, proxy: &TinyProxy) {
    assert!(
        matches!(run.events.first(), Some(Event::Accepted(_))),
        "not accepted: {run:?}\ntinyproxy log:\n{}",
        proxy.log()
    );
    assert_eq!(echoed(run), [message]);
    assert!(
        matches!(run.events.last(), Some(Event::Close(close)) if close.code == CloseCode::NORMAL && close.error.is_none()),
        "{run:?}"
    );
    assert_eq!((run.state, &run.error), (State::Closed, &None));
}

#[test]
fn an_echo_goes_through_tinyproxy_without_authentication() {
    let echo_port = start_echo_server();
    let proxy = TinyProxy::start(echo_port, None);
    let run = run_client(
        proxy.port,
        ws_config(echo_port, &proxy.url("")),
        "through the tunnel",
    );
    assert_clean_echo(&run, "through the tunnel", &proxy);
    assert!(
        proxy
            .log()
            .contains(&format!("CONNECT 127.0.0.1:{echo_port}"))
    );
}

#[test]
fn an_echo_goes_through_tinyproxy_with_basic_authentication() {
    let echo_port = start_echo_server();
    let proxy = TinyProxy::start(echo_port, Some(("tunnel-user", "s3cret")));
    // Percent-escapes in the URL are decoded: %65 is "e".
    let url = proxy.url("tunnel-user:s3cr%65t@");
    let run = run_client(proxy.port, ws_config(echo_port, &url), "authenticated");
    assert_clean_echo(&run, "authenticated", &proxy);
}

#[test]
fn tinyproxy_wants_credentials_it_was_not_given() {
    let echo_port = start_echo_server();
    let proxy = TinyProxy::start(echo_port, Some(("user", "pass")));
    let run = run_client(proxy.port, ws_config(echo_port, &proxy.url("")), "unused");
    let [Event::ProxyRejected(rejection)] = run.events.as_slice() else {
        panic!("expected one ProxyRejected: {run:?}");
    };
    // tinyproxy answers in HTTP/1.0 with no Content-Length: the body runs
    // until it closes, and arrives whole.
    assert_eq!(rejection.status, 407);
    assert_eq!(
        rejection.headers.get_str("proxy-authenticate"),
        Some("Basic realm=\"Tinyproxy\"")
    );
    let body = String::from_utf8_lossy(&rejection.body);
    assert!(
        body.contains("<h1>Proxy Authentication Required</h1>"),
        "{body}"
    );
    assert!(body.trim_end().ends_with("</html>"), "{body}");
    assert_eq!(
        (rejection.body_error.as_ref(), run.error.as_ref()),
        (None, None)
    );
    assert_eq!(run.state, State::Closed);
}

#[test]
fn tinyproxy_refuses_a_wrong_password() {
    let echo_port = start_echo_server();
    let proxy = TinyProxy::start(echo_port, Some(("user", "pass")));
    let run = run_client(
        proxy.port,
        ws_config(echo_port, &proxy.url("user:wrong@")),
        "unused",
    );
    let [Event::ProxyRejected(rejection)] = run.events.as_slice() else {
        panic!("expected one ProxyRejected: {run:?}");
    };
    assert_eq!(rejection.status, 401);
    assert!(String::from_utf8_lossy(&rejection.body).contains("<h1>Unauthorized</h1>"));
    assert_eq!(run.error, None);
}

/// A proxy stub for one connection: reads the request head, then lets
/// `answer` write. Returns its port and the request it read.
fn raw_proxy(
    answer: impl FnOnce(&mut TcpStream) + Send + 'static,
) -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stub");
    let port = listener.local_addr().expect("local address").port();
    let (requests, request) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(EXCHANGE_LIMIT));
        let _ = stream.set_nodelay(true);
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let _ = requests.send(head);
        answer(&mut stream);
        let _ = stream.shutdown(Shutdown::Both);
    });
    (port, request)
}

#[test]
fn a_chunked_407_with_trailers_in_one_byte_writes() {
    let answer = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
        Proxy-Authenticate: Basic realm=\"stub\"\r\nTransfer-Encoding: chunked\r\n\r\n\
        7\r\ncredent\r\n9;ext=1\r\nials, ple\r\n3\r\nase\r\n0\r\nX-Stub: trailer\r\n\r\n";
    let (port, request) = raw_proxy(move |stream| {
        for byte in answer {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Hold the connection open: the body's end is its last chunk.
        std::thread::sleep(Duration::from_millis(200));
    });
    let run = run_client(
        port,
        ws_config(9, &format!("http://127.0.0.1:{port}")),
        "unused",
    );
    let request = request
        .recv_timeout(EXCHANGE_LIMIT)
        .expect("the stub read a request");
    assert_eq!(
        request,
        b"CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"
    );
    let [Event::ProxyRejected(rejection)] = run.events.as_slice() else {
        panic!("expected one ProxyRejected: {run:?}");
    };
    assert_eq!(rejection.status, 407);
    assert_eq!(&rejection.body[..], b"credentials, please");
    assert_eq!(rejection.trailers.get_str("x-stub"), Some("trailer"));
    assert_eq!((run.error, run.state), (None, State::Closed));
}

#[test]
fn a_proxy_that_closes_mid_head_is_a_typed_error() {
    let (port, _request) = raw_proxy(|stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 Connection est");
    });
    let run = run_client(
        port,
        ws_config(9, &format!("http://127.0.0.1:{port}")),
        "unused",
    );
    assert_eq!(
        run.error,
        Some(Error::Handshake(HandshakeError::Proxy(
            ProxyError::UnexpectedEof
        )))
    );
    assert!(run.events.is_empty(), "{run:?}");
    assert_eq!(run.state, State::Closed);
}

mod example {
    //! `examples/client` with `--proxy`, as a user runs it.

    use super::*;

    fn run_example(args: &[&str]) -> std::process::Output {
        let mut command = Command::new(crate::programs::example_binary("client"));
        command.args(args);
        crate::programs::run_bounded(command, EXCHANGE_LIMIT)
    }

    #[test]
    fn the_example_prints_the_proxys_refusal_and_exits_3() {
        let echo_port = start_echo_server();
        let proxy = TinyProxy::start(echo_port, Some(("user", "pass")));
        let url = format!("ws://127.0.0.1:{echo_port}/");
        let output = run_example(&[&url, "--send", "x", "--proxy", &proxy.url("")]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut lines = stdout.lines();
        assert_eq!(lines.next(), Some("proxy rejected: 407"), "{stdout}");
        assert_eq!(
            lines.next(),
            Some(r#"body: <?xml version="1.0" encoding="UTF-8" ?>"#)
        );
        assert!(stdout.contains("<h1>Proxy Authentication Required</h1>"));
        assert_eq!(output.status.code(), Some(3), "{stdout}");
    }

    #[test]
    fn through_an_accepting_proxy_the_example_behaves_as_without_one() {
        let echo_port = start_echo_server();
        let proxy = TinyProxy::start(echo_port, Some(("user", "pass")));
        let url = format!("ws://127.0.0.1:{echo_port}/");
        let direct = run_example(&[&url, "--send", "one", "--send", "two"]);
        let proxied = run_example(&[
            &url,
            "--send",
            "one",
            "--send",
            "two",
            "--proxy",
            &proxy.url("user:pass@"),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&direct.stdout),
            "text: one\ntext: two\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&proxied.stdout),
            String::from_utf8_lossy(&direct.stdout)
        );
        assert_eq!(
            (proxied.status.code(), direct.status.code()),
            (Some(0), Some(0))
        );
    }
}
