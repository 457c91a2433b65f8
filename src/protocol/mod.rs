//! The engine both roles share: buffers, frame rules, fragmentation,
//! control frames, the closing handshake, timers and limits.
//!
//! It is split along the flow of a connection:
//! - this file: the engine's state, its buffers, and the phase changes that
//!   [`crate::state::step`] decides;
//! - [`receive`]: received bytes to events, one event per `poll_event`;
//! - [`send`]: the app's messages and control frames to output;
//! - [`closing`]: the closing handshake and the timers.
//!
//! # Effects in byte order
//!
//! A connection behaves as if each received byte were delivered alone, with
//! the app draining events and reacting after every byte. `receive` only
//! buffers (and parses the opening handshake, which nothing can precede);
//! frames are decoded lazily, one event per `poll_event`. So whatever the
//! app sends while it handles an event is queued before anything later
//! bytes cause: a Close echo, a failure's Close, a pong. A failure found in
//! byte N is reported after every event of the bytes before N, and the end
//! of the transport takes effect after the bytes that came before it.
//!
//! Negotiated extensions act through a [`MessageCodec`] at four points:
//! `check_header` asks which RSV bits a message's first frame may carry and
//! whether the message is compressed; `process_partial` and `on_frame` hand
//! it a compressed frame's payload as it arrives and take the inflated bytes;
//! `queue_data` lets it compress what the app sends.

mod closing;
mod output;
mod pieces;
mod receive;
mod recv_buffer;
mod send;
mod timer;

use alloc::boxed::Box;
use alloc::string::String;
use bytes::Bytes;
use core::time::Duration;

use crate::close::CloseCode;
use crate::config::Config;
use crate::entropy::EntropyError;
use crate::error::Error;
use crate::event::{Close, Event, Initiator};
use crate::extensions::MessageCodec;
use crate::frame::{FrameDecoder, Opcode};
use crate::handshake::HandshakeError;
use crate::state::{Input, Phase, State, Step, step};
use crate::utf8::{MessageValidator, Utf8Validator};
use output::Output;
use recv_buffer::LARGE_FRAME_START;
pub(crate) use recv_buffer::RecvBuffer;
use timer::{Timer, TimerTable};

/// Where masking keys for outgoing frames come from: nowhere for a server,
/// the caller's entropy for a client.
pub trait MaskSource {
    /// The key for the next outgoing frame, or `None` when frames are not
    /// masked.
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, EntropyError>;
}

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl DataKind {
    fn opcode(self) -> Opcode {
        match self {
            DataKind::Text => Opcode::Text,
            DataKind::Binary => Opcode::Binary,
        }
    }
}

/// Where a frame stands in its message, for
/// [`Connection::send_fragment`](crate::Connection::send_fragment) and
/// [`Connection::begin_frame`](crate::Connection::begin_frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// The first fragment of a new message of this kind.
    First(DataKind),
    /// A middle fragment.
    Continue,
    /// The final fragment.
    Last,
    /// A whole message of this kind in one frame.
    Whole(DataKind),
}

/// Below this size an owned payload is copied into the output buffer like a
/// borrowed one: one transmit instead of three costs less than the copy.
const OWNED_PAYLOAD_MIN: usize = 1024;

/// The message being received.
#[derive(Clone, Debug, Default)]
struct Incoming {
    /// The kind of the fragmented message in progress.
    message: Option<DataKind>,
    /// Whether the message in progress is compressed (RSV1 on its first
    /// frame).
    compressed: bool,
    /// The size of that message so far: its payload in earlier frames, or
    /// for a compressed message every byte inflated so far.
    size: u64,
    /// Whether the current frame's payload is text to validate.
    frame_is_text: bool,
    /// Whether the current frame's payload is to be inflated.
    frame_is_compressed: bool,
    /// Payload bytes of the current frame already validated or inflated.
    processed: usize,
    utf8: MessageValidator,
    /// The message's progress when its payload goes out in pieces; boxed,
    /// and made on first use, so that the whole-frame path's state stays
    /// small.
    pieces: Option<alloc::boxed::Box<pieces::Pieces>>,
}

