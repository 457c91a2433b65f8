//! [`Connection`]: one engine, two roles.

use bytes::Bytes;
use core::time::Duration;

use crate::close::CloseCode;
use crate::error::{Error, SendError};
#[cfg(doc)]
use crate::event::Close;
use crate::event::{Event, EventRef};
use crate::frame::Opcode;
use crate::protocol::{DataKind, Engine, Fragment};
use crate::state::{Phase, State};

pub(crate) mod role {
    use super::*;
    use crate::protocol::MaskSource;

    /// What a role adds to the shared engine: its masks and its side of the
    /// opening handshake. Sealed: the crate's two roles are the only ones.
    pub trait RoleImpl: MaskSource {
        /// Consumes handshake bytes from `engine.recv`. Leaves any bytes after
        /// a successful handshake in the buffer for the frame decoder.
        fn receive_handshake(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error>;
        /// The transport ended during the handshake.
        fn handshake_eof(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error>;
        /// The handshake deadline passed before the handshake was done.
        fn handshake_timed_out(&mut self, engine: &mut Engine, now: Duration);
    }
}

/// A connection's role: [`ClientRole`](crate::ClientRole) or
/// [`ServerRole`](crate::ServerRole).
pub trait Role: role::RoleImpl {}

/// A WebSocket connection as a state machine: bytes and the caller's clock
/// in, events and bytes out.
///
/// [`Client`](crate::Client) and [`Server`](crate::Server) are its two
/// roles; everything here applies to both.
///
/// # The polling loop
///
/// After every input (`receive`, `receive_eof`, `handle_timeout`) and every
/// command (`send_*`, `close`, `accept`, `reject`), the caller:
/// 1. drains [`poll_event`](Self::poll_event) until it returns `None`,
///    reacting to each event as it comes (sending, closing);
/// 2. drains [`poll_transmit`](Self::poll_transmit) into the transport;
/// 3. when [`state`](Self::state) is [`State::Closed`], closes the transport;
/// 4. otherwise waits for input, no later than
///    [`poll_timeout`](Self::poll_timeout).
///
/// # Effects in byte order
///
/// The connection behaves as if each received byte were delivered alone,
/// with the app draining events and reacting after every byte, however the
/// bytes were split into reads. Frames are decoded lazily, one per
/// `poll_event`, so what the app sends while handling an event goes out
/// before anything later bytes cause: the reply to the peer's Close, the
/// Close of a failure, a pong. A violation of RFC 6455 in the frames is
/// reported by `poll_event`, after the events of the bytes before it, as an
/// [`Event::Close`] with the code that was sent (1002, 1007, 1009, ...) and
/// the [`Error`]. From then on [`error`](Self::error) returns it and
/// `receive` returns it as `Err`.
#[derive(Debug)]
pub struct Connection<R: Role> {
    pub(crate) role: R,
    pub(crate) engine: Engine,
}

impl<R: Role> Connection<R> {
    /// Feeds bytes read from the transport. `now` is the caller's clock: a
    /// time since an epoch of its choice, never decreasing.
    ///
    /// The opening handshake is read at once: its event (`Request`,
    /// `Accepted`, `HandshakeRejected`) is ready for
    /// [`poll_event`](Self::poll_event), and a failure is returned here. The
    /// frames after it are decoded by `poll_event`, in order.
    ///
    /// # Errors
    /// A failed opening handshake ([`Error::Handshake`]), with its HTTP error
    /// response already queued; or the error the connection failed with
    /// earlier. It is returned again by every later call.
    pub fn receive(&mut self, now: Duration, data: &[u8]) -> Result<(), Error> {
        if let Some(error) = self.engine.error() {
            return Err(error.clone());
        }
        if self.engine.phase().ignores_input() {
            return Ok(());
        }
        self.engine.note_time(now);
        self.engine.append_received(data);
        self.receive_handshake(now)
    }

