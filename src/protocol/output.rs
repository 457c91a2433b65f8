//! The output queue: bytes for the transport, in order.
//!
//! Small frames are encoded into one buffer (`buf`) that is handed out whole
//! by `poll_transmit`; a large owned payload goes out as its own buffer,
//! never copied, after what `buf` held when it was queued.

use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};

use super::KEPT_BUFFER_BYTES;

/// Queued output buffers whose room is kept once the queue is drained: a
/// header and a payload, twice over.
const QUEUED_KEPT: usize = 4;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Frames encoded and not yet handed out; after `queued`.
    buf: BytesMut,
    /// Bytes handed out of `buf` since it last started empty.
    handed: usize,
    /// Output that goes before `buf`: what `buf` held when an owned payload
    /// was queued, then that payload, as separate buffers.
    queued: VecDeque<Bytes>,
    /// The bytes in `queued`.
    queued_len: usize,
}

impl Output {
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
        self.handed = self.handed.saturating_add(self.buf.len());
        if self.handed <= KEPT_BUFFER_BYTES {
            // The rest of the buffer is reused for the next frames, once the
            // app has dropped what it was given.
            return self.buf.split().freeze();
        }
        // The buffer may have grown large: the app gets all of it, so none
        // of its memory stays with an idle connection.
        self.handed = 0;
        core::mem::take(&mut self.buf).freeze()
    }
}
