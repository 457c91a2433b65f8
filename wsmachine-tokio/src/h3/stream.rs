//! A request stream after its 200, as the byte transport of a WebSocket.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use quinn::{RecvStream, SendStream, VarInt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsmachine::http3::frame;

use super::codes::{H3_FRAME_UNEXPECTED, H3_NO_ERROR, H3_REQUEST_CANCELLED};
use super::connection::FrameReader;

/// The largest DATA frame written: one frame's copy is all the memory a
/// write holds beyond quinn's own send buffer.
const MAX_DATA_FRAME: usize = 64 * 1024;

/// How much is read from QUIC at a time while a frame header is awaited.
const READ_CHUNK: usize = 16 * 1024;

/// An HTTP/3 request stream as a byte transport, for a
/// [`WebSocket`](crate::WebSocket): reads return the payloads of the
/// peer's DATA frames (other frame types, such as grease, are skipped);
/// writes go out in DATA frames; a shutdown ends the stream (FIN). The end
/// of the peer's side is the end of the reads; a reset is a
/// [`ConnectionReset`](io::ErrorKind::ConnectionReset) error.
///
/// [`Client::connect`](super::Client::connect) and
/// [`Server::accept`](super::Server::accept) make them. Dropping one that
/// was not shut down resets it (H3_REQUEST_CANCELLED).
#[derive(Debug)]
pub struct H3Stream {
    send: SendStream,
    recv: RecvStream,
    /// Read from QUIC and not yet taken: frame headers, payload.
    input: BytesMut,
    /// What is left of the DATA frame being read.
    data_left: u64,
    /// What is left of a frame of another type being skipped.
    skip_left: u64,
    /// The peer finished its side (FIN read).
    recv_ended: bool,
    /// A DATA frame, header and payload, that QUIC has not taken yet.
    output: BytesMut,
    /// Our side is finished (FIN sent).
    finished: bool,
    /// What keeps the connection open while this stream is used: a
    /// client's connection closes once its handles and streams are gone.
    _connection: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl H3Stream {
    pub(crate) fn new(
        send: SendStream,
        reader: FrameReader,
        connection: Option<Arc<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        H3Stream {
            send,
            recv: reader.recv,
            input: reader.buffer,
            data_left: 0,
            skip_left: 0,
            recv_ended: false,
            output: BytesMut::new(),
            finished: false,
            _connection: connection,
        }
    }

    /// The QUIC stream's id, as the peer sees it too.
    pub fn id(&self) -> quinn::StreamId {
        self.send.id()
    }

    /// Reads more of the stream into `input`; `Ready(Ok(false))` at its end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut chunk = [0u8; READ_CHUNK];
        let read = ready!(self.recv.poll_read(cx, &mut chunk))?;
        if read == 0 {
            self.recv_ended = true;
            return Poll::Ready(Ok(false));
        }
        self.input.extend_from_slice(&chunk[..read]);
        Poll::Ready(Ok(true))
    }

    /// Writes out the pending DATA frame.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.output.is_empty() {
            let written = ready!(Pin::new(&mut self.send).poll_write(cx, &self.output))?;
            self.output.advance(written);
        }
        Poll::Ready(Ok(()))
    }
}

fn invalid(reason: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.to_owned())
}

impl AsyncRead for H3Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.data_left > 0 {
                if !this.input.is_empty() {
                    let len = (this.data_left as usize)
                        .min(this.input.len())
                        .min(buf.remaining());
                    buf.put_slice(&this.input[..len]);
                    this.input.advance(len);
                    this.data_left -= len as u64;
                    return Poll::Ready(Ok(()));
                }
                // A payload goes from QUIC to the caller without a copy in
                // between.
                let limit = usize::try_from(this.data_left)
                    .unwrap_or(usize::MAX)
                    .min(buf.remaining());
                let read = ready!(this.recv.poll_read(cx, buf.initialize_unfilled_to(limit)))?;
                if read == 0 {
                    this.recv_ended = true;
                    return Poll::Ready(Err(invalid("the stream ended inside a DATA frame")));
                }
                buf.advance(read);
                this.data_left -= read as u64;
                return Poll::Ready(Ok(()));
            }
            if this.skip_left > 0 {
                let here = this.skip_left.min(this.input.len() as u64);
                this.input.advance(here as usize);
                this.skip_left -= here;
                if this.skip_left > 0 && !ready!(this.poll_fill(cx))? {
                    return Poll::Ready(Err(invalid("the stream ended inside a frame")));
                }
                continue;
            }
            match frame::decode_header(&this.input) {
                Some((frame_type, len, header_len)) => {
                    this.input.advance(header_len);
                    match frame_type {
                        frame::DATA => this.data_left = len,
                        // Trailers, and frame types of extensions (or
                        // grease), which RFC 9114 §9 says to ignore.
                        frame::HEADERS => this.skip_left = len,
                        frame::SETTINGS
                        | frame::GOAWAY
                        | frame::CANCEL_PUSH
                        | frame::MAX_PUSH_ID
                        | frame::PUSH_PROMISE => {
                            let _ = this.recv.stop(VarInt::from_u32(H3_FRAME_UNEXPECTED as u32));
                            return Poll::Ready(Err(invalid(
                                "a control frame on a request stream (H3_FRAME_UNEXPECTED)",
                            )));
                        }
                        other if frame::is_http2_only(other) => {
                            return Poll::Ready(Err(invalid("an HTTP/2 frame type")));
                        }
                        _ => this.skip_left = len,
                    }
                }
                None if this.recv_ended => {
                    return Poll::Ready(match this.input.is_empty() {
                        // FIN between frames: the transport's end.
                        true => Ok(()),
                        false => Err(invalid("the stream ended inside a frame header")),
                    });
                }
                None => {
                    ready!(this.poll_fill(cx))?;
                }
            }
        }
    }
}

impl AsyncWrite for H3Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_drain(cx))?;
        let len = buf.len().min(MAX_DATA_FRAME);
        frame::encode_header(frame::DATA, len as u64, &mut this.output);
        this.output.extend_from_slice(&buf[..len]);
        // The bytes are taken; whatever QUIC does not take now goes out on
        // the next write or flush.
        if let Poll::Ready(Err(error)) = this.poll_drain(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // quinn sends what it took without being flushed.
        self.get_mut().poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if !this.finished {
            this.finished = true;
            // After a reset by the peer there is nothing left to finish.
            let _ = this.send.finish();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H3Stream {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self
                .send
                .reset(VarInt::from_u32(H3_REQUEST_CANCELLED as u32));
        }
        if !self.recv_ended {
            // RFC 9114 §4.1.1: a stream we no longer read is stopped; after
            // our own clean end that is no error.
            let code = if self.finished {
                H3_NO_ERROR
            } else {
                H3_REQUEST_CANCELLED
            };
            let _ = self.recv.stop(VarInt::from_u32(code as u32));
        }
    }
}
