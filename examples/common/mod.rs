//! What the async examples (`tokio_echo`, `hyper_upgrade`) share: the echo
//! loop of a [`Server`] over any tokio byte stream, with its timers, and the
//! one-line-per-event connection log.
//!
//! Not an example of its own: cargo builds only `examples/*.rs` and
//! `examples/*/main.rs` as examples.

use std::future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::server::Accept;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{Error, Event, SendError, Server, State};

/// Where log lines go: stderr in the examples, a vector in the tests.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The sink the examples use: stderr, or nowhere with `--quiet`.
pub fn stderr_sink(quiet: bool) -> Option<LogSink> {
    if quiet {
        None
    } else {
        Some(Arc::new(|line: &str| eprintln!("{line}")))
    }
}

/// One connection's log: every line starts with the peer's address, as in
/// `echo_server`.
#[derive(Clone)]
pub struct ConnLog {
    peer: String,
    sink: Option<LogSink>,
}

impl ConnLog {
    /// A log for the connection from `peer`.
    pub fn new(peer: impl std::fmt::Display, sink: Option<LogSink>) -> Self {
        ConnLog {
            peer: peer.to_string(),
            sink,
        }
    }

    /// Writes one line.
    pub fn line(&self, line: &str) {
        if let Some(sink) = &self.sink {
            sink(&format!("{} {line}", self.peer));
        }
    }

    /// The line for a failed opening handshake: its kind (for filtering) and
    /// the status the client got.
    pub fn handshake_failed(&self, error: &HandshakeError) {
        self.line(&format!(
            "handshake failed: kind={} status={} ({error})",
            error.kind().as_str(),
            error
                .status()
                .map_or("none".into(), |status| status.to_string())
        ));
    }
}

/// The machine's clock for one connection: the time since the connection
/// started, on tokio's clock (so tests with a paused clock control it).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// The time to pass to the machine.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The tokio instant of a time the machine gave (`poll_timeout`).
    pub fn instant(&self, at: Duration) -> Instant {
        self.epoch + at
    }
}

/// Runs `server` over `stream` to the end of the connection, echoing every
/// text or binary message whole, as the same type.
///
/// `server` may still be waiting for its handshake request (`Server::new`:
/// the request is accepted as it comes) or already open
/// (`Server::new_open`, after another HTTP stack did the upgrade); `clock`
/// must be the one its `now` came from. The machine has no timer for the
/// opening handshake, so this loop drops a connection still connecting
/// `handshake_timeout` after the clock's start.
///
/// # Errors
/// A transport error; the connection is over then.
pub async fn run_echo<S>(
    mut server: Server,
    clock: Clock,
    mut stream: S,
    max_message_size: usize,
    handshake_timeout: Duration,
    log: &ConnLog,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut assembler = MessageAssembler::new(max_message_size);
    let mut buf = vec![0u8; 64 * 1024];
    let mut peer_closed = false;
    loop {
        // After every input and command: write what the machine queued...
        while let Some(bytes) = server.poll_transmit() {
            stream.write_all(&bytes).await?;
        }
        stream.flush().await?;
        // ...and close the transport once it is over. RFC 6455 §7.1.1: the
        // server closes the TCP connection first.
        if server.is_closed() || peer_closed {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        // Wait for bytes, but no later than the machine's next timer (or,
        // while connecting, than the handshake deadline).
        let connecting = server.state() == State::Connecting;
        let deadline = if connecting {
            Some(clock.instant(handshake_timeout))
        } else {
            server.poll_timeout().map(|at| clock.instant(at))
        };
        let result = tokio::select! {
            read = stream.read(&mut buf) => match read? {
                0 => {
                    peer_closed = true;
                    server.receive_eof(clock.now())
                }
                n => server.receive(clock.now(), buf.get(..n).unwrap_or_default()),
            },
            () = sleep_until(deadline) => {
                if connecting {
                    log.line("handshake timed out");
                    let _ = stream.shutdown().await;
                    return Ok(());
                }
                server.handle_timeout(clock.now());
                Ok(())
            }
        };
        if let Err(Error::Handshake(error)) = &result {
            log.handshake_failed(error);
        }
        // An Err is sticky and its reply is queued: drain as usual, and the
        // state is Closed by then.
        while let Some(event) = server.poll_event() {
            match event {
                Event::Request(request) => {
                    log.line(&format!("accepted {}", request.target()));
                    if let Err(error) = server.accept(clock.now(), Accept::default()) {
                        log.line(&format!("accept failed: {error}"));
                    }
                }
                Event::Frame(frame) => match assembler.push(frame) {
                    Ok(Some(Message::Text(text))) => {
                        ignore_closing(server.send_text(text.as_str()))
                    }
                    Ok(Some(Message::Binary(data))) => ignore_closing(server.send_binary(&data)),
                    // Pings are answered by the machine (auto_pong).
                    Ok(_) => {}
                    Err(error) => log.line(&format!("message error: {error}")),
                },
                Event::Close(close) => {
                    let cause = close
                        .error
                        .map(|error| format!(" error: {error}"))
                        .unwrap_or_default();
                    log.line(&format!(
                        "closed: code={} initiator={:?}{cause}",
                        close.code, close.initiator
                    ));
                }
                Event::Accepted(_) | Event::HandshakeRejected(_) | Event::ProxyRejected(_) => {}
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one (so that `select!` only
/// waits for the read).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => future::pending().await,
    }
}

/// Sending fails only once the connection is closing; the peer's Close is
/// already being answered then, so the echo is dropped.
fn ignore_closing(result: Result<(), SendError>) {
    let _ = result;
}