/// The message being sent.
#[derive(Clone, Debug, Default)]
struct Outgoing {
    message: Option<DataKind>,
    /// Whether the fragmented message in progress is compressed.
    compressed: bool,
    utf8: Utf8Validator,
    /// A frame whose payload the app writes in pieces
    /// (`Connection::begin_frame`).
    frame: Option<send::OpenFrame>,
    /// Control frames the connection sends while such a frame is open
    /// (pongs, a Close reply): they follow its last byte.
    deferred: bytes::BytesMut,
}

/// The shared engine. See the module docs.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    is_client: bool,
    phase: Phase,
    /// Received bytes not yet consumed, and room for the next read.
    pub(crate) recv: RecvBuffer,
    /// The transport has ended; this takes effect once the bytes received
    /// before it are consumed.
    eof: bool,
    /// The caller's clock at the latest input: effects of received bytes
    /// (timers armed by a Close) happen at the time the bytes came.
    latest_now: Duration,
    /// Whether the caller's clock has been seen, which starts the handshake
    /// deadline.
    clock_started: bool,
    decoder: FrameDecoder,
    incoming: Incoming,
    outgoing: Outgoing,
    /// Bytes for the transport.
    out: Output,
    /// Events not yet taken: at most the handshake's and a failure's, since
    /// frames are decoded only when the app asks for the next event.
    events: crate::event::EventQueue,
    /// Boxed: it is rare, and an open connection should not carry its size.
    error: Option<Box<Error>>,
    timers: TimerTable,
    /// The payload of the keepalive ping awaiting its pong.
    awaited_pong: Option<[u8; 8]>,
    pings_sent: u64,
    /// The negotiated extensions' work on data messages.
    codec: MessageCodec,
}

impl Engine {
    pub(crate) fn new(config: Config, is_client: bool) -> Self {
        let kept = config.kept_buffer_capacity;
        Engine {
            config,
            is_client,
            phase: Phase::Handshake,
            recv: RecvBuffer::new(kept),
            eof: false,
            latest_now: Duration::ZERO,
            clock_started: false,
            decoder: FrameDecoder::new(),
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            out: Output::new(kept),
            events: crate::event::EventQueue::new(),
            error: None,
            timers: TimerTable::default(),
            awaited_pong: None,
            pings_sent: 0,
            codec: MessageCodec::none(),
        }
    }

    /// A read that found nothing, with nothing received before it, let go
    /// of the receive buffer (`RecvBuffer::release_after_read`): the
    /// connection waits on its transport. It then lets go of the output
    /// buffer and the event queue's memory too, when they are empty, so a
    /// waiting connection holds no buffer at all.
    pub(crate) fn release_if_waiting(&mut self) {
        if self.recv.holds_nothing() {
            self.out.release_if_empty();
            self.events.release_if_empty();
        }
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn state(&self) -> State {
        self.phase.state()
    }

    pub(crate) fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// The output buffer, for a handshake request or response.
    pub(crate) fn output_buffer(&mut self) -> &mut bytes::BytesMut {
        self.out.buf()
    }

    /// Output not yet handed out by `poll_transmit`, in bytes.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.poll_transmit()
    }

    /// Appends bytes read from the transport, unmasking the part that
    /// continues the frame in progress while copying it.
    pub(crate) fn append_received(&mut self, data: &[u8]) {
        let decoder = &mut self.decoder;
        self.recv
            .append(data, |buf, data| decoder.extend(buf, data));
    }

    /// Lends `len` bytes of initialised room for the caller's transport to
    /// read into (see `RecvBuffer::lend_room`).
    pub(crate) fn lend_room(&mut self, len: usize) -> &mut [u8] {
        let large_frame = self.large_frame_left().is_some();
        self.recv.lend_room(len, large_frame)
    }

    /// Lends `len` bytes of uninitialised room (see
    /// `RecvBuffer::lend_uninit`).
    pub(crate) fn lend_uninit(&mut self, len: usize) -> &mut [core::mem::MaybeUninit<u8>] {
        let large_frame = self.large_frame_left().is_some();
        self.recv.lend_uninit(len, large_frame)
    }

