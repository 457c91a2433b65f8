//! What a connection reports to the app.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;

use bytes::Bytes;

use crate::close::CloseCode;
use crate::error::Error;
use crate::frame::Frame;
use crate::handshake::{Accepted, HandshakeRequest, Rejection};
use crate::protocol::DataKind;
use crate::proxy::ProxyRejection;

/// An event for the app, from [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Server: a valid opening handshake request. Answer it with
    /// [`Server::accept`](crate::Server::accept) or
    /// [`Server::reject`](crate::Server::reject).
    /// Boxed, as the other handshake events: they come once, and a frame
    /// event, the one that comes for every message, stays small to move.
    Request(Box<HandshakeRequest>),
    /// Client: the server accepted the handshake; the connection is open.
    Accepted(Box<Accepted>),
    /// Client: the server answered with a final status other than 101. The
    /// body is decoded and bounded; the connection is closed.
    HandshakeRejected(Box<Rejection>),
    /// Client: the HTTP proxy refused the CONNECT (a 407 asking for
    /// credentials, a 403, a 502 ...). The body is decoded and bounded; the
    /// connection is closed and the WebSocket server was never reached.
    ProxyRejected(Box<ProxyRejection>),
    /// A data or control frame from the peer. Text payloads are valid UTF-8
    /// across fragments. Close frames come as [`Event::Close`] instead.
    /// With [`Config::piece_size`](crate::config::Config::piece_size) set,
    /// data frames come as [`Event::Piece`] instead.
    Frame(Frame),
    /// Payload of a data message as it arrives, when
    /// [`Config::piece_size`](crate::config::Config::piece_size) is set.
    Piece(Piece),
    /// The connection is closing or closed. Emitted exactly once for a
    /// connection that opened.
    Close(Close),
}

/// A piece of a data message's payload, handed out as soon as it has
/// arrived (and, for text, been checked), without waiting for its frame's
/// end: see [`Config::piece_size`](crate::config::Config::piece_size).
///
/// The pieces of a message, in order, concatenate to its payload; their
/// flags mark where the message and each of its frames start and end, and
/// control frames between fragments come as their own events in between.
/// A text piece is valid UTF-8 on its own: a character split between reads
/// waits for its last byte, and one split between frames goes with the
/// frame where it ends ([`Piece::text`] gives it as text without checking
/// it again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The message's kind.
    pub kind: DataKind,
    /// The bytes, unmasked. At most the configured piece size (and never
    /// empty, except for the one piece of an empty frame or of a frame
    /// that holds only part of a character).
    pub payload: Bytes,
    /// The first piece of the message.
    pub message_start: bool,
    /// The first piece of a frame.
    pub frame_start: bool,
    /// The last piece of a frame.
    pub frame_end: bool,
    /// The last piece of the message (and of its last frame).
    pub message_end: bool,
}

/// An event from [`Connection::poll_event_ref`](crate::Connection::poll_event_ref):
/// a whole data frame lent from the connection's receive buffer, or any
/// other event as [`poll_event`](crate::Connection::poll_event) gives it.
#[derive(Debug, PartialEq)]
pub enum EventRef<'a> {
    /// A whole text or binary message in one frame, borrowed.
    Frame(FrameRef<'a>),
    /// Anything else: the handshake's events, fragments, control frames,
    /// compressed messages, the Close.
    Event(Event),
}

impl EventRef<'_> {
    /// The event as [`poll_event`](crate::Connection::poll_event) would have
    /// given it, a lent frame's payload copied.
    pub fn into_event(self) -> Event {
        match self {
            EventRef::Frame(frame) => Event::Frame(frame.to_frame()),
            EventRef::Event(event) => event,
        }
    }
}

/// A whole message in one frame, unmasked in the connection's receive
/// buffer: final, with no RSV bits, and for text valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// [`Opcode::Text`](crate::Opcode::Text) or
    /// [`Opcode::Binary`](crate::Opcode::Binary).
    pub opcode: crate::frame::Opcode,
    /// The payload.
    pub payload: &'a [u8],
}

impl FrameRef<'_> {
    /// The same frame with its payload copied, as `poll_event` would have
    /// given it.
    pub fn to_frame(&self) -> Frame {
        Frame::new(self.opcode, bytes::Bytes::copy_from_slice(self.payload))
    }
}

/// Who started the close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This side: the app closed, or this side failed the connection.
    Local,
    /// The peer: it sent the first Close, or closed the transport.
    Remote,
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Close {
    /// The peer's close code; [`CloseCode::NO_STATUS`] for an empty Close;
    /// the code this side sent when it failed the connection; or
    /// [`CloseCode::ABNORMAL`] when no Close arrived.
    pub code: CloseCode,
    /// The peer's close reason, or empty.
    pub reason: String,
    /// Who started the close.
    pub initiator: Initiator,
    /// Why the connection failed, if it did.
    pub error: Option<Error>,
}

/// The events a connection holds for the app, in order.
///
/// Frames are decoded one per `poll_event` and never queued here, so the
/// queue holds at most the handshake's event and a timer's or a failure's
/// Close; events are small (the handshake's are boxed in [`Event`]), so
/// they are queued as they are.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    entries: VecDeque<Event>,
}

/// The capacity, in entries, that a drained queue keeps: enough for the
/// few events a typical input brings, so that a connection receiving one
/// message at a time does not allocate for each. A drained queue that grew
/// past it gives its memory back, so an idle connection holds little.
const KEPT_CAPACITY: usize = 4;

impl EventQueue {
    /// An empty queue that holds no memory.
    pub(crate) const fn new() -> Self {
        EventQueue {
            entries: VecDeque::new(),
        }
    }

    /// Queues `event` after the others.
    #[inline]
    pub(crate) fn push_back(&mut self, event: Event) {
        self.entries.push_back(event);
    }

    /// Whether no event is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lets go of the queue's memory when it is empty: for a connection
    /// that waits on its transport.
    pub(crate) fn release_if_empty(&mut self) {
        if self.entries.is_empty() {
            self.entries = VecDeque::new();
        }
    }

    /// Takes the oldest event. Once the queue is drained, memory beyond
    /// [`KEPT_CAPACITY`] entries is released.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<Event> {
        let event = self.entries.pop_front();
        if event.is_none() && self.entries.capacity() > KEPT_CAPACITY {
            self.entries = VecDeque::new();
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::{Event, EventRef};

    #[test]
    fn a_frame_event_is_small_to_move() {
        // Every message passes through `poll_event` and the layers above it
        // by value; the rare handshake events are boxed so that this stays
        // a few words, moved without a `memcpy` call (at 240 bytes each move
        // was one, 8% of a batched small-message echo's CPU). 64 bytes, 80
        // with `deflate`'s errors in a Close.
        assert!(core::mem::size_of::<Event>() <= 80);
        assert!(core::mem::size_of::<EventRef<'_>>() <= 80);
    }
}
