//! Whole messages from frames: an optional helper on top of
//! [`Event::Frame`](crate::Event::Frame).
//!
//! The connection hands the app every frame as it arrives, so that a large
//! message can be streamed. An app that wants whole messages feeds those
//! frames to a [`MessageAssembler`], which joins fragments under its own size
//! limit. The core never uses this module.
//!
//! ```
//! use wsmachine::message::{Message, MessageAssembler};
//! use wsmachine::{Frame, Opcode};
//!
//! let mut assembler = MessageAssembler::new(1024);
//! let mut first = Frame::new(Opcode::Text, "Hel");
//! first.fin = false;
//! assert_eq!(assembler.push(first), Ok(None));
//! // Control frames may come between fragments; they pass through at once.
//! assert_eq!(
//!     assembler.push(Frame::new(Opcode::Ping, "?")),
//!     Ok(Some(Message::Ping("?".into())))
//! );
//! let message = assembler.push(Frame::new(Opcode::Continuation, "lo")).unwrap();
//! assert_eq!(message, Some(Message::Text("Hello".into())));
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::fmt;

use crate::frame::{Frame, Opcode};
use crate::protocol::DataKind;
use crate::utf8::{Utf8Error, Utf8Validator};

/// Bytes that hold valid UTF-8: a text message that shares its buffer with
/// the frame it came in.
///
/// The crate keeps `unsafe` to a few measured spots, and this is not one:
/// [`as_str`](Self::as_str) checks the
/// bytes each time it is called (a linear scan; call it once and keep the
/// `&str`). The bytes are checked when the value is built, so that check
/// always succeeds.
///
/// ```
/// use wsmachine::message::Utf8Bytes;
///
/// let text = Utf8Bytes::try_from(bytes::Bytes::from_static("héllo".as_bytes())).unwrap();
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text, "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        // The bytes were checked when the value was built, so the fallback
        // is never taken.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = core::str::Utf8Error;

    /// Checks that `bytes` are UTF-8 and wraps them without copying.
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Self {
        text.0
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole message, or a control frame passed through.
///
/// Control frames get their own variants rather than being dropped, so an
/// app can feed every frame it gets to the assembler and still see them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping's payload. A [`Connection`](crate::Connection) has already
    /// answered it unless [`Config::auto_pong`](crate::config::Config::auto_pong)
    /// is off.
    Ping(Bytes),
    /// A pong's payload.
    Pong(Bytes),
    /// A close frame's raw payload, for frames that did not come from a
    /// [`Connection`](crate::Connection) (which reports the close as
    /// [`Event::Close`](crate::Event::Close) instead); parse it with
    /// [`ClosePayload::decode`](crate::close::ClosePayload::decode).
    Close(Bytes),
}

/// Why [`MessageAssembler::push`] refused a frame.
///
/// The message in progress and the frame are dropped; the assembler is
/// ready for a new message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The message's total size is over the assembler's limit.
    #[error("message of at least {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// The size the message reached with the refused frame.
        size: usize,
        /// The assembler's limit.
        limit: usize,
    },
    /// A continuation frame with no message started.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A text or binary frame while a message is unfinished.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A text message that is not UTF-8.
    #[error("text message is not valid UTF-8: {0}")]
    InvalidUtf8(#[from] Utf8Error),
}

/// The fragmented message being joined.
#[derive(Clone, Debug)]
struct Partial {
    kind: DataKind,
    /// The non-empty fragments so far, joined once at the end.
    fragments: Vec<Bytes>,
    size: usize,
    utf8: Utf8Validator,
}

/// Joins frames into whole messages, holding at most `max_message_size`
/// bytes of an unfinished one.
///
/// A message in a single frame is returned without copying: its payload is
/// the frame's buffer. A fragmented message is copied once, when its last
/// fragment arrives. Text is checked as each fragment arrives, so invalid
/// UTF-8 is refused at the fragment that brings it. RSV bits are ignored: an
/// extension that uses them decodes its frames before they get here.
#[derive(Clone, Debug)]
pub struct MessageAssembler {
    max_message_size: usize,
    partial: Option<Partial>,
}

impl MessageAssembler {
    /// An assembler that refuses messages over `max_message_size` bytes.
    pub const fn new(max_message_size: usize) -> Self {
        MessageAssembler {
            max_message_size,
            partial: None,
        }
    }

