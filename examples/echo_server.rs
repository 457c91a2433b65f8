//! A blocking echo server: one thread per connection, no async runtime.
//!
//! ```text
//! cargo run --example echo_server [-- ADDR] [--max-message-size N] [--no-deflate] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9001; with port 0 the system picks a free
//! port, and the `listening on` line names it. Every text or binary message is echoed
//! back whole, as the same type. Bad upgrade requests get the crate's ready
//! HTTP error response, and the server goes on serving others. One line per
//! connection event goes to stderr.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{Error, Event, Server};

struct Options {
    addr: String,
    max_message_size: u64,
    quiet: bool,
    /// Offer permessage-deflate when built with the `deflate` feature.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    deflate: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:9001".into(),
        max_message_size: 16 << 20,
        quiet: false,
        deflate: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-message-size" => {
                let value = args.next().ok_or("--max-message-size needs a value")?;
                options.max_message_size =
                    value.parse().map_err(|_| format!("bad size {value:?}"))?;
            }
            // Accepted for the command line's stability; compression arrives
            // with the deflate feature.
            "--no-deflate" => options.deflate = false,
            "--quiet" | "-q" => options.quiet = true,
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            addr => options.addr = addr.into(),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("echo_server: {message}");
            eprintln!("usage: echo_server [ADDR] [--max-message-size N] [--no-deflate] [--quiet]");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&options.addr) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("echo_server: cannot listen on {}: {error}", options.addr);
            return ExitCode::FAILURE;
        }
    };
    let mut config = ServerConfig::default();
    config.config.limits.max_message_size = options.max_message_size;
    config.config.limits.max_frame_payload = options.max_message_size;
    #[cfg(feature = "deflate")]
    if options.deflate {
        config.deflate = Some(wsmachine::extensions::permessage_deflate::DeflateConfig::default());
    }
    let config = Arc::new(config);
    // The bound address, not the one asked for: with port 0 the system
    // picks a free port, and this line is how a caller learns it.
    match listener.local_addr() {
        Ok(addr) => eprintln!("echo_server: listening on ws://{addr}"),
        Err(_) => eprintln!("echo_server: listening on ws://{}", options.addr),
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = Arc::clone(&config);
        let quiet = options.quiet;
        std::thread::spawn(move || {
            let peer = stream.peer_addr().ok();
            let log = |line: &str| {
                if !quiet {
                    match peer {
                        Some(peer) => eprintln!("{peer} {line}"),
                        None => eprintln!("? {line}"),
                    }
                }
            };
            if let Err(error) = serve(stream, &config, &log) {
                log(&format!("transport error: {error}"));
            }
        });
    }
    ExitCode::SUCCESS
}

/// Runs one connection to its end.
fn serve(mut stream: TcpStream, config: &ServerConfig, log: &dyn Fn(&str)) -> io::Result<()> {
    let start = Instant::now();
    let now = || start.elapsed();
    let mut server = Server::new(config.clone());
    let mut assembler = MessageAssembler::new(config.config.limits.max_message_size as usize);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(bytes) = server.poll_transmit() {
            stream.write_all(&bytes)?;
        }
        if server.is_closed() {
            // RFC 6455 §7.1.1: the server closes the TCP connection first.
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        let wait = server
            .poll_timeout()
            .map(|deadline| deadline.saturating_sub(now()).max(Duration::from_millis(1)));
        stream.set_read_timeout(wait)?;
        let result = match stream.read(&mut buf) {
            Ok(0) => server.receive_eof(now()),
            Ok(n) => server.receive(now(), &buf[..n]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                server.handle_timeout(now());
                Ok(())
            }
            Err(error) => return Err(error),
        };
        if let Err(Error::Handshake(error)) = &result {
            log(&format!(
                "handshake failed: kind={} status={} ({error})",
                error.kind().as_str(),
                error
                    .status()
                    .map_or("none".into(), |status| status.to_string())
            ));
        }
        while let Some(event) = server.poll_event() {
            match event {
                Event::Request(request) => {
                    log(&format!("accepted {}", request.target()));
                    if let Err(error) = server.accept(now(), Accept::default()) {
                        log(&format!("accept failed: {error}"));
                    }
                }
                Event::Frame(frame) => match assembler.push(frame) {
                    Ok(Some(Message::Text(text))) => ignore_closed(server.send_text(text.as_str())),
                    Ok(Some(Message::Binary(data))) => ignore_closed(server.send_binary(&data)),
                    Ok(_) => {}
                    Err(error) => log(&format!("message error: {error}")),
                },
                Event::Close(close) => {
                    let cause = close
                        .error
                        .map(|error| format!(" error: {error}"))
                        .unwrap_or_default();
                    log(&format!(
                        "closed: code={} initiator={:?}{cause}",
                        close.code, close.initiator
                    ));
                }
                Event::Accepted(_) | Event::HandshakeRejected(_) | Event::ProxyRejected(_) => {}
            }
        }
    }
}

/// Sending fails only once the connection is closing; the peer's Close is
/// already being answered then, so the echo is dropped.
fn ignore_closed(result: Result<(), wsmachine::SendError>) {
    let _ = result;
}
