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
//! Exit status: 0 after a clean closing handshake (a server that sends its
//! Close and then resets the TCP connection has still closed cleanly); 2
//! when the server rejects the handshake (status, body and headers are
//! printed); 3 when the proxy refuses the tunnel (`proxy rejected: STATUS`,
//! then `body: BODY`); 1 on any error, printed as a line starting with
//! `error:`. The handshake is bounded by the core's handshake deadline, and
//! the loop is the shared one in `examples/blocking/mod.rs`.

mod blocking;

use std::io;
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use wsmachine::entropy::OsEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::proxy::ProxyConfig;
use wsmachine::{Client, CloseCode, Event, State};

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
    config.config.max_message_size = 16 << 20;
    // Through a proxy, the transport goes to the proxy and the client
    // tunnels to the URL's host itself.
    let mut stream = match &proxy {
        Some(proxy) => TcpStream::connect((proxy.host(), proxy.port()))?,
        None => TcpStream::connect((config.host(), config.port()))?,
    };
    if let Some(proxy) = proxy {
        config = config.with_proxy(proxy);
    }
    let mut client = match Client::new(config, OsEntropy::new()) {
        Ok(client) => client,
        Err(error) => return Ok(Outcome::Failed(error.to_string())),
    };
    let mut assembler = MessageAssembler::new(16 << 20);
    let mut received = 0usize;
    let mut rejected = false;
    let mut proxy_rejected = false;
    // An app-level problem: the connection is closed with 1011 and the run
    // fails with it.
    let mut problem = None;
    let mut app = |client: &mut Client<OsEntropy>, event: Event, now: Duration| match event {
        // Whole frames: `Config::piece_size` is not set here.
        Event::Piece(_) => {}
        Event::Accepted(_) => {
            for message in messages {
                if let Err(error) = client.send_text(message) {
                    problem = Some(error.to_string());
                    let _ = client.close(now, CloseCode::INTERNAL_ERROR, "");
                    break;
                }
            }
        }
        Event::HandshakeRejected(rejection) => {
            println!("rejected: {}", rejection.status);
            println!("body: {}", String::from_utf8_lossy(&rejection.body));
            for (name, value) in rejection.headers.iter() {
                println!("header: {name}: {}", String::from_utf8_lossy(value));
            }
            if let Some(location) = rejection.redirect_location(client.client_config().url()) {
                println!("redirect: {location} (not followed)");
            }
            match rejection.body_error {
                Some(error) => problem = Some(format!("rejection body: {error}")),
                None => rejected = true,
            }
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
                    let _ = client.close(now, CloseCode::NORMAL, "");
                }
            }
            Ok(_) => {}
            Err(error) => {
                problem = Some(error.to_string());
                let _ = client.close(now, CloseCode::INTERNAL_ERROR, "");
            }
        },
        Event::ProxyRejected(rejection) => {
            println!("proxy rejected: {}", rejection.status);
            println!("body: {}", String::from_utf8_lossy(&rejection.body));
            match rejection.body_error {
                Some(error) => problem = Some(format!("proxy rejection body: {error}")),
                None => proxy_rejected = true,
            }
        }
        Event::Close(_) | Event::Request(_) => {}
    };
    let report = blocking::run(
        &mut stream,
        &mut client,
        &mut app,
        &blocking::Options::default(),
    );
    if let Some(problem) = problem {
        return Ok(Outcome::Failed(problem));
    }
    match report.outcome {
        blocking::Outcome::Clean(_) => Ok(Outcome::CleanClose),
        blocking::Outcome::NotOpened if rejected => Ok(Outcome::Rejected),
        blocking::Outcome::NotOpened if proxy_rejected => Ok(Outcome::ProxyRejected),
        blocking::Outcome::NotOpened => Ok(Outcome::Failed("connection closed".into())),
        blocking::Outcome::Failed { error, .. } => Ok(Outcome::Failed(error.to_string())),
        blocking::Outcome::Io(error) => Err(error),
    }
}
