//! The blocking `std::net` loop of every blocking example, written once:
//! it moves bytes between a [`TcpStream`] and a [`Connection`] of either
//! role, runs the connection's timers on an [`Instant`] clock, and calls the
//! app back after each event.
//!
//! Not an example of its own: cargo builds only `examples/*.rs` and
//! `examples/*/main.rs` as examples. Each example (and `tests/it/blocking_loops.rs`)
//! includes it with `mod blocking;` or a `#[path]`, and uses a part of it.
#![allow(dead_code)]

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{Close, Connection, Error, Event, Role, Server, State};

/// What the app does with the connection's events.
///
/// A closure `FnMut(&mut Connection<R>, Event, Duration)` is an app.
pub trait App<R: Role> {
    /// Reacts to one event. It may send, close, accept or reject; what it
    /// queues is written before anything caused by later bytes. `now` is the
    /// loop's clock, for `close` and `accept`.
    fn on_event(&mut self, conn: &mut Connection<R>, event: Event, now: Duration);

    /// Sees each piece of output as it goes on the wire.
    fn on_write(&mut self, _bytes: &[u8]) {}
}

impl<R: Role, F: FnMut(&mut Connection<R>, Event, Duration)> App<R> for F {
    fn on_event(&mut self, conn: &mut Connection<R>, event: Event, now: Duration) {
        self(conn, event, now)
    }
}

/// How the loop treats its socket.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bytes read from the socket at a time, at most: the connection lends
    /// this much room of its receive buffer, or less when a large frame
    /// ends sooner, or more when it already has the room
    /// (`receive_size_hint`).
    pub read_buffer: usize,
    /// A bound on one write: a peer that stops reading cannot hold the loop
    /// forever.
    pub write_timeout: Duration,
    /// A bound on the whole session, for tests and one-shot clients; `None`
    /// leaves it to the connection's own timers.
    pub time_limit: Option<Duration>,
    /// How long the loop, once done, reads and drops what the peer still
    /// sends before it closes the socket (see [`run`]).
    pub linger: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            read_buffer: 64 * 1024,
            write_timeout: Duration::from_secs(30),
            time_limit: None,
            linger: Duration::from_secs(2),
        }
    }
}

/// How a session ended.
#[derive(Debug)]
pub enum Outcome {
    /// The peer's Close arrived with no failure before it: the closing
    /// handshake is done, whatever the peer did to TCP after it.
    Clean(Close),
    /// The connection ended before opening and without an error: the server
    /// rejected the handshake (client), or the app rejected it (server).
    NotOpened,
    /// The connection failed: the core's error, with the Close event when
    /// the connection had opened.
    Failed {
        /// Why, from `Event::Close`, `Connection::error` or `receive`.
        error: Error,
        /// The Close event, if one was emitted.
        close: Option<Close>,
    },
    /// The transport failed with something other than its end (EOF, reset,
    /// abort, broken pipe), or the session's time limit passed.
    Io(io::Error),
}

impl Outcome {
    /// Whether the closing handshake completed.
    pub fn is_clean(&self) -> bool {
        matches!(self, Outcome::Clean(_))
    }

    /// The Close event, clean or not.
    pub fn close(&self) -> Option<&Close> {
        match self {
            Outcome::Clean(close) => Some(close),
            Outcome::Failed { close, .. } => close.as_ref(),
            Outcome::NotOpened | Outcome::Io(_) => None,
        }
    }
}

/// A session's outcome and its traffic.
#[derive(Debug)]
pub struct Report {
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes read from the socket.
    pub bytes_read: usize,
    /// Bytes written to the socket.
    pub bytes_written: usize,
}

