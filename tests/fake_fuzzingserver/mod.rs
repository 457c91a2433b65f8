//! A fake Autobahn fuzzingserver for the Autobahn client examples (the
//! core's blocking `autobahn_client` and the driver's
//! `tokio_autobahn_client`): wsmachine's `Server` on blocking std::net,
//! speaking the three endpoints with two small cases, and a bounded way to
//! run a process.
//!
//! Included by path from both crates' tests.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::http::Headers;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{CloseCode, DataKind, Event, Fragment, Server};

/// What the fake server saw, one line per connection.
pub type Record = Arc<Mutex<Vec<String>>>;

/// The bound on a fake server connection's silence.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a case sends: messages, and pings between a fragmented text
/// message's pieces.
enum Send {
    Text(&'static str),
    Binary(Vec<u8>),
    FragmentedText(&'static [&'static str], &'static [u8]),
}

fn case(number: u32) -> Option<Vec<Send>> {
    match number {
        1 => Some(vec![
            Send::Text("Hello, Autobahn"),
            Send::Binary(vec![0, 1, 2, 3, 0xfe, 0xff]),
        ]),
        // Over the default 1 MiB limit: the client must raise its own.
        2 => Some(vec![
            Send::FragmentedText(&["Frag", "men", "ted ✓"], b"in-between"),
            Send::Binary((0..(2 << 20) + 1).map(|i: u32| (i % 253) as u8).collect()),
        ]),
        _ => None,
    }
}

fn expected_echo(send: &Send) -> Message {
    match send {
        Send::Text(text) => Message::Text((*text).into()),
        Send::Binary(data) => Message::Binary(data.clone().into()),
        Send::FragmentedText(pieces, _) => Message::Text(pieces.concat().into()),
    }
}

fn query_value<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

pub fn start_fake_fuzzingserver() -> (String, Record) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("ws://{}", listener.local_addr().unwrap());
    let record = Record::default();
    let for_server = Arc::clone(&record);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let record = Arc::clone(&for_server);
            std::thread::spawn(move || {
                let mut stream = stream;
                let outcome =
                    serve(&mut stream).unwrap_or_else(|error| format!("transport: {error}"));
                // Recorded before the transport closes: the client starts
                // its next connection only after this one's end, so the
                // record is in the client's order.
                record.lock().unwrap().push(outcome);
                let _ = stream.shutdown(Shutdown::Both);
            });
        }
    });
    (base, record)
}

/// Runs one connection up to the moment its transport should close;
/// returns the line for the record.
fn serve(stream: &mut TcpStream) -> std::io::Result<String> {
    let start = Instant::now();
    let now = || start.elapsed();
    let mut config = ServerConfig::default();
    config.config.max_message_size = 16 << 20;
    let mut server = Server::new(config);
    let mut assembler = MessageAssembler::new(16 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = String::from("no request");
    let mut expected: Vec<Message> = Vec::new();
    let mut received: Vec<Message> = Vec::new();
    let mut pong_expected: Option<&'static [u8]> = None;
    let mut pong_received = false;
    loop {
        while let Some(bytes) = server.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        if server.is_closed() {
            return Ok(line);
        }
        let wait = server.poll_timeout().map_or(IDLE_TIMEOUT, |at| {
            at.saturating_sub(now()).max(Duration::from_millis(1))
        });
        stream.set_read_timeout(Some(wait.min(IDLE_TIMEOUT)))?;
        let _ = match stream.read(&mut buf) {
            Ok(0) => server.receive_eof(now()),
            Ok(n) => server.receive(now(), &buf[..n]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if now() > IDLE_TIMEOUT * 3 {
                    return Ok(format!("{line}: timed out"));
                }
                server.handle_timeout(now());
                Ok(())
            }
            Err(error) => return Err(error),
        };
        while let Some(event) = server.poll_event() {
            match event {
                // Whole frames: `Config::piece_size` is not set here.
                Event::Piece(_) => {}
                Event::Request(request) => {
                    let target = request.target().to_string();
                    let path = target.split('?').next().unwrap_or_default().to_string();
                    let agent = query_value(&target, "agent").unwrap_or("none").to_string();
                    match path.as_str() {
                        "/getCaseCount" => {
                            line = "getCaseCount".into();
                            server.accept(now(), Accept::default()).unwrap();
                            server.send_text("2").unwrap();
                            server.close(now(), CloseCode::NORMAL, "").unwrap();
                        }
                        "/updateReports" => {
                            line = format!("updateReports agent={agent}");
                            server.accept(now(), Accept::default()).unwrap();
                            server.close(now(), CloseCode::NORMAL, "").unwrap();
                        }
                        "/runCase" => {
                            let number = query_value(&target, "case")
                                .and_then(|n| n.parse().ok())
                                .unwrap_or(0);
                            let Some(sends) = case(number) else {
                                line = format!("unknown case {target}");
                                server.reject(404, &Headers::new(), b"").unwrap();
                                continue;
                            };
                            line = format!("case {number} agent={agent}");
                            server.accept(now(), Accept::default()).unwrap();
                            for send in &sends {
                                match send {
                                    Send::Text(text) => server.send_text(text).unwrap(),
                                    Send::Binary(data) => server.send_binary(data).unwrap(),
                                    Send::FragmentedText(pieces, ping) => {
                                        let (first, rest) = pieces.split_first().unwrap();
                                        let (last, middle) = rest.split_last().unwrap();
                                        server
                                            .send_fragment(
                                                Fragment::First(DataKind::Text),
                                                first.as_bytes(),
                                            )
                                            .unwrap();
                                        server.send_ping(ping).unwrap();
                                        pong_expected = Some(ping);
                                        for piece in middle {
                                            server
                                                .send_fragment(Fragment::Continue, piece.as_bytes())
                                                .unwrap();
                                        }
                                        server
                                            .send_fragment(Fragment::Last, last.as_bytes())
                                            .unwrap();
                                    }
                                }
                            }
                            expected = sends.iter().map(expected_echo).collect();
                        }
                        _ => {
                            line = format!("unknown endpoint {target}");
                            server.reject(404, &Headers::new(), b"").unwrap();
                        }
                    }
                }
                Event::Frame(frame) => match assembler.push(frame) {
                    Ok(Some(Message::Pong(payload))) => {
                        pong_received = pong_expected.is_some_and(|p| payload == p);
                    }
                    Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        received.push(message);
                        if received.len() == expected.len() {
                            let verdict = if received != expected {
                                "fail: echoes differ"
                            } else if pong_expected.is_some() && !pong_received {
                                "fail: no pong"
                            } else {
                                "pass"
                            };
                            line = format!("{line}: {verdict}");
                            server.close(now(), CloseCode::NORMAL, "").unwrap();
                        }
                    }
                    Ok(_) => {}
                    Err(error) => line = format!("{line}: message error {error}"),
                },
                Event::Close(close) => {
                    if close.code != CloseCode::NORMAL || close.error.is_some() {
                        line = format!("{line}: closed with {} {:?}", close.code, close.error);
                    }
                }
                Event::Accepted(_) | Event::HandshakeRejected(_) | Event::ProxyRejected(_) => {}
            }
        }
    }
}
