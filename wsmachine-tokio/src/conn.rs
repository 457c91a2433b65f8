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
    pub(crate) fn config(&self) -> &wsmachine::config::Config {
        both!(self, c => c.config())
    }

    pub(crate) fn receive_size_hint(&self, preferred: usize) -> usize {
        both!(self, c => c.receive_size_hint(preferred))
    }

    /// Lends `len` bytes of uninitialised receive room to `read`, which
    /// returns its outcome and how many bytes at the room's start it
    /// wrote, and takes those bytes as received.
    ///
    /// # Safety
    /// `read` returns a count of bytes it initialised at the room's start,
    /// as `wsmachine`'s `ReceiveRoom::commit` for uninitialised room asks.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn read_uninit<T>(
        &mut self,
        now: Duration,
        len: usize,
        read: impl FnOnce(&mut [MaybeUninit<u8>]) -> (T, usize),
    ) -> T {
        both!(self, c => {
            let mut room = c.receive_room_uninit(len);
            let (outcome, filled) = read(room.as_uninit_mut());
            // A protocol error is sticky and comes as the core's Close
            // event, in byte order; a handshake error is the core's
            // `error()`: neither is taken from here.
            //
            // SAFETY: the caller's promise, passed on.
            let _ = unsafe { room.commit(now, filled) };
            outcome
        })
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

    pub(crate) fn send_fragment(
        &mut self,
        fragment: wsmachine::Fragment,
        data: &[u8],
    ) -> Result<(), SendError> {
        both!(self, c => c.send_fragment(fragment, data))
    }

    pub(crate) fn send_fragment_owned(
        &mut self,
        fragment: wsmachine::Fragment,
        data: Bytes,
    ) -> Result<(), SendError> {
        both!(self, c => c.send_fragment_owned(fragment, data))
    }

    pub(crate) fn begin_frame(
        &mut self,
        fragment: wsmachine::Fragment,
        len: u64,
    ) -> Result<(), SendError> {
        both!(self, c => c.begin_frame(fragment, len))
    }

    pub(crate) fn write_frame_payload(&mut self, data: &[u8]) -> Result<(), SendError> {
        both!(self, c => c.write_frame_payload(data))
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
