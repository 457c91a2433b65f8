//! WebSocket frames (RFC 6455 §5): opcodes, header decoding and encoding, and
//! an incremental decoder that unmasks payloads in place as they arrive.

use bytes::{Buf, Bytes, BytesMut};

use crate::invariant::Kept;
use crate::mask;

mod error;
pub use error::ProtocolError;

/// A frame's opcode. Reserved opcodes are rejected while decoding, so every
/// value of this type is one RFC 6455 defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: a text message (UTF-8).
    Text,
    /// 0x2: a binary message.
    Binary,
    /// 0x8: starts or answers the closing handshake.
    Close,
    /// 0x9: a ping; the peer answers with a pong.
    Ping,
    /// 0xA: a pong, solicited or not.
    Pong,
}

impl Opcode {
    /// The opcode for a 4-bit wire value, or `None` for a reserved one.
    pub const fn from_wire(value: u8) -> Option<Opcode> {
        match value {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4-bit wire value.
    pub const fn to_wire(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode (close, ping, pong).
    pub const fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes
/// or less".
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest header: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3 as the bits 0b100, 0b010 and 0b001.
    pub rsv: u8,
    /// The opcode.
    pub opcode: Opcode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// An encoded header, in the shortest length form.
#[derive(Clone, Copy, Debug)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl EncodedHeader {
    /// The header's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).kept()
    }
}

impl FrameHeader {
    /// A header with no RSV bits.
    pub const fn new(opcode: Opcode, fin: bool, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` while `buf` is too short, and the header with its
    /// length in bytes once it is complete. Non-minimal length encodings are
    /// accepted.
    ///
    /// # Errors
    /// [`ProtocolError::ReservedOpcode`], [`ProtocolError::LengthTopBitSet`],
    /// [`ProtocolError::ControlFrameTooLarge`] or
    /// [`ProtocolError::FragmentedControlFrame`].
    ///
    /// ```
    /// use wsmachine::frame::{FrameHeader, Opcode};
    ///
    /// // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    /// let (header, len) = FrameHeader::decode(b"\x81\x05Hello")?.ok_or("incomplete")?;
    /// assert_eq!((header.opcode, header.fin, header.payload_len, len), (Opcode::Text, true, 5, 2));
    /// assert_eq!(FrameHeader::decode(b"\x81")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [first, second, rest @ ..] = buf else {
            return Ok(None);
        };
        let fin = first & 0x80 != 0;
        let rsv = (first >> 4) & 0b111;
        let opcode =
            Opcode::from_wire(first & 0x0F).ok_or(ProtocolError::ReservedOpcode(first & 0x0F))?;
        let masked = second & 0x80 != 0;
        let (payload_len, rest) = match second & 0x7F {
            126 => match rest {
                [a, b, rest @ ..] => (u64::from(u16::from_be_bytes([*a, *b])), rest),
                _ => return Ok(None),
            },
            127 => match rest.split_first_chunk::<8>() {
                Some((len, rest)) => {
                    let len = u64::from_be_bytes(*len);
                    // RFC 6455 §5.2: "the most significant bit MUST be 0".
                    if len >> 63 != 0 {
                        return Err(ProtocolError::LengthTopBitSet);
                    }
                    (len, rest)
                }
                None => return Ok(None),
            },
            short => (u64::from(short), rest),
        };
        if opcode.is_control() {
            // RFC 6455 §5.5: control frames carry at most 125 bytes and
            // "MUST NOT be fragmented".
            if payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLarge { len: payload_len });
            }
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
        }
        let (mask, rest) = if masked {
            match rest.split_first_chunk::<4>() {
                Some((key, rest)) => (Some(*key), rest),
                None => return Ok(None),
            }
        } else {
            (None, rest)
        };
        let header_len = buf.len() - rest.len();
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// The length of this header's encoding.
    pub const fn encoded_len(&self) -> usize {
        let length_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        let mask_bytes = if self.mask.is_some() { 4 } else { 0 };
        2 + length_bytes + mask_bytes
    }

