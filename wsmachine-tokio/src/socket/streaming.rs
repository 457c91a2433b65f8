//! Messages of any size, in pieces: [`MessageReader`] hands out a message
//! while it is still arriving, [`MessageWriter`] sends one as fragments
//! while its payload is still being made.
//!
//! Both work on the socket's engine, as the message stream and sink do: a
//! reader that is not polled stops the reads from the transport (the core
//! holds at most a read and a piece), and a writer waits while more than
//! [`Config::high_water_mark`](crate::Config::high_water_mark) is queued.
//! Pings are answered by the core while either is used.
//!
//! Received data comes in the core's pieces when the socket's config sets
//! [`Config::piece_size`](crate::Config::piece_size), and in whole frames
//! otherwise: only with a piece size is the memory bounded whatever the
//! frames' size.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use wsmachine::{DataKind, Fragment, Message, Opcode};

use super::WebSocket;
use super::messages::{Received, send_error};
use super::split::{SplitSink, SplitStream, lock};
use crate::error::Error;

/// How much `send_streaming` reads from its source for one fragment.
const SEND_CHUNK: usize = 64 * 1024;

/// The first data of a message `recv_streaming` found.
struct Start {
    kind: DataKind,
    first: Bytes,
    ended: bool,
}

/// Where a reader or a writer reaches its socket: the whole socket, or the
/// half of a split one.
enum SocketRef<'a, S> {
    Whole(&'a mut WebSocket<S>),
    Half(&'a Mutex<WebSocket<S>>),
}

impl<S> SocketRef<'_, S> {
    fn with<T>(&mut self, f: impl FnOnce(&mut WebSocket<S>) -> T) -> T {
        match self {
            SocketRef::Whole(socket) => f(socket),
            SocketRef::Half(socket) => f(&mut lock(socket)),
        }
    }
}

