//! What the app sends: data messages whole, owned or in fragments, frames
//! of known length written in pieces, and control frames, masked by a
//! client and compressed when the message is.

use bytes::{Bytes, BytesMut};

use super::{DataKind, Engine, Fragment, MaskSource, OWNED_PAYLOAD_MIN};
use crate::close::{CloseCode, CloseFrame};
use crate::entropy::EntropyError;
use crate::error::SendError;
use crate::extensions::RSV1;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, Opcode, encode_frame};
use crate::invariant::Kept;
use crate::mask;
use crate::utf8::Utf8Validator;

impl Engine {
    /// Queues a frame, masked when the role masks.
    pub(super) fn queue_frame(
        &mut self,
        masks: &mut impl MaskSource,
        opcode: Opcode,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), EntropyError> {
        let mask = masks.next_mask()?;
        let header = FrameHeader::new(opcode, fin, mask, payload.len() as u64);
        // A control frame cannot go inside a frame the app is writing in
        // pieces: it waits for the frame's end.
        let out = if opcode.is_control() && self.outgoing.frame.is_some() {
            &mut self.outgoing.deferred
        } else {
            self.out.buf()
        };
        encode_frame(&header, payload, out);
        Ok(())
    }

    /// Queues a data frame, compressed when its message is. The mask is
    /// drawn before the compressor runs, so a failed mask leaves the
    /// compressor as it was.
    pub(super) fn queue_data(
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
        encode_frame(&header, body, self.out.buf());
        Ok(())
    }

    /// Queues a Close frame: with a code and reason, or empty. Callers pass
    /// a code and reason already known to be valid; anything else is sent as
    /// an empty Close rather than an invalid one.
    pub(super) fn queue_close(
        &mut self,
        masks: &mut impl MaskSource,
        close: Option<(CloseCode, &str)>,
    ) -> Result<(), EntropyError> {
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let mut len = 0;
        if let Some((code, reason)) = close
            && CloseFrame::encode(code, reason, &mut &mut payload[..]).is_ok()
        {
            len = 2 + reason.len();
        }
        self.queue_frame(masks, Opcode::Close, true, payload.get(..len).kept())
    }

    pub(super) fn require_open(&self) -> Result<(), SendError> {
        if !self.phase.sends_frames() {
            return Err(SendError::NotOpen {
                state: self.state(),
            });
        }
        if self.outgoing.frame.is_some() {
            return Err(SendError::FrameInProgress);
        }
        Ok(())
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
        self.queue_owned(masks, kind.opcode(), true, payload)
    }

    /// Queues an uncompressed frame whose payload the app handed over:
    /// masked in place (a client) and queued as its own buffer.
    fn queue_owned(
        &mut self,
        masks: &mut impl MaskSource,
        opcode: Opcode,
        fin: bool,
        payload: Bytes,
    ) -> Result<(), SendError> {
        let mask = masks.next_mask()?;
        let header = FrameHeader::new(opcode, fin, mask, payload.len() as u64);
        let payload = match mask {
            Some(key) => {
                // Without a copy when the app held the only handle.
                let mut owned = BytesMut::from(payload);
                mask::apply_mask(&mut owned, key, 0);
                owned.freeze()
            }
            None => payload,
        };
        self.out.buf().extend_from_slice(header.encode().as_bytes());
        self.out.push_owned(payload);
        Ok(())
    }

