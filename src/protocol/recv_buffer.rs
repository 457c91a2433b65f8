//! The receive buffer: bytes received and not yet consumed, the room after
//! them that the caller's transport reads into, and the front frame a
//! borrowed event lends.
//!
//! One allocation holds, in order: the received bytes (`bytes`), then
//! initialised room (`spare`) or, for a transport that fills uninitialised
//! memory, `bytes`' own spare capacity. Room is lent for one read and is
//! either committed (it becomes received bytes) or given back. Every method
//! that changes the buffer first settles what was lent (`settle`), and the
//! fields are private, so the proof of `commit_uninit`'s `unsafe` rests on
//! this file alone: the capacity it takes was lent as uninitialised by the
//! last call, and nothing touched the buffer in between.

use bytes::{Buf, BytesMut};
use core::mem::MaybeUninit;

use crate::invariant::Kept;

/// Room lent to the caller's transport, by length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Lent {
    #[default]
    Nothing,
    /// The start of `spare`: initialised bytes.
    Room(usize),
    /// The start of `bytes`' spare capacity, uninitialised.
    Uninit(usize),
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct RecvBuffer {
    /// Received bytes not yet consumed.
    bytes: BytesMut,
    /// Bytes at the front of `bytes` that the last borrowed event lent:
    /// dropped by the next call that touches the buffer.
    borrowed: usize,
    /// The largest allocation seen since the buffer was last let go of:
    /// the memory it holds (see `release_if_idle`).
    held: usize,
    /// The largest allocation kept for reuse once empty
    /// (`Config::kept_buffer_capacity`).
    kept: usize,
    /// Room that follows `bytes` in the same allocation. Its bytes are
    /// initialised (zeroed when the room was first made, or left by earlier
    /// reads), so lending it again costs no zeroing.
    spare: BytesMut,
    /// Room lent and not yet committed or given back.
    lent: Lent,
    /// The most room the buffer has needed at once: the bytes it held plus
    /// the room lent after them. What a large message took before, so that
    /// the next one grows the buffer once (see `growth_target`).
    peak: usize,
}

impl RecvBuffer {
    /// An empty buffer that keeps an allocation of up to `kept` bytes for
    /// reuse once empty.
    pub(crate) fn new(kept: usize) -> Self {
        RecvBuffer {
            kept,
            ..RecvBuffer::default()
        }
    }

    /// Notes the allocation after it may have grown: `bytes` and the room
    /// after it (one allocation, or two whose sum bounds what is held).
    fn note_held(&mut self) {
        let now = self.bytes.capacity().saturating_add(self.spare.capacity());
        self.held = self.held.max(now);
    }

    /// Settles what was lent: the frame a borrowed event lent leaves the
    /// buffer, and room never committed is given back.
    #[inline]
    fn settle(&mut self) {
        if self.borrowed > 0 {
            self.bytes.advance(core::mem::take(&mut self.borrowed));
        }
        if self.lent != Lent::Nothing {
            self.commit_room(0);
        }
    }

    /// The received bytes, for decoding or a handshake parser to consume.
    #[inline]
    pub(crate) fn bytes(&mut self) -> &mut BytesMut {
        self.settle();
        &mut self.bytes
    }

