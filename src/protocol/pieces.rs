//! Data payload handed out in pieces as it arrives
//! ([`Config::piece_size`](crate::config::Config::piece_size)).
//!
//! A data frame's payload is taken off the receive buffer as soon as it has
//! arrived and been unmasked (and, for text, checked), at most a piece at a
//! time, so a frame of any length needs no buffer of its length. Text
//! pieces end on character boundaries: the bytes of a character not yet
//! whole stay in the buffer until the rest arrives, and at the end of a
//! frame they move to `carry` and go out with the next frame's first piece.
//! A compressed message is inflated a bounded step at a time, each step
//! taking only the input its output room allows; its output stays with
//! the codec until it goes out, a character split between frames included.
//!
//! What goes out does not depend on how the input was split: a piece holds
//! every byte that is ready, and a failure (invalid UTF-8, a message over
//! its limit, a message that ends inside a character) is reported after
//! every byte before it that could be handed out has been.

use alloc::boxed::Box;
use bytes::{Bytes, BytesMut};

use super::{DataKind, Engine};
use crate::error::{Error, ProtocolError};
use crate::event::{Event, Piece};
#[cfg(feature = "deflate")]
use crate::extensions::MessageCodec;
use crate::frame::{FrameHeader, Opcode};
use crate::invariant::{Kept, kept_or};
use crate::utf8::{MessageUtf8Error, split_char_len};

/// The message being handed out in pieces.
#[derive(Clone, Debug, Default)]
pub(super) struct Pieces {
    /// A data frame's payload is going out in pieces.
    in_frame: bool,
    /// The current frame's FIN bit and payload length.
    frame_fin: bool,
    frame_len: u64,
    /// The bytes of a character that the last frame began and did not end
    /// (uncompressed messages).
    carry: [u8; 3],
    carry_len: usize,
    /// Uncompressed: bytes at the front of `carry` and the buffered payload
    /// that are checked and may go out.
    ready: usize,
    /// Compressed: after a failure, the inflated bytes that may still go out
    /// before it.
    #[cfg(feature = "deflate")]
    ready_before_failure: Option<usize>,
    /// A failure found after the bytes that are ready: reported once they
    /// are out.
    failure: Option<Error>,
    /// Message bytes handed out so far: the message offset of the next
    /// byte to go out.
    handed: u64,
    /// Buffered payload bytes of the current frame looked at: fed to the
    /// validator, for text.
    checked: usize,
    /// Compressed: bytes of the message's tail (RFC 7692 §7.2.2) inflated.
    #[cfg(feature = "deflate")]
    tail_fed: usize,
    /// Compressed: the last step stopped for want of room, so output may
    /// come without more input.
    #[cfg(feature = "deflate")]
    more_output: bool,
    /// Whether the current frame has had a piece.
    frame_started: bool,
    /// Whether the current message has had a piece.
    message_started: bool,
}

impl Engine {
    /// A data frame's header was accepted: its payload goes out in pieces.
    pub(super) fn start_piece_frame(&mut self, header: &FrameHeader) {
        let kind = match header.opcode {
            Opcode::Text => DataKind::Text,
            Opcode::Binary => DataKind::Binary,
            // A continuation: `check_header` made sure a message is open.
            _ => kept_or(self.incoming.message, DataKind::Binary),
        };
        self.incoming.message = Some(kind);
        let pieces = self
            .incoming
            .pieces
            .get_or_insert_with(Box::default)
            .as_mut();
        pieces.in_frame = true;
        pieces.frame_fin = header.fin;
        pieces.frame_len = header.payload_len;
        pieces.checked = 0;
        #[cfg(feature = "deflate")]
        {
            pieces.tail_fed = 0;
        }
    }

    /// The next piece of the data frame in progress, when payload goes out
    /// in pieces and such a frame is in progress: `Some(Ok(None))` when
    /// more bytes are needed. `None` otherwise, for the frame path.
    pub(super) fn next_piece(&mut self) -> Option<Result<Option<Event>, Error>> {
        let max = self.config.piece_limit()?;
        if !self
            .incoming
            .pieces
            .as_ref()
            .is_some_and(|pieces| pieces.in_frame)
        {
            return None;
        }
        // Without the `deflate` feature no message is compressed.
        #[cfg(feature = "deflate")]
        if self.incoming.frame_is_compressed {
            return Some(self.next_inflated_piece(max));
        }
        Some(self.next_plain_piece(max))
    }

