//! The engine both roles share once the handshake is done: buffers, frame
//! rules, fragmentation, control frames, the closing handshake, timers and
//! limits.
//!
//! Phase changes go through [`crate::state::step`]; this module carries out
//! what a step decides.
//!
//! Negotiated extensions act through a [`MessageCodec`] at four points:
//! `check_header` asks which RSV bits a message's first frame may carry and
//! whether the message is compressed; `process_partial` and `on_frame` hand
//! it a compressed frame's payload as it arrives and take the inflated bytes;
//! `queue_data` lets it compress what the app sends.

use alloc::collections::VecDeque;
use alloc::string::String;
use bytes::{Bytes, BytesMut};
use core::time::Duration;

use crate::close::{CloseCode, ClosePayload, MAX_REASON_LEN};
use crate::config::Config;
use crate::entropy::EntropyError;
use crate::error::{Error, ProtocolError, SendError};
use crate::event::{Close, Event, Initiator};
use crate::extensions::{MessageCodec, RSV1};
use crate::frame::{
    Decoded, Frame, FrameDecoder, FrameHeader, MAX_CONTROL_PAYLOAD, Opcode, encode_frame,
};
use crate::handshake::HandshakeError;
use crate::mask;
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
    Close,
    PongDeadline,
    KeepalivePing,
}

const TIMERS: [Timer; 3] = [Timer::Close, Timer::PongDeadline, Timer::KeepalivePing];

/// How many bytes may pass through the receive or the output buffer before
/// it is let go of when empty. A buffer grows to at most about twice what
/// passed through it, so an idle connection keeps under 1 KiB in the two,
/// while small messages reuse a buffer for several reads or writes.
const KEPT_BUFFER_BYTES: usize = 192;

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