    /// How many received bytes are buffered, not counting a frame a
    /// borrowed event lent.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.borrowed
    }

    /// Lends the first `len` bytes from the front, until the next call that
    /// touches the buffer drops them (`settle`). `range` lies within them.
    /// Call it right after `bytes` (which settled what was lent before).
    #[inline]
    pub(crate) fn lend_front(&mut self, len: usize, range: core::ops::Range<usize>) -> &[u8] {
        debug_assert!(self.borrowed == 0 && self.lent == Lent::Nothing);
        debug_assert!(range.end <= len && len <= self.bytes.len());
        self.borrowed = len;
        self.bytes.get(range).kept()
    }

    /// Appends bytes with `append` (the frame decoder's copy, which unmasks
    /// as it goes).
    pub(crate) fn append(&mut self, data: &[u8], append: impl FnOnce(&mut BytesMut, &[u8])) {
        self.settle();
        // The room shares `bytes`' allocation; without it, `bytes` can grow
        // into that allocation in place.
        self.spare = BytesMut::new();
        append(&mut self.bytes, data);
        self.note_held();
    }

    /// Lends `len` bytes of room after the received bytes. Safe code may
    /// only lend initialised bytes: room is zeroed once, when it is made,
    /// and what a read did not fill stays as room for the next, so steady
    /// reads zero nothing. It grows by what the caller asks for, never by a
    /// length a peer declared. `large_frame`: a large frame is in progress
    /// (see `growth_target`).
    pub(crate) fn lend_room(&mut self, len: usize, large_frame: bool) -> &mut [u8] {
        self.settle();
        self.peak = self.peak.max(self.bytes.len().saturating_add(len));
        if self.spare.len() < len || !self.spare_follows(&self.spare) {
            let start = self.bytes.len();
            let spare = core::mem::take(&mut self.spare);
            if self.spare_follows(&spare) {
                // The same allocation: joined without a copy.
                self.bytes.unsplit(spare);
            }
            let end = start.saturating_add(len);
            // The allocation itself has room once the app has let go of the
            // payloads taken from it: its received bytes move to its front.
            let reclaimed = self.bytes.capacity() >= end || {
                self.bytes.truncate(start);
                self.bytes.try_reclaim(len)
            };
            if reclaimed {
                // Zeroes only the bytes that were never room before.
                self.bytes.resize(end.max(self.bytes.len()), 0);
            } else {
                self.bytes = self.grown(start, end, large_frame);
            }
            self.spare = self.bytes.split_off(start);
            self.note_held();
        }
        self.lent = Lent::Room(len);
        self.spare.get_mut(..len).kept()
    }

    /// Lends `len` bytes of spare capacity, uninitialised, for a transport
    /// that fills such memory soundly: no zeroing. Grows as `lend_room`.
    pub(crate) fn lend_uninit(&mut self, len: usize, large_frame: bool) -> &mut [MaybeUninit<u8>] {
        self.settle();
        // Initialised room is not lent here: once lent as uninitialised
        // memory it could not be trusted again.
        self.spare = BytesMut::new();
        let start = self.bytes.len();
        self.peak = self.peak.max(start.saturating_add(len));
        let end = start.saturating_add(len);
        if self.bytes.capacity() < end {
            // Reclaims the allocation itself when it can, as `lend_room`.
            let target = self.growth_target(start, end, large_frame);
            self.bytes.reserve(target - start);
            self.note_held();
        }
        self.lent = Lent::Uninit(len);
        self.bytes.spare_capacity_mut().get_mut(..len).kept()
    }

    /// The room `lend_room` lent, again.
    pub(crate) fn lent_room(&self) -> &[u8] {
        let len = match self.lent {
            Lent::Room(len) => Some(len),
            Lent::Nothing | Lent::Uninit(_) => None,
        };
        len.and_then(|len| self.spare.get(..len)).kept()
    }

    /// The room `lend_room` lent, again, to write into.
    pub(crate) fn lent_room_mut(&mut self) -> &mut [u8] {
        let len = match self.lent {
            Lent::Room(len) => Some(len),
            Lent::Nothing | Lent::Uninit(_) => None,
        };
        len.and_then(|len| self.spare.get_mut(..len)).kept()
    }

    /// The room `lend_uninit` lent, again, to write into.
    pub(crate) fn lent_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
        let len = match self.lent {
            Lent::Uninit(len) => Some(len),
            Lent::Nothing | Lent::Room(_) => None,
        };
        len.and_then(|len| self.bytes.spare_capacity_mut().get_mut(..len))
            .kept()
    }

    /// Gives back room lent and not committed.
    pub(crate) fn give_back(&mut self) {
        if self.lent != Lent::Nothing {
            self.commit_room(0);
        }
    }

    /// Takes the first `n` bytes of the room `lend_room` lent as received
    /// (at most its length); anything else lent is given back.
    pub(crate) fn commit_room(&mut self, n: usize) {
        // Room lent uninitialised is only given back: nothing in it can be
        // trusted without `commit_uninit`'s promise.
        let lent = match core::mem::take(&mut self.lent) {
            Lent::Room(len) => len,
            Lent::Nothing | Lent::Uninit(_) => 0,
        };
        let n = n.min(lent).min(self.spare.len());
        if n > 0 {
            // Contiguous with `bytes`: joined without a copy.
            let received = self.spare.split_to(n);
            self.bytes.unsplit(received);
        }
        self.release_after_read(n);
    }

    /// Takes the first `n` bytes of the room `lend_uninit` lent as received
    /// (at most its length); anything else lent is given back.
    ///
    /// # Safety
    /// Those `n` bytes must have been initialised.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn commit_uninit(&mut self, n: usize) {
        let lent = match core::mem::take(&mut self.lent) {
            Lent::Uninit(len) => len,
            Lent::Nothing | Lent::Room(_) => 0,
        };
        let n = n.min(lent).min(self.bytes.capacity() - self.bytes.len());
        if n > 0 {
            // SAFETY: `lent` is non-zero only when the last call was
            // `lend_uninit`, which lent the spare capacity's first `lent`
            // bytes; nothing changed the buffer since (every other method
            // settles `lent` first). The `n` bytes after `len` lie within
            // the capacity (checked above) and the caller initialised them.
            unsafe { self.bytes.set_len(self.bytes.len() + n) };
        }
        self.release_after_read(n);
    }

    /// How much room to lend for the next read, given the size the caller
    /// would read otherwise and the payload a large frame in progress still
    /// lacks (see `Connection::receive_size_hint`).
    pub(crate) fn size_hint(&self, preferred: usize, large_frame_left: Option<usize>) -> usize {
        let in_place = if self.spare_follows(&self.spare) {
            self.spare.len()
        } else {
            0
        }
        .max(self.bytes.capacity() - self.bytes.len());
        let size = preferred.max(in_place).max(1);
        match large_frame_left {
            Some(left) if left > 0 => size.min(left),
            _ => size,
        }
    }

    /// Whether the buffer holds no memory and lends nothing: nothing is
    /// received, and a read that found nothing let go of it.
    pub(crate) fn holds_nothing(&self) -> bool {
        self.bytes.capacity() == 0 && self.spare.capacity() == 0 && self.lent == Lent::Nothing
    }

    /// Lets go of the buffer and its room.
    pub(crate) fn clear(&mut self) {
        *self = RecvBuffer {
            peak: self.peak,
            kept: self.kept,
            ..RecvBuffer::default()
        };
    }

    /// After a read that brought `n` bytes: room given back whole (a read
    /// that found nothing yet) means the connection waits on its transport,
    /// and an idle connection holds no read buffer, kept or not; otherwise
    /// as `release_if_idle`.
    fn release_after_read(&mut self, n: usize) {
        if n == 0 && self.bytes.is_empty() {
            self.clear();
        } else {
            self.release_if_idle();
        }
    }

    /// Lets go of a buffer that is empty and larger than `kept`, so that an
    /// idle connection holds little memory. A small one is kept: a
    /// connection that gets small messages then reuses it instead of
    /// allocating for each read.
    pub(crate) fn release_if_idle(&mut self) {
        if self.bytes.is_empty() && self.lent == Lent::Nothing && self.held > self.kept {
            self.clear();
        }
    }

    /// Whether `spare` starts where `bytes` ends (or `bytes` is empty, so
    /// that `spare` may simply take its place).
    fn spare_follows(&self, spare: &BytesMut) -> bool {
        self.bytes.is_empty()
            || self.bytes.as_ptr().wrapping_add(self.bytes.len()) == spare.as_ptr()
    }

    /// The capacity a buffer holding `start` bytes grows to when it needs
    /// room up to `end`: at least double; once it holds the start of a
    /// large frame, at once the most room it needed before, so a large
    /// message is copied once and not at every doubling. Both sizes come
    /// from bytes that arrived, never from a declared length: a large frame
    /// in progress only makes the growth come sooner, while the buffer holds
    /// little to copy.
    fn growth_target(&self, start: usize, end: usize, large_frame: bool) -> usize {
        let capacity = end.max(start.saturating_mul(2));
        if start >= LARGE_FRAME_START || large_frame {
            capacity.max(self.peak)
        } else {
            capacity
        }
    }

    /// A larger buffer (see `growth_target`), zeroed whole by the allocator
    /// (which often has zeroed pages at hand) so that all of it can be lent,
    /// with the `start` bytes received so far copied in.
    fn grown(&self, start: usize, end: usize, large_frame: bool) -> BytesMut {
        let mut grown = BytesMut::zeroed(self.growth_target(start, end, large_frame));
        if let (Some(to), Some(from)) = (grown.get_mut(..start), self.bytes.get(..start)) {
            to.copy_from_slice(from);
        }
        grown
    }
}