    /// Encodes this header in the shortest length form.
    ///
    /// ```
    /// use wsmachine::frame::{FrameHeader, Opcode};
    ///
    /// // RFC 6455 §5.7: a 256-byte unmasked binary message.
    /// let header = FrameHeader::new(Opcode::Binary, true, None, 256);
    /// assert_eq!(header.encode().as_bytes(), [0x82, 0x7E, 0x01, 0x00]);
    /// ```
    pub fn encode(&self) -> EncodedHeader {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let len = self.write_to(&mut bytes);
        EncodedHeader {
            bytes,
            len: len as u8,
        }
    }

    /// Writes this header at the start of `bytes` and returns its length.
    fn write_to(&self, bytes: &mut [u8; MAX_HEADER_LEN]) -> usize {
        bytes[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.to_wire();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        match self.payload_len {
            short @ 0..=125 => bytes[1] = mask_bit | short as u8,
            medium @ 126..=0xFFFF => {
                bytes[1] = mask_bit | 126;
                bytes[2..4].copy_from_slice(&(medium as u16).to_be_bytes());
                len = 4;
            }
            long => {
                bytes[1] = mask_bit | 127;
                bytes[2..10].copy_from_slice(&long.to_be_bytes());
                len = 10;
            }
        }
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

/// A whole frame, with its payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The opcode.
    pub opcode: Opcode,
    /// Whether this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2 and RSV3 as the bits 0b100, 0b010 and 0b001.
    pub rsv: u8,
    /// The unmasked payload.
    pub payload: Bytes,
}

impl Frame {
    /// A final frame with no RSV bits.
    pub fn new(opcode: Opcode, payload: impl Into<Bytes>) -> Self {
        Frame {
            opcode,
            fin: true,
            rsv: 0,
            payload: payload.into(),
        }
    }

    /// Appends this frame's wire form to `out`, masking the payload with
    /// `mask` when one is given.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use wsmachine::frame::{Frame, Opcode};
    ///
    /// // RFC 6455 §5.7: a masked text message "Hello".
    /// let mut out = BytesMut::new();
    /// Frame::new(Opcode::Text, "Hello").encode(Some([0x37, 0xfa, 0x21, 0x3d]), &mut out);
    /// assert_eq!(&out[..], b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    /// ```
    pub fn encode(&self, mask: Option<[u8; 4]>, out: &mut BytesMut) {
        let header = FrameHeader {
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            mask,
            payload_len: self.payload.len() as u64,
        };
        encode_frame(&header, &self.payload, out);
    }
}

/// Appends a header and its payload to `out`, masking the payload with the
/// header's key while copying it.
///
/// The header's length field is written as given; callers pass
/// `payload.len()`.
pub fn encode_frame(header: &FrameHeader, payload: &[u8], out: &mut BytesMut) {
    if payload.len() < SHORT_PAYLOAD && encode_short_frame(header, payload, out) {
        return;
    }
    let encoded = header.encode();
    out.reserve(encoded.as_bytes().len() + payload.len());
    out.extend_from_slice(encoded.as_bytes());
    match header.mask {
        Some(key) => {
            mask::extend_masked(out, payload, key, 0);
        }
        None => out.extend_from_slice(payload),
    }
}

/// Payloads shorter than this are unmasked a word at a time by
/// [`mask_payload`].
const SHORT_PAYLOAD: usize = 64;

/// Masks or unmasks a whole payload (key index 0 at its first byte).
///
/// [`mask::apply_mask`] works on 64-byte blocks against a key pattern it
/// builds first; for the short payloads of chat and RPC traffic building the
/// pattern costs more than the masking, so those are done here with the key
/// as one 8-byte word.
#[inline]
fn mask_payload(payload: &mut [u8], key: [u8; 4]) {
    if payload.len() >= SHORT_PAYLOAD {
        mask::apply_mask(payload, key, 0);
        return;
    }
    // The key twice over, in the byte order the payload words are read in.
    let key_word = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
    let (words, tail) = payload.as_chunks_mut::<8>();
    for word in words {
        *word = (u64::from_ne_bytes(*word) ^ key_word).to_ne_bytes();
    }
    // The tail starts at a multiple of 8, so at key index 0.
    for (byte, key_byte) in tail.iter_mut().zip(key.iter().cycle()) {
        *byte ^= key_byte;
    }
}

/// Appends a frame whose payload is shorter than [`SHORT_PAYLOAD`], and
/// returns false for a longer one. Room for the largest such frame is
/// appended as zeros (a copy of a constant size is a few vector stores,
/// where a copy of the frame's own length is a call), the header and the
/// payload are written into it, the payload masked a word at a time, and
/// the unused end is cut off: for small frames a fraction of the cost of
/// appending the header and the payload separately. Building the frame on
/// the stack and copying it over measured 59% of a 16-byte client send:
/// the copy's vector loads read bytes that narrower stores had just
/// written, which the CPU cannot forward.
fn encode_short_frame(header: &FrameHeader, payload: &[u8], out: &mut BytesMut) -> bool {
    const ROOM: usize = MAX_HEADER_LEN + SHORT_PAYLOAD;
    let start = out.len();
    out.extend_from_slice(&[0u8; ROOM]);
    let Some(frame) = out
        .get_mut(start..)
        .and_then(|room| room.first_chunk_mut::<ROOM>())
    else {
        out.truncate(start);
        return false;
    };
    let Some(header_part) = frame.first_chunk_mut::<MAX_HEADER_LEN>() else {
        out.truncate(start);
        return false;
    };
    let header_len = header.write_to(header_part);
    let frame_len = header_len + payload.len();
    let Some(body) = frame.get_mut(header_len..frame_len) else {
        out.truncate(start);
        return false;
    };
    let key = header.mask.unwrap_or_default();
    // Unmasked frames XOR with zero: one loop for both.
    let key_word = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
    let (source_words, source_tail) = payload.as_chunks::<8>();
    let (body_words, body_tail) = body.as_chunks_mut::<8>();
    for (word, source) in body_words.iter_mut().zip(source_words) {
        *word = (u64::from_ne_bytes(*source) ^ key_word).to_ne_bytes();
    }
    for ((byte, source), key_byte) in body_tail
        .iter_mut()
        .zip(source_tail)
        .zip(key.iter().cycle())
    {
        *byte = source ^ key_byte;
    }
    out.truncate(start + frame_len);
    true
}

/// What [`FrameDecoder::decode`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A new frame's header. Its payload follows; nothing of it has been
    /// buffered for the app yet, so the caller can check limits and state.
    Header(FrameHeader),
    /// A whole frame, split off the front of the buffer and unmasked.
    Frame(Frame),
}

/// An incremental frame decoder.
///
/// It reads from a buffer the caller appends to, reports each header as soon
/// as it is complete, unmasks payload bytes in place as they arrive (so a text
/// payload can be validated before the rest of the frame comes), and splits
/// each finished payload off the buffer without copying.
///
/// ```
/// use bytes::BytesMut;
/// use wsmachine::frame::{Decoded, FrameDecoder, Opcode};
///
/// let mut decoder = FrameDecoder::new();
/// let mut buf = BytesMut::from(&b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f"[..]);
/// assert!(matches!(decoder.decode(&mut buf), Ok(Some(Decoded::Header(_)))));
/// assert_eq!(decoder.decode(&mut buf), Ok(None));
/// assert_eq!(decoder.partial_payload(&buf), b"He");
/// buf.extend_from_slice(b"\x4d\x51\x58");
/// let Ok(Some(Decoded::Frame(frame))) = decoder.decode(&mut buf) else { panic!() };
/// assert_eq!((frame.opcode, &frame.payload[..]), (Opcode::Text, &b"Hello"[..]));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    current: Option<InProgress>,
}

