//! The client side of the Autobahn|Testsuite protocol, blocking std::net.
//!
//! ```text
//! cargo run --release --example autobahn_client [-- BASE_URL]
//! ```
//!
//! BASE_URL defaults to `ws://127.0.0.1:9001`, where `wstest -m
//! fuzzingserver` listens. The client:
//! 1. opens `/getCaseCount`, whose single text message is the number of
//!    cases;
//! 2. runs each case N at `/runCase?case=N&agent=wsmachine` as an echo
//!    client: every text or binary message comes back whole, as the same
//!    type, until the server closes;
//! 3. opens `/updateReports?agent=wsmachine` so that the server writes its
//!    report.
//!
//! One stdout line per case says how it ended; judging the case is the
//! server's job. Limits are 16 MiB, as some cases send messages that large.
//! Built with `--features deflate`, it offers permessage-deflate (cases
//! 12.x and 13.x need it).
//!
//! The fuzzing server closes TCP right after its own Close frame, so the
//! reply may meet a reset: the shared loop (`examples/blocking/mod.rs`)
//! takes a reset or broken pipe after the peer's Close as the clean end it
//! is.
//! Exit status: 0 when the count was read and the reports updated, 1
//! otherwise (a line starting with `error:` says why), 2 for a bad command
//! line.

mod blocking;

use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use wsmachine::entropy::OsEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{Client, Close, Event};

/// The name the reports list this implementation under.
const AGENT: &str = "wsmachine";

/// The largest message and frame accepted: Autobahn's 9.x cases send up to
/// 16 MiB.
const MAX_MESSAGE_SIZE: usize = 16 << 20;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    if base.starts_with('-') || args.next().is_some() {
        eprintln!("usage: autobahn_client [BASE_URL]");
        return ExitCode::from(2);
    }
    match run(base.trim_end_matches('/')) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            println!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(base: &str) -> Result<(), String> {
    let count_session = session(&format!("{base}/getCaseCount"), Role::ReadCount)
        .map_err(|error| format!("getCaseCount: {error}"))?;
    let count: u32 = match count_session.first_text.as_deref().map(str::trim) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("getCaseCount: not a count: {text:?}"))?,
        None => return Err("getCaseCount: no count received".into()),
    };
    println!("cases: {count}");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        match session(&url, Role::Echo) {
            Ok(ended) => println!(
                "case {case}/{count}: {} messages echoed, {}",
                ended.echoed,
                describe(ended.close.as_ref())
            ),
            // One case's failure (some close the TCP connection abruptly)
            // does not stop the run.
            Err(error) => println!("case {case}/{count}: {error}"),
        }
    }
    let report = session(&format!("{base}/updateReports?agent={AGENT}"), Role::Idle)
        .map_err(|error| format!("updateReports: {error}"))?;
    if report.close.is_none() {
        return Err("updateReports: the connection did not open".into());
    }
    println!("reports updated for agent {AGENT}");
    Ok(())
}

/// What a connection does with the messages it receives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Keeps the first text message.
    ReadCount,
    /// Echoes every message.
    Echo,
    /// Ignores messages and waits for the server to close.
    Idle,
}

/// How a connection went.
struct Ended {
    first_text: Option<String>,
    echoed: usize,
    /// The Close event; `None` if the connection never opened.
    close: Option<Close>,
}

fn describe(close: Option<&Close>) -> String {
    match close {
        Some(close) => blocking::describe_close(close),
        None => "never opened".into(),
    }
}

/// Runs one connection to its end.
fn session(url: &str, role: Role) -> Result<Ended, String> {
    let mut config = ClientConfig::new(url).map_err(|error| format!("invalid URL: {error}"))?;
    if config.is_secure() {
        return Err("wss:// needs TLS, which this example does not do".into());
    }
    config.config.max_message_size = MAX_MESSAGE_SIZE as u64;
    // Offer permessage-deflate when built with the `deflate` feature.
    #[cfg(feature = "deflate")]
    {
        config.config.deflate =
            Some(wsmachine::extensions::permessage_deflate::DeflateConfig::default());
    }
    let mut stream = TcpStream::connect((config.host(), config.port()))
        .map_err(|error| format!("connect: {error}"))?;
    let mut client = Client::new(config, OsEntropy::new()).map_err(|error| error.to_string())?;
    let mut assembler = MessageAssembler::new(MAX_MESSAGE_SIZE);
    let mut first_text = None;
    let mut echoed = 0;
    let mut rejected = None;
    let mut app = |client: &mut Client<OsEntropy>, event: Event, _now: Duration| match event {
        // Whole frames: `Config::piece_size` is not set here.
        Event::Piece(_) => {}
        Event::Frame(frame) => match assembler.push(frame) {
            Ok(Some(Message::Text(text))) => match role {
                Role::ReadCount if first_text.is_none() => {
                    first_text = Some(text.as_str().to_string());
                }
                Role::Echo => {
                    // Fails only once closing; the echo is moot then.
                    if client.send_text(text.as_str()).is_ok() {
                        echoed += 1;
                    }
                }
                Role::ReadCount | Role::Idle => {}
            },
            Ok(Some(Message::Binary(data))) => {
                if role == Role::Echo && client.send_binary_owned(data).is_ok() {
                    echoed += 1;
                }
            }
            // Pings are answered by the machine (auto_pong).
            Ok(_) => {}
            // The connection already checks sizes and UTF-8 with the same
            // limit, so this does not happen; drop the message.
            Err(_) => {}
        },
        Event::HandshakeRejected(rejection) => rejected = Some(rejection.status),
        Event::Close(_) | Event::Accepted(_) | Event::Request(_) | Event::ProxyRejected(_) => {}
    };
    let options = blocking::Options {
        read_buffer: 256 * 1024,
        ..blocking::Options::default()
    };
    let report = blocking::run(&mut stream, &mut client, &mut app, &options);
    let close = match report.outcome {
        blocking::Outcome::Clean(close) => close,
        // A failed case is still a case run: the server judges it.
        blocking::Outcome::Failed {
            close: Some(close), ..
        } => close,
        blocking::Outcome::Failed { error, close: None } => {
            return Err(format!("handshake failed: {error}"));
        }
        blocking::Outcome::NotOpened => {
            return Err(match rejected {
                Some(status) => format!("handshake rejected with {status}"),
                None => "the connection closed before opening".into(),
            });
        }
        blocking::Outcome::Io(error) => return Err(format!("transport: {error}")),
    };
    Ok(Ended {
        first_text,
        echoed,
        close: Some(close),
    })
}
