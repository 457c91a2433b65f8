//! The output queue: bytes for the transport, in order.
//!
//! Small frames are encoded into one buffer (`buf`) that is handed out whole
//! by `poll_transmit`; a large owned payload goes out as its own buffer,
//! never copied, after what `buf` held when it was queued.

use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};

/// Queued output buffers whose room is kept once the queue is drained: a
/// header and a payload, twice over.
const QUEUED_KEPT: usize = 4;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Frames encoded and not yet handed out; after `queued`.
    buf: BytesMut,
    /// The largest allocation of `buf` seen since it was last handed out
    /// whole.
    held: usize,
    /// The largest allocation of `buf` kept for the next frames
    /// (`Config::kept_buffer_capacity`).
    kept: usize,
    /// Output that goes before `buf`: what `buf` held when an owned payload
    /// was queued, then that payload, as separate buffers.
    queued: VecDeque<Bytes>,
    /// The bytes in `queued`.
    queued_len: usize,
}

impl Output {
    /// An empty queue that keeps an encoding buffer of up to `kept` bytes.
    pub(crate) fn new(kept: usize) -> Self {
        Output {
            kept,
            ..Output::default()
        }
    }

    /// The buffer frames are encoded into.
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Output not yet handed out, in bytes.
    pub(crate) fn len(&self) -> usize {
        self.buf.len().saturating_add(self.queued_len)
    }

    /// Queues `payload` to go out as it is, after everything encoded so far.
    pub(crate) fn push_owned(&mut self, payload: Bytes) {
        if !self.buf.is_empty() {
            let before = self.take_buf();
            self.push(before);
        }
        self.push(payload);
    }

    fn push(&mut self, bytes: Bytes) {
        self.queued_len = self.queued_len.saturating_add(bytes.len());
        self.queued.push_back(bytes);
    }

    /// Lets go of the encoding buffer and the queue's memory when nothing is
    /// queued: for a connection that waits on its transport.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.queued.is_empty() {
            self.buf = BytesMut::new();
            self.held = 0;
            self.queued = VecDeque::new();
        }
    }

    /// The next bytes to write, in order.
    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        if let Some(queued) = self.queued.pop_front() {
            self.queued_len = self.queued_len.saturating_sub(queued.len());
            if self.queued.is_empty() && self.queued.capacity() > QUEUED_KEPT {
                self.queued = VecDeque::new();
            }
            return Some(queued);
        }
        if self.buf.is_empty() {
            return None;
        }
        Some(self.take_buf())
    }

    /// Hands out everything in `buf`.
    fn take_buf(&mut self) -> Bytes {
        // Nothing between two hand-outs shrinks the capacity, so it is the
        // whole allocation whenever it grew.
        self.held = self.held.max(self.buf.capacity());
        if self.held <= self.kept {
            // The rest of the buffer is reused for the next frames, once the
            // app has dropped what it was given.
            return self.buf.split().freeze();
        }
        // The buffer has grown large: the app gets all of it, so none of its
        // memory stays with an idle connection.
        self.held = 0;
        core::mem::take(&mut self.buf).freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    /// An output that encoded a few bytes into a buffer of exactly 100 and
    /// handed them out.
    fn handed_out(kept: usize) -> Output {
        let mut output = Output::new(kept);
        output.buf().reserve(100);
        assert_eq!(output.buf().capacity(), 100);
        output.buf().extend_from_slice(b"frame");
        assert_eq!(output.poll_transmit().as_deref(), Some(&b"frame"[..]));
        output
    }

    #[test]
    fn the_encoding_buffer_is_kept_up_to_the_kept_capacity_and_no_further() {
        // Kept: the rest of the allocation stays for the next frames.
        assert_eq!(handed_out(100).buf().capacity(), 95);
        // Let go of: the transmit took the whole allocation.
        assert_eq!(handed_out(99).buf().capacity(), 0);
    }

    #[test]
    fn a_kept_buffer_is_reused_once_the_app_drops_its_output() {
        let mut output = handed_out(100);
        let start = output.buf().as_ptr();
        output.buf().extend_from_slice(b"next");
        let next = output.poll_transmit().expect("queued");
        drop(next);
        // Both hand-outs dropped: the allocation is whole again.
        output.buf().reserve(100);
        assert_eq!(output.buf().as_ptr(), start.wrapping_sub(5));
    }
}
