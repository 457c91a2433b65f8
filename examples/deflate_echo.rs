//! permessage-deflate over TCP, for interop tests: an echo server and a
//! client that checks its echoes.
//!
//! ```text
//! cargo run --features deflate --example deflate_echo -- server ADDR [OPTIONS]
//! cargo run --features deflate --example deflate_echo -- client URL [--count N] [--size BYTES] [OPTIONS]
//! ```
//!
//! Options for both: `--level N` (0–9), `--no-context-takeover` (asks for
//! and does no context takeover both ways), `--max-window-bits N` (8–15,
//! both directions).
//!
//! The server accepts permessage-deflate whenever a client offers it, echoes
//! every message, and at each connection's end prints a line to stdout:
//! `conn extensions=[...] received=N payload_in=B wire_in=B payload_out=B wire_out=B`.
//!
//! The client sends `--count` messages (large text, binary, a tiny text
//! under the compression threshold, and a fragmented text, in turn), checks
//! that each comes back unchanged, closes with 1000, and prints
//! `extensions=[...] messages=N payload_in=B wire_in=B payload_out=B wire_out=B`.
//! Exit status 0 only when every echo matched, permessage-deflate was
//! negotiated, and the closing handshake completed.

mod blocking;

use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use blocking::App;

use wsmachine::entropy::OsEntropy;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{
    Client, ClientRole, CloseCode, Connection, DataKind, Event, Fragment, Role, Server, ServerRole,
};

const LIMIT: u64 = 16 << 20;
const TIMEOUT: Duration = Duration::from_secs(20);

