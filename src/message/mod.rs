//! Messages: the [`Message`] an app sends and receives, the
//! [`Utf8Bytes`] its text is held in, and the [`MessageAssembler`] that
//! joins a connection's frames into messages.
//!
//! The connection hands the app every frame as it arrives, so that a large
//! message can be streamed. An app that wants whole messages feeds those
//! frames to a [`MessageAssembler`], which joins fragments under its own size
//! limit. The core never uses this module; the tokio driver's socket is a
//! stream and sink of these same messages.
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
//! assert_eq!(message, Some(Message::text("Hello")));
//! ```

mod assembler;
#[cfg(test)]
mod tests;
mod utf8_bytes;

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

pub use assembler::{MessageAssembler, MessageError};
pub use utf8_bytes::Utf8Bytes;

use crate::close::CloseFrame;

/// A message: whole text or binary, or a control frame.
///
/// Received, text is valid UTF-8 (checked once, as it arrived) and
/// fragments are joined. Sent, `Close` starts the closing handshake.
/// Neither this enum nor [`CloseFrame`] is `#[non_exhaustive]`, so that an
/// app can match every variant and build a `CloseFrame` with a literal.
///
/// ```
/// use wsmachine::message::Message;
///
/// let message = Message::from("hello");
/// assert!(message.is_text());
/// assert_eq!(message.to_text(), Ok("hello"));
/// assert_eq!(message.len(), 5);
/// assert_eq!(message.to_string(), "hello");
/// assert_eq!(Message::from(vec![1u8, 2]).into_data(), &[1u8, 2][..]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping's payload (at most 125 bytes). A connection has already
    /// answered it unless [`Config::auto_pong`](crate::config::Config::auto_pong)
    /// is off.
    Ping(Bytes),
    /// A pong's payload (at most 125 bytes).
    Pong(Bytes),
    /// A Close: its code and reason, `None` for an empty one. Sent, `None`
    /// closes with 1000 and no reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// Whether it is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether it is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// Whether it is a text or binary message.
    pub fn is_data(&self) -> bool {
        self.is_text() || self.is_binary()
    }

    /// Whether it is a ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// Whether it is a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// Whether it is a Close.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
    }

    /// The payload's length in bytes; a Close's reason's.
    pub fn len(&self) -> usize {
        match self {
            Message::Text(text) => text.len(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data.len(),
            Message::Close(frame) => frame.as_ref().map_or(0, |frame| frame.reason.len()),
        }
    }

    /// Whether the payload (a Close's reason) is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The payload; a Close's reason.
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(frame) => frame.map_or_else(Bytes::new, |frame| frame.reason.into()),
        }
    }

    /// The payload as text: a text message's without a check, a Close's
    /// reason, any other payload checked.
    ///
    /// # Errors
    /// [`core::str::Utf8Error`] when a binary, ping or pong payload is not
    /// UTF-8.
    pub fn into_text(self) -> Result<Utf8Bytes, core::str::Utf8Error> {
        match self {
            Message::Text(text) => Ok(text),
            Message::Close(frame) => {
                Ok(frame.map_or_else(Utf8Bytes::default, |frame| Utf8Bytes::from(frame.reason)))
            }
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => {
                Utf8Bytes::try_from(data)
            }
        }
    }

    /// The payload as text, borrowed: as [`into_text`](Self::into_text).
    ///
    /// # Errors
    /// As [`into_text`](Self::into_text).
    pub fn to_text(&self) -> Result<&str, core::str::Utf8Error> {
        match self {
            Message::Text(text) => Ok(text.as_str()),
            Message::Close(frame) => Ok(frame.as_ref().map_or("", |frame| frame.reason.as_str())),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => {
                core::str::from_utf8(data)
            }
        }
    }

    /// The text, for a text message only.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text.into())
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.into())
    }
}

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Self {
        Message::Text(text)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data.into())
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(data))
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Message::Binary(data)
    }
}

impl fmt::Display for Message {
    /// A text message's text; a summary of any other.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(text) => f.write_str(text),
            Message::Binary(data) => write!(f, "<binary, {} bytes>", data.len()),
            Message::Ping(data) => write!(f, "<ping, {} bytes>", data.len()),
            Message::Pong(data) => write!(f, "<pong, {} bytes>", data.len()),
            Message::Close(None) => f.write_str("<close>"),
            Message::Close(Some(frame)) => write!(f, "<close {}: {}>", frame.code.0, frame.reason),
        }
    }
}
