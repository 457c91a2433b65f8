//! What a connection reports to the app.

use alloc::string::String;

use crate::close::CloseCode;
use crate::error::Error;
use crate::frame::Frame;
use crate::handshake::{Accepted, HandshakeRequest, Rejection};

/// An event for the app, from [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Server: a valid opening handshake request. Answer it with
    /// [`Server::accept`](crate::Server::accept) or
    /// [`Server::reject`](crate::Server::reject).
    Request(HandshakeRequest),
    /// Client: the server accepted the handshake; the connection is open.
    Accepted(Accepted),
    /// Client: the server answered with a final status other than 101. The
    /// body is decoded and bounded; the connection is closed.
    HandshakeRejected(Rejection),
    /// A data or control frame from the peer. Text payloads are valid UTF-8
    /// across fragments. Close frames come as [`Event::Close`] instead.
    Frame(Frame),
    /// The connection is closing or closed. Emitted exactly once for a
    /// connection that opened.
    Close(Close),
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
