//! Violations of the WebSocket protocol by the peer, and their close codes.

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
    /// A frame's payload is over the configured limit.
    #[error("frame payload of {len} bytes is over the limit of {limit}")]
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message's total size is over the configured limit. For a
    /// compressed message, its inflated size.
    #[error("message is over the limit of {limit} bytes")]
    MessageTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// A compressed message's payload is not valid deflate data
    /// (permessage-deflate, RFC 7692 §8).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
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

/// Why a connection failed. Sticky: once returned, later calls return it
/// again, and the reply it calls for (a Close frame or an HTTP error
/// response) is already queued for [`Connection::poll_transmit`](crate::Connection::poll_transmit).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 6455 after the handshake.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The opening handshake failed.
    #[error(transparent)]
    Handshake(#[from] crate::handshake::HandshakeError),
    /// The transport ended without a closing handshake.
    #[error("the transport ended without a closing handshake")]
    UnexpectedEof,
    /// The peer's Close, or the server's end of the transport, did not come
    /// within the close timeout.
    #[error("the closing handshake timed out")]
    CloseTimeout,
    /// A keepalive ping got no pong within its timeout.
    #[error("no pong within the keepalive timeout")]
    PongTimeout,
    /// The entropy source failed while a frame needed a mask.
    #[error(transparent)]
    Entropy(#[from] crate::entropy::EntropyError),
}

impl Error {
    /// The close code sent in the Close frame that fails the connection, or
    /// `None` when no Close frame is sent for this error (a failed handshake,
    /// a lost transport).
    ///
    /// With [`ProtocolError::close_code`] and
    /// [`HandshakeError::status`](crate::handshake::HandshakeError::status)
    /// this is the only place where errors become wire values.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(error) => Some(error.close_code()),
            Error::Handshake(_) | Error::UnexpectedEof | Error::CloseTimeout => None,
            // RFC 6455 §7.4.1: 1011 for "an unexpected condition that
            // prevented it from fulfilling the request".
            Error::PongTimeout | Error::Entropy(_) => Some(CloseCode::INTERNAL_ERROR),
        }
    }
}

/// Why a send, close or handshake decision was refused. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is not open: still connecting, closing or closed.
    #[error("the connection is {state:?}, not open")]
    NotOpen {
        /// The state the connection is in.
        state: crate::state::State,
    },
    /// A ping or pong payload over 125 bytes.
    #[error("control frame payload of {len} bytes is over 125")]
    ControlPayloadTooLarge {
        /// The payload's length.
        len: usize,
    },
    /// The close code or reason may not be sent.
    #[error(transparent)]
    InvalidClose(#[from] InvalidClose),
    /// A new message was started while a fragmented one is unfinished.
    #[error("a fragmented message is in progress")]
    MessageInProgress,
    /// A continuation was sent with no fragmented message started.
    #[error("no fragmented message is in progress")]
    NoMessageInProgress,
    /// Text fragments that are not valid UTF-8.
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// The compressor failed (permessage-deflate). It was reset; a
    /// fragmented message stays in progress.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    #[error("compression failed")]
    CompressionFailed,
    /// The entropy source failed to give a mask.
    #[error(transparent)]
    Entropy(#[from] crate::entropy::EntropyError),
}