fn kind_of(opcode: Opcode) -> Option<DataKind> {
    match opcode {
        Opcode::Text => Some(DataKind::Text),
        Opcode::Binary => Some(DataKind::Binary),
        _ => None,
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A sender waiting on the high-water mark can go on once reading has
    /// written the queue below it.
    fn wake_sender_below_mark(&mut self) {
        if self.sink_waiting && self.unflushed() <= self.config().high_water_mark {
            self.sink_waiting = false;
            self.wakers.sink.wake();
        }
    }

    /// The start of the next data message: drops the rest of a message a
    /// reader left unread, and the pings and pongs (the core answers
    /// pings). `None` once the connection is over; the peer's Close is
    /// kept for [`peer_close`](Self::peer_close).
    fn poll_message_start(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Start, Error>>> {
        let polled = loop {
            let frame = match ready!(self.poll_received(cx)) {
                None => break None,
                Some(Err(error)) => break Some(Err(error)),
                Some(Ok(Received::Close(Message::Close(frame)))) => {
                    self.peer_close = Some(Box::new(frame));
                    continue;
                }
                Some(Ok(Received::Close(_))) => continue,
                Some(Ok(Received::Frame(frame))) => frame,
            };
            if frame.opcode.is_control() {
                continue;
            }
            if self.skip_rest {
                self.skip_rest = !frame.fin;
                continue;
            }
            if let Some(kind) = kind_of(frame.opcode) {
                self.skip_rest = !frame.fin;
                break Some(Ok(Start {
                    kind,
                    first: frame.payload,
                    ended: frame.fin,
                }));
            }
            // The rest of a message a dropped `recv` began to assemble:
            // handed out whole once it is.
            match self.assembler.push(frame) {
                Ok(Some(Message::Text(text))) => {
                    break Some(Ok(Start {
                        kind: DataKind::Text,
                        first: text.into_bytes(),
                        ended: true,
                    }));
                }
                Ok(Some(Message::Binary(data))) => {
                    break Some(Ok(Start {
                        kind: DataKind::Binary,
                        first: data,
                        ended: true,
                    }));
                }
                Ok(_) => {}
                Err(error) => {
                    self.fail_with(Error::Protocol(super::messages::assembly_error(error)));
                }
            }
        };
        self.wake_sender_below_mark();
        Poll::Ready(polled)
    }

    /// The next data of the message being read, and whether it ends it.
    /// `None` when the connection ends first (the peer's Close is kept).
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<(Bytes, bool), Error>>> {
        let polled = loop {
            match ready!(self.poll_received(cx)) {
                None => break None,
                Some(Err(error)) => break Some(Err(error)),
                Some(Ok(Received::Close(Message::Close(frame)))) => {
                    self.peer_close = Some(Box::new(frame));
                    break None;
                }
                Some(Ok(Received::Close(_))) => break None,
                Some(Ok(Received::Frame(frame))) if frame.opcode.is_control() => {}
                Some(Ok(Received::Frame(frame))) => {
                    if frame.fin {
                        self.skip_rest = false;
                    }
                    break Some(Ok((frame.payload, frame.fin)));
                }
            }
        };
        self.wake_sender_below_mark();
        Poll::Ready(polled)
    }

    /// Sends one fragment once the queue is below the high-water mark; it
    /// is written by the next flush, or by the reading side.
    fn poll_send_fragment(
        &mut self,
        cx: &mut Context<'_>,
        fragment: Fragment,
        data: Payload<'_>,
    ) -> Poll<Result<(), Error>> {
        ready!(Sink::<Message>::poll_ready(Pin::new(&mut *self), cx))?;
        if self.io_dead || self.finished {
            return Poll::Ready(Err(Error::Closed));
        }
        let sent = match data {
            Payload::Borrowed(data) => self.conn.send_fragment(fragment, data),
            // Queued as it is: no copy of a large piece.
            Payload::Owned(data) => self.conn.send_fragment_owned(fragment, data.clone()),
        };
        Poll::Ready(sent.map_err(send_error))
    }

    /// Writes the next piece of a frame of declared length once the queue
    /// is below the high-water mark, beginning the frame first with
    /// `begin`.
    fn poll_frame_payload(
        &mut self,
        cx: &mut Context<'_>,
        begin: Option<(Fragment, u64)>,
        data: &[u8],
    ) -> Poll<Result<(), Error>> {
        ready!(Sink::<Message>::poll_ready(Pin::new(&mut *self), cx))?;
        if self.io_dead || self.finished {
            return Poll::Ready(Err(Error::Closed));
        }
        if let Some((fragment, len)) = begin {
            self.conn.begin_frame(fragment, len).map_err(send_error)?;
        }
        if data.is_empty() {
            // Nothing to write (an empty frame ends as it begins).
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(self.conn.write_frame_payload(data).map_err(send_error))
    }

    /// The next data message, handed out while it is still arriving: a
    /// [`MessageReader`] of its payload. Pings and pongs are not handed
    /// out (the core answers pings); a message a previous reader left
    /// unread is dropped. `None` once the connection is over: after the
    /// peer's Close ([`peer_close`](Self::peer_close)), answered and the
    /// transport shut down, as for the message stream.
    ///
    /// Memory stays bounded whatever the message's size only with
    /// [`Config::piece_size`](crate::Config::piece_size) set (and
    /// [`Config::max_message_size`](crate::Config::max_message_size)
    /// raised for messages over its limit): without it data comes in whole
    /// frames.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    ///
    /// # async fn run(mut ws: wsmachine_tokio::WebSocket<tokio::net::TcpStream>) -> Result<(), wsmachine_tokio::Error> {
    /// while let Some(reader) = ws.recv_streaming().await {
    ///     let mut reader = reader?;
    ///     let mut len = 0;
    ///     while let Some(piece) = reader.next().await {
    ///         len += piece?.len();
    ///     }
    ///     println!("a {:?} message of {len} bytes", reader.kind());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv_streaming(&mut self) -> Option<Result<MessageReader<'_, S>, Error>> {
        let start = std::future::poll_fn(|cx| self.poll_message_start(cx)).await?;
        Some(start.map(|start| MessageReader::new(SocketRef::Whole(self), start)))
    }

    /// A writer of one message of `kind`, sent as fragments: each write
    /// becomes one fragment (compressed on its own with
    /// permessage-deflate), and [`shutdown`](tokio::io::AsyncWriteExt::shutdown)
    /// ends the message. Wrap it in a [`tokio::io::BufWriter`] for
    /// fragments larger than the writes.
    pub fn message_writer(&mut self, kind: DataKind) -> MessageWriter<'_, S> {
        MessageWriter::new(SocketRef::Whole(self), kind)
    }

    /// Sends one message of `kind` whose payload `source` gives, read in
    /// chunks of up to 64 KiB that each become a fragment; returns the
    /// payload's length. Waits on
    /// [`Config::high_water_mark`](crate::Config::high_water_mark) as
    /// [`send`](Self::send) does.
    ///
    /// # Errors
    /// As [`send`](Self::send); [`Error::Send`] for a text that is not
    /// UTF-8; [`Error::Io`] when `source` fails, which leaves the message
    /// unfinished (close the socket then).
    pub async fn send_streaming(
        &mut self,
        kind: DataKind,
        source: impl AsyncRead + Unpin,
    ) -> Result<u64, Error> {
        self.message_writer(kind).copy_from(source).await
    }

    /// Sends one message of `kind` whose payload is `chunks`, one fragment
    /// each; returns the payload's length.
    ///
    /// # Errors
    /// As [`send_streaming`](Self::send_streaming).
    pub async fn send_stream(
        &mut self,
        kind: DataKind,
        chunks: impl Stream<Item = io::Result<Bytes>>,
    ) -> Result<u64, Error> {
        self.message_writer(kind).send_all(chunks).await
    }

    /// A writer of one message of `kind` and of `len` bytes known up front,
    /// sent as ONE frame whose payload goes out as it is written (masked
    /// on the fly by a client): a message of any length, without a buffer
    /// of its length. Such a message is not compressed. See
    /// [`MessageWriter`].
    pub fn message_writer_sized(&mut self, kind: DataKind, len: u64) -> MessageWriter<'_, S> {
        MessageWriter::sized(SocketRef::Whole(self), kind, len)
    }

    /// Sends one message of `kind` and of `len` bytes whose payload is
    /// `chunks`, as one frame (see
    /// [`message_writer_sized`](Self::message_writer_sized)); returns the
    /// payload's length.
    ///
    /// # Errors
    /// As [`send_streaming`](Self::send_streaming); [`Error::Send`] when
    /// `chunks` give more or fewer bytes than `len`.
    pub async fn send_stream_sized(
        &mut self,
        kind: DataKind,
        len: u64,
        chunks: impl Stream<Item = io::Result<Bytes>>,
    ) -> Result<u64, Error> {
        self.message_writer_sized(kind, len).send_all(chunks).await
    }

    /// The peer's Close (its code and reason, `None` without a code), once
    /// [`recv_streaming`](Self::recv_streaming) has met it.
    pub fn peer_close(&self) -> Option<&Option<wsmachine::CloseFrame>> {
        self.peer_close.as_deref()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SplitStream<S> {
    /// [`WebSocket::recv_streaming`] on the receiving half: a sending half
    /// in another task (or the same one) may send meanwhile, such as the
    /// echo of the pieces read.
    pub async fn recv_streaming(&mut self) -> Option<Result<MessageReader<'_, S>, Error>> {
        let start = std::future::poll_fn(|cx| lock(&self.socket).poll_message_start(cx)).await?;
        Some(start.map(|start| MessageReader::new(SocketRef::Half(&self.socket), start)))
    }

    /// [`WebSocket::peer_close`] of the socket.
    pub fn peer_close(&self) -> Option<Option<wsmachine::CloseFrame>> {
        lock(&self.socket).peer_close.as_deref().cloned()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SplitSink<S> {
    /// [`WebSocket::message_writer`] on the sending half.
    pub fn message_writer(&mut self, kind: DataKind) -> MessageWriter<'_, S> {
        MessageWriter::new(SocketRef::Half(&self.socket), kind)
    }

    /// [`WebSocket::send_streaming`] on the sending half.
    ///
    /// # Errors
    /// As [`WebSocket::send_streaming`].
    pub async fn send_streaming(
        &mut self,
        kind: DataKind,
        source: impl AsyncRead + Unpin,
    ) -> Result<u64, Error> {
        self.message_writer(kind).copy_from(source).await
    }

    /// [`WebSocket::send_stream`] on the sending half.
    ///
    /// # Errors
    /// As [`WebSocket::send_streaming`].
    pub async fn send_stream(
        &mut self,
        kind: DataKind,
        chunks: impl Stream<Item = io::Result<Bytes>>,
    ) -> Result<u64, Error> {
        self.message_writer(kind).send_all(chunks).await
    }

    /// [`WebSocket::message_writer_sized`] on the sending half.
    pub fn message_writer_sized(&mut self, kind: DataKind, len: u64) -> MessageWriter<'_, S> {
        MessageWriter::sized(SocketRef::Half(&self.socket), kind, len)
    }

    /// [`WebSocket::send_stream_sized`] on the sending half.
    ///
    /// # Errors
    /// As [`WebSocket::send_stream_sized`].
    pub async fn send_stream_sized(
        &mut self,
        kind: DataKind,
        len: u64,
        chunks: impl Stream<Item = io::Result<Bytes>>,
    ) -> Result<u64, Error> {
        self.message_writer_sized(kind, len).send_all(chunks).await
    }
}

/// One received message while it arrives, from
/// [`WebSocket::recv_streaming`]: a [`Stream`] of its payload's pieces and
/// an [`AsyncRead`] of its payload, both ending at the message's end.
///
/// The pieces of a text are valid UTF-8 each when the socket's config sets
/// [`Config::piece_size`](crate::Config::piece_size) (whole frames of a
/// fragmented text may split a character). A failure mid-message (invalid
/// UTF-8, a limit, a transport error) comes as the reader's error, after
/// the socket has sent its Close and shut the transport down, as the
/// message stream does; a Close or an end mid-message as
/// [`Error::Closed`]. Not polling the reader stops the reads from the
/// transport. Dropping it before the end drops the rest of the message.
pub struct MessageReader<'a, S> {
    socket: SocketRef<'a, S>,
    kind: DataKind,
    pending: Bytes,
    ended: bool,
}