#[derive(Clone, Debug)]
struct InProgress {
    header: FrameHeader,
    /// Payload bytes at the front of the buffer that are already unmasked.
    unmasked: usize,
    /// Payload bytes already taken off the buffer as pieces
    /// ([`FrameDecoder::take_payload`]): the buffer holds the rest.
    taken: u64,
}

impl InProgress {
    /// The payload bytes not yet taken, as a buffer length (saturated).
    fn left(&self) -> usize {
        usize::try_from(self.header.payload_len - self.taken).unwrap_or(usize::MAX)
    }

    /// The masking key's phase at the first buffered payload byte plus
    /// `offset`.
    fn phase(&self, offset: usize) -> usize {
        // Only the phase modulo 4 matters: the key repeats every 4 bytes.
        (self.taken % 4) as usize + offset % 4
    }
}

/// A whole frame at the front of a buffer, its payload unmasked in place:
/// the header takes the first `header_len` bytes and the frame `len`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WholeFrame {
    pub(crate) header: FrameHeader,
    pub(crate) header_len: usize,
    pub(crate) len: usize,
}

impl WholeFrame {
    /// The payload's range in the buffer.
    pub(crate) fn payload(&self) -> core::ops::Range<usize> {
        self.header_len..self.len
    }

    /// Removes the frame from the front of `buf` and returns it.
    pub(crate) fn split_off(&self, buf: &mut BytesMut) -> Frame {
        // Dropping the header from the frozen bytes moves a pointer; doing
        // it on the `BytesMut` costs a call.
        let mut payload = buf.split_to(self.len).freeze();
        payload.advance(self.header_len);
        Frame {
            opcode: self.header.opcode,
            fin: self.header.fin,
            rsv: self.header.rsv,
            payload,
        }
    }
}