/// Received bytes of a frame in progress from which a growing receive
/// buffer takes the size it needed before at once.
pub(super) const LARGE_FRAME_START: usize = 32 * 1024;

#[cfg(test)]
mod tests {
    use super::RecvBuffer;

    /// The memory the buffer holds: `bytes` and the room after it.
    fn holds(buffer: &RecvBuffer) -> usize {
        buffer.bytes.capacity() + buffer.spare.capacity()
    }

    /// A buffer that lent `len` bytes of room (one exact allocation: nothing
    /// was received before) and got `received` of them.
    fn after_read(kept: usize, len: usize, received: &[u8]) -> RecvBuffer {
        let mut buffer = RecvBuffer::new(kept);
        let room = buffer.lend_room(len, false);
        room[..received.len()].copy_from_slice(received);
        buffer.commit_room(received.len());
        buffer
    }

    #[test]
    fn an_empty_buffer_is_kept_up_to_the_kept_capacity_and_no_further() {
        // Bytes received and consumed.
        for (kept, held) in [(100, 100), (99, 0)] {
            let mut buffer = after_read(kept, 100, b"hello");
            buffer.bytes().clear();
            buffer.release_if_idle();
            assert_eq!(holds(&buffer), held, "kept {kept}");
        }
    }

    #[test]
    fn room_given_back_unused_is_let_go_of_however_small() {
        // A read that found nothing: the connection waits on its transport.
        assert_eq!(holds(&after_read(usize::MAX, 100, b"")), 0);
    }

    #[test]
    fn a_buffer_that_still_holds_bytes_is_never_let_go_of() {
        let mut buffer = after_read(0, 100, b"hello");
        buffer.release_if_idle();
        assert_eq!(buffer.len(), 5);
        assert_eq!(&buffer.bytes()[..], b"hello");
    }
}
