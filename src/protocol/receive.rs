//! Received bytes to events. Frames are decoded from bytes already
//! buffered, one event per `poll_event`, so that nothing later bytes cause
//! happens before the app has reacted to the events before them.

use alloc::string::String;
use core::time::Duration;

use bytes::Buf;

use super::{DataKind, Engine, Incoming, MaskSource, Timer};
use crate::close::{CloseCode, CloseFrame};
use crate::error::{Error, ProtocolError};
use crate::event::{Event, EventRef, FrameRef, Piece};
use crate::extensions::MessageCodec;
use crate::frame::{Decoded, Frame, FrameHeader, Opcode, WholeFrame};
use crate::invariant::Kept;
use crate::state::{Input, Phase, step};

impl Engine {
    /// The next event: one the handshake or a timer queued, else the next
    /// one the buffered bytes hold, else the end of the transport once every
    /// byte before it is consumed.
    #[inline]
    pub(crate) fn poll_event(&mut self, masks: &mut impl MaskSource) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        if self.phase.reads_frames()
            && let Some(event) = self.next_frame_event(masks)
        {
            return Some(event);
        }
        if self.eof {
            self.eof = false;
            // The error is sticky and reported by the Close event, if any.
            let _ = self.end_of_transport();
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
        }
        self.recv.release_if_idle();
        None
    }

    /// Decodes until a frame gives an event, a failure is found, or more
    /// bytes are needed (`None`).
    fn next_frame_event(&mut self, masks: &mut impl MaskSource) -> Option<Event> {
        let now = self.latest_now;
        loop {
            if !self.phase.reads_frames() {
                return None;
            }
            // Checked here, so that the whole-frame path pays one branch.
            if self.config.piece_size.is_some()
                && let Some(piece) = self.next_piece()
            {
                match piece {
                    Ok(event) => return event,
                    Err(error) => return self.failed(masks, error),
                }
            }
            let result = match self.take_whole_frame() {
                Some(Ok(frame)) if self.config.piece_size.is_none() => {
                    return Some(Event::Frame(frame));
                }
                Some(Ok(frame)) => return Some(self.whole_frame_piece(frame)),
                Some(Err((frame, error))) => match self.failed_whole_frame_in_pieces(frame, &error)
                {
                    Some(piece) => return Some(piece),
                    None => Err(error.into()),
                },
                None => match self.decoder.decode(self.recv.bytes()) {
                    Err(error) => Err(error.into()),
                    Ok(None) => match self.process_partial() {
                        Ok(()) => return None,
                        Err(error) => Err(error.into()),
                    },
                    Ok(Some(Decoded::Header(header))) => self
                        .check_header(&header)
                        .map(|()| None)
                        .map_err(Error::from),
                    Ok(Some(Decoded::Frame(frame))) => self.on_frame(masks, now, frame),
                },
            };
            match result {
                Ok(Some(event)) => return Some(event),
                Ok(None) => {}
                Err(error) => return self.failed(masks, error),
            }
        }
    }

    /// Takes a whole frame that needs nothing but unmasking and, for text,
    /// UTF-8 validation (see `unmask_whole_frame`).
    #[inline]
    fn take_whole_frame(&mut self) -> Option<Result<Frame, (Frame, ProtocolError)>> {
        let (whole, checked) = self.unmask_whole_frame()?;
        let frame = whole.split_off(self.recv.bytes());
        Some(match checked {
            Ok(()) => Ok(frame),
            Err(error) => Err((frame, error)),
        })
    }

    /// Unmasks in place a whole frame that needs nothing but unmasking and,
    /// for text, UTF-8 validation: a final data frame with no RSV bits,
    /// masked as the role requires, within the limits, outside a fragmented
    /// message. Such frames are most of the traffic, and each costs one step
    /// instead of a header step and a payload step. Anything else (or an
    /// incomplete frame) is left to the general path, which applies every
    /// rule and reports every error. The frame stays in `recv`.
    #[inline]
    fn unmask_whole_frame(&mut self) -> Option<(WholeFrame, Result<(), ProtocolError>)> {
        if self.incoming.message.is_some() {
            return None;
        }
        let masked = !self.is_client;
        // In pieces, a frame that fits one goes out whole as one.
        let max_payload = match self.config.piece_limit() {
            Some(piece) => (piece as u64).min(self.config.max_message_size),
            None => self.config.frame_limit(),
        };
        let simple = |header: &FrameHeader| {
            header.fin
                && header.rsv == 0
                && matches!(header.opcode, Opcode::Text | Opcode::Binary)
                && header.mask.is_some() == masked
                && header.payload_len <= max_payload
        };
        let recv = self.recv.bytes();
        let whole = self.decoder.unmask_whole(recv, simple)?;
        let payload = recv.get(whole.payload()).kept();
        // No message is in progress, so the payload is all of the message:
        // valid text needs no validator state. The validator runs on
        // invalid text, for the error and its offset.
        let checked = if whole.header.opcode == Opcode::Text && !crate::utf8::is_valid(payload) {
            self.incoming
                .utf8
                .feed(payload)
                .and_then(|()| self.incoming.utf8.finish())
                .map_err(ProtocolError::from)
        } else {
            Ok(())
        };
        Some((whole, checked))
    }

    /// As `poll_event`, but a whole frame of the kind `unmask_whole_frame`
    /// takes is lent from the receive buffer instead of split off it, and
    /// dropped from it on the next call that touches the buffer.
    #[inline]
    pub(crate) fn poll_event_ref(&mut self, masks: &mut impl MaskSource) -> Option<EventRef<'_>> {
        if self.events.is_empty()
            && self.config.piece_size.is_none()
            && self.phase.reads_frames()
            && let Some((whole, checked)) = self.unmask_whole_frame()
        {
            if let Err(error) = checked {
                self.recv.bytes().advance(whole.len);
                return self.failed(masks, error.into()).map(EventRef::Event);
            }
            return Some(EventRef::Frame(FrameRef {
                opcode: whole.header.opcode,
                payload: self.recv.lend_front(whole.len, whole.payload()),
            }));
        }
        self.poll_event(masks).map(EventRef::Event)
    }

    /// A whole frame the fast path took, when payload goes out in pieces:
    /// its one piece.
    #[cold]
    fn whole_frame_piece(&self, frame: Frame) -> Event {
        let kind = if frame.opcode == Opcode::Text {
            DataKind::Text
        } else {
            DataKind::Binary
        };
        Event::Piece(Piece {
            kind,
            payload: frame.payload,
            message_start: true,
            frame_start: true,
            frame_end: true,
            message_end: true,
        })
    }

    /// Fails the connection with `error` and returns the event that reports
    /// it.
    fn failed(&mut self, masks: &mut impl MaskSource, error: Error) -> Option<Event> {
        let now = self.latest_now;
        self.fail(masks, now, error);
        self.events.pop_front()
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
            // A frame over the message limit is reported as the message
            // limit: that is the one the app set (or left at its default).
            if let Some(frame_limit) = self.config.max_frame_size
                && header.payload_len > frame_limit
                && frame_limit < self.config.max_message_size
            {
                return Err(ProtocolError::FrameTooLarge {
                    len: header.payload_len,
                    limit: frame_limit,
                });
            }
            // A compressed frame is held whole before it inflates (unless
            // it goes out in pieces): its wire size is bounded by the most that deflate can make of a
            // message of the limit (data it cannot shrink grows a little).
            if self.incoming.compressed
                && self.config.piece_size.is_none()
                && header.payload_len > deflate_bound(self.config.max_message_size)
            {
                return Err(ProtocolError::MessageTooLarge {
                    limit: self.config.max_message_size,
                });
            }
            // A compressed message's limit is on its inflated size, checked
            // as it inflates.
            let total = self.incoming.size.saturating_add(header.payload_len);
            if !self.incoming.compressed && total > self.config.max_message_size {
                return Err(ProtocolError::MessageTooLarge {
                    limit: self.config.max_message_size,
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
        if self.config.piece_size.is_some() && !header.opcode.is_control() {
            self.start_piece_frame(header);
        }
        Ok(())
    }

    /// Validates or inflates what has arrived of an unfinished frame, so
    /// invalid UTF-8, bad compressed data and an oversized inflated message
    /// fail the connection as soon as they arrive.
    fn process_partial(&mut self) -> Result<(), ProtocolError> {
        if !self.incoming.frame_is_text && !self.incoming.frame_is_compressed {
            return Ok(());
        }
        let partial = self.decoder.partial_payload(self.recv.bytes());
        let fresh = partial.get(self.incoming.processed..).kept();
        if self.incoming.frame_is_compressed {
            inflate_part(
                &mut self.codec,
                &mut self.incoming,
                self.config.max_message_size,
                fresh,
                false,
            )?;
        } else {
            self.incoming.utf8.feed(fresh)?;
        }
        self.incoming.processed = partial.len();
        Ok(())
    }

    /// A whole frame: its event, if it has one for the app.
    fn on_frame(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        frame: Frame,
    ) -> Result<Option<Event>, Error> {
        match frame.opcode {
            Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                Ok(Some(Event::Frame(self.on_data_frame(frame)?)))
            }
            Opcode::Ping => {
                // RFC 6455 §5.5.2: a ping is answered with a pong carrying the
                // same payload, unless a Close was already sent.
                if self.config.auto_pong && self.phase.sends_frames() {
                    self.queue_frame(masks, Opcode::Pong, true, &frame.payload)?;
                }
                Ok(Some(Event::Frame(frame)))
            }
            Opcode::Pong => {
                if self
                    .awaited_pong
                    .is_some_and(|awaited| frame.payload[..] == awaited[..])
                {
                    self.awaited_pong = None;
                    self.timers.set(Timer::PongDeadline, None);
                    // The next ping is due an interval after this answer.
                    let next_ping = self
                        .config
                        .keepalive
                        .and_then(|keepalive| now.checked_add(keepalive.interval));
                    self.timers.set(Timer::KeepalivePing, next_ping);
                }
                Ok(Some(Event::Frame(frame)))
            }
            Opcode::Close => self.on_peer_close(masks, now, &frame.payload),
        }
    }

    /// A whole data frame: validated or inflated to its end, and the
    /// message's progress updated.
    fn on_data_frame(&mut self, frame: Frame) -> Result<Frame, ProtocolError> {
        let fresh = frame.payload.get(self.incoming.processed..).kept();
        let compressed = self.incoming.frame_is_compressed;
        let frame = if compressed {
            inflate_part(
                &mut self.codec,
                &mut self.incoming,
                self.config.max_message_size,
                fresh,
                frame.fin,
            )?;
            // The app sees the message as sent: inflated, and with the
            // extension's RSV1 consumed.
            Frame {
                rsv: 0,
                payload: self.codec.take_inflated(),
                ..frame
            }
        } else {
            if self.incoming.frame_is_text {
                self.incoming.utf8.feed(fresh)?;
            }
            frame
        };
        if frame.fin && self.incoming.frame_is_text {
            self.incoming.utf8.finish()?;
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
        Ok(frame)
    }

    /// The peer's Close: answered (when this side has not sent its own) and
    /// reported.
    fn on_peer_close(
        &mut self,
        masks: &mut impl MaskSource,
        now: Duration,
        payload: &[u8],
    ) -> Result<Option<Event>, Error> {
        let received = CloseFrame::decode(payload).map_err(ProtocolError::from)?;
        let Some(next) = step(self.is_client, self.phase, Input::PeerClose) else {
            return Ok(None);
        };
        if next.send_close {
            // RFC 6455 §5.5.1: the reply typically echoes the status code.
            let echo = received.as_ref().map(|close| (close.code, ""));
            let _ = self.queue_close(masks, echo);
        }
        let (code, reason) = match received {
            Some(close) => (close.code, close.reason),
            None => (CloseCode::NO_STATUS, String::new()),
        };
        let initiator = self.phase.close_initiator();
        // Frames are decoded only once the queue is empty, so the event
        // queued here is its only one, and goes out now as the frame's own.
        debug_assert!(self.events.is_empty());
        self.report_close(&next, code, reason, initiator, None);
        let event = self.events.pop_front();
        self.enter(next, now);
        Ok(event)
    }

    /// The peer closed the transport. In the Open and Closing states this
    /// takes effect in byte order, once the bytes before it are consumed
    /// (`poll_event`); otherwise at once.
    pub(crate) fn receive_eof(&mut self, now: Duration) -> Result<(), Error> {
        self.note_time(now);
        if self.phase.reads_frames() {
            self.eof = true;
            return Ok(());
        }
        self.end_of_transport()
    }

    /// The end of the transport, after every byte before it.
    fn end_of_transport(&mut self) -> Result<(), Error> {
        let Some(next) = step(self.is_client, self.phase, Input::Eof) else {
            return Ok(());
        };
        let abnormal = next.emit_close || self.phase == Phase::Handshake;
        let initiator = self.phase.close_initiator();
        let error = abnormal.then_some(Error::UnexpectedEof);
        self.report_close(&next, CloseCode::ABNORMAL, String::new(), initiator, error);
        self.enter(next, self.latest_now);
        if abnormal {
            return Err(Error::UnexpectedEof);
        }
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

/// The largest deflate output for `len` bytes of input: zlib's
/// `compressBound`, stored blocks and their headers at worst.
fn deflate_bound(len: u64) -> u64 {
    len.saturating_add(len >> 12)
        .saturating_add(len >> 14)
        .saturating_add(len >> 25)
        .saturating_add(13)
}