impl FrameDecoder {
    /// A decoder waiting for the first header.
    pub const fn new() -> Self {
        FrameDecoder { current: None }
    }

    /// Decodes as far as `buf` allows.
    ///
    /// A header is removed from `buf` when it is reported. Payload bytes stay
    /// at the front of `buf`, unmasked, until the frame is whole. `Ok(None)`
    /// means more bytes are needed.
    ///
    /// # Errors
    /// The header violations of [`FrameHeader::decode`]. Once an error is
    /// returned the stream is unusable; the caller fails the connection.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        let Some(current) = &mut self.current else {
            let Some((header, header_len)) = FrameHeader::decode(buf)? else {
                return Ok(None);
            };
            buf.advance(header_len);
            self.current = Some(InProgress {
                header,
                unmasked: 0,
                taken: 0,
            });
            return Ok(Some(Decoded::Header(header)));
        };
        let payload_len = current.left();
        let available = buf.len().min(payload_len);
        if let Some(key) = current.header.mask
            && let Some(fresh) = buf.get_mut(current.unmasked..available)
        {
            mask::apply_mask(fresh, key, current.phase(current.unmasked));
        }
        current.unmasked = available;
        if available < payload_len {
            return Ok(None);
        }
        let header = current.header;
        self.current = None;
        Ok(Some(Decoded::Frame(Frame {
            opcode: header.opcode,
            fin: header.fin,
            rsv: header.rsv,
            payload: buf.split_to(payload_len).freeze(),
        })))
    }

    /// Appends `data` to `buf`, unmasking the bytes that continue the payload
    /// in progress while they are copied.
    ///
    /// The result is what `buf.extend_from_slice(data)` followed by
    /// [`decode`](Self::decode) would leave, but a large payload is read and
    /// written once instead of copied and then unmasked in a second pass.
    /// Bytes after the payload (the next frames) are appended as they are.
    pub(crate) fn extend(&mut self, buf: &mut BytesMut, data: &[u8]) {
        let mut rest = data;
        // Only when every buffered byte is unmasked payload does the next
        // byte of `data` continue the payload at `unmasked`.
        if let Some(current) = &mut self.current
            && let Some(key) = current.header.mask
            && current.unmasked == buf.len()
        {
            let wanted = current.left().saturating_sub(current.unmasked);
            let (payload, after) = data.split_at(wanted.min(data.len()));
            mask::extend_masked(buf, payload, key, current.phase(current.unmasked));
            // At most `payload_len`, so no overflow.
            current.unmasked += payload.len();
            rest = after;
        }
        buf.extend_from_slice(rest);
    }

    /// Finds a whole frame at the front of `buf` in one step: the common
    /// case of small frames that arrive complete, without the separate
    /// header and payload steps of [`decode`](Self::decode).
    ///
    /// It applies only when no frame is in progress, the next header and all
    /// of its payload are in `buf`, and `accept` returns true for the header.
    /// Then the payload is unmasked in place and the frame stays at the
    /// front of `buf`: the caller hands it over with
    /// [`WholeFrame::split_off`], or lends it out and advances `buf` by its
    /// `len`. Otherwise nothing changes and `None` is returned, and `decode`
    /// takes the frame (and reports what is wrong with it).
    #[inline]
    pub(crate) fn unmask_whole(
        &self,
        buf: &mut BytesMut,
        accept: impl FnOnce(&FrameHeader) -> bool,
    ) -> Option<WholeFrame> {
        if self.current.is_some() {
            return None;
        }
        let Ok(Some((header, header_len))) = FrameHeader::decode(buf) else {
            return None;
        };
        let len = usize::try_from(header.payload_len)
            .ok()?
            .checked_add(header_len)?;
        if buf.len() < len || !accept(&header) {
            return None;
        }
        if let Some(key) = header.mask
            && let Some(payload) = buf.get_mut(header_len..len)
        {
            mask_payload(payload, key);
        }
        Some(WholeFrame {
            header,
            header_len,
            len,
        })
    }

    /// The header of the frame whose payload is being received, if any.
    pub fn current_header(&self) -> Option<&FrameHeader> {
        self.current.as_ref().map(|current| &current.header)
    }

    /// The declared payload length of the frame in progress, and how many of
    /// its bytes are still to come when `buffered` bytes follow its header.
    pub(crate) fn payload_missing(&self, buffered: usize) -> Option<(u64, u64)> {
        let current = self.current.as_ref()?;
        let payload_len = current.header.payload_len;
        let buffered = u64::try_from(buffered).unwrap_or(u64::MAX);
        let missing = (payload_len - current.taken).saturating_sub(buffered);
        Some((payload_len, missing))
    }

    /// Unmasks the payload bytes of the frame in progress that have
    /// arrived, without taking them or ending the frame: the way to a
    /// frame's payload in pieces ([`take_payload`](Self::take_payload)).
    pub(crate) fn unmask_available(&mut self, buf: &mut BytesMut) {
        let Some(current) = &mut self.current else {
            return;
        };
        let available = buf.len().min(current.left());
        if let Some(key) = current.header.mask
            && let Some(fresh) = buf.get_mut(current.unmasked..available)
        {
            mask::apply_mask(fresh, key, current.phase(current.unmasked));
        }
        current.unmasked = current.unmasked.max(available);
    }

    /// Takes up to `max` payload bytes of the frame in progress off the
    /// front of `buf`, unmasked, without waiting for the frame's end: the
    /// bytes and whether they end the frame. `None` when no frame is in
    /// progress, or no payload byte has arrived and the frame has some to
    /// come. An empty frame gives one empty piece that ends it.
    ///
    /// Call [`unmask_available`](Self::unmask_available) first: this takes
    /// only bytes already unmasked.
    pub(crate) fn take_payload(&mut self, buf: &mut BytesMut, max: usize) -> Option<(Bytes, bool)> {
        let current = self.current.as_mut()?;
        let left = current.left();
        let n = current.unmasked.min(max).min(buf.len());
        if n == 0 && left > 0 {
            return None;
        }
        let piece = buf.split_to(n).freeze();
        current.taken += n as u64;
        current.unmasked -= n;
        let ends = current.taken == current.header.payload_len;
        if ends {
            self.current = None;
        }
        Some((piece, ends))
    }

    /// The unmasked payload bytes of the current frame received so far.
    ///
    /// `buf` is the buffer passed to [`FrameDecoder::decode`].
    pub fn partial_payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let unmasked = self.current.as_ref().map_or(0, |current| current.unmasked);
        buf.get(..unmasked).kept()
    }
}

#[cfg(test)]
mod tests;