    /// The limit it was built with.
    pub const fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Whether a fragmented message is unfinished.
    pub const fn is_in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes the next frame: a whole message once its last fragment is in,
    /// `None` while it is unfinished, and control frames at once.
    ///
    /// # Errors
    /// [`MessageError::TooLarge`] when the message goes over the limit,
    /// [`MessageError::UnexpectedContinuation`] and
    /// [`MessageError::ExpectedContinuation`] for frames out of sequence,
    /// [`MessageError::InvalidUtf8`] for text that is not UTF-8. The
    /// unfinished message is dropped.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        let result = self.take(frame);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn take(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        let kind = match frame.opcode {
            Opcode::Ping => return Ok(Some(Message::Ping(frame.payload))),
            Opcode::Pong => return Ok(Some(Message::Pong(frame.payload))),
            Opcode::Close => return Ok(Some(Message::Close(frame.payload))),
            Opcode::Text => DataKind::Text,
            Opcode::Binary => DataKind::Binary,
            Opcode::Continuation => return self.continue_message(frame),
        };
        if self.partial.is_some() {
            return Err(MessageError::ExpectedContinuation);
        }
        let size = frame.payload.len();
        self.check_size(size)?;
        let mut utf8 = Utf8Validator::new();
        if kind == DataKind::Text {
            utf8.feed(&frame.payload)?;
        }
        if frame.fin {
            if kind == DataKind::Text {
                utf8.finish()?;
            }
            return Ok(Some(message(kind, frame.payload)));
        }
        let mut fragments = Vec::new();
        if !frame.payload.is_empty() {
            fragments.push(frame.payload);
        }
        self.partial = Some(Partial {
            kind,
            fragments,
            size,
            utf8,
        });
        Ok(None)
    }

    fn continue_message(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        let limit = self.max_message_size;
        let Some(partial) = &mut self.partial else {
            return Err(MessageError::UnexpectedContinuation);
        };
        let size = partial.size.saturating_add(frame.payload.len());
        if size > limit {
            return Err(MessageError::TooLarge { size, limit });
        }
        if partial.kind == DataKind::Text {
            partial.utf8.feed(&frame.payload)?;
            if frame.fin {
                partial.utf8.finish()?;
            }
        }
        partial.size = size;
        if !frame.payload.is_empty() {
            partial.fragments.push(frame.payload);
        }
        if !frame.fin {
            return Ok(None);
        }
        let kind = partial.kind;
        let fragments = core::mem::take(&mut partial.fragments);
        self.partial = None;
        Ok(Some(message(kind, join(fragments, size))))
    }

    fn check_size(&self, size: usize) -> Result<(), MessageError> {
        if size > self.max_message_size {
            return Err(MessageError::TooLarge {
                size,
                limit: self.max_message_size,
            });
        }
        Ok(())
    }
}

/// A message of `kind` from bytes already checked for its kind.
fn message(kind: DataKind, payload: Bytes) -> Message {
    match kind {
        DataKind::Text => Message::Text(Utf8Bytes(payload)),
        DataKind::Binary => Message::Binary(payload),
    }
}