    pub(crate) fn receive_handshake(&mut self, now: Duration) -> Result<(), Error> {
        if self.engine.phase() == Phase::Handshake {
            self.role.receive_handshake(&mut self.engine, now)?;
        }
        Ok(())
    }

    /// Tells the connection that the peer closed the transport.
    ///
    /// Once the connection is open this takes effect in byte order: after
    /// the events of the bytes received before it. An end before the
    /// closing handshake is then reported by [`poll_event`](Self::poll_event)
    /// as an [`Event::Close`] with [`CloseCode::ABNORMAL`] (1006) and
    /// [`Error::UnexpectedEof`].
    ///
    /// # Errors
    /// The handshake's error when the transport ended during the opening
    /// handshake, or the error the connection failed with earlier.
    pub fn receive_eof(&mut self, now: Duration) -> Result<(), Error> {
        if let Some(error) = self.engine.error() {
            return Err(error.clone());
        }
        if self.engine.phase() == Phase::Handshake {
            self.engine.note_time(now);
            return self.role.handshake_eof(&mut self.engine, now);
        }
        self.engine.receive_eof(now)
    }

    /// The next event for the app: decoded from the bytes already received,
    /// one at a time, so that the app's reaction to it comes before the
    /// effects of later bytes. `None` when the buffered bytes hold no more.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.engine.poll_event(&mut self.role)
    }

    /// As [`poll_event`](Self::poll_event), but a whole text or binary
    /// message in one frame (most small messages) is lent from the receive
    /// buffer as [`EventRef::Frame`] instead of handed over as an owned
    /// [`Frame`](crate::Frame): no reference count to take and drop for
    /// each message. The frame leaves the buffer on the next call that
    /// touches it. Every other event comes as [`EventRef::Event`], exactly
    /// as `poll_event` gives it, and the two may be mixed freely.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{EventRef, Opcode, Server, config::Config};
    ///
    /// let mut server = Server::new_open(Config::default(), Duration::ZERO);
    /// server.receive(Duration::ZERO, &[0x81, 0x82, 0, 0, 0, 0, b'h', b'i'])?;
    /// let Some(EventRef::Frame(frame)) = server.poll_event_ref() else { panic!() };
    /// assert_eq!((frame.opcode, frame.payload), (Opcode::Text, &b"hi"[..]));
    /// assert!(server.poll_event_ref().is_none());
    /// # Ok::<(), wsmachine::Error>(())
    /// ```
    #[inline]
    pub fn poll_event_ref(&mut self) -> Option<EventRef<'_>> {
        self.engine.poll_event_ref(&mut self.role)
    }