    /// The next piece of an uncompressed frame.
    fn next_plain_piece(&mut self, max: usize) -> Result<Option<Event>, Error> {
        let kind = kept_or(self.incoming.message, DataKind::Binary);
        let recv = self.recv.bytes();
        self.decoder.unmask_available(recv);
        let buffered = self.decoder.partial_payload(recv).len();
        let frame_complete = self
            .decoder
            .payload_missing(recv.len())
            .is_some_and(|(_, missing)| missing == 0);
        let pieces = self
            .incoming
            .pieces
            .get_or_insert_with(Box::default)
            .as_mut();
        if kind == DataKind::Text && pieces.failure.is_none() {
            let fresh = self
                .decoder
                .partial_payload(recv)
                .get(pieces.checked..)
                .kept();
            let fed = self.incoming.utf8.feed(fresh);
            pieces.checked = buffered;
            match fed {
                Ok(()) => {
                    let pending = self.incoming.utf8.pending_len();
                    pieces.ready = (pieces.carry_len + buffered).saturating_sub(pending);
                    if frame_complete && pieces.frame_fin && pending > 0 {
                        // The message ends inside a character.
                        pieces.failure = Some(incomplete_text());
                    }
                }
                Err(error) => {
                    let at = failure_offset(error, pieces.handed);
                    let before = combined_tail(pieces, self.decoder.partial_payload(recv), at);
                    pieces.ready = at - split_char_len(&before);
                    pieces.failure = Some(ProtocolError::from(error).into());
                }
            }
        } else if kind == DataKind::Binary {
            pieces.checked = buffered;
            pieces.ready = buffered;
        }
        let mut n = pieces.ready.min(max);
        if kind == DataKind::Text && n < pieces.ready {
            let before = combined_tail(pieces, self.decoder.partial_payload(recv), n);
            n -= split_char_len(&before);
        }
        let ends_frame = frame_complete && n == pieces.ready && pieces.failure.is_none();
        if n == 0 && !ends_frame {
            return match pieces.failure.take() {
                Some(failure) => Err(failure),
                None => Ok(None),
            };
        }
        // A character is never split, so the carry goes out whole or not
        // at all.
        debug_assert!(n == 0 || n >= pieces.carry_len);
        let from_buffer = n.saturating_sub(pieces.carry_len);
        let taken = self
            .decoder
            .take_payload(recv, from_buffer)
            .map_or_else(Bytes::new, |(bytes, _)| bytes);
        let payload = if n > 0 && pieces.carry_len > 0 {
            let mut joined = BytesMut::with_capacity(n);
            joined.extend_from_slice(pieces.carry.get(..pieces.carry_len).kept());
            joined.extend_from_slice(&taken);
            pieces.carry_len = 0;
            joined.freeze()
        } else {
            taken
        };
        pieces.ready -= n;
        pieces.checked -= from_buffer;
        if ends_frame {
            // The bytes of a character the frame does not end go with the
            // next frame.
            if let Some((tail, _)) = self.decoder.take_payload(recv, usize::MAX) {
                for &byte in &tail {
                    if let Some(slot) = pieces.carry.get_mut(pieces.carry_len) {
                        *slot = byte;
                        pieces.carry_len += 1;
                    }
                }
            }
            let frame_len = pieces.frame_len;
            self.incoming.size = self.incoming.size.saturating_add(frame_len);
        }
        Ok(Some(self.emit_piece(kind, payload, ends_frame)))
    }