impl<S> std::fmt::Debug for MessageReader<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageReader")
            .field("kind", &self.kind)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> MessageReader<'a, S> {
    fn new(socket: SocketRef<'a, S>, start: Start) -> Self {
        MessageReader {
            socket,
            kind: start.kind,
            pending: start.first,
            ended: start.ended,
        }
    }

    /// Whether the message is a text or binary one.
    pub fn kind(&self) -> DataKind {
        self.kind
    }

    /// Whether the whole message has been received (what is not handed out
    /// yet is in the reader).
    pub fn is_complete(&self) -> bool {
        self.ended
    }

    /// The next piece, or `None` at the message's end.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            if !self.pending.is_empty() {
                return Poll::Ready(Some(Ok(std::mem::take(&mut self.pending))));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            match ready!(self.socket.with(|socket| socket.poll_piece(cx))) {
                Some(Ok((payload, end))) => {
                    self.ended = end;
                    self.pending = payload;
                }
                Some(Err(error)) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(Error::Closed)));
                }
            }
        }
    }

    /// Reads the rest of the message into one buffer, which may be as large
    /// as the message.
    ///
    /// # Errors
    /// As the stream's items.
    pub async fn collect_bytes(mut self) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        while let Some(piece) = std::future::poll_fn(|cx| self.poll_chunk(cx)).await {
            all.extend_from_slice(&piece?);
        }
        Ok(all)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for MessageReader<'_, S> {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for MessageReader<'_, S> {
    fn is_terminated(&self) -> bool {
        self.ended && self.pending.is_empty()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MessageReader<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending.is_empty() {
            match ready!(this.poll_chunk(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(io::Error::other(error))),
                Some(Ok(piece)) => this.pending = piece,
            }
        }
        let len = this.pending.len().min(buf.remaining());
        buf.put_slice(&this.pending.split_to(len));
        Poll::Ready(Ok(()))
    }
}

