//! The socket's faces: the [`Stream`] of messages and the [`Sink`] that
//! takes them, both on the engine of the parent module.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use wsmachine::error::ProtocolError;
use wsmachine::{CloseCode, Event, SendError, State};

use super::WebSocket;
use crate::error::{Error, from_core};
use wsmachine::{CloseFrame, Message};

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Starts the closing handshake and writes everything out. Keep polling
    /// the stream to see the peer's Close and the end of the connection.
    ///
    /// # Errors
    /// [`Error::Send`] for a code that may not be sent (1005, 1006, 1015,
    /// ...) or a reason over 123 bytes; [`Error::Io`] when the transport
    /// fails. Closing a socket that is already closing or closed does
    /// nothing.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.start_close(code, reason)?;
        std::future::poll_fn(|cx| Sink::<Message>::poll_flush(Pin::new(&mut *self), cx)).await
    }

    /// The next message: [`StreamExt::next`](futures_util::StreamExt::next)
    /// without the import. `None` once the connection is over.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| Stream::poll_next(Pin::new(&mut *self), cx)).await
    }

    /// Sends a message and writes it out:
    /// [`SinkExt::send`](futures_util::SinkExt::send) without the import.
    ///
    /// # Errors
    /// [`Error::Closed`] once the connection is closing or over;
    /// [`Error::Send`] for a message the core refuses (a ping over 125
    /// bytes); [`Error::Io`] when the transport fails.
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> {
        // The sink's own future: a reference and the message, and no more
        // (an app's task holds it, and its size, for the connection's life).
        futures_util::SinkExt::send(self, message)
    }

    fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let now = self.now();
        match self.conn.close(now, code, reason) {
            Ok(()) => {
                self.take_output();
                Ok(())
            }
            // Already closing or closed: nothing left to start.
            Err(SendError::NotOpen {
                state: State::Closing | State::Closed,
            }) => Ok(()),
            Err(error) => Err(send_error(error)),
        }
    }

    /// The next data frame (or piece, as the fragment it stands for) or
    /// the peer's Close, from the engine's events: what both the message
    /// stream and the streaming reader build on.
    ///
    /// The end comes last, after what is owed: a failure is handed out
    /// once the replies queued before it and the failure's Close are
    /// written and the transport is shut down (only a transport error cuts
    /// that short), and the peer's Close once our answer is written. So an
    /// app that stops at the first error, or at the Close, and drops the
    /// socket has lost nothing it sent.
    pub(super) fn poll_received(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Received, Error>>> {
        loop {
            if self.fused {
                return Poll::Ready(None);
            }
            if self.failure.is_some() {
                // The core is `Closed`: the engine writes, shuts down and
                // ends, within the close timeout. It has no event left, and
                // a transport error only cuts the writing short.
                if let Ok(Some(_)) = ready!(self.poll_engine(cx)) {
                    continue;
                }
                self.fused = true;
                return Poll::Ready(self.failure.take().map(|error| Err(*error)));
            }
            let event = match ready!(self.poll_engine(cx)) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    self.fused = true;
                    return Poll::Ready(None);
                }
                Err(error) => {
                    // Transport errors only: nothing more can be written.
                    crate::trace::failure(&error);
                    self.fused = true;
                    return Poll::Ready(Some(Err(error)));
                }
            };
            match event {
                // A piece is handed on as the fragment it stands for.
                Event::Piece(piece) => {
                    return Poll::Ready(Some(Ok(Received::Frame(piece_as_fragment(piece)))));
                }
                Event::Frame(frame) => return Poll::Ready(Some(Ok(Received::Frame(frame)))),
                Event::Close(close) => match close.error {
                    None => {
                        let frame = (close.code != CloseCode::NO_STATUS).then_some(CloseFrame {
                            code: close.code,
                            reason: close.reason,
                        });
                        self.closing = Some(Box::new(Message::Close(frame)));
                    }
                    // After our Close the peer may just go: an end.
                    Some(wsmachine::Error::UnexpectedEof) if self.ended_while_closing => {}
                    Some(error) => self.fail_with(from_core(error)),
                },
                // Handshake events come before a socket exists.
                Event::Request(_)
                | Event::Accepted(_)
                | Event::HandshakeRejected(_)
                | Event::ProxyRejected(_) => {}
            }
            if self.closing.is_some() {
                return self
                    .poll_closing(cx)
                    .map(|closed| closed.map(|close| close.map(Received::Close)));
            }
        }
    }

    /// The next message for the stream: the frames of [`poll_received`]
    /// assembled. The rest of a message a [`MessageReader`] left unread is
    /// dropped.
    ///
    /// [`MessageReader`]: super::MessageReader
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let frame = match ready!(self.poll_received(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                Some(Ok(Received::Close(close))) => return Poll::Ready(Some(Ok(close))),
                Some(Ok(Received::Frame(frame))) => frame,
            };
            if self.skip_rest && !frame.opcode.is_control() {
                self.skip_rest = !frame.fin;
                continue;
            }
            match self.assembler.push(frame) {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                // The core checks fragmentation, UTF-8 and the size
                // limit before a frame gets here.
                Err(error) => self.fail_with(Error::Protocol(assembly_error(error))),
            }
        }
    }

    /// Holds the connection's failure until what is owed is written.
    pub(super) fn fail_with(&mut self, error: Error) {
        crate::trace::failure(&error);
        self.failure = Some(Box::new(error));
    }

    /// Hands out the peer's Close once our answer to it (queued by the
    /// core) is written: an app that stops at the Close has still answered.
    pub(super) fn poll_closing(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        self.wakers.stream.register(cx.waker());
        let written = self.with_proxy(|this, cx| {
            if this.io_dead {
                return true;
            }
            this.take_output();
            if let Poll::Ready(Err(error)) = this.poll_write_out(cx) {
                this.io_failed(error);
            }
            // Past the close timeout the answer is given up on: a peer
            // that does not read would never take it.
            (this.out.is_empty() && !this.needs_flush) || this.finish_expired(cx)
        });
        if !written {
            return Poll::Pending;
        }
        Poll::Ready(self.closing.take().map(|close| Ok(*close)))
    }
}

