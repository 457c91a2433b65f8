//! The connection's errors: why it failed ([`Error`], with the close code
//! each failure sends) and why a send was refused ([`SendError`]). The
//! frame layer's [`ProtocolError`] is re-exported here.

use crate::close::{CloseCode, InvalidClose};
use crate::extensions::CompressionFailed;
pub use crate::frame::ProtocolError;

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
    /// Something else was sent while a frame begun with
    /// [`Connection::begin_frame`](crate::Connection::begin_frame) still
    /// lacks payload.
    #[error("a frame's payload is being written")]
    FrameInProgress,
    /// Payload was written with no frame begun.
    #[error("no frame is being written")]
    NoFrameInProgress,
    /// More payload was written than the frame declared.
    #[error("the frame has {left} bytes of payload left")]
    FrameOverrun {
        /// The bytes the frame still takes.
        left: u64,
    },
    /// A compressed message cannot go on in a frame of known length.
    #[error("the message in progress is compressed")]
    CompressedMessage,
    /// The compressor failed (permessage-deflate). It was reset; a
    /// fragmented message stays in progress.
    #[cfg(feature = "deflate")]
    #[error("compression failed")]
    CompressionFailed,
    /// The entropy source failed to give a mask.
    #[error(transparent)]
    Entropy(#[from] crate::entropy::EntropyError),
}

impl From<CompressionFailed> for SendError {
    /// The one place a compressor's failure becomes a refused send.
    fn from(failed: CompressionFailed) -> Self {
        #[cfg(feature = "deflate")]
        {
            let CompressionFailed = failed;
            SendError::CompressionFailed
        }
        #[cfg(not(feature = "deflate"))]
        match failed {}
    }
}
