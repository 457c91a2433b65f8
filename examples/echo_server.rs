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
//!
//! Built with `--features deflate`, it accepts permessage-deflate whenever a
//! client offers it (`--no-deflate` turns that off). The loop is the shared
//! one in `examples/blocking/mod.rs`: a reset or broken pipe from the peer
//! ends a connection like EOF, and after the peer's Close it is a clean end.

mod blocking;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use wsmachine::handshake::server::ServerConfig;

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
            // Without the deflate feature there is nothing to turn off; the
            // flag is accepted all the same, so scripts need not care.
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
    config.config.max_message_size = options.max_message_size;
    #[cfg(feature = "deflate")]
    if options.deflate {
        config.config.deflate =
            Some(wsmachine::extensions::permessage_deflate::DeflateConfig::default());
    }
    let config = Arc::new(config);
    // The bound address, not the one asked for: with port 0 the system
    // picks a free port, and this line is how a caller learns it.
    match listener.local_addr() {
        Ok(addr) => eprintln!("echo_server: listening on ws://{addr}"),
        Err(_) => eprintln!("echo_server: listening on ws://{}", options.addr),
    }
    let session = blocking::Options::default();
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let config = Arc::clone(&config);
        let session = session.clone();
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
            blocking::serve_echo(&mut stream, &config, &session, &log);
        });
    }
    ExitCode::SUCCESS
}
