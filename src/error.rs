//! Violations of the WebSocket protocol by the peer, and their close codes.

use crate::close::{CloseCode, InvalidClose};
use crate::utf8::Utf8Error;

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
    #[error("text message is not valid UTF-8: {0}")]
    InvalidUtf8(#[from] Utf8Error),
    /// A frame's payload is over the configured limit.
    #[error("frame payload of {len} bytes is over the limit of {limit}")]
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message's total size is over the configured limit.
    #[error("message is over the limit of {limit} bytes")]
    MessageTooLarge {
        /// The configured limit.
        limit: u64,
    },
}

impl ProtocolError {
    /// The close code that a connection failed by this error sends.
    ///
    /// RFC 6455 §7.4.1: 1007 for data inconsistent with its type (invalid
    /// UTF-8), 1009 for a message too big to process, 1002 for any other
    /// protocol error.
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
            ProtocolError::InvalidUtf8(_) => CloseCode::INVALID_PAYLOAD,
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::MESSAGE_TOO_BIG
            }
        }
    }
}
