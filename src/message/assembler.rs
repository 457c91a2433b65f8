//! [`MessageAssembler`]: whole messages from frames.

use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use super::{Message, Utf8Bytes};
use crate::close::{CloseFrame, InvalidClose};
use crate::frame::{Frame, Opcode};
use crate::protocol::DataKind;
use crate::utf8::{Utf8Error, Utf8Validator};

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
    /// A close frame whose payload is invalid.
    #[error("invalid close frame: {0}")]
    InvalidClose(#[from] InvalidClose),
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
    /// Text was checked by the connection that decoded the frames: it is
    /// not checked again.
    text_checked: bool,
}

impl MessageAssembler {
    /// An assembler that refuses messages over `max_message_size` bytes.
    pub const fn new(max_message_size: usize) -> Self {
        MessageAssembler {
            max_message_size,
            partial: None,
            text_checked: false,
        }
    }

    /// An assembler for the frames of a [`Connection`](crate::Connection),
    /// which has already checked their text as UTF-8 across fragments: the
    /// text is not scanned a second time (on a 16 KiB text, that scan costs
    /// as much as the rest of receiving it; `cargo bench --bench utf8 --
    /// as_str`).
    ///
    /// # Safety
    /// Every frame pushed must be one that
    /// [`Connection::poll_event`](crate::Connection::poll_event) returned as
    /// [`Event::Frame`](crate::Event::Frame), unmodified, in order, from one
    /// connection. The messages' [`Utf8Bytes`] hand out their bytes as `str`
    /// without a check, so text that is not UTF-8 would be undefined
    /// behaviour.
    #[allow(unsafe_code)]
    pub const unsafe fn for_connection(max_message_size: usize) -> Self {
        MessageAssembler {
            max_message_size,
            partial: None,
            text_checked: true,
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
    /// [`MessageError::InvalidUtf8`] for text that is not UTF-8: the
    /// unfinished message is dropped. [`MessageError::InvalidClose`] for a
    /// Close whose payload is invalid: the unfinished message is kept.
    pub fn push(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        // A control frame's refusal (an invalid Close) leaves the message
        // in progress as it was.
        let is_control = frame.opcode.is_control();
        let result = self.take(frame);
        if result.is_err() && !is_control {
            self.partial = None;
        }
        result
    }

    fn take(&mut self, frame: Frame) -> Result<Option<Message>, MessageError> {
        let kind = match frame.opcode {
            Opcode::Ping => return Ok(Some(Message::Ping(frame.payload))),
            Opcode::Pong => return Ok(Some(Message::Pong(frame.payload))),
            Opcode::Close => {
                return Ok(Some(Message::Close(CloseFrame::decode(&frame.payload)?)));
            }
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
        let check_text = kind == DataKind::Text && !self.text_checked;
        if check_text {
            utf8.feed(&frame.payload)?;
        }
        if frame.fin {
            if check_text {
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
        let text_checked = self.text_checked;
        let Some(partial) = &mut self.partial else {
            return Err(MessageError::UnexpectedContinuation);
        };
        let size = partial.size.saturating_add(frame.payload.len());
        if size > limit {
            return Err(MessageError::TooLarge { size, limit });
        }
        if partial.kind == DataKind::Text && !text_checked {
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
        DataKind::Text => Message::Text(Utf8Bytes::from_checked(payload)),
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
