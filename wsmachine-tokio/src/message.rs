//! What a socket yields and takes: whole messages, control frames and the
//! peer's Close.

use bytes::Bytes;
use wsmachine::CloseCode;
use wsmachine::message::Utf8Bytes;

/// A message, as tokio-tungstenite users know it.
///
/// The stream yields whole text and binary messages (fragments joined),
/// pings (already answered unless `auto_pong` is off), pongs, and the
/// peer's Close. The sink takes the same values; `Close` starts the
/// closing handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message: UTF-8, checked across fragments.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping's payload (at most 125 bytes).
    Ping(Bytes),
    /// A pong's payload (at most 125 bytes).
    Pong(Bytes),
    /// The closing handshake. From the stream: the peer's Close, `None` when
    /// it carried no code. To the sink: `None` sends 1000 with no reason.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::Text(Utf8Bytes::from(text.into()))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        }
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
        matches!(self, Message::Text(_) | Message::Binary(_))
    }
}

/// A Close frame's code and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: String,
}
