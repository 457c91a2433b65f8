//! A WebSocket client on the driver: `ws://`, and `wss://` with the
//! `rustls` feature.
//!
//! ```text
//! cargo run -p wsmachine-tokio --example tokio_client -- URL [--send TEXT]...
//! ```
//!
//! The same contract as the core's blocking `client`: it sends each
//! `--send TEXT` as a text message once the handshake is accepted, prints
//! what it receives (`text: ...`, `binary: N bytes`), and closes with 1000
//! once it has received as many messages as it sent. With no `--send` it
//! waits for the server to close.
//!
//! Exit status: 0 after a clean closing handshake; 2 when the server
//! rejects the handshake (status, body and headers are printed); 1 on any
//! error, printed as a line starting with `error:`.

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use wsmachine::handshake::Rejection;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::http::Headers;
use wsmachine_tokio::{CloseCode, Error, Message};

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A clean closing handshake.
    CleanClose,
    /// The server rejected the handshake.
    Rejected,
    /// Anything else, with the line to print.
    Failed(String),
}

impl Outcome {
    /// The exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::CleanClose => 0,
            Outcome::Rejected => 2,
            Outcome::Failed(_) => 1,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut messages = Vec::new();
    while let Some(arg) = args.next() {
        if arg == "--send" {
            match args.next() {
                Some(text) => messages.push(text),
                None => return usage("--send needs a value"),
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
    let outcome = run(&url, &messages, &mut |line| println!("{line}")).await;
    if let Outcome::Failed(message) = &outcome {
        println!("error: {message}");
    }
    ExitCode::from(outcome.exit_code())
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("tokio_client: {problem}");
    eprintln!("usage: tokio_client URL [--send TEXT]...");
    ExitCode::FAILURE
}

/// Connects, sends `messages`, prints what comes back through `print`.
pub async fn run(url: &str, messages: &[String], print: &mut dyn FnMut(&str)) -> Outcome {
    let mut config = match ClientConfig::new(url) {
        Ok(config) => config,
        Err(error) => return Outcome::Failed(format!("invalid URL: {error}")),
    };
    config.config.max_message_size = 16 << 20;
    let (mut ws, _accepted) = match wsmachine_tokio::connect(config).await {
        Ok(connected) => connected,
        Err(Error::Rejected {
            status,
            headers,
            body,
            body_error,
        }) => {
            print_rejection(url, status, *headers, body, print);
            return match body_error {
                Some(error) => Outcome::Failed(format!("rejection body: {error}")),
                None => Outcome::Rejected,
            };
        }
        Err(Error::Io(error)) => return Outcome::Failed(format!("transport: {error}")),
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    for message in messages {
        if let Err(error) = ws.feed(Message::text(message.as_str())).await {
            return Outcome::Failed(error.to_string());
        }
    }
    if let Err(error) = ws.flush().await {
        return Outcome::Failed(error.to_string());
    }
    let mut received = 0;
    let mut outcome = Outcome::Failed("connection closed".into());
    while let Some(item) = ws.next().await {
        match item {
            Ok(Message::Text(text)) => {
                print(&format!("text: {text}"));
                received += 1;
            }
            Ok(Message::Binary(data)) => {
                print(&format!("binary: {} bytes", data.len()));
                received += 1;
            }
            Ok(Message::Close(_)) => outcome = Outcome::CleanClose,
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Err(Error::Io(error)) => return Outcome::Failed(format!("transport: {error}")),
            Err(error) => return Outcome::Failed(error.to_string()),
        }
        if !messages.is_empty() && received == messages.len() {
            received += 1;
            if let Err(error) = ws.close(CloseCode::NORMAL, "").await {
                return Outcome::Failed(error.to_string());
            }
        }
    }
    outcome
}

fn print_rejection(
    url: &str,
    status: u16,
    headers: Headers,
    body: bytes::Bytes,
    print: &mut dyn FnMut(&str),
) {
    print(&format!("rejected: {status}"));
    print(&format!("body: {}", String::from_utf8_lossy(&body)));
    for (name, value) in headers.iter() {
        print(&format!(
            "header: {name}: {}",
            String::from_utf8_lossy(value)
        ));
    }
    let rejection = Rejection {
        status,
        reason: String::new(),
        headers,
        body,
        trailers: Headers::new(),
        body_error: None,
    };
    if let Some(location) = rejection.redirect_location(url) {
        print(&format!("redirect: {location} (not followed)"));
    }
}
