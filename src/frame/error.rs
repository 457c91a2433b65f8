//! The frame layer's error: the peer's violations of RFC 6455 found in its
//! frames ([`ProtocolError`]), each with its close code. Extensions raise it
//! too; the connection's [`Error`](crate::Error) wraps it.

use crate::close::{CloseCode, InvalidClose};

/// A violation of RFC 6455 by the peer, found in the frames it sent.
///
/// Each violation fails the connection with the close code that
/// [`ProtocolError::close_code`] gives: the one place where these errors become
/// wire values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode reserved for future use (3–7, 11–15).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A 64-bit payload length with its most significant bit set.
    #[error("64-bit payload length with the most significant bit set")]
    LengthTopBitSet,
    /// A control frame with a payload over 125 bytes.
    #[error("control frame payload of {len} bytes is over 125")]
    ControlFrameTooLarge {
        /// The declared payload length.
        len: u64,
    },
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// RSV bits set that no negotiated extension defines.
    #[error("reserved bits {bits:#05b} set without an extension that defines them")]
    ReservedBitsSet {
        /// RSV1, RSV2 and RSV3 as the bits 0b100, 0b010 and 0b001.
        bits: u8,
    },
    /// A client sent a frame without a mask.
    #[error("a client frame is not masked")]
    UnmaskedFrame,
    /// A server sent a masked frame.
    #[error("a server frame is masked")]
    MaskedFrame,
    /// A continuation frame arrived with no fragmented message started.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame arrived inside a fragmented message.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A close frame's payload is invalid.
    #[error("invalid close frame: {0}")]
    InvalidClose(#[from] InvalidClose),
    /// A text message is not valid UTF-8.
    #[error("text message is not valid UTF-8{}", match offset {
        Some(offset) => alloc::format!(" at byte {offset}"),
        None => alloc::string::String::from(": it ends inside a character"),
    })]
    InvalidUtf8 {
        /// The offset within the message of the first byte that cannot be
        /// UTF-8, or `None` when the message ended inside a character.
        offset: Option<u64>,
    },
    /// A frame's payload is over [`Config::max_frame_size`](crate::config::Config::max_frame_size).
    #[error(
        "frame payload of {len} bytes is over max_frame_size ({limit} bytes): raise Config::max_frame_size"
    )]
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message's total size is over
    /// [`Config::max_message_size`](crate::config::Config::max_message_size).
    /// For a compressed message, its inflated size.
    #[error("message is over max_message_size ({limit} bytes): raise Config::max_message_size")]
    MessageTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// A compressed message's payload is not valid deflate data
    /// (permessage-deflate, RFC 7692 §8).
    #[cfg(feature = "deflate")]
    #[error("compressed message does not inflate")]
    InvalidCompressedData,
}

impl From<crate::utf8::MessageUtf8Error> for ProtocolError {
    fn from(error: crate::utf8::MessageUtf8Error) -> Self {
        ProtocolError::InvalidUtf8 {
            offset: error.offset,
        }
    }
}

impl ProtocolError {
    /// The close code that a connection failed by this error sends.
    ///
    /// RFC 6455 §7.4.1: 1007 for data inconsistent with its type (invalid
    /// UTF-8, and compressed data that does not inflate), 1009 for a message
    /// too big to process, 1002 for any other protocol error.
    ///
    /// ```
    /// use wsmachine::close::CloseCode;
    /// use wsmachine::error::ProtocolError;
    ///
    /// assert_eq!(ProtocolError::ReservedOpcode(3).close_code(), CloseCode::PROTOCOL_ERROR);
    /// ```
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::ReservedOpcode(_)
            | ProtocolError::LengthTopBitSet
            | ProtocolError::ControlFrameTooLarge { .. }
            | ProtocolError::FragmentedControlFrame
            | ProtocolError::ReservedBitsSet { .. }
            | ProtocolError::UnmaskedFrame
            | ProtocolError::MaskedFrame
            | ProtocolError::UnexpectedContinuation
            | ProtocolError::ExpectedContinuation => CloseCode::PROTOCOL_ERROR,
            ProtocolError::InvalidClose(InvalidClose::ReasonNotUtf8) => CloseCode::INVALID_PAYLOAD,
            ProtocolError::InvalidClose(
                InvalidClose::OneBytePayload
                | InvalidClose::CodeNotAllowed(_)
                | InvalidClose::ReasonTooLong { .. },
            ) => CloseCode::PROTOCOL_ERROR,
            ProtocolError::InvalidUtf8 { .. } => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
            // RFC 7692 §8 says only "fail the connection". The payload is not
            // what its RSV1 bit claims, which is 1007's "data not consistent
            // with the type of the message"; Node's ws sends 1007 too
            // (python-websockets sends 1002).
            #[cfg(feature = "deflate")]
            ProtocolError::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
        }
    }
}
