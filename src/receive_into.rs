//! Reading straight into a connection's receive buffer, in the spirit of
//! rustls' `read_tls`: the transport's copy is the only one, and received
//! payload is unmasked in place.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

use crate::connection::{Connection, Role};
use crate::error::Error;

/// Room at the end of a connection's receive buffer, lent for one read:
/// the transport writes into it, then [`commit`](ReceiveRoom::commit) takes
/// what it wrote as received. Dropping it gives the room back.
///
/// `T` is `u8` for room whose bytes are initialised
/// ([`Connection::receive_room`]): it derefs to `[u8]`, so any transport can
/// read into it, and `commit` is safe. `T` is `MaybeUninit<u8>` for room
/// that is not ([`Connection::receive_room_uninit`]), for a transport that
/// fills such memory soundly: it is written through
/// [`as_uninit_mut`](ReceiveRoom::as_uninit_mut), and its `commit` is
/// `unsafe`.
///
/// The room borrows the connection, so nothing else can touch the buffer
/// while it is lent.
#[derive(Debug)]
#[must_use = "the room is given back unless it is committed"]
pub struct ReceiveRoom<'c, R: Role, T = u8> {
    conn: &'c mut Connection<R>,
    element: PhantomData<T>,
}

impl<R: Role> Connection<R> {
    /// Lends `len` bytes of room at the end of the connection's receive
    /// buffer, for the transport to read into; then
    /// [`commit`](ReceiveRoom::commit) the number of bytes it wrote at the
    /// start of the room.
    ///
    /// The bytes go through no buffer of the caller's: a large message then
    /// costs the transport's copy and one pass to unmask in place, where
    /// [`receive`](Self::receive) copies from the caller's buffer once more.
    /// Room is zeroed when it is first made; what a read leaves unfilled is
    /// lent again as it is (it may hold bytes of that read beyond what was
    /// committed), so steady reads zero nothing. It grows by what the caller
    /// asks for, never by a length a peer declared, and an empty buffer is
    /// let go as with `receive`, so an idle connection still holds little.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{Event, Server, config::Config};
    ///
    /// let mut server = Server::new_open(Config::default(), Duration::ZERO);
    /// let frame = [0x81, 0x82, 0, 0, 0, 0, b'h', b'i']; // a masked "hi"
    /// let mut room = server.receive_room(4096);
    /// room[..frame.len()].copy_from_slice(&frame); // what a read would do
    /// room.commit(Duration::ZERO, frame.len())?;
    /// let Some(Event::Frame(frame)) = server.poll_event() else { panic!() };
    /// assert_eq!(&frame.payload[..], b"hi");
    /// # Ok::<(), wsmachine::Error>(())
    /// ```
    pub fn receive_room(&mut self, len: usize) -> ReceiveRoom<'_, R> {
        self.engine.lend_room(len);
        ReceiveRoom {
            conn: self,
            element: PhantomData,
        }
    }

    /// As [`receive_room`](Self::receive_room), but the room is lent as
    /// uninitialised memory, for a transport that can fill such memory
    /// soundly (tokio's `ReadBuf::uninit`).
    ///
    /// `receive_room` must lend initialised bytes, so room it makes is
    /// zeroed first: a pass over memory for every byte a large message
    /// brings. This room is not. It grows as that room does, by what the
    /// caller asks for and never by a declared length.
    pub fn receive_room_uninit(&mut self, len: usize) -> ReceiveRoom<'_, R, MaybeUninit<u8>> {
        self.engine.lend_uninit(len);
        ReceiveRoom {
            conn: self,
            element: PhantomData,
        }
    }

    /// How much room to ask [`receive_room`](Self::receive_room) or
    /// [`receive_room_uninit`](Self::receive_room_uninit) for, for the
    /// next read, given `preferred`, the size the caller would read
    /// otherwise. It is never more than `preferred` or the room the buffer
    /// already has, so following it costs no memory:
    /// - more than `preferred` when the buffer already has the room, as it
    ///   does after a large message: the next one comes in fewer reads;
    /// - less when a large frame in progress ends sooner: the read stops at
    ///   its end, so the next frame starts in a buffer of its own instead of
    ///   being copied out of this one when the buffer grows.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{Server, config::Config};
    ///
    /// let mut server = Server::new_open(Config::default(), Duration::ZERO);
    /// // The header of a masked 100,000-byte binary frame, and 4 bytes of it.
    /// let start = [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0x86, 0xa0, 0, 0, 0, 0, 1, 2, 3, 4];
    /// server.receive(Duration::ZERO, &start)?;
    /// assert!(server.poll_event().is_none()); // the frame is in progress
    /// assert_eq!(server.receive_size_hint(1 << 20), 100_000 - 4);
    /// # Ok::<(), wsmachine::Error>(())
    /// ```
    pub fn receive_size_hint(&self, preferred: usize) -> usize {
        self.engine.receive_size_hint(preferred)
    }
}