    /// The next bytes to write to the transport, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.engine.poll_transmit()
    }

    /// How many bytes [`poll_transmit`](Self::poll_transmit) has yet to
    /// hand out: what a driver counts against its high-water mark before
    /// it takes the output, so that the replies to many messages can be
    /// taken, and written, at once.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{Server, config::Config};
    ///
    /// let mut server = Server::new_open(Config::default(), Duration::ZERO);
    /// server.send_text("hi")?;
    /// // A large owned payload is queued as it is, after a header.
    /// server.send_binary_owned(vec![0; 100_000])?;
    /// assert_eq!(server.pending_output(), (2 + 2) + (10 + 100_000));
    /// let mut taken = 0;
    /// while let Some(bytes) = server.poll_transmit() {
    ///     taken += bytes.len();
    /// }
    /// assert_eq!((taken, server.pending_output()), (100_014, 0));
    /// # Ok::<(), wsmachine::SendError>(())
    /// ```
    pub fn pending_output(&self) -> usize {
        self.engine.pending_output()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, on
    /// the caller's clock.
    ///
    /// A connection that has not yet been given the caller's clock (by any
    /// call that takes `now`) returns `Some(Duration::ZERO)`: call
    /// `handle_timeout` at once, which starts its handshake deadline.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.engine.poll_timeout()
    }

    /// Fires the timers due at `now`: the handshake deadline
    /// ([`Config::handshake_timeout`](crate::config::Config::handshake_timeout),
    /// after which a server answers 408 and either side fails with
    /// [`HandshakeError::Timeout`](crate::handshake::HandshakeError::Timeout),
    /// see [`error`](Self::error)), the close handshake timeout, and the
    /// keepalive ping and pong deadlines.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.engine.note_time(now);
        if self.engine.handshake_deadline_passed(now) {
            self.role.handshake_timed_out(&mut self.engine, now);
        }
        self.engine.handle_timeout(&mut self.role, now);
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.engine.state()
    }

    /// Whether the transport should be closed once the output is drained.
    pub fn is_closed(&self) -> bool {
        self.engine.state() == State::Closed
    }

    /// The fatal error, if the connection failed.
    pub fn error(&self) -> Option<&Error> {
        self.engine.error()
    }

    /// The connection's settings, as it was made with them.
    pub fn config(&self) -> &crate::config::Config {
        self.engine.config()
    }

    /// Sends a text message in one frame.
    ///
    /// # Errors
    /// [`SendError::NotOpen`] unless open; [`SendError::MessageInProgress`]
    /// while a fragmented message is unfinished.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.engine
            .send_message(&mut self.role, DataKind::Text, text.as_bytes())
    }

    /// Sends a binary message in one frame.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.engine
            .send_message(&mut self.role, DataKind::Binary, data)
    }

    /// Sends a binary message in one frame, taking the payload instead of
    /// copying it.
    ///
    /// A client masks it in place, and [`poll_transmit`](Self::poll_transmit)
    /// hands it out as its own buffer after the frame header; a server sends
    /// it as it is. Either way a large payload is never copied: pass a
    /// `Vec<u8>`, a `BytesMut` or a `Bytes` that nothing else refers to (a
    /// client copies a shared `Bytes` before masking it, since others may
    /// read it). Payloads under 1 KiB, and compressed messages, are copied
    /// as [`send_binary`](Self::send_binary) does.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wsmachine::{Client, config::Config, entropy::FixedEntropy};
    ///
    /// let entropy = FixedEntropy::new(&[1, 2, 3, 4]);
    /// let mut client = Client::new_open(Config::default(), entropy, Duration::ZERO);
    /// let payload = vec![0u8; 64 * 1024];
    /// client.send_binary_owned(payload)?;
    /// let header = client.poll_transmit().ok_or("no header")?;
    /// let masked = client.poll_transmit().ok_or("no payload")?;
    /// assert_eq!(header.len(), 2 + 8 + 4); // 64-bit length, masking key
    /// assert_eq!(&masked[..4], &[1, 2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`send_binary`](Self::send_binary).
    pub fn send_binary_owned(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.engine
            .send_message_owned(&mut self.role, DataKind::Binary, data.into())
    }

    /// Sends a text message in one frame, taking the text instead of copying
    /// it (a `String`, or the [`Utf8Bytes`](crate::Utf8Bytes) of a received
    /// text, which is not checked again); see
    /// [`send_binary_owned`](Self::send_binary_owned).
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub fn send_text_owned(&mut self, text: impl Into<crate::Utf8Bytes>) -> Result<(), SendError> {
        self.engine
            .send_message_owned(&mut self.role, DataKind::Text, text.into().into_bytes())
    }

    /// Sends one fragment of a message: the first (choosing text or binary),
    /// a middle one, or the last. Text fragments are UTF-8 checked across
    /// fragments.
    ///
    /// # Errors
    /// [`SendError::MessageInProgress`] for a first fragment while another
    /// message is unfinished, [`SendError::NoMessageInProgress`] for a
    /// continuation without one, [`SendError::InvalidUtf8`],
    /// [`SendError::NotOpen`].
    pub fn send_fragment(&mut self, fragment: Fragment, data: &[u8]) -> Result<(), SendError> {
        self.engine.send_fragment(&mut self.role, fragment, data)
    }

    /// [`send_fragment`](Self::send_fragment) with a payload handed over:
    /// queued as it is, never copied (a client masks it in place), unless
    /// it is under 1 KiB or its message is compressed, as
    /// [`send_binary_owned`](Self::send_binary_owned) does for whole
    /// messages.
    ///
    /// # Errors
    /// As [`send_fragment`](Self::send_fragment).
    pub fn send_fragment_owned(
        &mut self,
        fragment: Fragment,
        data: impl Into<Bytes>,
    ) -> Result<(), SendError> {
        self.engine
            .send_fragment_owned(&mut self.role, fragment, data.into())
    }

    /// Begins a frame of `len` payload bytes whose payload follows in
    /// pieces, through [`write_frame_payload`](Self::write_frame_payload):
    /// a message of any length, known up front, without a buffer of its
    /// length. A client masks each piece as it comes. `fragment` places the
    /// frame in its message ([`Fragment::Whole`] for a message in one
    /// frame); a message sent this way is not compressed (permessage-deflate
    /// lets any message go uncompressed), and a fragmented message can go
    /// on in frames begun this way and in [`send_fragment`](Self::send_fragment)s
    /// alike, unless it started compressed.
    ///
    /// Until the frame's last byte is written, nothing else can be sent
    /// ([`SendError::FrameInProgress`]), and the control frames the
    /// connection sends on its own (a pong, the reply to the peer's Close)
    /// wait and follow it. If the connection fails meanwhile, the frame
    /// cannot be finished and no Close follows it: close the transport.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{DataKind, Fragment, Server, config::Config};
    ///
    /// let mut server = Server::new_open(Config::default(), Duration::ZERO);
    /// server.begin_frame(Fragment::Whole(DataKind::Binary), 6)?;
    /// server.write_frame_payload(b"abc")?;
    /// server.write_frame_payload(b"def")?;
    /// let wire = server.poll_transmit().unwrap();
    /// assert_eq!(&wire[..], b"\x82\x06abcdef");
    /// # Ok::<(), wsmachine::SendError>(())
    /// ```
    ///
    /// # Errors
    /// As [`send_fragment`](Self::send_fragment), and
    /// [`SendError::CompressedMessage`] to go on with a compressed message.
    pub fn begin_frame(&mut self, fragment: Fragment, len: u64) -> Result<(), SendError> {
        self.engine.begin_frame(&mut self.role, fragment, len)
    }

    /// Writes the next piece of the payload of the frame
    /// [`begin_frame`](Self::begin_frame) began. Text is UTF-8 checked
    /// across pieces; a refused piece changes nothing.
    ///
    /// # Errors
    /// [`SendError::NoFrameInProgress`], [`SendError::FrameOverrun`] for
    /// more bytes than the frame has left, [`SendError::InvalidUtf8`],
    /// [`SendError::NotOpen`] once the connection has failed or closed.
    pub fn write_frame_payload(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.engine.write_frame_payload(data)
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// [`SendError::ControlPayloadTooLarge`] over 125 bytes;
    /// [`SendError::NotOpen`].
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.engine
            .send_control(&mut self.role, Opcode::Ping, payload)
    }

    /// Sends an unsolicited pong (a heartbeat that expects no answer).
    ///
    /// # Errors
    /// As [`send_ping`](Self::send_ping).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.engine
            .send_control(&mut self.role, Opcode::Pong, payload)
    }

    /// Starts the closing handshake and arms the close timer.
    ///
    /// # Errors
    /// [`SendError::InvalidClose`] for a code that may not be sent or a
    /// reason over 123 bytes; [`SendError::NotOpen`] when not open.
    pub fn close(&mut self, now: Duration, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.engine.close(&mut self.role, now, code, reason)
    }
}
