//! The socket's two halves, for a reader and a writer that are separate
//! tasks or separate combinators (`stream.forward(sink)`).
//!
//! They share the socket itself, not a slot in front of it: a message the
//! sink takes goes straight into the connection, so when the stream then
//! meets a failure, the message is among what it writes before it hands
//! the failure out. (A sink with a slot of its own would still hold it,
//! and it would be lost with the halves.)

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

use super::WebSocket;
use crate::error::Error;
use wsmachine::Message;

/// The sending half of a [`WebSocket`], from [`WebSocket::split`]: a
/// [`Sink`] of [`Message`]s.
#[derive(Debug)]
pub struct SplitSink<S> {
    pub(super) socket: Arc<Mutex<WebSocket<S>>>,
}

/// The receiving half of a [`WebSocket`], from [`WebSocket::split`]: a
/// [`Stream`] of received [`Message`]s. Polling it also writes what the
/// sink queued, as the whole socket's stream does.
#[derive(Debug)]
pub struct SplitStream<S> {
    pub(super) socket: Arc<Mutex<WebSocket<S>>>,
}

/// [`SplitStream::reunite`] was given the half of another socket; both are
/// handed back.
#[derive(Debug, thiserror::Error)]
#[error("the halves belong to different sockets")]
pub struct ReuniteError<S>(pub SplitSink<S>, pub SplitStream<S>);

impl<S> WebSocket<S> {
    /// Splits the socket into a sending half and a receiving half that two
    /// tasks, or two combinators, can use at once.
    ///
    /// ```no_run
    /// use futures_util::{StreamExt, TryStreamExt, future};
    ///
    /// # async fn run(ws: wsmachine_tokio::WebSocket<tokio::net::TcpStream>) -> Result<(), wsmachine_tokio::Error> {
    /// let (sink, stream) = ws.split();
    /// stream
    ///     .try_filter(|message| future::ready(message.is_text() || message.is_binary()))
    ///     .forward(sink)
    ///     .await
    /// # }
    /// ```
    pub fn split(self) -> (SplitSink<S>, SplitStream<S>) {
        let socket = Arc::new(Mutex::new(self));
        (
            SplitSink {
                socket: Arc::clone(&socket),
            },
            SplitStream { socket },
        )
    }
}

/// The socket behind a half. Every poll holds the lock only for its own
/// length, never across an await, so the halves never wait on each other
/// for longer than one poll. A poll that panicked leaves the socket as the
/// engine left it, which is as consistent as at any return: the lock is
/// taken back rather than poisoning the other half.
pub(super) fn lock<S>(socket: &Mutex<WebSocket<S>>) -> MutexGuard<'_, WebSocket<S>> {
    socket
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S> SplitStream<S> {
    /// Puts the socket back together from its two halves.
    ///
    /// # Errors
    /// [`ReuniteError`], with both halves, when `sink` is another socket's.
    pub fn reunite(self, sink: SplitSink<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.socket, &sink.socket) {
            return Err(ReuniteError(sink, self));
        }
        drop(sink);
        match Arc::try_unwrap(self.socket) {
            Ok(socket) => Ok(socket
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)),
            // Two halves of one socket and no other owner: `split` made
            // exactly two, and both are here.
            Err(_) => unreachable!("a socket is shared by its two halves only"),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for SplitStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *lock(&self.socket)).poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for SplitStream<S> {
    fn is_terminated(&self) -> bool {
        lock(&self.socket).is_terminated()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for SplitSink<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut *lock(&self.socket)).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        Pin::new(&mut *lock(&self.socket)).start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut *lock(&self.socket)).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut *lock(&self.socket)).poll_close(cx)
    }
}