/// The shared engine. See the module docs.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    is_client: bool,
    phase: Phase,
    /// Received bytes not yet consumed.
    pub(crate) recv: BytesMut,
    /// Bytes put into `recv` since it last started empty: a bound on the
    /// memory it holds (see `release_idle_buffers`).
    recv_appended: usize,
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
            recv_appended: 0,
            decoder: FrameDecoder::new(),
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            out: BytesMut::new(),
            out_handed: 0,
            out_queued: VecDeque::new(),
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

    #[inline]
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The output buffer, for a handshake request or response.
    pub(crate) fn output_buffer(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(queued) = self.out_queued.pop_front() {
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
    fn take_output(&mut self) -> Bytes {
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
        self.recv_appended = self.recv_appended.saturating_add(data.len());
        self.decoder.extend(&mut self.recv, data);
    }

    /// Takes a buffer read from the transport: without copying when nothing
    /// is buffered, else appended.
    pub(crate) fn take_received(&mut self, data: BytesMut) {
        if self.recv.is_empty() {
            // The buffer is the caller's: it is let go as soon as it is
            // consumed.
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
            self.recv = BytesMut::new();
            self.recv_appended = 0;
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        self.timers.iter().flatten().min().copied()
    }

    fn set_timer(&mut self, timer: Timer, deadline: Option<Duration>) {
        if let Some(slot) = self.timers.get_mut(timer as usize) {
            *slot = deadline;
        }
    }

    fn timer(&self, timer: Timer) -> Option<Duration> {
        self.timers.get(timer as usize).copied().flatten()
    }

    /// Applies a transition's phase change and timer.
    fn enter(&mut self, step: Step, now: Duration) {
        self.phase = step.next;
        if step.arm_close_timer {
            self.set_timer(Timer::Close, now.checked_add(self.config.close_timeout));
        }
        match self.phase {
            Phase::Handshake | Phase::Open => {}
            Phase::CloseSent | Phase::AwaitingEof => {
                self.set_timer(Timer::KeepalivePing, None);
                self.set_timer(Timer::PongDeadline, None);
                self.awaited_pong = None;
            }
            Phase::Closed => {
                self.timers = [None; TIMERS.len()];
                self.awaited_pong = None;
                // Nothing more is read or sent: release the buffers and
                // any compression state.
                self.recv = BytesMut::new();
                self.decoder = FrameDecoder::new();
                self.codec = MessageCodec::none();
            }
        }
    }

    /// The handshake succeeded with these extensions: frames may flow, and
    /// keepalive starts.
    pub(crate) fn open(&mut self, now: Duration, codec: MessageCodec) {
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

    /// Consumes frames from the receive buffer.
    pub(crate) fn process(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
    ) -> Result<(), Error> {
        loop {
            if !matches!(self.phase, Phase::Open | Phase::CloseSent) {
                // RFC 6455 §5.5.1: after the closing handshake, and before the
                // opening one ends, no frame is processed.
                if self.phase != Phase::Handshake {
                    self.recv.clear();
                }
                return Ok(());
            }
            if let Err(error) = self.receive_whole_frames() {
                return Err(self.fail(masks, now, error.into()));
            }
            let decoded = match self.decoder.decode(&mut self.recv) {
                Ok(decoded) => decoded,
                Err(error) => return Err(self.fail(masks, now, error.into())),
            };
            let result = match decoded {
                None => {
                    return self
                        .process_partial()
                        .map_err(|error| self.fail(masks, now, error.into()));
                }
                Some(Decoded::Header(header)) => self.check_header(&header).map_err(Error::from),
                Some(Decoded::Frame(frame)) => self.on_frame(masks, now, frame),
            };
            if let Err(error) = result {
                return Err(self.fail(masks, now, error));
            }
        }
    }

    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        // RFC 6455 §5.1: a server MUST close on an unmasked frame, a client
        // on a masked one.
        match (self.is_client, header.mask.is_some()) {
            (true, true) => return Err(ProtocolError::MaskedFrame),
            (false, false) => return Err(ProtocolError::UnmaskedFrame),
            _ => {}
        }
        // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them;
        // the extensions here define them on a message's first frame only
        // (RFC 7692 §6.1: never on a continuation or a control frame).
        let allowed = match header.opcode {
            Opcode::Text | Opcode::Binary => self.codec.rsv_bits(),
            _ => 0,
        };
        if header.rsv & !allowed != 0 {
            return Err(ProtocolError::ReservedBitsSet { bits: header.rsv });
        }
        // RFC 6455 §5.4: fragments of one message are not interleaved with
        // another message's.
        match (header.opcode, self.incoming.message) {
            (Opcode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            _ => {}
        }
        if matches!(header.opcode, Opcode::Text | Opcode::Binary) {
            self.incoming.compressed = self.codec.is_compressed(header.rsv);
        }
        if !header.opcode.is_control() {
            let limits = &self.config.limits;
            if header.payload_len > limits.max_frame_payload {
                return Err(ProtocolError::FrameTooLarge {
                    len: header.payload_len,
                    limit: limits.max_frame_payload,
                });
            }
            // A compressed message's limit is on its inflated size, checked
            // as it inflates.
            let total = self.incoming.size.saturating_add(header.payload_len);
            if !self.incoming.compressed && total > limits.max_message_size {
                return Err(ProtocolError::MessageTooLarge {
                    limit: limits.max_message_size,
                });
            }
        }
        self.incoming.frame_is_text = match header.opcode {
            Opcode::Text => true,
            Opcode::Continuation => self.incoming.message == Some(DataKind::Text),
            _ => false,
        };
        self.incoming.frame_is_compressed = !header.opcode.is_control() && self.incoming.compressed;
        self.incoming.processed = 0;
        Ok(())
    }

    /// Validates or inflates what has arrived of an unfinished frame, so
    /// invalid UTF-8, bad compressed data and an oversized inflated message
    /// fail the connection as soon as they arrive.
    fn process_partial(&mut self) -> Result<(), ProtocolError> {
        if !self.incoming.frame_is_text && !self.incoming.frame_is_compressed {
            return Ok(());
        }
        let partial = self.decoder.partial_payload(&self.recv);
        let fresh = partial.get(self.incoming.processed..).unwrap_or(&[]);
        if self.incoming.frame_is_compressed {
            inflate_part(
                &mut self.codec,
                &mut self.incoming,
                self.config.limits.max_message_size,
                fresh,
                false,
            )?;
        } else {
            self.incoming.utf8.feed(fresh)?;
        }
        self.incoming.processed = partial.len();
        Ok(())
    }

    fn on_frame(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        frame: Frame,
    ) -> Result<(), Error> {
        match frame.opcode {
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                let fresh = frame.payload.get(self.incoming.processed..).unwrap_or(&[]);
                let compressed = self.incoming.frame_is_compressed;
                let frame = if compressed {
                    inflate_part(
                        &mut self.codec,
                        &mut self.incoming,
                        self.config.limits.max_message_size,
                        fresh,
                        frame.fin,
                    )?;
                    // The app sees the message as sent: inflated, and with
                    // the extension's RSV1 consumed.
                    Frame {
                        rsv: 0,
                        payload: self.codec.take_inflated(),
                        ..frame
                    }
                } else {
                    if self.incoming.frame_is_text {
                        self.incoming
                            .utf8
                            .feed(fresh)
                            .map_err(ProtocolError::from)?;
                    }
                    frame
                };
                if frame.fin && self.incoming.frame_is_text {
                    self.incoming.utf8.finish().map_err(ProtocolError::from)?;
                }
                self.incoming.frame_is_text = false;
                self.incoming.frame_is_compressed = false;
                if frame.fin {
                    self.incoming.message = None;
                    self.incoming.compressed = false;
                    self.incoming.size = 0;
                } else {
                    if frame.opcode == Opcode::Text {
                        self.incoming.message = Some(DataKind::Text);
                    } else if frame.opcode == Opcode::Binary {
                        self.incoming.message = Some(DataKind::Binary);
                    }
                    if !compressed {
                        self.incoming.size = self
                            .incoming
                            .size
                            .saturating_add(frame.payload.len() as u64);
                    }
                }
                self.events.push_back(Event::Frame(frame));
            }
            Opcode::Ping => {
                // RFC 6455 §5.5.2: a ping is answered with a pong carrying the
                // same payload, unless a Close was already sent.
                if self.config.auto_pong && self.phase == Phase::Open {
                    self.queue_frame(masks, Opcode::Pong, true, &frame.payload)?;
                }
                self.events.push_back(Event::Frame(frame));
            }
            Opcode::Pong => {
                if self
                    .awaited_pong
                    .is_some_and(|awaited| frame.payload[..] == awaited[..])
                {
                    self.awaited_pong = None;
                    self.set_timer(Timer::PongDeadline, None);
                    // The next ping is due an interval after this answer.
                    let next_ping = self
                        .config
                        .keepalive
                        .and_then(|keepalive| now.checked_add(keepalive.interval));
                    self.set_timer(Timer::KeepalivePing, next_ping);
                }
                self.events.push_back(Event::Frame(frame));
            }
            Opcode::Close => self.on_peer_close(masks, now, &frame.payload)?,
        }
        Ok(())
    }

    fn on_peer_close(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        payload: &[u8],
    ) -> Result<(), Error> {
        let received = ClosePayload::decode(payload).map_err(ProtocolError::from)?;
        let Some(next) = step(self.is_client, self.phase, Input::PeerClose) else {
            return Ok(());
        };
        if next.send_close {
            // RFC 6455 §5.5.1: the reply typically echoes the status code.
            let echo = received.as_ref().map(|close| (close.code, ""));
            let _ = self.queue_close(masks, echo);
        }
        if next.emit_close {
            let initiator = if self.phase == Phase::Open {
                Initiator::Remote
            } else {
                Initiator::Local
            };
            let (code, reason) = match received {
                Some(close) => (close.code, close.reason),
                None => (CloseCode::NO_STATUS, String::new()),
            };
            self.events.push_back(Event::Close(Close {
                code,
                reason,
                initiator,
                error: None,
            }));
        }
        self.enter(next, now);
        Ok(())
    }

    /// Takes whole frames that need nothing but unmasking and, for text,
    /// UTF-8 validation: final data frames with no RSV bits, masked as the
    /// role requires, within the limits, outside a fragmented message. They
    /// are most of the traffic, and here each costs one step instead of a
    /// header step and a payload step. The first frame that is anything else
    /// (or incomplete) stops the loop and goes to the general path in
    /// `process`, which applies every rule and reports every error.
    fn receive_whole_frames(&mut self) -> Result<(), ProtocolError> {
        if self.incoming.message.is_some() {
            return Ok(());
        }
        let masked = !self.is_client;
        let limits = &self.config.limits;
        let max_payload = limits.max_frame_payload.min(limits.max_message_size);
        let simple = |header: &FrameHeader| {
            header.fin
                && header.rsv == 0
                && matches!(header.opcode, Opcode::Text | Opcode::Binary)
                && header.mask.is_some() == masked
                && header.payload_len <= max_payload
        };
        while let Some(frame) = self.decoder.decode_whole(&mut self.recv, simple) {
            // No message is in progress, so the payload is all of the
            // message: valid text needs no validator state. The validator
            // runs on invalid text, for the error and its offset.
            if frame.opcode == Opcode::Text && !crate::utf8::is_valid(&frame.payload) {
                self.incoming.utf8.feed(&frame.payload)?;
                self.incoming.utf8.finish()?;
            }
            self.events.push_back(Event::Frame(frame));
        }
        Ok(())
    }

    /// The peer closed the transport.
    pub(crate) fn receive_eof(&mut self, now: Duration) -> Result<(), Error> {
        let initiator = if self.phase == Phase::CloseSent {
            Initiator::Local
        } else {
            Initiator::Remote
        };
        let Some(next) = step(self.is_client, self.phase, Input::Eof) else {
            return Ok(());
        };
        let abnormal = next.emit_close || self.phase == Phase::Handshake;
        if next.emit_close {
            self.events.push_back(Event::Close(Close {
                code: CloseCode::ABNORMAL,
                reason: String::new(),
                initiator,
                error: Some(Error::UnexpectedEof),
            }));
        }
        self.enter(next, now);
        if abnormal {
            self.error = Some(Error::UnexpectedEof);
            return Err(Error::UnexpectedEof);
        }
        Ok(())
    }

    pub(crate) fn handle_timeout(&mut self, masks: &mut impl MaskSource, now: Duration) {
        for timer in TIMERS {
            if self.timer(timer).is_none_or(|deadline| deadline > now) {
                continue;
            }
            self.set_timer(timer, None);
            match timer {
                Timer::Close => self.close_timed_out(now),
                Timer::PongDeadline => {
                    self.fail(masks, now, Error::PongTimeout);
                }
                Timer::KeepalivePing => self.send_keepalive_ping(masks, now),
            }
        }
    }

    fn close_timed_out(&mut self, now: Duration) {
        let Some(next) = step(self.is_client, self.phase, Input::CloseTimeout) else {
            return;
        };
        if next.emit_close {
            self.events.push_back(Event::Close(Close {
                code: CloseCode::ABNORMAL,
                reason: String::new(),
                initiator: Initiator::Local,
                error: Some(Error::CloseTimeout),
            }));
            self.error = Some(Error::CloseTimeout);
        }
        self.enter(next, now);
    }

    fn send_keepalive_ping(&mut self, masks: &mut impl MaskSource, now: Duration) {
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        if self.phase != Phase::Open {
            return;
        }
        if self.awaited_pong.is_some() {
            // The last ping is still unanswered. Sending another would move
            // its deadline, and with an interval shorter than the timeout a
            // silent peer would never be caught; its deadline stands, and the
            // next ping waits for its pong (so even a zero interval cannot
            // make the caller spin).
            return;
        }
        // A counter tells this ping's pong from earlier and unsolicited ones.
        self.pings_sent = self.pings_sent.wrapping_add(1);
        let payload = self.pings_sent.to_be_bytes();
        if let Err(error) = self.queue_frame(masks, Opcode::Ping, true, &payload) {
            self.fail(masks, now, error.into());
            return;
        }
        self.awaited_pong = Some(payload);
        self.set_timer(Timer::PongDeadline, now.checked_add(keepalive.timeout));
    }

    /// Queues a frame, masked when the role masks.
    fn queue_frame(
        &mut self,
        masks: &mut impl MaskSource,
        opcode: Opcode,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), EntropyError> {
        let mask = masks.next_mask()?;
        let header = FrameHeader::new(opcode, fin, mask, payload.len() as u64);
        encode_frame(&header, payload, &mut self.out);
        Ok(())
    }

    /// Queues a data frame, compressed when its message is. The mask is
    /// drawn before the compressor runs, so a failed mask leaves the
    /// compressor as it was.
    fn queue_data(
        &mut self,
        masks: &mut impl MaskSource,
        opcode: Opcode,
        fin: bool,
        first: bool,
        compressed: bool,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if !compressed {
            return Ok(self.queue_frame(masks, opcode, fin, payload)?);
        }
        let mask = masks.next_mask()?;
        let body = self.codec.compress(payload, fin)?;
        let mut header = FrameHeader::new(opcode, fin, mask, body.len() as u64);
        // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message,
        // and no other.
        if first {
            header.rsv = RSV1;
        }
        encode_frame(&header, body, &mut self.out);
        Ok(())
    }

    /// Queues a Close frame: with a code and reason, or empty. Callers pass
    /// a code and reason already known to be valid; anything else is sent as
    /// an empty Close rather than an invalid one.
    fn queue_close(
        &mut self,
        masks: &mut impl MaskSource,
        close: Option<(CloseCode, &str)>,
    ) -> Result<(), EntropyError> {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let mut len = 0;
        if let Some((code, reason)) = close
            && ClosePayload::encode(code, reason, &mut &mut payload[..]).is_ok()
        {
            len = 2 + reason.len();
        }
        self.queue_frame(
            masks,
            Opcode::Close,
            true,
            payload.get(..len).unwrap_or(&[]),
        )
    }

    fn require_open(&self) -> Result<(), SendError> {
        if self.phase == Phase::Open {
            Ok(())
        } else {
            Err(SendError::NotOpen {
                state: self.state(),
            })
        }
    }

    pub(crate) fn send_message(
        &mut self,
        masks: &mut impl MaskSource,
        kind: DataKind,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.require_open()?;
        if self.outgoing.message.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let compressed = self.codec.compresses(payload.len());
        self.queue_data(masks, kind.opcode(), true, true, compressed, payload)
    }

    /// Sends a message whose payload the app hands over: masked in place
    /// (a client) and queued as its own buffer, never copied, unless it is
    /// small or compressed, when it goes the way of `send_message`.
    pub(crate) fn send_message_owned(
        &mut self,
        masks: &mut impl MaskSource,
        kind: DataKind,
        payload: Bytes,
    ) -> Result<(), SendError> {
        if payload.len() < OWNED_PAYLOAD_MIN || self.codec.compresses(payload.len()) {
            return self.send_message(masks, kind, &payload);
        }
        self.require_open()?;
        if self.outgoing.message.is_some() {
            return Err(SendError::MessageInProgress);
        }
        let mask = masks.next_mask()?;
        let header = FrameHeader::new(kind.opcode(), true, mask, payload.len() as u64);
        let payload = match mask {
            Some(key) => {
                // Without a copy when the app held the only handle.
                let mut owned = BytesMut::from(payload);
                mask::apply_mask(&mut owned, key, 0);
                owned.freeze()
            }
            None => payload,
        };
        self.out.extend_from_slice(header.encode().as_bytes());
        let before = self.take_output();
        self.out_queued.push_back(before);
        self.out_queued.push_back(payload);
        Ok(())
    }

    pub(crate) fn send_fragment(
        &mut self,
        masks: &mut impl MaskSource,
        fragment: Fragment,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.require_open()?;
        let (opcode, fin, kind) = match (fragment, self.outgoing.message) {
            (Fragment::First(_), Some(_)) => return Err(SendError::MessageInProgress),
            (Fragment::Continue | Fragment::Last, None) => {
                return Err(SendError::NoMessageInProgress);
            }
            (Fragment::First(kind), None) => (kind.opcode(), false, kind),
            (Fragment::Continue, Some(kind)) => (Opcode::Continuation, false, kind),
            (Fragment::Last, Some(kind)) => (Opcode::Continuation, true, kind),
        };
        // Checked on a copy, kept only once the frame is queued, so that a
        // refused fragment (bad text or a failed mask) changes nothing.
        let mut utf8 = if fragment == Fragment::First(kind) {
            Utf8Validator::new()
        } else {
            self.outgoing.utf8.clone()
        };
        if kind == DataKind::Text {
            utf8.feed(payload).map_err(|_| SendError::InvalidUtf8)?;
            if fin {
                utf8.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
        }
        // A fragmented message is compressed when its first fragment alone
        // reaches the threshold; its size is not known before.
        let first = fragment == Fragment::First(kind);
        let compressed = if first {
            self.codec.compresses(payload.len())
        } else {
            self.outgoing.compressed
        };
        self.queue_data(masks, opcode, fin, first, compressed, payload)?;
        self.outgoing.utf8 = utf8;
        self.outgoing.compressed = compressed;
        self.outgoing.message = if fin { None } else { Some(kind) };
        Ok(())
    }

    pub(crate) fn send_control(
        &mut self,
        masks: &mut impl MaskSource,
        opcode: Opcode,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.require_open()?;
        // RFC 6455 §5.5: control frames carry at most 125 bytes.
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLarge { len: payload.len() });
        }
        Ok(self.queue_frame(masks, opcode, true, payload)?)
    }

    pub(crate) fn close(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), SendError> {
        // Checked before anything changes, so a refused close does nothing.
        ClosePayload::encode(code, reason, &mut &mut [0u8; 2 + MAX_REASON_LEN][..])?;
        let Some(next) = step(self.is_client, self.phase, Input::LocalClose) else {
            return Err(SendError::NotOpen {
                state: self.state(),
            });
        };
        if next.send_close {
            self.queue_close(masks, Some((code, reason)))?;
        }
        self.enter(next, now);
        Ok(())
    }
}

/// Inflates part of a compressed frame into the codec's output, counting it
/// against the message's limit and validating text as it comes out.
fn inflate_part(
    codec: &mut MessageCodec,
    incoming: &mut Incoming,
    limit: u64,
    input: &[u8],
    end_of_message: bool,
) -> Result<(), ProtocolError> {
    let allowance = limit.saturating_sub(incoming.size);
    let text = if incoming.frame_is_text {
        Some(&mut incoming.utf8)
    } else {
        None
    };
    let produced = codec.inflate(input, end_of_message, allowance, limit, text)?;
    incoming.size = incoming.size.saturating_add(produced);
    Ok(())
}
