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
mod receive;
mod send;

use alloc::collections::VecDeque;
use alloc::string::String;
use bytes::{Buf, Bytes, BytesMut};
use core::time::Duration;

use crate::close::CloseCode;
use crate::config::Config;
use crate::entropy::EntropyError;
use crate::error::Error;
use crate::event::{Close, Event, Initiator};
use crate::extensions::MessageCodec;
use crate::frame::{FrameDecoder, Opcode};
use crate::handshake::HandshakeError;
use crate::invariant::Kept;
use crate::state::{Input, Phase, State, Step, step};
use crate::utf8::{MessageValidator, Utf8Validator};

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

/// One piece of a fragmented message, for
/// [`Connection::send_fragment`](crate::Connection::send_fragment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// The first fragment of a new message of this kind.
    First(DataKind),
    /// A middle fragment.
    Continue,
    /// The final fragment.
    Last,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// The opening handshake's deadline.
    Handshake,
    Close,
    PongDeadline,
    KeepalivePing,
}

const TIMERS: [Timer; 4] = [
    Timer::Handshake,
    Timer::Close,
    Timer::PongDeadline,
    Timer::KeepalivePing,
];

/// How many bytes may pass through the receive or the output buffer before
/// it is let go of when empty. A buffer grows to at most about twice what
/// passed through it, so an idle connection keeps under 1 KiB in the two,
/// while small messages reuse a buffer for several reads or writes.
const KEPT_BUFFER_BYTES: usize = 192;
/// Received bytes of a frame in progress from which a growing receive
/// buffer takes the size it needed before at once.
const LARGE_FRAME_START: usize = 32 * 1024;

/// Queued output buffers whose room is kept once the queue is drained: a
/// header and a payload, twice over.
const OUT_QUEUED_KEPT: usize = 4;

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
}

/// The message being sent.
#[derive(Clone, Debug, Default)]
struct Outgoing {
    message: Option<DataKind>,
    /// Whether the fragmented message in progress is compressed.
    compressed: bool,
    utf8: Utf8Validator,
}

/// Room lent to the caller's transport for a read, by length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Lent {
    #[default]
    Nothing,
    /// The start of `spare`: initialised bytes.
    Room(usize),
    /// The start of `recv`'s spare capacity, uninitialised.
    Uninit(usize),
}

/// The shared engine. See the module docs.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    is_client: bool,
    phase: Phase,
    /// Received bytes not yet consumed.
    pub(crate) recv: BytesMut,
    /// Bytes at the front of `recv` that the last borrowed event lent
    /// (`poll_event_ref`): dropped by the next call that touches `recv`.
    borrowed: usize,
    /// Bytes put into `recv` since it last started empty: a bound on the
    /// memory it holds (see `release_idle_buffers`).
    recv_appended: usize,
    /// Room that follows `recv`'s bytes in the same allocation, for the
    /// caller's transport to read into (see `lend_room`). Its bytes are
    /// initialised (zeroed when the room was first made, or left by earlier
    /// reads), so lending it again costs no zeroing.
    spare: BytesMut,
    /// Room lent to the caller's transport and not yet received.
    lent: Lent,
    /// The most room `recv` has needed at once: the bytes it held plus the
    /// room lent after them. What a large message took before, so that the
    /// next one grows the buffer once (see `lend_room`).
    recv_peak: usize,
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
    out: BytesMut,
    /// Bytes handed out of `out` since it last started empty.
    out_handed: usize,
    /// Output that goes before `out`: what `out` held when an owned payload
    /// was queued, then that payload, as separate buffers so the payload is
    /// never copied.
    out_queued: VecDeque<Bytes>,
    /// The bytes in `out_queued`.
    out_queued_len: usize,
    /// Events not yet taken: at most the handshake's and a failure's, since
    /// frames are decoded only when the app asks for the next event.
    events: crate::event::EventQueue,
    error: Option<Error>,
    timers: [Option<Duration>; TIMERS.len()],
    /// The payload of the keepalive ping awaiting its pong.
    awaited_pong: Option<[u8; 8]>,
    pings_sent: u64,
    /// The negotiated extensions' work on data messages.
    codec: MessageCodec,
}