impl<R: Role, T> ReceiveRoom<'_, R, T> {
    /// Commits the lent room with `commit`, unless the connection has
    /// failed or is past its closing handshake, when the room is only given
    /// back.
    fn commit_with(
        self,
        now: Duration,
        commit: impl FnOnce(&mut crate::protocol::Engine),
    ) -> Result<(), Error> {
        let conn = &mut *self.conn;
        if let Some(error) = conn.engine.error().cloned() {
            return Err(error);
        }
        if conn.engine.phase().ignores_input() {
            return Ok(());
        }
        conn.engine.note_time(now);
        commit(&mut conn.engine);
        conn.receive_handshake(now)
    }
}

impl<R: Role> ReceiveRoom<'_, R> {
    /// Takes as received the first `n` bytes of the room (at most its
    /// length), exactly as [`receive`](Connection::receive) takes bytes;
    /// `n == 0` just gives the room back (it does not mean EOF: call
    /// [`receive_eof`](Connection::receive_eof) for that).
    ///
    /// # Errors
    /// As [`receive`](Connection::receive).
    pub fn commit(self, now: Duration, n: usize) -> Result<(), Error> {
        self.commit_with(now, |engine| engine.recv.commit_room(n))
    }
}

impl<R: Role> ReceiveRoom<'_, R, MaybeUninit<u8>> {
    /// Takes as received the first `n` bytes of the room (at most its
    /// length), as [`ReceiveRoom::commit`] does for initialised room.
    ///
    /// # Safety
    /// The first `n` bytes of the room must have been initialised: written
    /// by the transport. With tokio, the length of a `ReadBuf::uninit`'s
    /// `filled()` part after a read is such an `n`.
    ///
    /// # Errors
    /// As [`receive`](Connection::receive).
    #[allow(unsafe_code)]
    pub unsafe fn commit(self, now: Duration, n: usize) -> Result<(), Error> {
        // SAFETY: the caller's promise, passed on.
        self.commit_with(now, |engine| unsafe { engine.recv.commit_uninit(n) })
    }

    /// The room, for the transport to write into. (It has no shared view:
    /// uninitialised memory is only written.)
    pub fn as_uninit_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        self.conn.engine.recv.lent_uninit()
    }
}

impl<R: Role> Deref for ReceiveRoom<'_, R> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.conn.engine.recv.lent_room()
    }
}

impl<R: Role> DerefMut for ReceiveRoom<'_, R> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.conn.engine.recv.lent_room_mut()
    }
}

impl<R: Role, T> Drop for ReceiveRoom<'_, R, T> {
    fn drop(&mut self) {
        // Room committed is no longer lent; room never committed goes back.
        let engine = &mut self.conn.engine;
        engine.recv.give_back();
        engine.release_if_waiting();
    }
}

/// What [`Connection::read_from`] could not do.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The reader failed, with nothing read: a timeout (`WouldBlock`,
    /// `TimedOut`), an interruption, or a transport error other than the
    /// peer going away.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The connection failed: the bytes read held a bad opening handshake,
    /// or it had failed before. As an `Err` from
    /// [`receive`](Connection::receive).
    #[error(transparent)]
    Connection(#[from] Error),
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl<R: Role> Connection<R> {
    /// How much room [`read_from`](Self::read_from) lends for one read.
    pub const READ_SIZE: usize = 64 * 1024;

    /// Reads once from `reader` straight into the receive buffer (see
    /// [`receive_room`](Self::receive_room)) and takes what it read.
    ///
    /// `Ok(n)` with `n > 0`: `n` bytes were taken, as by
    /// [`receive`](Self::receive). `Ok(0)`: the transport has ended, by EOF
    /// or because the peer went away (a reset, an abort, a broken pipe,
    /// which are the same end and no error of their own), and it was taken
    /// as by [`receive_eof`](Self::receive_eof). Drain events and output
    /// after either, as after any input.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{Event, Server, config::Config};
    ///
    /// let mut server = Server::new_open(Config::default(), Duration::ZERO);
    /// let mut transport: &[u8] = &[0x82, 0x81, 0, 0, 0, 0, 7]; // masked [7]
    /// assert_eq!(server.read_from(Duration::ZERO, &mut transport)?, 7);
    /// let Some(Event::Frame(frame)) = server.poll_event() else { panic!() };
    /// assert_eq!(&frame.payload[..], [7]);
    /// assert_eq!(server.read_from(Duration::ZERO, &mut transport)?, 0); // EOF
    /// # Ok::<(), wsmachine::ReadError>(())
    /// ```
    ///
    /// # Errors
    /// [`ReadError::Io`] for the reader's other errors, with nothing taken:
    /// on `WouldBlock` or `TimedOut`, call
    /// [`handle_timeout`](Self::handle_timeout) if one is due.
    /// [`ReadError::Connection`] as `receive` and `receive_eof` return.
    pub fn read_from(
        &mut self,
        now: Duration,
        reader: &mut (impl std::io::Read + ?Sized),
    ) -> Result<usize, ReadError> {
        use std::io::ErrorKind;
        let mut room = self.receive_room(self.receive_size_hint(Self::READ_SIZE));
        match reader.read(&mut room) {
            Ok(0) => {
                drop(room);
                self.receive_eof(now)?;
                Ok(0)
            }
            Ok(n) => {
                room.commit(now, n)?;
                Ok(n)
            }
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                drop(room);
                self.receive_eof(now)?;
                Ok(0)
            }
            Err(error) => Err(ReadError::Io(error)),
        }
    }
}
