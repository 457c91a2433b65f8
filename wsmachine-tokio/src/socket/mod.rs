//! [`WebSocket`]: the one loop between a transport and the core.
//!
//! Both the [`Stream`](futures_core::Stream) and the
//! [`Sink`](futures_sink::Sink) drive the same state machine,
//! `poll_engine`: take the core's output into a queue and write it, fire
//! the core's timers from a `tokio::time::Sleep`, read into the core when
//! it has no event to give, and shut the transport down once the core is
//! `Closed`. Events are taken from the core one at a time, only when the
//! stream asks for one, so every message waits inside the core (or the
//! socket's assembler) and not inside a future: dropping a pending `next()`
//! loses nothing.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use wsmachine::message::MessageAssembler;
use wsmachine::{Event, State};

use crate::conn::Conn;
use crate::error::Error;
use wsmachine::config::Config;
mod messages;
mod split;
mod streaming;

pub use split::{ReuniteError, SplitSink, SplitStream};
pub use streaming::{MessageReader, MessageWriter};

/// How many writes one vectored write gathers.
const MAX_SLICES: usize = 64;
/// How many reads one poll makes before yielding to the runtime, so that a
/// peer that floods pings cannot hold a worker thread.
const READ_BUDGET: usize = 32;

/// Queued output from which the engine writes before it hands out the next
/// event: small replies gain from waiting for the rest of the read (one
/// write for all), large ones only hold their buffers longer.
const WRITE_AT_ONCE: usize = 256 * 1024;

/// The smallest room lent for a read when the core keeps no buffer
/// (`Config::kept_buffer_capacity` 0): a few small messages' worth.
const MIN_READ_ROOM: usize = 4096;

/// The smallest room lent for a read: the buffer the core keeps for reuse,
/// so that small messages are read into the same allocation again and
/// again instead of a new one per read.
fn min_read_room(config: &wsmachine::config::Config) -> usize {
    match config.kept_buffer_capacity {
        0 => MIN_READ_ROOM,
        kept => kept,
    }
}

/// How long a closed socket goes on reading what the peer still sends.
/// Closing a TCP socket with unread bytes resets the connection, and a
/// reset can destroy our last frames (the Close, after a failure) before
/// the peer reads them; a well-behaved peer closes its side at once.
const LINGER: Duration = Duration::from_secs(2);