impl Engine {
    pub(crate) fn new(config: Config, is_client: bool) -> Self {
        Engine {
            config,
            is_client,
            phase: Phase::Handshake,
            recv: BytesMut::new(),
            borrowed: 0,
            recv_appended: 0,
            spare: BytesMut::new(),
            lent: Lent::Nothing,
            recv_peak: 0,
            eof: false,
            latest_now: Duration::ZERO,
            clock_started: false,
            decoder: FrameDecoder::new(),
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            out: BytesMut::new(),
            out_handed: 0,
            out_queued: VecDeque::new(),
            out_queued_len: 0,
            events: crate::event::EventQueue::new(),
            error: None,
            timers: [None; TIMERS.len()],
            awaited_pong: None,
            pings_sent: 0,
            codec: MessageCodec::none(),
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn state(&self) -> State {
        self.phase.state()
    }

    pub(crate) fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// The output buffer, for a handshake request or response.
    pub(crate) fn output_buffer(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Output not yet handed out by `poll_transmit`, in bytes.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len().saturating_add(self.out_queued_len)
    }

    /// Queues a buffer to go out after everything before it.
    pub(super) fn queue_output(&mut self, bytes: Bytes) {
        self.out_queued_len = self.out_queued_len.saturating_add(bytes.len());
        self.out_queued.push_back(bytes);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(queued) = self.out_queued.pop_front() {
            self.out_queued_len = self.out_queued_len.saturating_sub(queued.len());
            if self.out_queued.is_empty() && self.out_queued.capacity() > OUT_QUEUED_KEPT {
                self.out_queued = VecDeque::new();
            }
            return Some(queued);
        }
        if self.out.is_empty() {
            return None;
        }
        Some(self.take_output())
    }

    /// Hands out everything in `out`.
    pub(super) fn take_output(&mut self) -> Bytes {
        self.out_handed = self.out_handed.saturating_add(self.out.len());
        if self.out_handed <= KEPT_BUFFER_BYTES {
            // The rest of the buffer is reused for the next frames, once the
            // app has dropped what it was given.
            return self.out.split().freeze();
        }
        // The buffer may have grown large: the app gets all of it, so none
        // of its memory stays with an idle connection.
        self.out_handed = 0;
        core::mem::take(&mut self.out).freeze()
    }

    /// Appends bytes read from the transport, unmasking the part that
    /// continues the frame in progress while copying it.
    pub(crate) fn append_received(&mut self, data: &[u8]) {
        self.settle_lent();
        // The room shares `recv`'s allocation; without it, `recv` can grow
        // into that allocation in place.
        self.spare = BytesMut::new();
        self.recv_appended = self.recv_appended.saturating_add(data.len());
        self.decoder.extend(&mut self.recv, data);
    }

    /// Lends `len` bytes of room at the end of the receive buffer for the
    /// caller's transport to read into. Safe code may only lend initialised
    /// bytes: room is zeroed once, when it is made, and what a read did not
    /// fill stays as room for the next, so steady reads zero nothing. It
    /// grows by what the caller asks for, never by a length a peer declared.
    pub(crate) fn lend_room(&mut self, len: usize) -> &mut [u8] {
        self.settle_lent();
        self.recv_peak = self.recv_peak.max(self.recv.len().saturating_add(len));
        if self.spare.len() < len || !self.spare_follows(&self.spare) {
            let start = self.recv.len();
            let spare = core::mem::take(&mut self.spare);
            if self.spare_follows(&spare) {
                // The same allocation: joined without a copy.
                self.recv.unsplit(spare);
            }
            let end = start.saturating_add(len);
            // The allocation itself has room once the app has let go of the
            // payloads taken from it: its received bytes move to its front.
            let reclaimed = self.recv.capacity() >= end || {
                self.recv.truncate(start);
                self.recv.try_reclaim(len)
            };
            if reclaimed {
                // Zeroes only the bytes that were never room before.
                self.recv.resize(end.max(self.recv.len()), 0);
            } else {
                self.recv = self.grown(start, end);
            }
            self.spare = self.recv.split_off(start);
        }
        self.lent = Lent::Room(len);
        self.spare.get_mut(..len).kept()
    }

    /// The capacity a receive buffer holding `start` bytes grows to when it
    /// needs room up to `end`: at least double; once it holds the start of a
    /// large frame, at once the most room it needed before, so a large
    /// message is copied once and not at every doubling. Both sizes come
    /// from bytes that arrived, never from a declared length: a large frame
    /// in progress only makes the growth come sooner, while the buffer holds
    /// little to copy.
    fn growth_target(&self, start: usize, end: usize) -> usize {
        let capacity = end.max(start.saturating_mul(2));
        if start >= LARGE_FRAME_START || self.large_frame_left().is_some() {
            capacity.max(self.recv_peak)
        } else {
            capacity
        }
    }

    /// A larger receive buffer (see `growth_target`), zeroed whole by the
    /// allocator (which often has zeroed pages at hand) so that all of it
    /// can be lent, with the `start` bytes received so far copied in.
    fn grown(&self, start: usize, end: usize) -> BytesMut {
        let mut grown = BytesMut::zeroed(self.growth_target(start, end));
        if let (Some(to), Some(from)) = (grown.get_mut(..start), self.recv.get(..start)) {
            to.copy_from_slice(from);
        }
        grown
    }

    /// How much room to lend for the next read, given the size the caller
    /// would read otherwise (see `Connection::receive_size_hint`).
    pub(crate) fn receive_size_hint(&self, preferred: usize) -> usize {
        let in_place = if self.spare_follows(&self.spare) {
            self.spare.len()
        } else {
            0
        }
        .max(self.recv.capacity() - self.recv.len());
        let size = preferred.max(in_place).max(1);
        match self.large_frame_left() {
            Some(left) if left > 0 => size.min(left),
            _ => size,
        }
    }

    /// The payload bytes a large frame in progress still lacks, once every
    /// buffered byte is decoded; `None` without such a frame.
    fn large_frame_left(&self) -> Option<usize> {
        let (payload_len, missing) = self.decoder.payload_missing(self.recv.len())?;
        (payload_len >= LARGE_FRAME_START as u64)
            .then(|| usize::try_from(missing).unwrap_or(usize::MAX))
    }

    /// Lends `len` bytes of `recv`'s spare capacity, uninitialised, for a
    /// transport that fills such memory soundly: no zeroing. The buffer grows
    /// as in `lend_room` (see `growth_target`).
    pub(crate) fn lend_uninit(&mut self, len: usize) -> &mut [core::mem::MaybeUninit<u8>] {
        self.settle_lent();
        // Initialised room is not lent here: once lent as uninitialised
        // memory it could not be trusted again.
        self.spare = BytesMut::new();
        let start = self.recv.len();
        self.recv_peak = self.recv_peak.max(start.saturating_add(len));
        let end = start.saturating_add(len);
        if self.recv.capacity() < end {
            // Reclaims the allocation itself when it can, as `lend_room`.
            let target = self.growth_target(start, end);
            self.recv.reserve(target - start);
        }
        self.lent = Lent::Uninit(len);
        self.recv.spare_capacity_mut().get_mut(..len).kept()
    }

    /// Takes the first `n` bytes of the room `lend_uninit` lent as received.
    ///
    /// # Safety
    /// Those `n` bytes must have been initialised.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn commit_uninit(&mut self, n: usize) {
        let lent = match core::mem::take(&mut self.lent) {
            Lent::Uninit(len) => len,
            Lent::Nothing | Lent::Room(_) => 0,
        };
        let n = n.min(lent).min(self.recv.capacity() - self.recv.len());
        if n > 0 {
            // SAFETY: the `n` bytes after `len` lie within the capacity
            // (checked above) and the caller initialised them.
            unsafe { self.recv.set_len(self.recv.len() + n) };
            self.recv_appended = self.recv_appended.saturating_add(n);
        }
        if self.recv.is_empty() {
            self.drop_received();
        }
    }

    /// Whether `spare` starts where `recv`'s bytes end (or `recv` is empty,
    /// so that `spare` may simply take its place).
    fn spare_follows(&self, spare: &BytesMut) -> bool {
        self.recv.is_empty() || self.recv.as_ptr().wrapping_add(self.recv.len()) == spare.as_ptr()
    }

    /// Takes the first `n` bytes of the lent room as received, as they are:
    /// masked payload is unmasked in place when it is decoded, so a large
    /// payload costs the transport's copy and one pass.
    pub(crate) fn commit_room(&mut self, n: usize) {
        // Room lent uninitialised is only given back: nothing in it can be
        // trusted without `commit_uninit`'s promise.
        let lent = match core::mem::take(&mut self.lent) {
            Lent::Room(len) => len,
            Lent::Nothing | Lent::Uninit(_) => 0,
        };
        let n = n.min(lent).min(self.spare.len());
        if n > 0 {
            // Contiguous with `recv`: joined without a copy.
            let received = self.spare.split_to(n);
            self.recv.unsplit(received);
            self.recv_appended = self.recv_appended.saturating_add(n);
        }
        if self.recv.is_empty() {
            // Room given back whole (a read that found nothing yet): an idle
            // connection waiting on its transport holds no read buffer.
            self.drop_received();
        }
    }

    /// Lets go of the receive buffer and its room.
    pub(crate) fn drop_received(&mut self) {
        self.recv = BytesMut::new();
        self.borrowed = 0;
        self.spare = BytesMut::new();
        self.recv_appended = 0;
    }

    /// Gives back room lent and never committed, so that the buffer holds
    /// only bytes that were received.
    /// Also drops the frame a borrowed event lent.
    #[inline]
    pub(crate) fn settle_lent(&mut self) {
        if self.borrowed > 0 {
            self.recv.advance(core::mem::take(&mut self.borrowed));
        }
        if self.lent != Lent::Nothing {
            self.commit_room(0);
        }
    }

    /// Takes a buffer read from the transport: without copying when nothing
    /// is buffered, else appended.
    pub(crate) fn take_received(&mut self, data: BytesMut) {
        self.settle_lent();
        if self.recv.is_empty() {
            // The buffer is the caller's: it is let go as soon as it is
            // consumed.
            self.spare = BytesMut::new();
            self.recv_appended = usize::MAX;
            self.recv = data;
        } else {
            self.append_received(&data);
        }
    }

    /// Lets go of a receive buffer that is empty and may be large, so that
    /// an idle connection holds little memory. A small one is kept: a
    /// connection that gets one small message per read then reuses it
    /// instead of allocating for each.
    pub(crate) fn release_idle_buffers(&mut self) {
        if self.recv.is_empty() && self.recv_appended > KEPT_BUFFER_BYTES {
            self.drop_received();
        }
    }

    /// Applies a transition's phase change and timer.
    pub(super) fn enter(&mut self, step: Step, now: Duration) {
        self.phase = step.next;
        if step.arm_close_timer {
            self.set_timer(Timer::Close, now.checked_add(self.config.close_timeout));
        }
        match self.phase {
            Phase::Handshake => {}
            Phase::Open => self.set_timer(Timer::Handshake, None),
            Phase::CloseSent => self.stop_keepalive(),
            Phase::AwaitingEof => {
                self.stop_keepalive();
                // RFC 6455 §5.5.1: nothing after the closing handshake is
                // processed.
                self.drop_received();
            }
            Phase::Closed => {
                self.timers = [None; TIMERS.len()];
                self.awaited_pong = None;
                // Nothing more is read or sent: release the buffers and
                // any compression state.
                self.drop_received();
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
                self.set_timer(Timer::KeepalivePing, now.checked_add(keepalive.interval));
            }
        }
    }

    /// The handshake failed or was rejected; any response is already queued.
    pub(crate) fn fail_handshake(&mut self, now: Duration, error: Option<Error>) {
        if let Some(next) = step(self.is_client, self.phase, Input::HandshakeFailed) {
            self.enter(next, now);
        }
        if error.is_some() {
            self.error = error;
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
            if next.emit_close {
                self.events.push_back(Event::Close(Close {
                    code: error.close_code().unwrap_or(CloseCode::ABNORMAL),
                    reason: String::new(),
                    initiator: Initiator::Local,
                    error: Some(error.clone()),
                }));
            }
            self.enter(next, now);
        }
        self.error = Some(error.clone());
        error
    }
}