    /// How much room to lend for the next read, given the size the caller
    /// would read otherwise (see `Connection::receive_size_hint`).
    pub(crate) fn receive_size_hint(&self, preferred: usize) -> usize {
        self.recv.size_hint(preferred, self.large_frame_left())
    }

    /// The payload bytes a large frame in progress still lacks, once every
    /// buffered byte is decoded; `None` without such a frame.
    fn large_frame_left(&self) -> Option<usize> {
        let (payload_len, missing) = self.decoder.payload_missing(self.recv.len())?;
        (payload_len >= LARGE_FRAME_START as u64)
            .then(|| usize::try_from(missing).unwrap_or(usize::MAX))
    }

    /// Applies a transition's phase change and timer.
    pub(super) fn enter(&mut self, step: Step, now: Duration) {
        self.phase = step.next;
        if step.arm_close_timer {
            self.timers
                .set(Timer::Close, now.checked_add(self.config.close_timeout));
        }
        match self.phase {
            Phase::Handshake => {}
            Phase::Open => self.timers.set(Timer::Handshake, None),
            Phase::CloseSent => self.stop_keepalive(),
            Phase::AwaitingEof => {
                self.stop_keepalive();
                // RFC 6455 §5.5.1: nothing after the closing handshake is
                // processed.
                self.recv.clear();
            }
            Phase::Closed => {
                self.timers.clear();
                self.awaited_pong = None;
                // Nothing more is read or sent: release the buffers and
                // any compression state.
                self.recv.clear();
                self.decoder = FrameDecoder::new();
                self.codec = MessageCodec::none();
            }
        }
    }

    /// The handshake succeeded with these extensions: frames may flow, and
    /// keepalive starts.
    pub(crate) fn open(&mut self, now: Duration, codec: MessageCodec) {
        self.note_time(now);
        if let Some(next) = step(self.is_client, self.phase, Input::HandshakeDone) {
            self.enter(next, now);
            self.codec = codec;
            if let Some(keepalive) = self.config.keepalive {
                self.timers
                    .set(Timer::KeepalivePing, now.checked_add(keepalive.interval));
            }
        }
    }

    /// The handshake failed or was rejected; any response is already queued.
    pub(crate) fn fail_handshake(&mut self, now: Duration, error: Option<Error>) {
        if let Some(next) = step(self.is_client, self.phase, Input::HandshakeFailed) {
            self.enter(next, now);
        }
        if let Some(error) = error {
            self.error = Some(Box::new(error));
        }
    }

    /// The handshake failed with `error`, whose reply (if any) is queued:
    /// the connection ends, and the error is sticky and returned.
    pub(crate) fn handshake_failed(
        &mut self,
        now: Duration,
        error: HandshakeError,
    ) -> Result<(), Error> {
        let error = Error::Handshake(error);
        self.fail_handshake(now, Some(error.clone()));
        Err(error)
    }

    /// Fails the connection: queues the Close the error calls for, reports
    /// the Close event, and makes the error sticky.
    pub(crate) fn fail(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        error: Error,
    ) -> Error {
        if let Some(next) = step(self.is_client, self.phase, Input::Failure) {
            if next.send_close
                && let Some(code) = error.close_code()
            {
                // A failing entropy source leaves no way to mask the Close;
                // the transport is closed without it.
                let _ = self.queue_close(masks, Some((code, "")));
            }
            let code = error.close_code().unwrap_or(CloseCode::ABNORMAL);
            self.report_close(
                &next,
                code,
                String::new(),
                Initiator::Local,
                Some(error.clone()),
            );
            self.enter(next, now);
        }
        self.error = Some(Box::new(error.clone()));
        error
    }

    /// Reports how the connection closed, before `step` is entered: the
    /// Close event, queued when the step emits one, and `error`, which
    /// becomes sticky. The one place both are set for a close.
    pub(super) fn report_close(
        &mut self,
        step: &Step,
        code: CloseCode,
        reason: String,
        initiator: Initiator,
        error: Option<Error>,
    ) {
        if let Some(error) = &error {
            self.error = Some(Box::new(error.clone()));
        }
        if step.emit_close {
            self.events.push_back(Event::Close(Close {
                code,
                reason,
                initiator,
                error,
            }));
        }
    }
}