    /// Sends a fragment whose payload the app hands over, without a copy
    /// unless it is small or its message compressed (then as
    /// `send_fragment`).
    pub(crate) fn send_fragment_owned(
        &mut self,
        masks: &mut impl MaskSource,
        fragment: Fragment,
        payload: Bytes,
    ) -> Result<(), SendError> {
        self.require_open()?;
        let (opcode, fin, kind, first) = self.place(fragment)?;
        let compressed = if first {
            self.codec.compresses(payload.len())
        } else {
            self.outgoing.compressed
        };
        if payload.len() < OWNED_PAYLOAD_MIN || compressed {
            return self.send_fragment(masks, fragment, &payload);
        }
        // Checked on a copy, kept only once the frame is queued.
        let mut utf8 = if first {
            Utf8Validator::new()
        } else {
            self.outgoing.utf8.clone()
        };
        if kind == DataKind::Text {
            utf8.feed(&payload).map_err(|_| SendError::InvalidUtf8)?;
            if fin {
                utf8.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
        }
        self.queue_owned(masks, opcode, fin, payload)?;
        self.outgoing.utf8 = utf8;
        self.outgoing.compressed = false;
        self.outgoing.message = if fin { None } else { Some(kind) };
        Ok(())
    }

    pub(crate) fn send_fragment(
        &mut self,
        masks: &mut impl MaskSource,
        fragment: Fragment,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.require_open()?;
        let (opcode, fin, kind, first) = self.place(fragment)?;
        // Checked on a copy, kept only once the frame is queued, so that a
        // refused fragment (bad text or a failed mask) changes nothing.
        let mut utf8 = if first {
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

    /// A frame's opcode, FIN bit and message kind for its place in a
    /// message, and whether it starts the message.
    fn place(&self, fragment: Fragment) -> Result<(Opcode, bool, DataKind, bool), SendError> {
        Ok(match (fragment, self.outgoing.message) {
            (Fragment::First(_) | Fragment::Whole(_), Some(_)) => {
                return Err(SendError::MessageInProgress);
            }
            (Fragment::Continue | Fragment::Last, None) => {
                return Err(SendError::NoMessageInProgress);
            }
            (Fragment::First(kind), None) => (kind.opcode(), false, kind, true),
            (Fragment::Whole(kind), None) => (kind.opcode(), true, kind, true),
            (Fragment::Continue, Some(kind)) => (Opcode::Continuation, false, kind, false),
            (Fragment::Last, Some(kind)) => (Opcode::Continuation, true, kind, false),
        })
    }

    /// Starts a frame of `len` payload bytes that the app writes in pieces
    /// (`write_frame_payload`), masked as they come.
    pub(crate) fn begin_frame(
        &mut self,
        masks: &mut impl MaskSource,
        fragment: Fragment,
        len: u64,
    ) -> Result<(), SendError> {
        self.require_open()?;
        let (opcode, fin, kind, first) = self.place(fragment)?;
        // Its compressed length cannot be known before its payload: a
        // message sent this way is not compressed.
        if !first && self.outgoing.compressed {
            return Err(SendError::CompressedMessage);
        }
        let mask = masks.next_mask()?;
        let header = FrameHeader::new(opcode, fin, mask, len);
        self.out.buf().extend_from_slice(header.encode().as_bytes());
        if first {
            self.outgoing.utf8 = Utf8Validator::new();
            self.outgoing.compressed = false;
        }
        self.outgoing.message = Some(kind);
        self.outgoing.frame = Some(OpenFrame {
            left: len,
            mask,
            phase: 0,
            kind,
            fin,
        });
        if len == 0 {
            self.write_frame_payload(&[])?;
        }
        Ok(())
    }

    /// Writes the next piece of the frame `begin_frame` started; its last
    /// byte ends the frame, and the control frames that waited follow.
    pub(crate) fn write_frame_payload(&mut self, payload: &[u8]) -> Result<(), SendError> {
        if self.error.is_some() {
            return Err(SendError::NotOpen {
                state: self.state(),
            });
        }
        let Some(frame) = &mut self.outgoing.frame else {
            return Err(SendError::NoFrameInProgress);
        };
        if payload.len() as u64 > frame.left {
            return Err(SendError::FrameOverrun { left: frame.left });
        }
        let ends = payload.len() as u64 == frame.left;
        if frame.kind == DataKind::Text {
            // Checked on a copy: a refused piece changes nothing.
            let mut utf8 = self.outgoing.utf8.clone();
            utf8.feed(payload).map_err(|_| SendError::InvalidUtf8)?;
            if ends && frame.fin {
                utf8.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
            self.outgoing.utf8 = utf8;
        }
        let out = self.out.buf();
        match frame.mask {
            Some(key) => frame.phase = mask::extend_masked(out, payload, key, frame.phase),
            None => out.extend_from_slice(payload),
        }
        frame.left -= payload.len() as u64;
        if ends {
            let fin = frame.fin;
            self.outgoing.frame = None;
            if fin {
                self.outgoing.message = None;
            }
            let deferred = core::mem::take(&mut self.outgoing.deferred);
            self.out.buf().extend_from_slice(&deferred);
        }
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
}

/// A frame whose payload the app writes in pieces
/// (`Connection::begin_frame`).
#[derive(Clone, Debug)]
pub(super) struct OpenFrame {
    /// Payload bytes still to come.
    left: u64,
    /// The frame's masking key, and its phase at the next byte.
    mask: Option<[u8; 4]>,
    phase: usize,
    kind: DataKind,
    fin: bool,
}