/// A WebSocket over a tokio transport: a [`Stream`](futures_core::Stream)
/// of received [`Message`](crate::Message)s and a
/// [`Sink`](futures_sink::Sink) of messages to send.
///
/// Get one from [`connect`](crate::connect), [`accept`](crate::accept) or
/// [`from_upgraded_server`](Self::from_upgraded_server). Pings are
/// answered while the stream is polled; keepalive pings and the close
/// timeout run inside its polling too.
///
/// Effects are in byte order, whatever loop the app writes: what the app
/// sent in reaction to a message goes out before anything later bytes
/// cause. A failure (a protocol violation, a limit, a timeout) is handed
/// out as one `Err` after every message that preceded it, and only once
/// the replies queued before it and the failure's Close (1002, 1007,
/// 1009, ...) are written and the transport is shut down, within the close
/// timeout; only a transport error cuts that short. The peer's Close is
/// handed out once our answer is written. So a loop that stops at the
/// first error (`let msg = msg?;`) or at the Close and drops the socket
/// has still sent everything. After its end the stream gives `None`
/// ([`FusedStream`](futures_core::FusedStream)).
///
/// `send` writes a message at once. `feed` queues it without writing (until
/// the queue is over [`Config::high_water_mark`]), and the stream writes
/// the whole queue before it waits for the transport: replies fed for the
/// messages of one read go out in one write.
pub struct WebSocket<S> {
    conn: Conn,
    io: S,
    epoch: Instant,
    assembler: MessageAssembler,
    out: VecDeque<Bytes>,
    out_len: usize,
    needs_flush: bool,
    /// `poll_ready` is pending on the high-water mark: the stream wakes the
    /// sender once reading has written the queue below it.
    sink_waiting: bool,
    sleep: Option<(Duration, Pin<Box<Sleep>>)>,
    wakers: Arc<Wakers>,
    proxy: Waker,
    /// The room to lend for the next read: it follows what reads bring,
    /// from `min_read_room` up to `Config::read_buffer`, since the core
    /// holds the room it lends until its buffer is empty again.
    read_room: usize,
    /// The transport gave its end (EOF or a reset); the core was told.
    read_done: bool,
    /// The transport ended while this side was already closing, so an end
    /// without the peer's Close is clean.
    ended_while_closing: bool,
    /// A transport error for the stream, after the core's pending events.
    io_error: Option<io::Error>,
    /// Nothing more is read or written.
    io_dead: bool,
    /// The transport is shut down for writing; what the peer still sends
    /// is read and dropped until its end or this deadline.
    linger: Option<Pin<Box<Sleep>>>,
    /// The transport is shut down; the stream has ended.
    finished: bool,
    /// The bound on finishing once the core is `Closed`: writing what is
    /// owed, the shutdown and the linger together take at most the close
    /// timeout, so a peer that stops reading cannot hold the task.
    finish_deadline: Option<Pin<Box<Sleep>>>,
    /// The connection's failure, held by the stream until what is owed
    /// (the replies queued before it, the failure's Close) is written.
    /// Boxed: an open connection should not carry an error's size.
    failure: Option<Box<Error>>,
    /// The peer's Close, held by the stream until our answer is written.
    /// Boxed, as the other rare states below: an app's task holds the
    /// socket, and its size, for the connection's life.
    closing: Option<Box<crate::Message>>,
    /// The subprotocol the handshake agreed on.
    protocol: Option<Box<str>>,
    /// The stream has handed out its end (`None`, or the failure): every
    /// later poll gives `None`.
    fused: bool,
    /// A message handed out by `recv_streaming` has not been read to its
    /// end: whatever reads next drops the rest of its data.
    skip_rest: bool,
    /// The peer's Close, once `recv_streaming` has seen it.
    peer_close: Option<Box<Option<wsmachine::CloseFrame>>>,
}

/// The tasks to wake when the transport or a timer is ready: the one
/// reading and the one sending, which may differ after `split()`. Every
/// poll of the transport registers this pair, so neither task's waker
/// replaces the other's.
#[derive(Default)]
struct Wakers {
    stream: AtomicWaker,
    sink: AtomicWaker,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.stream.wake();
        self.sink.wake();
    }
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("state", &self.conn.state())
            .field("unflushed", &self.unflushed())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<S> WebSocket<S> {
    pub(crate) fn new(conn: Conn, io: S, epoch: Instant) -> Self {
        let wakers = Arc::new(Wakers::default());
        // The core enforces the message limit and checks text as UTF-8
        // itself; the assembler only joins what the core let through.
        #[allow(unsafe_code)]
        // SAFETY: `poll_message` pushes exactly the frames `conn.poll_event`
        // returns, unmodified and in order, and nothing else.
        let assembler = unsafe { MessageAssembler::for_connection(usize::MAX) };
        let read_room = min_read_room(conn.config());
        WebSocket {
            conn,
            io,
            epoch,
            assembler,
            out: VecDeque::new(),
            out_len: 0,
            needs_flush: false,
            sink_waiting: false,
            sleep: None,
            proxy: Waker::from(Arc::clone(&wakers)),
            wakers,
            read_room,
            read_done: false,
            ended_while_closing: false,
            io_error: None,
            io_dead: false,
            linger: None,
            finished: false,
            finish_deadline: None,
            failure: None,
            closing: None,
            protocol: None,
            fused: false,
            skip_rest: false,
            peer_close: None,
        }
    }

    /// The time on the socket's clock: since it was made, on tokio's clock
    /// (so a paused test clock controls the core's timers).
    pub(crate) fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }

    pub(crate) fn conn(&self) -> &Conn {
        &self.conn
    }

    /// The connection's state, as the core sees it.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Bytes queued for the transport and not yet written.
    pub fn unflushed(&self) -> usize {
        self.out_len.saturating_add(self.conn.pending_output())
    }

    /// The connection's settings, as it was made with them.
    pub fn config(&self) -> &Config {
        self.conn.config()
    }

    /// The subprotocol the handshake agreed on, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    pub(crate) fn set_protocol(&mut self, protocol: Option<String>) {
        self.protocol = protocol.map(String::into_boxed_str);
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport, to change its settings (`set_nodelay`, ...). Reading
    /// or writing it directly breaks the connection's framing.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Moves the core's output into the write queue. Sends leave their
    /// frames in the core until the engine is about to write, so that the
    /// replies to one read are taken as one buffer, not one each.
    pub(crate) fn take_output(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.out_len += bytes.len();
            self.out.push_back(bytes);
        }
    }
}

