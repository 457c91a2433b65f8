//! The echo server on tokio: a multi-thread runtime and a task per
//! connection.
//!
//! ```text
//! cargo run --example tokio_echo [-- ADDR] [--max-message-size N] [--no-deflate] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9002, so that it can run beside `echo_server`
//! (9001). It behaves as `echo_server` does: every text or binary message is
//! echoed back whole, as the same type; bad upgrade requests get the crate's
//! ready HTTP error response; one line per connection event goes to stderr.
//!
//! The loop is the blocking one made async: the read and the machine's next
//! timer (`poll_timeout`, as a `tokio::time::sleep_until`) race in a
//! `tokio::select!`; see `common::run_echo`.

mod common;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use wsmachine::Server;
use wsmachine::handshake::server::ServerConfig;

use common::{Clock, ConnLog, LogSink, run_echo, stderr_sink};

/// How long a client may take to send its upgrade request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The command line.
pub struct Options {
    /// Where to listen.
    pub addr: String,
    /// The largest message (and frame) accepted.
    pub max_message_size: u64,
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
            // Accepted for the command line's stability, as in echo_server.
            "--no-deflate" => {}
            "--quiet" | "-q" => options.quiet = true,
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            addr => options.addr = addr.into(),
        }
    }
    Ok(options)
}

/// The server configuration for a message size limit.
pub fn server_config(max_message_size: u64) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.limits.max_message_size = max_message_size;
    config.config.limits.max_frame_payload = max_message_size;
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
    eprintln!("tokio_echo: listening on ws://{}", options.addr);
    let config = Arc::new(server_config(options.max_message_size));
    serve(
        listener,
        config,
        HANDSHAKE_TIMEOUT,
        stderr_sink(options.quiet),
    )
    .await;
    ExitCode::SUCCESS
}

/// Accepts connections forever, each in its own task.
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    sink: Option<LogSink>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors, usually: wait for some to come back
                // rather than spin.
                if let Some(sink) = &sink {
                    sink(&format!("accept failed: {error}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let config = Arc::clone(&config);
        let log = ConnLog::new(peer, sink.clone());
        tokio::spawn(async move {
            if let Err(error) = serve_connection(stream, &config, handshake_timeout, &log).await {
                log.line(&format!("transport error: {error}"));
            }
        });
    }
}

/// Runs one connection to its end: the handshake, then the echo.
///
/// # Errors
/// A transport error.
pub async fn serve_connection(
    stream: TcpStream,
    config: &ServerConfig,
    handshake_timeout: Duration,
    log: &ConnLog,
) -> io::Result<()> {
    // Frames are small and interactive: send them as soon as they are
    // written.
    stream.set_nodelay(true)?;
    let clock = Clock::start();
    let server = Server::new(config.clone());
    let max_message_size =
        usize::try_from(config.config.limits.max_message_size).unwrap_or(usize::MAX);
    run_echo(
        server,
        clock,
        stream,
        max_message_size,
        handshake_timeout,
        log,
    )
    .await
}