/// One message sent as fragments while its payload is made, from
/// [`WebSocket::message_writer`]: an [`AsyncWrite`] each of whose writes
/// is one fragment, and whose
/// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) ends the message (with
/// an empty last fragment) and writes it out.
///
/// A write waits while more than
/// [`Config::high_water_mark`](crate::Config::high_water_mark) is queued;
/// the fragments are written by [`flush`](tokio::io::AsyncWriteExt::flush),
/// by the shutdown, or by the socket's reading side. Until the message
/// ends, the socket sends no other data message (only control frames):
/// dropping the writer before its shutdown leaves the message unfinished,
/// and the connection can then only be closed.
///
/// A writer from [`WebSocket::message_writer_sized`] sends its message as
/// one frame of the declared length instead: each write is the next piece
/// of its payload, and the shutdown checks that all of it was written.
pub struct MessageWriter<'a, S> {
    socket: SocketRef<'a, S>,
    kind: DataKind,
    started: bool,
    ended: bool,
    /// For one frame of declared length: the payload bytes still to come.
    sized_left: Option<u64>,
}

impl<S> std::fmt::Debug for MessageWriter<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageWriter")
            .field("kind", &self.kind)
            .field("started", &self.started)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> MessageWriter<'a, S> {
    fn new(socket: SocketRef<'a, S>, kind: DataKind) -> Self {
        MessageWriter {
            socket,
            kind,
            started: false,
            ended: false,
            sized_left: None,
        }
    }

    fn sized(socket: SocketRef<'a, S>, kind: DataKind, len: u64) -> Self {
        MessageWriter {
            sized_left: Some(len),
            ..MessageWriter::new(socket, kind)
        }
    }

    /// Sends `data` as the message's next fragment, or for one frame of
    /// declared length as the next piece of its payload.
    fn poll_fragment(
        &mut self,
        cx: &mut Context<'_>,
        data: Payload<'_>,
    ) -> Poll<Result<(), Error>> {
        if self.ended {
            return Poll::Ready(Err(Error::Closed));
        }
        if let Some(left) = self.sized_left {
            let begin = (!self.started).then_some((Fragment::Whole(self.kind), left));
            let bytes = data.bytes();
            ready!(
                self.socket
                    .with(|socket| socket.poll_frame_payload(cx, begin, bytes))
            )?;
            self.started = true;
            self.sized_left = Some(left - bytes.len() as u64);
            return Poll::Ready(Ok(()));
        }
        let fragment = if self.started {
            Fragment::Continue
        } else {
            Fragment::First(self.kind)
        };
        ready!(
            self.socket
                .with(|socket| socket.poll_send_fragment(cx, fragment, data))
        )?;
        self.started = true;
        Poll::Ready(Ok(()))
    }

    fn poll_flush_socket(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.socket
            .with(|socket| Sink::<Message>::poll_flush(Pin::new(socket), cx))
    }

    /// Ends the message and writes it out.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(left) = self.sized_left
            && !self.ended
        {
            if !self.started {
                // An empty message: its frame is begun and ended at once.
                ready!(self.poll_fragment(cx, Payload::Borrowed(&[])))?;
            } else if left > 0 {
                // The frame still lacks payload: the message cannot end.
                return Poll::Ready(Err(send_error(wsmachine::SendError::FrameInProgress)));
            }
            self.ended = true;
        }
        if !self.ended {
            if !self.started {
                ready!(self.poll_fragment(cx, Payload::Borrowed(&[])))?;
            }
            ready!(self.socket.with(|socket| socket.poll_send_fragment(
                cx,
                Fragment::Last,
                Payload::Borrowed(&[])
            )))?;
            self.ended = true;
        }
        self.poll_flush_socket(cx)
    }

    /// Sends `data` as one fragment.
    ///
    /// # Errors
    /// As [`WebSocket::send`]; [`Error::Send`] for a text that is not UTF-8
    /// (a character may still be split between two fragments).
    pub async fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_fragment(cx, Payload::Borrowed(data))).await
    }

    /// Sends `data` as one fragment, handed over: a large one is queued as
    /// it is, without a copy (see `wsmachine`'s `send_fragment_owned`).
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub async fn send_owned(&mut self, data: Bytes) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_fragment(cx, Payload::Owned(&data))).await
    }

    /// Ends the message and writes it out.
    ///
    /// # Errors
    /// As [`WebSocket::send`].
    pub async fn finish(mut self) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_end(cx)).await
    }

    /// Sends what `source` gives, in fragments of up to 64 KiB, and ends
    /// the message; returns the payload's length.
    async fn copy_from(mut self, mut source: impl AsyncRead + Unpin) -> Result<u64, Error> {
        let mut buf = vec![0u8; SEND_CHUNK];
        let mut total = 0u64;
        loop {
            let read = source.read(&mut buf).await?;
            if read == 0 {
                break;
            }
            self.send(buf.get(..read).unwrap_or_default()).await?;
            total += read as u64;
        }
        self.finish().await?;
        Ok(total)
    }

    /// Sends every chunk as a fragment and ends the message.
    async fn send_all(
        mut self,
        chunks: impl Stream<Item = io::Result<Bytes>>,
    ) -> Result<u64, Error> {
        let mut chunks = std::pin::pin!(chunks);
        let mut total = 0u64;
        while let Some(chunk) = std::future::poll_fn(|cx| chunks.as_mut().poll_next(cx)).await {
            let chunk = chunk?;
            if chunk.is_empty() {
                continue;
            }
            total += chunk.len() as u64;
            self.send_owned(chunk).await?;
        }
        self.finish().await?;
        Ok(total)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MessageWriter<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_fragment(cx, Payload::Borrowed(buf))).map_err(io::Error::other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_flush_socket(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_end(cx).map_err(io::Error::other)
    }
}

/// A fragment's payload: lent, or handed over as `Bytes` (queued without a
/// copy when large).
#[derive(Clone, Copy)]
enum Payload<'d> {
    Borrowed(&'d [u8]),
    Owned(&'d Bytes),
}

impl Payload<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Borrowed(bytes) => bytes,
            Payload::Owned(bytes) => bytes,
        }
    }
}
