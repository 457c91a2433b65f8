//! What every group shares: the peers' configurations, an in-memory
//! transport, and the payloads.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsmachine::config::Config;

/// The size of one read from the transport.
pub const READ: usize = 64 << 10;
/// Frame and message limits for every peer: 1 MiB of payload plus room.
pub const LIMIT: usize = 2 << 20;

pub fn wsmachine_config() -> Config {
    let mut config = Config::default();
    config.max_message_size = LIMIT as u64;
    config
}

pub fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT))
}

/// An in-memory transport. Reads hand out `input` at most 64 KiB at a time,
/// starting over at the end when `cyclic`; writes are discarded.
pub struct Wire<'a> {
    input: &'a [u8],
    position: usize,
    cyclic: bool,
}

impl<'a> Wire<'a> {
    pub fn cyclic(input: &'a [u8]) -> Self {
        Wire {
            input,
            position: 0,
            cyclic: true,
        }
    }

    pub fn once(input: &'a [u8]) -> Self {
        Wire {
            input,
            position: 0,
            cyclic: false,
        }
    }

    /// The next piece of the input, as a read of at most `max` (and 64 KiB)
    /// bytes would get it, without copying.
    pub fn next_read(&mut self, max: usize) -> &'a [u8] {
        if self.cyclic && self.position == self.input.len() {
            self.position = 0;
        }
        let rest = &self.input[self.position..];
        let len = rest.len().min(max).min(READ);
        self.position += len;
        &rest[..len]
    }
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.next_read(buf.len());
        buf[..piece.len()].copy_from_slice(piece);
        Ok(piece.len())
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        black_box(buf.first());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Wire<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let piece = self.next_read(buf.remaining());
        buf.put_slice(piece);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        black_box(buf.first());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

/// Text of exactly `len` bytes: mostly ASCII, with two- and three-byte
/// characters mixed in, as chat and JSON traffic has.
pub fn text(len: usize) -> String {
    const PATTERN: &str = "{\"user\":\"zoë\",\"msg\":\"naïve café – 日本語 ok\",\"n\":42} ";
    let mut text = String::with_capacity(len + PATTERN.len());
    while text.len() < len {
        text.push_str(PATTERN);
    }
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    while text.len() < len {
        text.push(' ');
    }
    text
}

pub fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Copies `input` into `copy` in the pieces 64 KiB reads would bring.
pub fn memcpy_in_reads(input: &[u8], copy: &mut [u8]) {
    for (dst, piece) in copy.chunks_mut(READ).zip(input.chunks(READ)) {
        dst.copy_from_slice(black_box(piece));
    }
    black_box(&copy[..]);
}