    /// The next piece of a compressed frame: inflated output that is
    /// ready, else a bounded step of inflating.
    #[cfg(feature = "deflate")]
    fn next_inflated_piece(&mut self, max: usize) -> Result<Option<Event>, Error> {
        let kind = kept_or(self.incoming.message, DataKind::Binary);
        let text = kind == DataKind::Text;
        loop {
            let recv = self.recv.bytes();
            self.decoder.unmask_available(recv);
            let buffered = self.decoder.partial_payload(recv).len();
            // The decoder lets go of the frame once its last byte is taken,
            // though its output may not all have come out yet.
            let arrived = self
                .decoder
                .payload_missing(recv.len())
                .is_none_or(|(_, missing)| missing == 0);
            let pieces = self
                .incoming
                .pieces
                .get_or_insert_with(Box::default)
                .as_mut();
            let input_done = arrived
                && buffered == 0
                && !pieces.more_output
                && (!pieces.frame_fin || pieces.tail_fed == MessageCodec::INFLATE_TAIL.len());
            let inflated = self.codec.inflated_bytes();
            let pending = if text {
                self.incoming.utf8.pending_len()
            } else {
                0
            };
            if input_done && pieces.failure.is_none() && pieces.frame_fin && text && pending > 0 {
                // The message ends inside a character.
                pieces.failure = Some(incomplete_text());
                pieces.ready_before_failure = Some(inflated.len().saturating_sub(pending));
            }
            let ready = pieces
                .ready_before_failure
                .unwrap_or_else(|| inflated.len().saturating_sub(pending));
            let ends_frame = input_done && pieces.failure.is_none();
            if ready > 0 || ends_frame {
                let mut n = ready.min(max);
                if text && n < ready {
                    let head = inflated.get(..n).kept();
                    n -= split_char_len(head.get(n.saturating_sub(3)..).kept());
                }
                let ends_frame = ends_frame && n == ready;
                let payload = self.codec.take_inflated_prefix(n);
                if let Some(ready) = &mut pieces.ready_before_failure {
                    *ready -= n;
                }
                if ends_frame {
                    // An empty frame is still the decoder's: end it.
                    let _ = self.decoder.take_payload(recv, 0);
                    if pieces.frame_fin {
                        self.codec.end_inflated_message();
                    }
                }
                return Ok(Some(self.emit_piece(kind, payload, ends_frame)));
            }
            if let Some(failure) = pieces.failure.take() {
                return Err(failure);
            }
            // Inflate a step: the frame's payload, else output still held
            // back by the room, else the message's tail.
            let tail_fed = pieces.tail_fed;
            let more_output = pieces.more_output;
            let (input, from_buffer): (&[u8], bool) = if buffered > 0 {
                (self.decoder.partial_payload(recv), true)
            } else if more_output {
                (&[], false)
            } else if arrived && pieces.frame_fin && tail_fed < MessageCodec::INFLATE_TAIL.len() {
                (MessageCodec::INFLATE_TAIL.get(tail_fed..).kept(), false)
            } else {
                return Ok(None);
            };
            let limit = self.config.max_message_size;
            let allowance = limit.saturating_sub(self.incoming.size);
            let before = self.codec.inflated_bytes().len();
            let validator = text.then_some(&mut self.incoming.utf8);
            let step = self
                .codec
                .inflate_piece(input, allowance, limit, max, validator);
            let produced = self.codec.inflated_bytes().len().saturating_sub(before);
            self.incoming.size = self.incoming.size.saturating_add(produced as u64);
            let pieces = self
                .incoming
                .pieces
                .get_or_insert_with(Box::default)
                .as_mut();
            match kept_or(step, Err(ProtocolError::InvalidCompressedData)) {
                Ok((consumed, more)) => {
                    if from_buffer {
                        let _ = self.decoder.take_payload(recv, consumed);
                    } else if !more_output {
                        pieces.tail_fed += consumed;
                    }
                    pieces.more_output = more;
                }
                Err(error) => {
                    let inflated = self.codec.inflated_bytes();
                    let ready = match (&error, text) {
                        (
                            ProtocolError::InvalidUtf8 {
                                offset: Some(offset),
                            },
                            _,
                        ) => {
                            let at = usize::try_from(offset.saturating_sub(pieces.handed))
                                .ok()
                                .kept();
                            let head = inflated.get(..at).kept();
                            at - split_char_len(head.get(at.saturating_sub(3)..).kept())
                        }
                        // Cut at the limit and checked: whole characters.
                        (_, true) => inflated
                            .len()
                            .saturating_sub(self.incoming.utf8.pending_len()),
                        (_, false) => inflated.len(),
                    };
                    pieces.ready_before_failure = Some(ready);
                    pieces.failure = Some(error.into());
                }
            }
        }
    }

