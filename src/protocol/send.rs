//! What the app sends: data messages whole, owned or in fragments, and
//! control frames, masked by a client and compressed when the message is.

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
        encode_frame(&header, payload, self.out.buf());
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

    fn require_open(&self) -> Result<(), SendError> {
        if self.phase.sends_frames() {
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
        self.out.buf().extend_from_slice(header.encode().as_bytes());
        self.out.push_owned(payload);
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
}
