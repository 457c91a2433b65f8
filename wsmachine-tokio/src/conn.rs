//! The engine of a socket: the core's connection in either role.

use std::mem::MaybeUninit;
use std::time::Duration;

use bytes::Bytes;
use wsmachine::entropy::OsEntropy;
use wsmachine::{Client, CloseCode, Error, Event, SendError, Server, State};

/// A core connection, client or server. An enum rather than a type
/// parameter, so that `WebSocket<S>` has one type whichever side it is.
#[derive(Debug)]
pub(crate) enum Conn {
    Client(Box<Client<OsEntropy>>),
    Server(Box<Server>),
}

/// Forwards a call to whichever role the connection has.
macro_rules! both {
    ($conn:expr, $c:ident => $call:expr) => {
        match $conn {
            Conn::Client($c) => $call,
            Conn::Server($c) => $call,
        }
    };
}

impl Conn {
    pub(crate) fn receive_size_hint(&self, preferred: usize) -> usize {
        both!(self, c => c.receive_size_hint(preferred))
    }

    pub(crate) fn receive_buffer_uninit(&mut self, len: usize) -> &mut [MaybeUninit<u8>] {
        both!(self, c => c.receive_buffer_uninit(len))
    }

    /// # Safety
    /// As `wsmachine`'s `commit_received_uninit`: the first `n` bytes of
    /// the room `receive_buffer_uninit` lent are initialised.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn commit_received_uninit(
        &mut self,
        now: Duration,
        n: usize,
    ) -> Result<(), Error> {
        // SAFETY: the caller's promise, passed on.
        both!(self, c => unsafe { c.commit_received_uninit(now, n) })
    }

    pub(crate) fn receive_eof(&mut self, now: Duration) -> Result<(), Error> {
        both!(self, c => c.receive_eof(now))
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        both!(self, c => c.poll_event())
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        both!(self, c => c.poll_transmit())
    }

    pub(crate) fn pending_output(&self) -> usize {
        both!(self, c => c.pending_output())
    }

    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        both!(self, c => c.poll_timeout())
    }

    pub(crate) fn handle_timeout(&mut self, now: Duration) {
        both!(self, c => c.handle_timeout(now))
    }

    pub(crate) fn state(&self) -> State {
        both!(self, c => c.state())
    }

    pub(crate) fn error(&self) -> Option<&Error> {
        both!(self, c => c.error())
    }

    pub(crate) fn send_text(&mut self, text: wsmachine::Utf8Bytes) -> Result<(), SendError> {
        both!(self, c => c.send_text_owned(text))
    }

    pub(crate) fn send_binary(&mut self, data: Bytes) -> Result<(), SendError> {
        both!(self, c => c.send_binary_owned(data))
    }

    pub(crate) fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        both!(self, c => c.send_ping(data))
    }

    pub(crate) fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        both!(self, c => c.send_pong(data))
    }

    pub(crate) fn close(
        &mut self,
        now: Duration,
        code: CloseCode,
        reason: &str,
    ) -> Result<(), SendError> {
        both!(self, c => c.close(now, code, reason))
    }
}