/// The transport's end as the peer's doing: EOF, a reset, an abort or a
/// broken pipe all mean the peer is gone, and are told to the connection as
/// EOF. Whether that was clean is the connection's call, not the socket's.
fn is_transport_end(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// What the loop has learnt of the session so far.
#[derive(Default)]
struct Progress {
    /// A Close event without an error: the peer's Close arrived.
    clean: Option<Close>,
    /// A Close event with an error.
    failed: Option<Close>,
    /// The first error `receive` returned.
    receive_error: Option<Error>,
    /// The transport ended (EOF, reset, broken pipe) and the connection was
    /// told with `receive_eof`.
    input_ended: bool,
    /// The events after the end were drained once.
    drained_after_end: bool,
    /// A reset or broken pipe: nothing can be written any more.
    peer_gone: bool,
}

impl Progress {
    fn note(&mut self, result: Result<(), Error>) {
        if let Err(error) = result
            && self.receive_error.is_none()
        {
            self.receive_error = Some(error);
        }
    }

    fn outcome<R: Role>(self, conn: &Connection<R>) -> Outcome {
        if let Some(close) = self.clean {
            return Outcome::Clean(close);
        }
        let error = self
            .failed
            .as_ref()
            .and_then(|close| close.error.clone())
            .or_else(|| conn.error().cloned())
            .or(self.receive_error);
        // A Close event with an error always gave one, so without an error
        // no Close was missed: the connection never opened.
        match error {
            Some(error) => Outcome::Failed {
                error,
                close: self.failed,
            },
            None => Outcome::NotOpened,
        }
    }
}

/// Runs `conn` over `stream` to its end, calling `app` after each event.
///
/// The order is the one the core documents: read, `receive`, drain
/// `poll_event` (the app reacts to each), write all of `poll_transmit`, close
/// the socket once the state is Closed, and otherwise wait for input no
/// longer than `poll_timeout`, calling `handle_timeout` when it is due. The
/// clock is the time since this call started. The core's handshake deadline
/// bounds a connection that never gets going; the loop has no timer of its
/// own.
pub fn run<R: Role>(
    stream: &mut TcpStream,
    conn: &mut Connection<R>,
    app: &mut impl App<R>,
    options: &Options,
) -> Report {
    let start = Instant::now();
    let mut report = Report {
        outcome: Outcome::NotOpened,
        bytes_read: 0,
        bytes_written: 0,
    };
    let mut progress = Progress::default();
    let outcome = drive(
        stream,
        conn,
        app,
        options,
        start,
        &mut progress,
        &mut report,
    );
    // RFC 6455 §7.1.1: the server closes the TCP connection first; a client
    // gets here after the server's EOF or the close timeout.
    if outcome.is_ok() && !progress.peer_gone {
        linger(stream, options.linger);
    }
    let _ = stream.shutdown(Shutdown::Both);
    report.outcome = match outcome {
        Ok(()) => progress.outcome(conn),
        Err(error) => Outcome::Io(error),
    };
    report
}

/// Sends FIN after the last output, then reads and drops the peer's input
/// until its end, an error or `limit`. Closing a socket that has unread
/// input resets it, and a reset throws away output the kernel has not yet
/// sent: after a failure (a bad frame with more bytes behind it) or a
/// rejection, that would be the Close or the HTTP response the peer most
/// needs, and a proxy in between passes the loss on.
fn linger(stream: &mut TcpStream, limit: Duration) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let until = Instant::now() + limit;
    let mut scratch = [0u8; 4096];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn drive<R: Role>(
    stream: &mut TcpStream,
    conn: &mut Connection<R>,
    app: &mut impl App<R>,
    options: &Options,
    start: Instant,
    progress: &mut Progress,
    report: &mut Report,
) -> io::Result<()> {
    // Many small messages go back and forth; do not let Nagle hold them.
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(options.write_timeout))?;
    let now = || start.elapsed();
    // The deadline last fired: a core that did not move it must not make
    // the loop spin.
    let mut fired: Option<Duration> = None;
    loop {
        while let Some(event) = conn.poll_event() {
            if let Event::Close(close) = &event {
                match close.error {
                    None => progress.clean = Some(close.clone()),
                    Some(_) => progress.failed = Some(close.clone()),
                }
            }
            app.on_event(conn, event, now());
        }
        if progress.peer_gone {
            // What is left cannot be delivered.
            while conn.poll_transmit().is_some() {}
        }
        while let Some(bytes) = conn.poll_transmit() {
            match stream.write_all(&bytes) {
                Ok(()) => {
                    report.bytes_written += bytes.len();
                    app.on_write(&bytes);
                }
                // The peer is gone: stop writing, and tell the connection
                // the transport has ended. After the peer's Close, any
                // failure here is just that end.
                Err(error) if is_transport_end(&error) || progress.clean.is_some() => {
                    progress.peer_gone = true;
                    while conn.poll_transmit().is_some() {}
                    if !progress.input_ended {
                        progress.input_ended = true;
                        progress.note(conn.receive_eof(now()));
                    }
                }
                Err(error) => return Err(error),
            }
        }
        if conn.state() == State::Closed {
            return Ok(());
        }
        if progress.input_ended {
            // The end's events come first (the connection takes the end
            // after the bytes before it); then nothing more can arrive.
            if progress.drained_after_end {
                return Ok(());
            }
            progress.drained_after_end = true;
            continue;
        }
        if let Some(limit) = options.time_limit
            && now() >= limit
        {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("the session's time limit of {limit:?} passed"),
            ));
        }
        let deadline = conn.poll_timeout();
        if let Some(deadline) = deadline
            && deadline <= now()
            && fired != Some(deadline)
        {
            fired = Some(deadline);
            conn.handle_timeout(now());
            continue;
        }
        // A zero timeout is an error for std, hence the millisecond.
        let wait = [deadline, options.time_limit]
            .into_iter()
            .flatten()
            .min()
            .map(|until| until.saturating_sub(now()).max(Duration::from_millis(1)));
        stream.set_read_timeout(wait)?;
        // The socket reads straight into the connection's receive buffer.
        let mut room = conn.receive_room(conn.receive_size_hint(options.read_buffer.max(1)));
        match stream.read(&mut room) {
            Ok(0) => {
                drop(room);
                progress.input_ended = true;
                progress.note(conn.receive_eof(now()));
            }
            Ok(n) => {
                report.bytes_read += n;
                // A failed handshake is returned here; a failure in the
                // frames comes as a Close event. Either is sticky.
                progress.note(room.commit(now(), n));
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                drop(room);
                if let Some(deadline) = conn.poll_timeout()
                    && deadline <= now()
                {
                    fired = Some(deadline);
                    conn.handle_timeout(now());
                }
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            // A reset or an abort: the peer is gone, which is the end of
            // the transport and no error of its own.
            Err(error) if is_transport_end(&error) || progress.clean.is_some() => {
                drop(room);
                progress.input_ended = true;
                progress.peer_gone = true;
                progress.note(conn.receive_eof(now()));
            }
            Err(error) => return Err(error),
        }
    }
}

