//! The echo server on the driver: a multi-thread runtime, a task per
//! connection, permessage-deflate on.
//!
//! ```text
//! cargo run -p wsmachine-tokio --example tokio_echo [-- ADDR] [--max-message-size N] [--no-deflate] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9002 (beside `echo_server` on 9001). It keeps
//! `echo_server`'s contract: every text or binary message comes back whole,
//! as the same type; a bad upgrade request gets the core's ready HTTP
//! response and the server goes on; one line per connection event goes to
//! stderr.

mod common;

use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::{Decision, Error};

pub use common::LogSink;

/// The command line.
pub struct Options {
    /// Where to listen.
    pub addr: String,
    /// The largest message (and frame) accepted.
    pub max_message_size: u64,
    /// Accept permessage-deflate when offered.
    pub deflate: bool,
    /// No connection log.
    pub quiet: bool,
}

/// Parses the arguments after the program name.
///
/// # Errors
/// A message for the user.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:9002".into(),
        max_message_size: 16 << 20,
        deflate: true,
        quiet: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--max-message-size" => {
                let value = args.next().ok_or("--max-message-size needs a value")?;
                options.max_message_size =
                    value.parse().map_err(|_| format!("bad size {value:?}"))?;
            }
            "--no-deflate" => options.deflate = false,
            "--quiet" | "-q" => options.quiet = true,
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            addr => options.addr = addr.into(),
        }
    }
    Ok(options)
}

/// The server configuration for the options.
pub fn server_config(options: &Options) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.max_message_size = options.max_message_size;
    if options.deflate {
        config.config.deflate = Some(DeflateConfig::default());
    }
    config
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("tokio_echo: {message}");
            eprintln!("usage: tokio_echo [ADDR] [--max-message-size N] [--no-deflate] [--quiet]");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&options.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("tokio_echo: cannot listen on {}: {error}", options.addr);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => eprintln!("tokio_echo: listening on ws://{addr}"),
        Err(_) => eprintln!("tokio_echo: listening on ws://{}", options.addr),
    }
    let sink: Option<LogSink> = if options.quiet {
        None
    } else {
        Some(Arc::new(|line: &str| eprintln!("{line}")))
    };
    serve(listener, Arc::new(server_config(&options)), sink).await;
    ExitCode::SUCCESS
}

/// Accepts connections forever, each in its own task.
pub async fn serve(listener: TcpListener, config: Arc<ServerConfig>, sink: Option<LogSink>) {
    common::accept_forever(listener, sink, move |stream, log| {
        let config = Arc::clone(&config);
        async move { serve_connection(stream, &config, &|line| log.line(line)).await }
    })
    .await;
}

/// Runs one connection to its end: the handshake, then the echo.
pub async fn serve_connection(
    stream: TcpStream,
    config: &ServerConfig,
    log: &(dyn Fn(&str) + Sync),
) {
    // Frames are small and interactive: send them as soon as they are
    // written.
    let _ = stream.set_nodelay(true);
    let accepted = wsmachine_tokio::accept_with(stream, config.clone(), |request| {
        log(&format!("accepted {}", request.target()));
        Decision::accept()
    })
    .await;
    let ws = match accepted {
        Ok(ws) => ws,
        Err(Error::Handshake(error)) => {
            log(&format!(
                "handshake failed: kind={} status={} ({error})",
                error.kind().as_str(),
                error
                    .status()
                    .map_or("none".into(), |status| status.to_string())
            ));
            return;
        }
        Err(error) => {
            log(&format!("handshake failed: {error}"));
            return;
        }
    };
    common::echo(ws, log).await;
}