/// Joins fragments with one copy, or none when there is only one.
fn join(mut fragments: Vec<Bytes>, size: usize) -> Bytes {
    if fragments.len() <= 1 {
        return fragments.pop().unwrap_or_default();
    }
    let mut joined = BytesMut::with_capacity(size);
    for fragment in &fragments {
        joined.extend_from_slice(fragment);
    }
    joined.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn fragment(opcode: Opcode, fin: bool, payload: &'static [u8]) -> Frame {
        let mut frame = Frame::new(opcode, Bytes::from_static(payload));
        frame.fin = fin;
        frame
    }

    #[test]
    fn a_single_frame_message_shares_the_frame_buffer() {
        let mut assembler = MessageAssembler::new(100);
        let payload = Bytes::from(vec![1u8, 2, 3]);
        let pointer = payload.as_ptr();
        let Ok(Some(Message::Binary(out))) = assembler.push(Frame::new(Opcode::Binary, payload))
        else {
            panic!("a binary message")
        };
        assert_eq!((out.as_ptr(), &out[..]), (pointer, &[1u8, 2, 3][..]));

        let payload = Bytes::from("héllo");
        let pointer = payload.as_ptr();
        let Ok(Some(Message::Text(out))) = assembler.push(Frame::new(Opcode::Text, payload)) else {
            panic!("a text message")
        };
        assert_eq!(out.as_bytes().as_ptr(), pointer);
        assert_eq!(out, "héllo");
    }

    #[test]
    fn fragments_are_joined_in_order() {
        let mut assembler = MessageAssembler::new(100);
        assert_eq!(
            assembler.push(fragment(Opcode::Binary, false, b"ab")),
            Ok(None)
        );
        assert!(assembler.is_in_progress());
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, false, b"")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, false, b"cd")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"e")),
            Ok(Some(Message::Binary(Bytes::from_static(b"abcde"))))
        );
        assert!(!assembler.is_in_progress());
    }

    #[test]
    fn one_non_empty_fragment_is_returned_without_a_copy() {
        let mut assembler = MessageAssembler::new(100);
        let payload = Bytes::from(vec![b'x'; 10]);
        let pointer = payload.as_ptr();
        let mut first = Frame::new(Opcode::Text, payload);
        first.fin = false;
        assert_eq!(assembler.push(first), Ok(None));
        let Ok(Some(Message::Text(out))) =
            assembler.push(fragment(Opcode::Continuation, true, b""))
        else {
            panic!("a text message")
        };
        assert_eq!((out.as_bytes().as_ptr(), out.len()), (pointer, 10));
    }

    #[test]
    fn empty_messages() {
        let mut assembler = MessageAssembler::new(0);
        assert_eq!(
            assembler.push(fragment(Opcode::Text, true, b"")),
            Ok(Some(Message::Text(Utf8Bytes::default())))
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Binary, false, b"")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"")),
            Ok(Some(Message::Binary(Bytes::new())))
        );
    }

    #[test]
    fn control_frames_pass_through_between_fragments() {
        let mut assembler = MessageAssembler::new(100);
        assert_eq!(
            assembler.push(fragment(Opcode::Text, false, b"a")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Ping, true, b"p")),
            Ok(Some(Message::Ping(Bytes::from_static(b"p"))))
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Pong, true, b"q")),
            Ok(Some(Message::Pong(Bytes::from_static(b"q"))))
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Close, true, b"\x03\xe8")),
            Ok(Some(Message::Close(Bytes::from_static(b"\x03\xe8"))))
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"b")),
            Ok(Some(Message::Text("ab".into())))
        );
    }

    #[test]
    fn the_limit_is_inclusive_and_counts_every_fragment() {
        let mut assembler = MessageAssembler::new(4);
        assert_eq!(
            assembler.push(fragment(Opcode::Binary, true, b"abcd")),
            Ok(Some(Message::Binary(Bytes::from_static(b"abcd"))))
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Binary, true, b"abcde")),
            Err(MessageError::TooLarge { size: 5, limit: 4 })
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Text, false, b"ab")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, false, b"cd")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"e")),
            Err(MessageError::TooLarge { size: 5, limit: 4 })
        );
        // The refused message is dropped; the next one starts afresh.
        assert!(!assembler.is_in_progress());
        assert_eq!(
            assembler.push(fragment(Opcode::Text, true, b"ok")),
            Ok(Some(Message::Text("ok".into())))
        );
    }

    #[test]
    fn frames_out_of_sequence_are_refused() {
        let mut assembler = MessageAssembler::new(100);
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"x")),
            Err(MessageError::UnexpectedContinuation)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Binary, false, b"a")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Text, true, b"b")),
            Err(MessageError::ExpectedContinuation)
        );
        assert!(!assembler.is_in_progress());
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"c")),
            Err(MessageError::UnexpectedContinuation)
        );
    }

    #[test]
    fn invalid_utf8_is_refused_at_the_fragment_that_brings_it() {
        let mut assembler = MessageAssembler::new(100);
        assert!(matches!(
            assembler.push(fragment(Opcode::Text, true, b"\xff")),
            Err(MessageError::InvalidUtf8(_))
        ));
        // A character split across fragments is fine.
        assert_eq!(
            assembler.push(fragment(Opcode::Text, false, b"\xe2")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, false, b"\x82")),
            Ok(None)
        );
        assert_eq!(
            assembler.push(fragment(Opcode::Continuation, true, b"\xac")),
            Ok(Some(Message::Text("€".into())))
        );
        // A surrogate fails before the message ends.
        assert_eq!(
            assembler.push(fragment(Opcode::Text, false, b"a")),
            Ok(None)
        );
        assert!(matches!(
            assembler.push(fragment(Opcode::Continuation, false, b"\xed\xa0")),
            Err(MessageError::InvalidUtf8(_))
        ));
        // A message that ends inside a character.
        assert_eq!(
            assembler.push(fragment(Opcode::Text, false, b"\xe2\x82")),
            Ok(None)
        );
        assert!(matches!(
            assembler.push(fragment(Opcode::Continuation, true, b"")),
            Err(MessageError::InvalidUtf8(_))
        ));
        // Binary is not checked.
        assert_eq!(
            assembler.push(fragment(Opcode::Binary, true, b"\xff")),
            Ok(Some(Message::Binary(Bytes::from_static(b"\xff"))))
        );
    }

    #[test]
    fn utf8_bytes_conversions() {
        let text = Utf8Bytes::from(String::from("abc"));
        assert_eq!(text.as_str(), "abc");
        assert_eq!(text.len(), 3);
        assert!(!text.is_empty());
        assert_eq!(alloc::format!("{text} {text:?}"), "abc \"abc\"");
        assert_eq!(Bytes::from(text.clone()), Bytes::from_static(b"abc"));
        assert_eq!(text.as_ref(), b"abc");
        assert_eq!(text.into_bytes(), Bytes::from_static(b"abc"));
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xc3")).is_err());
    }
}