/// A transport end that is an end, not a failure: after a Close it is the
/// normal way for a peer to go, and before one the core reports it as 1006.
pub(crate) fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Runs `f` with a context whose waker is the proxy, which wakes both
    /// tasks. The proxy is lent out of `self` for the call rather than
    /// cloned: a clone and its drop are two atomic operations on every poll,
    /// and the transport clones it itself when it must keep it.
    fn with_proxy<T>(&mut self, f: impl FnOnce(&mut Self, &mut Context<'_>) -> T) -> T {
        let proxy = std::mem::replace(&mut self.proxy, Waker::noop().clone());
        let result = f(self, &mut Context::from_waker(&proxy));
        self.proxy = proxy;
        result
    }

    /// Writes the queue out, then flushes the transport.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let written = if self.out.len() > 1 && self.io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = self.out.len().min(MAX_SLICES);
                for (slice, bytes) in slices.iter_mut().zip(self.out.iter()) {
                    *slice = IoSlice::new(bytes);
                }
                let slices = slices.get(..count).unwrap_or_default();
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, slices))?
            } else {
                let front = self.out.front().map(|b| &b[..]).unwrap_or_default();
                ready!(Pin::new(&mut self.io).poll_write(cx, front))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance_out(written);
            self.needs_flush = true;
        }
        if self.needs_flush {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.needs_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    fn advance_out(&mut self, mut written: usize) {
        self.out_len = self.out_len.saturating_sub(written);
        while written > 0 {
            let Some(front) = self.out.front_mut() else {
                return;
            };
            if written >= front.len() {
                written -= front.len();
                self.out.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }

    /// Fires the core's timers when due; arms the sleep otherwise. Returns
    /// whether a timer fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(at) = self.conn.poll_timeout() else {
            self.sleep = None;
            return false;
        };
        let now = self.now();
        if at > now {
            let deadline = self.epoch + at;
            match &mut self.sleep {
                Some((armed, sleep)) if *armed == at => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return false;
                    }
                }
                slot => {
                    let mut sleep = Box::pin(tokio::time::sleep_until(deadline));
                    let pending = sleep.as_mut().poll(cx).is_pending();
                    *slot = Some((at, sleep));
                    if pending {
                        return false;
                    }
                }
            }
        }
        self.sleep = None;
        let now = self.now().max(at);
        self.conn.handle_timeout(now);
        true
    }

    /// The transport ended (EOF, or a reset): tell the core, which reports
    /// it in order, after the events of the bytes before it.
    fn transport_ended(&mut self) {
        if self.read_done {
            return;
        }
        self.read_done = true;
        self.ended_while_closing = self.conn.state() == State::Closing;
        let now = self.now();
        // Sticky, and reported by the core as its Close event.
        let _ = self.conn.receive_eof(now);
    }

    /// A transport error: a reset ends the transport, anything else is
    /// kept for the stream and stops all I/O.
    fn io_failed(&mut self, error: io::Error) {
        if is_reset(&error) {
            // Nothing written now would arrive.
            self.out.clear();
            self.out_len = 0;
            self.transport_ended();
        } else if !self.io_dead {
            self.io_dead = true;
            self.out.clear();
            self.out_len = 0;
            self.io_error = Some(error);
        }
    }

    /// Reads and drops what the peer sends after the end, until its end of
    /// the transport or the linger deadline.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while !self.read_done {
            if let Some(linger) = &mut self.linger
                && linger.as_mut().poll(cx).is_ready()
            {
                break;
            }
            let mut scratch = [0u8; 4096];
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => {}
                _ => self.read_done = true,
            }
        }
        Poll::Ready(())
    }

    /// Ends a connection the core has `Closed`: writes what is owed (the
    /// engine's loop has just tried), shuts the transport down and lingers,
    /// all within the close timeout; past it, what is left unwritten is
    /// dropped, since a peer that does not read would never take it.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.finish_expired(cx) {
            if !self.out.is_empty() || self.needs_flush {
                return Poll::Pending;
            }
            // RFC 6455 §7.1.1: the transport closes once the closing
            // handshake is over (a server first; a client after the
            // server, or on its timer). A failed shutdown changes nothing:
            // the connection is over either way.
            if self.linger.is_none() {
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                self.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
            }
            ready!(self.poll_linger(cx));
        }
        self.out.clear();
        self.out_len = 0;
        self.needs_flush = false;
        self.finished = true;
        self.linger = None;
        self.finish_deadline = None;
        Poll::Ready(())
    }

    /// Whether the close timeout, armed at the first call once the
    /// connection is ending, has passed.
    fn finish_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let timeout = self.config().close_timeout;
        self.finish_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)))
            .as_mut()
            .poll(cx)
            .is_ready()
    }

    /// One read into `len` bytes of room the core lends uninitialised, so
    /// that no byte is zeroed before the transport writes it; returns the
    /// read's outcome and how many bytes it brought.
    #[allow(unsafe_code)]
    fn read_into_core(
        &mut self,
        cx: &mut Context<'_>,
        now: Duration,
        len: usize,
    ) -> (Poll<io::Result<()>>, usize) {
        let io = &mut self.io;
        // Committing nothing gives the room back, so an idle connection
        // holds no read buffer.
        //
        // SAFETY: the `ReadBuf` is made over the room lent, and it keeps its
        // filled part initialised: safe code can fill it only by writing
        // bytes, and a reader that claims bytes are initialised (its
        // `unsafe` `assume_init`) must have written them. So the first
        // `filled` bytes of the room are initialised.
        let (polled, filled) = unsafe {
            self.conn.read_uninit(now, len, |room| {
                let mut buf = ReadBuf::uninit(room);
                let polled = Pin::new(io).poll_read(cx, &mut buf);
                let filled = buf.filled().len();
                ((polled, filled), filled)
            })
        };
        (polled, filled)
    }

    /// Reads once, straight into the core's receive buffer.
    fn poll_read_in(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let now = self.now();
        let room_len = self
            .conn
            .receive_size_hint(self.read_room.clamp(1, self.config().read_buffer.max(1)));
        let (polled, filled) = self.read_into_core(cx, now, room_len);
        if polled.is_ready() {
            // A read that filled its room asks for twice as much next time;
            // one that brought little lets the room shrink back.
            self.read_room = if filled == room_len {
                room_len.saturating_mul(2)
            } else {
                filled.saturating_mul(2).max(min_read_room(self.config()))
            };
        }
        match polled {
            Poll::Pending => {
                // The core let go of its buffers (nothing was received and
                // nothing is owed): an idle connection holds none, and
                // neither does the queue of output written.
                if self.out.is_empty() {
                    self.out = VecDeque::new();
                }
                Poll::Pending
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(())) => {
                if filled == 0 {
                    self.transport_ended();
                }
                Poll::Ready(Ok(()))
            }
        }
    }

    /// The engine: the next core event, `None` once the transport is shut
    /// down, or a transport error. Writes, timers and reads happen here.
    pub(crate) fn poll_engine(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Event>, Error>> {
        self.wakers.stream.register(cx.waker());
        self.with_proxy(Self::run_engine)
    }

    /// The engine's loop, polled with the proxy waker.
    fn run_engine(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Event>, Error>> {
        let mut budget = READ_BUDGET;
        loop {
            if self.finished {
                return Poll::Ready(Ok(None));
            }
            if self.unflushed() >= WRITE_AT_ONCE && !self.io_dead {
                self.take_output();
                if let Poll::Ready(Err(error)) = self.poll_write_out(cx) {
                    self.io_failed(error);
                }
            }
            if let Some(event) = self.conn.poll_event() {
                return Poll::Ready(Ok(Some(event)));
            }
            if let Some(error) = self.io_error.take() {
                return Poll::Ready(Err(Error::Io(error)));
            }
            if self.io_dead {
                self.finished = true;
                return Poll::Ready(Ok(None));
            }
            self.take_output();
            if let Poll::Ready(Err(error)) = self.poll_write_out(cx) {
                self.io_failed(error);
                continue;
            }
            if self.conn.state() == State::Closed {
                return self.poll_finish(cx).map(|()| Ok(None));
            }
            if self.poll_timer(cx) {
                continue;
            }
            // Backpressure: a peer that does not read its pongs and echoes
            // is not read from either. The app's own sends wait on the mark
            // themselves: while one waits (`sink_waiting`), reading goes on
            // up to twice the mark, so that a task that sends and reads at
            // once (split halves, a streamed message and its echo) does not
            // wait on a peer that waits on it to read.
            let mark = if self.sink_waiting {
                self.config().high_water_mark.saturating_mul(2)
            } else {
                self.config().high_water_mark
            };
            if self.read_done || self.unflushed() > mark {
                return Poll::Pending;
            }
            if budget == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            match ready!(self.poll_read_in(cx)) {
                Ok(()) => {}
                Err(error) => self.io_failed(error),
            }
        }
    }

    /// The sending side's share of the engine: write, and fire timers.
    /// Never reads, so a task that only sends cannot take the reader's
    /// place on the transport.
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        self.wakers.sink.register(cx.waker());
        self.with_proxy(Self::run_output)
    }

    /// `poll_output`'s loop, polled with the proxy waker.
    fn run_output(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        loop {
            if self.io_dead || self.finished {
                return Err(Error::Closed);
            }
            self.take_output();
            if let Poll::Ready(Err(error)) = self.poll_write_out(cx) {
                self.io_failed(error);
                // The reader reports how the connection ended.
                self.wakers.stream.wake();
                continue;
            }
            if !self.poll_timer(cx) {
                return Ok(());
            }
            // A timer's effects (a keepalive ping, a timeout's Close) are
            // the reader's to see.
            self.wakers.stream.wake();
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// The server's socket on a stream another HTTP stack already upgraded
    /// (hyper's `upgrade::on`, axum, an HTTP/2 extended CONNECT stream),
    /// open from the start with what the handshake agreed (`negotiated`:
    /// the subprotocol and the extensions, such as permessage-deflate) and
    /// `config`'s settings.
    pub fn from_upgraded_server(
        io: S,
        config: &wsmachine::handshake::server::ServerConfig,
        negotiated: &wsmachine::handshake::Negotiated,
    ) -> Self {
        let server = wsmachine::Server::new_upgraded(config, negotiated, Duration::ZERO);
        let mut ws = WebSocket::new(Conn::Server(Box::new(server)), io, Instant::now());
        ws.set_protocol(negotiated.protocol().map(String::from));
        ws
    }

    /// The client's socket on a stream another HTTP stack already upgraded
    /// (an HTTP/2 extended CONNECT stream the client opened): as
    /// [`from_upgraded_server`](Self::from_upgraded_server), masking every
    /// frame.
    pub fn from_upgraded_client(
        io: S,
        config: &wsmachine::handshake::client::ClientConfig,
        negotiated: &wsmachine::handshake::Negotiated,
    ) -> Self {
        let client = wsmachine::Client::new_upgraded(
            config,
            negotiated,
            wsmachine::entropy::OsEntropy::new(),
            Duration::ZERO,
        );
        let mut ws = WebSocket::new(Conn::Client(Box::new(client)), io, Instant::now());
        ws.set_protocol(negotiated.protocol().map(String::from));
        ws
    }
}