/// One line per connection event, prefixed with the peer's address.
pub type Log<'a> = &'a dyn Fn(&str);

/// The log line of a Close event.
pub fn describe_close(close: &Close) -> String {
    let cause = close
        .error
        .as_ref()
        .map(|error| format!(" error: {error}"))
        .unwrap_or_default();
    format!(
        "closed: code={} initiator={:?}{cause}",
        close.code, close.initiator
    )
}

/// The log line of a session's end, for outcomes other than a Close event.
pub fn describe_outcome(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Clean(_) | Outcome::Failed { close: Some(_), .. } => None,
        Outcome::NotOpened => Some("ended before opening".into()),
        Outcome::Failed {
            error: Error::Handshake(error),
            close: None,
        } => Some(format!(
            "handshake failed: kind={} status={} ({error})",
            error.kind().as_str(),
            error
                .status()
                .map_or("none".into(), |status| status.to_string())
        )),
        Outcome::Failed { error, close: None } => Some(format!("failed: {error}")),
        Outcome::Io(error) => Some(format!("transport error: {error}")),
    }
}

/// The echo server's session: accepts every valid request (with
/// permessage-deflate when `config.deflate` is set and the client offers
/// it), sends every text or binary message back whole as the same type, and
/// logs one line per connection event.
pub fn serve_echo(
    stream: &mut TcpStream,
    config: &ServerConfig,
    options: &Options,
    log: Log<'_>,
) -> Report {
    let mut server = Server::new(config.clone());
    let limit = usize::try_from(config.config.max_message_size).unwrap_or(usize::MAX);
    let mut assembler = MessageAssembler::new(limit);
    let mut app = |server: &mut Server, event: Event, now: Duration| match event {
        // Whole frames: `Config::piece_size` is not set here.
        Event::Piece(_) => {}
        Event::Request(request) => {
            log(&format!("accepted {}", request.target()));
            if let Err(error) = server.accept(now, Accept::default()) {
                log(&format!("accept failed: {error}"));
            }
        }
        // A send fails only once the connection is closing: the peer's
        // Close is being answered then, and the echo is moot.
        Event::Frame(frame) => match assembler.push(frame) {
            Ok(Some(Message::Text(text))) => {
                let _ = server.send_text(text.as_str());
            }
            Ok(Some(Message::Binary(data))) => {
                let _ = server.send_binary_owned(data);
            }
            Ok(_) => {}
            Err(error) => log(&format!("message error: {error}")),
        },
        Event::Close(close) => log(&describe_close(&close)),
        Event::Accepted(_) | Event::HandshakeRejected(_) | Event::ProxyRejected(_) => {}
    };
    let report = run(stream, &mut server, &mut app, options);
    if let Some(line) = describe_outcome(&report.outcome) {
        log(&line);
    }
    report
}