/// What [`WebSocket::poll_received`] hands on.
pub(super) enum Received {
    /// A data or control frame, or a piece as the fragment it stands for.
    Frame(wsmachine::Frame),
    /// The peer's Close, once our answer is written.
    Close(Message),
}

/// An assembler's refusal as the violation it is. The core checks
/// fragmentation, UTF-8 and the size limit before a frame reaches the
/// assembler, so none is expected; a refusal still fails the connection.
pub(super) fn assembly_error(error: wsmachine::message::MessageError) -> ProtocolError {
    use wsmachine::message::MessageError;
    debug_assert!(
        false,
        "the core let through a frame the assembler refuses: {error}"
    );
    match error {
        MessageError::TooLarge { limit, .. } => ProtocolError::MessageTooLarge {
            limit: limit as u64,
        },
        MessageError::UnexpectedContinuation => ProtocolError::UnexpectedContinuation,
        MessageError::InvalidUtf8(_) => ProtocolError::InvalidUtf8 { offset: None },
        MessageError::InvalidClose(error) => ProtocolError::InvalidClose(error),
        _ => ProtocolError::ExpectedContinuation,
    }
}

pub(crate) fn send_error(error: SendError) -> Error {
    match error {
        SendError::NotOpen { .. } => Error::Closed,
        other => Error::Send(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.poll_message(cx);
        // Reading may have written output below the mark: a sender waiting
        // for that can go on.
        if this.sink_waiting && this.unflushed() <= this.config().high_water_mark {
            this.sink_waiting = false;
            this.wakers.sink.wake();
        }
        polled
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for WebSocket<S> {
    fn is_terminated(&self) -> bool {
        self.fused
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.io_dead || this.finished {
            return Poll::Ready(Err(Error::Closed));
        }
        // Below the mark, the message joins the queue unwritten: the next
        // flush, or the stream before it waits for the transport, writes
        // the whole queue at once (one write for the replies to a read).
        if this.unflushed() <= this.config().high_water_mark {
            this.sink_waiting = false;
            return Poll::Ready(Ok(()));
        }
        this.poll_output(cx)?;
        if this.unflushed() > this.config().high_water_mark {
            this.sink_waiting = true;
            Poll::Pending
        } else {
            this.sink_waiting = false;
            Poll::Ready(Ok(()))
        }
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let this = self.get_mut();
        if this.io_dead || this.finished {
            return Err(Error::Closed);
        }
        let sent = match message {
            Message::Text(text) => this.conn.send_text(text),
            Message::Binary(data) => this.conn.send_binary(data),
            Message::Ping(data) => this.conn.send_ping(&data),
            Message::Pong(data) => this.conn.send_pong(&data),
            Message::Close(frame) => {
                let (code, reason) = frame.map_or((CloseCode::NORMAL, String::new()), |frame| {
                    (frame.code, frame.reason)
                });
                return this.start_close(code, &reason);
            }
        };
        // The frame stays in the core until the engine writes: the replies
        // fed for one read are then taken, and written, as one buffer.
        sent.map_err(send_error)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        match this.poll_output(cx) {
            Ok(()) => {}
            // Everything queued was written before the connection ended.
            Err(Error::Closed) if this.out.is_empty() && this.finished => {
                return Poll::Ready(Ok(()));
            }
            Err(error) => return Poll::Ready(Err(error)),
        }
        if this.out.is_empty() && !this.needs_flush {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.conn.state() == State::Open {
            this.start_close(CloseCode::NORMAL, "")?;
        }
        Pin::new(this).poll_flush(cx)
    }
}

/// A piece of a message (`Config::piece_size`) as the fragment it stands
/// for: the message's first piece opens it, its last one ends it.
pub(super) fn piece_as_fragment(piece: wsmachine::Piece) -> wsmachine::Frame {
    let opcode = match (piece.message_start, piece.kind) {
        (false, _) => wsmachine::Opcode::Continuation,
        (true, wsmachine::DataKind::Text) => wsmachine::Opcode::Text,
        (true, wsmachine::DataKind::Binary) => wsmachine::Opcode::Binary,
    };
    let mut frame = wsmachine::Frame::new(opcode, piece.payload);
    frame.fin = piece.message_end;
    frame
}