    /// A whole text frame the fast path took, with invalid UTF-8 in it,
    /// when payload goes out in pieces: the text before the failure goes
    /// out first, as it would have had the frame come in pieces, and the
    /// failure comes next. `None` when there is no such text (or payload
    /// does not go out in pieces): the failure comes at once.
    pub(super) fn failed_whole_frame_in_pieces(
        &mut self,
        frame: crate::frame::Frame,
        error: &ProtocolError,
    ) -> Option<Event> {
        self.config.piece_limit()?;
        let ProtocolError::InvalidUtf8 { offset } = *error else {
            return None;
        };
        // No offset: the text ends inside a character.
        let at = offset.map_or(frame.payload.len(), |at| usize::try_from(at).ok().kept());
        let at = at.min(frame.payload.len());
        let head = frame.payload.get(..at).kept();
        let valid = at - split_char_len(head.get(at.saturating_sub(3)..).kept());
        if valid == 0 {
            return None;
        }
        let mut payload = frame.payload;
        payload.truncate(valid);
        self.incoming.message = Some(DataKind::Text);
        let pieces = self
            .incoming
            .pieces
            .get_or_insert_with(Box::default)
            .as_mut();
        pieces.in_frame = true;
        pieces.frame_fin = true;
        pieces.failure = Some(error.clone().into());
        pieces.ready = 0;
        Some(self.emit_piece(DataKind::Text, payload, false))
    }

    /// Hands out `payload` as the next piece of the message, and closes
    /// the frame and the message where it ends them.
    fn emit_piece(&mut self, kind: DataKind, payload: Bytes, ends_frame: bool) -> Event {
        let pieces = self
            .incoming
            .pieces
            .get_or_insert_with(Box::default)
            .as_mut();
        pieces.handed = pieces.handed.saturating_add(payload.len() as u64);
        let message_end = ends_frame && pieces.frame_fin;
        let piece = Piece {
            kind,
            payload,
            message_start: !pieces.message_started,
            frame_start: !pieces.frame_started,
            frame_end: ends_frame,
            message_end,
        };
        pieces.message_started = !message_end;
        pieces.frame_started = !ends_frame;
        if ends_frame {
            pieces.in_frame = false;
            pieces.checked = 0;
        }
        if message_end {
            if kind == DataKind::Text {
                // Checked before: the message ends on a character.
                let _ = self.incoming.utf8.finish();
            }
            self.incoming.message = None;
            self.incoming.size = 0;
            // Kept for the next message: one allocation per connection.
            *pieces = Pieces::default();
        }
        Event::Piece(piece)
    }
}

/// The failure of a text message that ends inside a character.
fn incomplete_text() -> Error {
    ProtocolError::from(MessageUtf8Error { offset: None }).into()
}

/// Where a UTF-8 failure lies, from the next byte to go out.
fn failure_offset(error: MessageUtf8Error, handed: u64) -> usize {
    let at = error
        .offset
        .map_or(0, |offset| offset.saturating_sub(handed));
    usize::try_from(at).ok().kept()
}

/// The (at most 3) bytes before offset `at` of the carry followed by the
/// buffered payload, zeros (complete characters) where there are fewer.
fn combined_tail(pieces: &Pieces, buffered: &[u8], at: usize) -> [u8; 3] {
    let mut tail = [0u8; 3];
    let start = at.saturating_sub(3);
    let first_slot = 3 - (at - start);
    for (slot, index) in tail.iter_mut().skip(first_slot).zip(start..at) {
        *slot = if index < pieces.carry_len {
            pieces.carry.get(index).copied().kept()
        } else {
            buffered.get(index - pieces.carry_len).copied().kept()
        };
    }
    tail
}