struct Options {
    mode: String,
    target: String,
    count: usize,
    size: usize,
    deflate: DeflateConfig,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or("missing mode: server or client")?;
    let target = args.next().ok_or("missing ADDR or URL")?;
    let mut options = Options {
        mode,
        target,
        count: 8,
        size: 20_000,
        deflate: DeflateConfig::default(),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<usize, String> {
            let text = args.next().ok_or(format!("{name} needs a value"))?;
            text.parse()
                .map_err(|_| format!("bad value {text:?} for {name}"))
        };
        match arg.as_str() {
            "--count" => options.count = value("--count")?,
            "--size" => options.size = value("--size")?,
            "--level" => options.deflate.level = value("--level")? as u32,
            "--max-window-bits" => {
                let bits = value("--max-window-bits")? as u8;
                options.deflate.server_max_window_bits = bits;
                options.deflate.client_max_window_bits = bits;
            }
            "--no-context-takeover" => {
                options.deflate.server_no_context_takeover = true;
                options.deflate.client_no_context_takeover = true;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("deflate_echo: {message}");
            return ExitCode::from(2);
        }
    };
    let result = match options.mode.as_str() {
        "server" => serve(&options),
        "client" => run_client(&options),
        other => Err(format!("unknown mode {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            println!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Byte counts of one connection.
#[derive(Default)]
struct Counts {
    wire_in: usize,
    wire_out: usize,
    payload_in: usize,
    payload_out: usize,
    messages_in: usize,
}

impl Counts {
    fn line(&self, extensions: &[String]) -> String {
        format!(
            "extensions={extensions:?} messages={} payload_in={} wire_in={} payload_out={} wire_out={}",
            self.messages_in, self.payload_in, self.wire_in, self.payload_out, self.wire_out
        )
    }
}

fn serve(options: &Options) -> Result<(), String> {
    let listener = TcpListener::bind(&options.target)
        .map_err(|error| format!("cannot listen on {}: {error}", options.target))?;
    eprintln!("deflate_echo: listening on ws://{}", options.target);
    let mut config = ServerConfig::default();
    config.config.max_message_size = LIMIT;
    config.config.deflate = Some(options.deflate.clone());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        std::thread::spawn(move || println!("conn {}", serve_one(stream, config)));
    }
    Ok(())
}

/// The server's side of one connection: echoes, and counts what it sees.
#[derive(Default)]
struct EchoApp {
    assembler: Option<MessageAssembler>,
    counts: Counts,
    extensions: Vec<String>,
}

impl App<ServerRole> for EchoApp {
    fn on_event(&mut self, server: &mut Server, event: Event, now: Duration) {
        let assembler = self
            .assembler
            .get_or_insert_with(|| MessageAssembler::new(LIMIT as usize));
        match event {
            // Whole frames: `Config::piece_size` is not set here.
            Event::Piece(_) => {}
            Event::Request(_) => {
                let _ = server.accept(now, Accept::default());
            }
            Event::Frame(frame) => match assembler.push(frame) {
                Ok(Some(Message::Text(text))) => {
                    self.counts.messages_in += 1;
                    self.counts.payload_in += text.len();
                    self.counts.payload_out += text.len();
                    let _ = server.send_text(text.as_str());
                }
                Ok(Some(Message::Binary(data))) => {
                    self.counts.messages_in += 1;
                    self.counts.payload_in += data.len();
                    self.counts.payload_out += data.len();
                    let _ = server.send_binary_owned(data);
                }
                _ => {}
            },
            Event::Close(_)
            | Event::Accepted(_)
            | Event::HandshakeRejected(_)
            | Event::ProxyRejected(_) => {}
        }
    }

    fn on_write(&mut self, bytes: &[u8]) {
        // The 101 starts the output; what was negotiated is in it.
        if self.counts.wire_out == 0 {
            self.extensions = response_extensions(bytes);
        }
        self.counts.wire_out += bytes.len();
    }
}

fn serve_one(mut stream: TcpStream, config: ServerConfig) -> String {
    let mut server = Server::new(config);
    let mut app = EchoApp::default();
    let report = blocking::run(
        &mut stream,
        &mut server,
        &mut app,
        &blocking::Options::default(),
    );
    app.counts.wire_in = report.bytes_read;
    let line = app.counts.line(&app.extensions);
    match blocking::describe_outcome(&report.outcome) {
        Some(problem) => format!("{line} ({problem})"),
        None => line,
    }
}

/// The `Sec-WebSocket-Extensions` values of a response head.
fn response_extensions(response: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(response)
        .split("\r\n")
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

/// The messages the client sends: large text, binary, tiny text, and a text
/// sent in three fragments.
fn plan(count: usize, size: usize) -> Vec<(DataKind, Vec<u8>, bool)> {
    (0..count)
        .map(|i| {
            let json = format!(
                r#"{{"seq":{i},"kind":"update","user":{{"name":"user-{i}","roles":["reader","writer"]}},"body":"{}"}}"#,
                "all work and no play makes jack a dull boy ".repeat(size / 44 + 1)
            );
            match i % 4 {
                0 => (DataKind::Text, json.into_bytes(), false),
                1 => (
                    DataKind::Binary,
                    (0..size).map(|j| (j % 61) as u8).collect(),
                    false,
                ),
                2 => (DataKind::Text, format!("hi {i}").into_bytes(), false),
                _ => (DataKind::Text, json.into_bytes(), true),
            }
        })
        .collect()
}

fn send<R: Role>(conn: &mut Connection<R>, kind: DataKind, data: &[u8], fragmented: bool) {
    let result = if fragmented {
        let third = data.len() / 3;
        conn.send_fragment(Fragment::First(kind), &data[..third])
            .and_then(|()| conn.send_fragment(Fragment::Continue, &data[third..2 * third]))
            .and_then(|()| conn.send_fragment(Fragment::Last, &data[2 * third..]))
    } else {
        match kind {
            DataKind::Text => conn.send_text(std::str::from_utf8(data).unwrap_or_default()),
            DataKind::Binary => conn.send_binary(data),
        }
    };
    if let Err(error) = result {
        println!("error: send failed: {error}");
    }
}

/// The client's side: sends the plan once open, checks every echo, and
/// closes with 1000 after the last.
struct CheckApp {
    plan: Vec<(DataKind, Vec<u8>, bool)>,
    assembler: MessageAssembler,
    counts: Counts,
    extensions: Vec<String>,
    received: usize,
    mismatches: usize,
    rejected: Option<u16>,
}

impl App<ClientRole<OsEntropy>> for CheckApp {
    fn on_event(&mut self, client: &mut Client<OsEntropy>, event: Event, now: Duration) {
        match event {
            // Whole frames: `Config::piece_size` is not set here.
            Event::Piece(_) => {}
            Event::Accepted(accepted) => {
                self.extensions = accepted.extensions;
                for (kind, data, fragmented) in &self.plan {
                    self.counts.payload_out += data.len();
                    send(client, *kind, data, *fragmented);
                }
            }
            Event::HandshakeRejected(rejection) => self.rejected = Some(rejection.status),
            Event::Frame(frame) => {
                let message = match self.assembler.push(frame) {
                    Ok(Some(Message::Text(text))) => (DataKind::Text, text.as_bytes().to_vec()),
                    Ok(Some(Message::Binary(data))) => (DataKind::Binary, data.to_vec()),
                    Ok(_) => return,
                    Err(error) => {
                        println!("message error: {error}");
                        self.mismatches += 1;
                        return;
                    }
                };
                self.counts.payload_in += message.1.len();
                let expected = self
                    .plan
                    .get(self.received)
                    .map(|(kind, data, _)| (*kind, data.clone()));
                if expected.as_ref() != Some(&message) {
                    self.mismatches += 1;
                    println!("mismatch on message {}", self.received);
                }
                self.received += 1;
                self.counts.messages_in = self.received;
                if self.received == self.plan.len() {
                    let _ = client.close(now, CloseCode::NORMAL, "done");
                }
            }
            Event::Close(close) => {
                if let Some(error) = close.error {
                    println!("error: closed with {}: {error}", close.code);
                }
            }
            Event::Request(_) | Event::ProxyRejected(_) => {}
        }
    }
}

fn run_client(options: &Options) -> Result<(), String> {
    let mut config = ClientConfig::new(&options.target).map_err(|e| e.to_string())?;
    config.config.max_message_size = LIMIT;
    config.config.deflate = Some(options.deflate.clone());
    let address = format!("{}:{}", config.host(), config.port());
    let mut stream = TcpStream::connect(&address).map_err(|e| format!("connect {address}: {e}"))?;
    let mut client = Client::new(config, OsEntropy::new()).map_err(|e| e.to_string())?;
    let mut app = CheckApp {
        plan: plan(options.count, options.size),
        assembler: MessageAssembler::new(LIMIT as usize),
        counts: Counts::default(),
        extensions: Vec::new(),
        received: 0,
        mismatches: 0,
        rejected: None,
    };
    let session = blocking::Options {
        time_limit: Some(TIMEOUT),
        ..blocking::Options::default()
    };
    let report = blocking::run(&mut stream, &mut client, &mut app, &session);
    app.counts.wire_in = report.bytes_read;
    app.counts.wire_out = report.bytes_written;
    println!("{}", app.counts.line(&app.extensions));
    if let Some(status) = app.rejected {
        return Err(format!("rejected with {status}"));
    }
    let clean_close = matches!(&report.outcome, blocking::Outcome::Clean(close) if close.code == CloseCode::NORMAL);
    if let Some(problem) = blocking::describe_outcome(&report.outcome) {
        println!("error: {problem}");
    }
    let deflated = app
        .extensions
        .iter()
        .any(|extension| extension.starts_with("permessage-deflate"));
    if app.received != app.plan.len() || app.mismatches > 0 || !clean_close || !deflated {
        return Err(format!(
            "received {} of {}, {} mismatched, clean close {clean_close}, deflate {deflated}",
            app.received,
            app.plan.len(),
            app.mismatches
        ));
    }
    Ok(())
}
