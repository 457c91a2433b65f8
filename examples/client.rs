//! A blocking WebSocket client over TCP (ws:// only).
//!
//! ```text
//! cargo run --example client -- URL [--send TEXT]... [--proxy http://[user:pass@]host:port]
//! ```
//!
//! It sends each `--send TEXT` as a text message once the handshake is
//! accepted, prints what it receives (`text: ...`, `binary: N bytes`), and
//! closes with 1000 once it has received as many messages as it sent. With
//! no `--send` it waits for the server to close. With `--proxy` it connects
//! to the HTTP proxy and tunnels through it with CONNECT first.
//!
//! Exit status: 0 after a clean closing handshake; 2 when the server
//! rejects the handshake (status, body and headers are printed); 3 when the
//! proxy refuses the tunnel (`proxy rejected: STATUS`, then `body: BODY`);
//! 1 on any error, printed as a line starting with `error:`.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wsmachine::entropy::OsEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::proxy::ProxyConfig;
use wsmachine::{Client, CloseCode, Event, State};

/// How long the handshake may take before the client gives up: the machine
/// has no handshake timer of its own, so this loop brings one.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

enum Outcome {
    CleanClose,
    Rejected,
    ProxyRejected,
    Failed(String),
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut messages = Vec::new();
    let mut proxy = None;
    while let Some(arg) = args.next() {
        if arg == "--send" {
            match args.next() {
                Some(text) => messages.push(text),
                None => return usage("--send needs a value"),
            }
        } else if arg == "--proxy" {
            match args.next().map(|url| ProxyConfig::from_url(&url)) {
                Some(Ok(config)) => proxy = Some(config),
                Some(Err(error)) => return usage(&format!("invalid proxy URL: {error}")),
                None => return usage("--proxy needs a value"),
            }
        } else if url.is_none() {
            url = Some(arg);
        } else {
            return usage(&format!("unexpected argument {arg:?}"));
        }
    }
    let Some(url) = url else {
        return usage("missing URL");
    };
    match run(&url, &messages, proxy) {
        Ok(Outcome::CleanClose) => ExitCode::SUCCESS,
        Ok(Outcome::Rejected) => ExitCode::from(2),
        Ok(Outcome::ProxyRejected) => ExitCode::from(3),
        Ok(Outcome::Failed(message)) => {
            println!("error: {message}");
            ExitCode::FAILURE
        }
        Err(error) => {
            println!("error: transport: {error}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("client: {problem}");
    eprintln!("usage: client URL [--send TEXT]... [--proxy http://[user:pass@]host:port]");
    ExitCode::FAILURE
}

fn run(url: &str, messages: &[String], proxy: Option<ProxyConfig>) -> io::Result<Outcome> {
    let config = match ClientConfig::new(url) {
        Ok(config) if !config.is_secure() => config,
        Ok(_) => {
            return Ok(Outcome::Failed(
                "wss:// needs TLS, which this example does not do".into(),
            ));
        }
        Err(error) => return Ok(Outcome::Failed(format!("invalid URL: {error}"))),
    };
    let mut config = config;
    config.config.limits.max_message_size = 16 << 20;
    config.config.limits.max_frame_payload = 16 << 20;
    // Through a proxy, the transport goes to the proxy and the client
    // tunnels to the URL's host itself.
    let mut stream = match &proxy {
        Some(proxy) => TcpStream::connect((proxy.host(), proxy.port()))?,
        None => TcpStream::connect((config.host(), config.port()))?,
    };
    if let Some(proxy) = proxy {
        config = config.with_proxy(proxy);
    }
    let mut assembler = MessageAssembler::new(16 << 20);
    let mut client = match Client::new(config, OsEntropy::new()) {
        Ok(client) => client,
        Err(error) => return Ok(Outcome::Failed(error.to_string())),
    };
    let start = Instant::now();
    let now = || start.elapsed();
    let mut buf = vec![0u8; 64 * 1024];
    let mut received = 0usize;
    let mut outcome = None;
    loop {
        while let Some(bytes) = client.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        if client.state() == State::Closed {
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(outcome.unwrap_or(Outcome::Failed("connection closed".into())));
        }
        let deadline = match client.state() {
            State::Connecting => Some(HANDSHAKE_TIMEOUT),
            _ => client.poll_timeout(),
        };
        let wait =
            deadline.map(|deadline| deadline.saturating_sub(now()).max(Duration::from_millis(1)));
        stream.set_read_timeout(wait)?;
        let result = match stream.read(&mut buf) {
            Ok(0) => client.receive_eof(now()),
            Ok(n) => client.receive(now(), &buf[..n]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if client.state() == State::Connecting {
                    let _ = stream.shutdown(Shutdown::Both);
                    return Ok(Outcome::Failed("handshake timed out".into()));
                }
                client.handle_timeout(now());
                Ok(())
            }
            Err(error) => return Err(error),
        };
        while let Some(event) = client.poll_event() {
            match event {
                Event::Accepted(_) => {
                    for message in messages {
                        if let Err(error) = client.send_text(message) {
                            return Ok(Outcome::Failed(error.to_string()));
                        }
                    }
                }
                Event::HandshakeRejected(rejection) => {
                    println!("rejected: {}", rejection.status);
                    println!("body: {}", String::from_utf8_lossy(&rejection.body));
                    for (name, value) in rejection.headers.iter() {
                        println!("header: {name}: {}", String::from_utf8_lossy(value));
                    }
                    if let Some(location) = rejection.redirect_location(client.config().url()) {
                        println!("redirect: {location} (not followed)");
                    }
                    outcome = Some(match rejection.body_error {
                        Some(error) => Outcome::Failed(format!("rejection body: {error}")),
                        None => Outcome::Rejected,
                    });
                }
                Event::Frame(frame) => match assembler.push(frame) {
                    Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        match message {
                            Message::Text(text) => println!("text: {}", text.as_str()),
                            Message::Binary(data) => println!("binary: {} bytes", data.len()),
                            _ => {}
                        }
                        received += 1;
                        if !messages.is_empty()
                            && received >= messages.len()
                            && client.state() == State::Open
                        {
                            let _ = client.close(now(), CloseCode::NORMAL, "");
                        }
                    }
                    Ok(_) => {}
                    Err(error) => return Ok(Outcome::Failed(error.to_string())),
                },
                Event::Close(close) => {
                    outcome = Some(match close.error {
                        None => Outcome::CleanClose,
                        Some(error) => Outcome::Failed(error.to_string()),
                    });
                }
                Event::ProxyRejected(rejection) => {
                    println!("proxy rejected: {}", rejection.status);
                    println!("body: {}", String::from_utf8_lossy(&rejection.body));
                    outcome = Some(match rejection.body_error {
                        Some(error) => Outcome::Failed(format!("proxy rejection body: {error}")),
                        None => Outcome::ProxyRejected,
                    });
                }
                Event::Request(_) => {}
            }
        }
        if let Err(error) = result
            && !matches!(
                outcome,
                Some(Outcome::Rejected | Outcome::ProxyRejected | Outcome::Failed(_))
            )
        {
            outcome = Some(Outcome::Failed(error.to_string()));
        }
    }
}
