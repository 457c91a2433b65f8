//! Incremental UTF-8 validation for text messages.
//!
//! RFC 6455 §8.1: a text message whose payload is not valid UTF-8 fails the
//! connection. The payload of a text message arrives as any number of frames,
//! each in any number of pieces, and a code point may be split across piece
//! and frame boundaries; the validator keeps the (at most 3) bytes of an
//! unfinished sequence between calls, so it never buffers the message.
//!
//! Validation is fail-fast (RFC 6455 §5.6 lets an endpoint fail the
//! connection as soon as it sees invalid data): [`Utf8Validator::feed`]
//! reports an error at the first byte that can no longer start or continue a
//! valid sequence, without waiting for the end of the message. Only an
//! unfinished sequence at the very end is left to [`Utf8Validator::finish`].
//!
//! ```
//! use wsmachine::utf8::{Utf8ErrorKind, Utf8Validator};
//!
//! let mut validator = Utf8Validator::new();
//! // "€" is E2 82 AC; split it across two pieces.
//! validator.feed(b"price: \xe2\x82")?;
//! assert!(!validator.is_boundary());
//! validator.feed(b"\xac 5")?;
//! validator.finish()?;
//!
//! // An encoded surrogate fails at its second byte.
//! let result = validator.feed(b"ok \xed\xa0\x80");
//! let failure = result.map_err(|err| (err.kind(), err.offset()));
//! assert_eq!(failure, Err((Utf8ErrorKind::InvalidByte, Some(4))));
//! # Ok::<(), wsmachine::utf8::Utf8Error>(())
//! ```

use crate::invariant::Kept;
use core::fmt;

/// The longest unfinished sequence: a 4-byte sequence missing its last byte.
const MAX_PENDING: usize = 3;

/// What went wrong in a [`Utf8Error`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Utf8ErrorKind {
    /// A byte that can neither start nor continue a valid sequence at its
    /// position (a stray continuation byte, an overlong form, a surrogate, a
    /// code point above U+10FFFF, or a byte that never occurs in UTF-8).
    InvalidByte,
    /// The message ended inside a multi-byte sequence.
    IncompleteAtEnd,
}

/// The payload is not valid UTF-8.
///
/// [`kind`](Self::kind) says whether a byte was invalid or the message ended
/// too early; [`offset`](Self::offset) locates the invalid byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct Utf8Error(Utf8Failure);

/// The data behind [`Utf8Error`]; private so the two kinds can grow fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
enum Utf8Failure {
    #[error("invalid UTF-8: byte at offset {offset} cannot start or continue a sequence")]
    InvalidByte { offset: usize },
    #[error("invalid UTF-8: the message ends inside a multi-byte sequence")]
    IncompleteAtEnd,
}

impl Utf8Error {
    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> Utf8ErrorKind {
        match self.0 {
            Utf8Failure::InvalidByte { .. } => Utf8ErrorKind::InvalidByte,
            Utf8Failure::IncompleteAtEnd => Utf8ErrorKind::IncompleteAtEnd,
        }
    }

    /// For [`Utf8ErrorKind::InvalidByte`], the index of the invalid byte
    /// within the `input` of the [`feed`](Utf8Validator::feed) call that
    /// failed; `None` for [`Utf8ErrorKind::IncompleteAtEnd`].
    ///
    /// The invalid byte is always in that call's input: the bytes kept from
    /// earlier calls are a valid prefix of a sequence.
    #[must_use]
    pub fn offset(&self) -> Option<usize> {
        match self.0 {
            Utf8Failure::InvalidByte { offset } => Some(offset),
            Utf8Failure::IncompleteAtEnd => None,
        }
    }
}

/// Validates a UTF-8 message fed in pieces.
///
/// Create one per connection and [`feed`](Self::feed) it every piece of a text
/// message's payload in order; call [`finish`](Self::finish) when the final
/// frame's payload is done. Between messages it is ready for the next one.
#[derive(Clone)]
pub struct Utf8Validator {
    /// The bytes of an unfinished sequence; only `pending[..pending_len]`
    /// count. Always a valid prefix of a sequence (lead byte first).
    pending: [u8; MAX_PENDING],
    /// Number of meaningful bytes in `pending`, at most `MAX_PENDING`.
    pending_len: u8,
    /// The error already reported, returned again until [`Self::reset`].
    failed: Option<Utf8Error>,
}

impl fmt::Debug for Utf8Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Utf8Validator")
            .field("pending", &self.pending_bytes())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Default for Utf8Validator {
    fn default() -> Self {
        Self::new()
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            pending: [0; MAX_PENDING],
            pending_len: 0,
            failed: None,
        }
    }

    /// Validates the next piece of the message.
    ///
    /// Keeps at most 3 bytes of an unfinished sequence at the end of `input`
    /// for the next call; an unfinished sequence is not an error here.
    ///
    /// # Errors
    ///
    /// [`Utf8ErrorKind::InvalidByte`] at the first byte of `input` that cannot
    /// start or continue a valid sequence, e.g. the `A0` of `ED A0 80` (a
    /// surrogate), the `C0` of `C0 AF` (C0, C1 and F5–FF never occur) or a
    /// lone continuation byte. Once failed, every call returns the same
    /// error (its offset refers to the input that failed) until
    /// [`reset`](Self::reset) or [`finish`](Self::finish).
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Utf8Error> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let completed = if self.pending_len > 0 {
            match self.complete_pending(input) {
                Ok(used) => used,
                Err(failure) => return Err(self.fail(failure)),
            }
        } else {
            0
        };
        let rest = input.get(completed..).kept();
        // A piece of a longer message often ends inside a character. The
        // complete part is checked on its own, so the fast check passes on
        // it, and the few bytes after it are checked as a sequence to keep.
        let tail_start = unfinished_tail_start(rest);
        let (whole, tail) = rest.split_at(tail_start);
        let tail_offset = completed.saturating_add(tail_start);
        match check(whole) {
            Ok(()) => {}
            // The last sequence of `whole` is cut short by the lead byte
            // that starts `tail`: that byte is the one that fails.
            Err(stop) if stop.error_len.is_none() => {
                return Err(self.fail(Utf8Failure::InvalidByte {
                    offset: tail_offset,
                }));
            }
            Err(stop) => {
                let offset = completed.saturating_add(failing_index(whole, stop));
                return Err(self.fail(Utf8Failure::InvalidByte { offset }));
            }
        }
        match check(tail) {
            Ok(()) => Ok(()),
            // Only an unfinished sequence at the very end: keep it.
            Err(stop) if stop.error_len.is_none() => {
                self.set_pending(tail.get(stop.valid_up_to..).kept());
                Ok(())
            }
            Err(stop) => {
                let offset = tail_offset.saturating_add(failing_index(tail, stop));
                Err(self.fail(Utf8Failure::InvalidByte { offset }))
            }
        }
    }

    /// Ends the message and resets the validator for the next one.
    ///
    /// # Errors
    ///
    /// [`Utf8ErrorKind::IncompleteAtEnd`] if the message ends inside a
    /// sequence; the error from an earlier failed [`feed`](Self::feed) if
    /// there was one. The validator is reset either way.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let result = match self.failed {
            Some(err) => Err(err),
            None if self.pending_len > 0 => Err(Utf8Error(Utf8Failure::IncompleteAtEnd)),
            None => Ok(()),
        };
        self.reset();
        result
    }

    /// Forgets any unfinished sequence and any error: back to the start of a
    /// message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True when no unfinished sequence is pending (and no error has been
    /// reported since the last reset), i.e. the bytes fed so far end on a
    /// code point boundary.
    #[must_use]
    pub fn is_boundary(&self) -> bool {
        self.pending_len == 0 && self.failed.is_none()
    }

    /// The number of bytes of an unfinished sequence kept from earlier
    /// calls: 0 to 3.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        usize::from(self.pending_len)
    }

    fn pending_bytes(&self) -> &[u8] {
        self.pending.get(..usize::from(self.pending_len)).kept()
    }

    /// Continues the pending sequence with the head of `input`. Returns how
    /// many bytes of `input` it used; if the sequence is still unfinished,
    /// that is all of them and the new bytes are pending too.
    fn complete_pending(&mut self, input: &[u8]) -> Result<usize, Utf8Failure> {
        let pending = self.pending_bytes();
        let have = pending.len();
        let wanted = sequence_len(pending.first().copied().unwrap_or(0)).saturating_sub(have);
        let taken = wanted.min(input.len());
        #[cfg(all(test, feature = "std"))]
        checked_bytes::add(taken);
        let mut sequence = [0u8; 4];
        let sequence_end = have + taken; // at most 4: `have + wanted` is a sequence length
        for (slot, byte) in sequence
            .iter_mut()
            .zip(pending.iter().chain(input.iter().take(taken)))
        {
            *slot = *byte;
        }
        let sequence = sequence.get(..sequence_end).kept();
        match check(sequence) {
            Ok(()) => {
                self.pending_len = 0;
                Ok(taken)
            }
            Err(stop) if stop.error_len.is_none() => {
                self.set_pending(sequence);
                Ok(input.len())
            }
            // The pending bytes are a valid prefix, so the failing byte lies
            // in `input`, at or after index `have` of `sequence`.
            Err(stop) => Err(Utf8Failure::InvalidByte {
                offset: failing_index(sequence, stop).saturating_sub(have),
            }),
        }
    }

    /// Keeps `bytes` (a valid prefix of a sequence, at most 3 bytes) for the
    /// next call.
    fn set_pending(&mut self, bytes: &[u8]) {
        let mut len = 0u8;
        for (slot, byte) in self.pending.iter_mut().zip(bytes) {
            *slot = *byte;
            len += 1; // at most MAX_PENDING iterations
        }
        self.pending_len = len;
    }

    /// Records a failure so later calls report it again.
    fn fail(&mut self, failure: Utf8Failure) -> Utf8Error {
        let err = Utf8Error(failure);
        self.pending_len = 0;
        self.failed = Some(err);
        err
    }
}

/// The length of the sequence `lead` starts, or 0 if `lead` cannot start one.
///
/// RFC 3629 §4: C0 and C1 would only start overlong 2-byte forms and F5–FF
/// code points above U+10FFFF, so they never start a sequence; neither do
/// continuation bytes (80–BF).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

/// Of the (at most 3) bytes `before` a cut in valid text, how many belong
/// to a character the cut splits: they go with the bytes after the cut.
pub(crate) fn split_char_len(before: &[u8]) -> usize {
    let tail = before.get(before.len().saturating_sub(3)..).kept();
    for (i, &byte) in tail.iter().enumerate().rev() {
        if byte & 0xc0 != 0x80 {
            let have = tail.len() - i;
            return if sequence_len(byte) > have { have } else { 0 };
        }
    }
    0
}

/// Where validation of a byte slice stopped, as `core::str::Utf8Error`
/// describes it.
#[derive(Clone, Copy)]
struct Utf8Stop {
    /// Length of the longest valid prefix.
    valid_up_to: usize,
    /// `None` if the bytes after the valid prefix are an unfinished sequence
    /// at the end; otherwise the length of the broken sequence there.
    error_len: Option<usize>,
}

/// Where a sequence that `bytes` leaves unfinished starts, or `bytes.len()`
/// if the last lead byte among the final three has all its continuation
/// bytes (or if there is no lead byte there to wait on).
fn unfinished_tail_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=MAX_PENDING.min(len) {
        let index = len - back;
        let byte = bytes.get(index).copied().unwrap_or(0);
        if byte & 0xc0 != 0x80 {
            // The last byte that is not a continuation byte.
            return if sequence_len(byte) > back {
                index
            } else {
                len
            };
        }
    }
    len
}

/// Validates `bytes`; on failure, says where, as `core::str::Utf8Error`
/// does. Valid text, the common case, takes the fastest check available;
/// the slower checks that locate an error run only on invalid text.
fn check(bytes: &[u8]) -> Result<(), Utf8Stop> {
    if is_valid(bytes) {
        Ok(())
    } else {
        locate_error(bytes)
    }
}

/// Below this length a word-at-a-time loop beats the SIMD checkers, whose
/// set-up dominates (simdutf8 hands such inputs to `core::str::from_utf8`,
/// which steps through them a byte at a time unless they are aligned).
const SHORT_INPUT: usize = 64;

/// How many bytes this thread has checked as UTF-8, for the unit tests
/// that show a text is checked once on its way through the crate.
#[cfg(all(test, feature = "std"))]
pub(crate) mod checked_bytes {
    use core::cell::Cell;

    std::thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    pub(crate) fn add(len: usize) {
        COUNT.with(|count| count.set(count.get() + len));
    }

    /// The bytes checked since the last call.
    pub(crate) fn take() -> usize {
        COUNT.with(|count| count.replace(0))
    }
}

/// Whether `bytes` is UTF-8.
#[inline]
pub(crate) fn is_valid(bytes: &[u8]) -> bool {
    #[cfg(all(test, feature = "std"))]
    checked_bytes::add(bytes.len());
    if bytes.len() < SHORT_INPUT {
        return is_valid_short(bytes);
    }
    #[cfg(feature = "simdutf8")]
    {
        // The `basic` flavour only answers yes or no, and is the fastest.
        simdutf8::basic::from_utf8(bytes).is_ok()
    }
    #[cfg(not(feature = "simdutf8"))]
    {
        core::str::from_utf8(bytes).is_ok()
    }
}

/// Whether `bytes` is UTF-8: ASCII eight bytes at a time, other characters
/// by the table of RFC 3629 §4 (the second byte's range depends on the
/// first, which excludes overlong forms, surrogates and code points above
/// U+10FFFF).
fn is_valid_short(bytes: &[u8]) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut index = 0;
    while index < bytes.len() {
        if let Some(word) = bytes.get(index..index + 8) {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(word);
            let high = u64::from_le_bytes(chunk) & HIGH_BITS;
            if high == 0 {
                index += 8;
                continue;
            }
            // Skip to the first byte with its high bit set.
            index += (high.trailing_zeros() / 8) as usize;
        }
        let lead = bytes.get(index).copied().unwrap_or(0);
        if lead < 0x80 {
            index += 1;
            continue;
        }
        let len = sequence_len(lead);
        let (Some(&second), Some(rest)) = (bytes.get(index + 1), bytes.get(index + 2..index + len))
        else {
            return false;
        };
        let second_ok = match lead {
            0xe0 => (0xa0..=0xbf).contains(&second),
            0xed => (0x80..=0x9f).contains(&second),
            0xf0 => (0x90..=0xbf).contains(&second),
            0xf4 => (0x80..=0x8f).contains(&second),
            _ => second & 0xc0 == 0x80,
        };
        if !second_ok || rest.iter().any(|&byte| byte & 0xc0 != 0x80) {
            return false;
        }
        index += len;
    }
    true
}

/// Where validation of `bytes` stops: simdutf8's `compat` flavour reports
/// the same `valid_up_to` and `error_len` as core, several times faster on
/// non-ASCII text (see `benches/utf8.rs`).
#[cfg(feature = "simdutf8")]
fn locate_error(bytes: &[u8]) -> Result<(), Utf8Stop> {
    simdutf8::compat::from_utf8(bytes)
        .map(drop)
        .map_err(|err| Utf8Stop {
            valid_up_to: err.valid_up_to(),
            error_len: err.error_len(),
        })
}

/// Where validation of `bytes` stops, from `core::str::from_utf8`.
#[cfg(not(feature = "simdutf8"))]
fn locate_error(bytes: &[u8]) -> Result<(), Utf8Stop> {
    core::str::from_utf8(bytes)
        .map(drop)
        .map_err(|err| Utf8Stop {
            valid_up_to: err.valid_up_to(),
            error_len: err.error_len(),
        })
}

/// The index in `bytes` of the first byte that cannot start or continue a
/// valid sequence, given where validation of `bytes` stopped.
///
/// `valid_up_to` is where the broken sequence starts and `error_len` how many
/// of its bytes form a valid prefix. If the byte at `valid_up_to` is a valid
/// lead byte, the failing byte is the one after that prefix; otherwise it is
/// the byte at `valid_up_to` itself.
fn failing_index(bytes: &[u8], stop: Utf8Stop) -> usize {
    let start = stop.valid_up_to;
    let lead = bytes.get(start).copied().unwrap_or(0);
    if sequence_len(lead) >= 2 {
        start.saturating_add(stop.error_len.unwrap_or(0))
    } else {
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_at(offset: usize) -> Result<(), Utf8Error> {
        Err(Utf8Error(Utf8Failure::InvalidByte { offset }))
    }

    /// Feeds `input` in one piece and finishes; returns the first error.
    fn validate(input: &[u8]) -> Result<(), Utf8Error> {
        let mut validator = Utf8Validator::new();
        validator.feed(input)?;
        validator.finish()
    }

    #[test]
    fn overlong_forms_fail() {
        // C0 never occurs: it would only start an overlong 2-byte form.
        assert_eq!(validate(&[0xc0, 0xaf]), invalid_at(0));
        assert_eq!(validate(&[0xc1, 0xbf]), invalid_at(0));
        // E0 must be followed by A0..BF, F0 by 90..BF.
        assert_eq!(validate(&[0xe0, 0x80, 0xaf]), invalid_at(1));
        assert_eq!(validate(&[0xf0, 0x80, 0x80, 0xaf]), invalid_at(1));
        assert_eq!(validate(b"ab\xe0\x9f\xbf"), invalid_at(3));
    }

    #[test]
    fn surrogates_fail_at_second_byte() {
        // RFC 3629 §3: U+D800..U+DFFF are not encodable; ED takes 80..9F.
        assert_eq!(validate(&[0xed, 0xa0, 0x80]), invalid_at(1));
        assert_eq!(validate(&[0xed, 0xbf, 0xbf]), invalid_at(1));
        assert_eq!(validate(&[0x41, 0xed, 0xb0, 0x80]), invalid_at(2));
    }

    #[test]
    fn above_max_code_point_fails() {
        // F4 takes 80..8F; F5..FF never occur.
        assert_eq!(validate(&[0xf4, 0x90, 0x80, 0x80]), invalid_at(1));
        assert_eq!(validate(&[0xf5, 0x80, 0x80, 0x80]), invalid_at(0));
    }

    #[test]
    fn lone_continuation_and_never_used_bytes_fail_at_themselves() {
        assert_eq!(validate(&[0x80]), invalid_at(0));
        assert_eq!(validate(&[0xbf]), invalid_at(0));
        assert_eq!(validate(&[0xfe]), invalid_at(0));
        assert_eq!(validate(&[0xff]), invalid_at(0));
        assert_eq!(validate(b"hello\xff"), invalid_at(5));
        assert_eq!(validate(b"\xc3\xa9\x80"), invalid_at(2));
    }

    #[test]
    fn truncated_sequence_fails_only_at_finish() {
        for truncated in [&[0xe2, 0x82][..], &[0xf0, 0x9f, 0x98], &[0xc3]] {
            let mut validator = Utf8Validator::new();
            assert_eq!(validator.feed(truncated), Ok(()));
            assert!(!validator.is_boundary());
            assert_eq!(validator.pending_len(), truncated.len());
            let err = validator.finish().unwrap_err();
            assert_eq!(err.kind(), Utf8ErrorKind::IncompleteAtEnd);
            assert_eq!(err.offset(), None);
            // finish reset the validator.
            assert!(validator.is_boundary());
            assert_eq!(validator.feed(b"ok"), Ok(()));
        }
    }

    #[test]
    fn truncated_sequence_fails_at_the_byte_that_cannot_continue_it() {
        // E2 82 then an ASCII letter: the letter cannot continue the sequence.
        assert_eq!(validate(b"\xe2\x82A"), invalid_at(2));
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(b"x\xf0\x9f"), Ok(()));
        assert_eq!(validator.feed(b"\x98 "), invalid_at(1));
    }

    #[test]
    fn valid_boundary_code_points() {
        for code_point in [
            0x0000, 0x007f, 0x0080, 0x07ff, 0x0800, 0xffff, 0x1_0000, 0x10_ffff, 0xd7ff, 0xe000,
        ] {
            let c = char::from_u32(code_point).unwrap();
            let mut encoded = [0u8; 4];
            let encoded = c.encode_utf8(&mut encoded).as_bytes();
            assert_eq!(validate(encoded), Ok(()), "U+{code_point:04X}");
            // And byte by byte.
            let mut validator = Utf8Validator::new();
            for byte in encoded {
                assert_eq!(validator.feed(core::slice::from_ref(byte)), Ok(()));
            }
            assert_eq!(
                validator.finish(),
                Ok(()),
                "U+{code_point:04X} byte by byte"
            );
        }
    }

    #[test]
    fn split_sequence_completes_across_feeds() {
        let mut validator = Utf8Validator::new();
        // U+1F600 is F0 9F 98 80.
        assert_eq!(validator.feed(b"a\xf0"), Ok(()));
        assert_eq!(validator.pending_len(), 1);
        assert_eq!(validator.feed(b""), Ok(()));
        assert_eq!(validator.feed(b"\x9f\x98"), Ok(()));
        assert_eq!(validator.pending_len(), 3);
        assert_eq!(validator.feed(b"\x80b\xc3"), Ok(()));
        assert_eq!(validator.pending_len(), 1);
        assert_eq!(validator.feed(b"\xa9"), Ok(()));
        assert!(validator.is_boundary());
        assert_eq!(validator.finish(), Ok(()));
    }

    #[test]
    fn error_in_completion_is_reported_in_new_input() {
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(b"\xed"), Ok(()));
        // ED A0 is a surrogate: A0 (offset 0 of this input) fails.
        assert_eq!(validator.feed(b"\xa0\x80"), invalid_at(0));
    }

    #[test]
    fn failure_is_sticky_until_reset() {
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(b"abc\xff"), invalid_at(3));
        assert!(!validator.is_boundary());
        assert_eq!(validator.feed(b"fine"), invalid_at(3));
        validator.reset();
        assert!(validator.is_boundary());
        assert_eq!(validator.feed(b"fine"), Ok(()));
        assert_eq!(validator.finish(), Ok(()));

        assert_eq!(validator.feed(b"\x80"), invalid_at(0));
        assert_eq!(validator.finish(), invalid_at(0));
        assert_eq!(validator.feed(b"fine again"), Ok(()));
    }

    #[test]
    fn long_ascii_then_invalid_byte_uses_global_offset() {
        let mut input = [b'a'; 100];
        input[70] = 0xc0;
        assert_eq!(validate(&input), invalid_at(70));
        input[70] = 0xe2;
        input[71] = 0x82;
        assert_eq!(validate(&input), invalid_at(72));
    }

    #[test]
    fn sequence_len_table() {
        assert_eq!(sequence_len(0x7f), 1);
        assert_eq!(sequence_len(0x80), 0);
        assert_eq!(sequence_len(0xc1), 0);
        assert_eq!(sequence_len(0xc2), 2);
        assert_eq!(sequence_len(0xef), 3);
        assert_eq!(sequence_len(0xf4), 4);
        assert_eq!(sequence_len(0xf5), 0);
    }

    #[test]
    fn errors_display_their_cause() {
        use alloc::string::ToString;
        let invalid = validate(b"ab\xff").unwrap_err();
        assert!(invalid.to_string().contains("offset 2"), "{invalid}");
        let incomplete = validate(b"\xe2").unwrap_err();
        assert!(
            incomplete.to_string().contains("ends inside"),
            "{incomplete}"
        );
    }

    #[test]
    fn short_check_agrees_with_core_on_every_two_byte_input() {
        for first in 0..=255u8 {
            for second in 0..=255u8 {
                // Behind ASCII padding, so the word loop hands over mid-word.
                for padding in [0, 5, 8] {
                    let mut input = [b'a'; 10];
                    input[padding] = first;
                    input[padding + 1] = second;
                    let input = &input[..padding + 2];
                    assert_eq!(
                        is_valid_short(input),
                        core::str::from_utf8(input).is_ok(),
                        "{input:02x?}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_check_agrees_with_core_on_longer_sequences() {
        // Every lead byte with every second byte, and third and fourth bytes
        // on both sides of the continuation range.
        let others = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
        for lead in 0x80..=0xffu8 {
            for second in 0..=255u8 {
                for third in others {
                    for fourth in others {
                        let input = [lead, second, third, fourth];
                        for len in 3..=4 {
                            let input = &input[..len];
                            assert_eq!(
                                is_valid_short(input),
                                core::str::from_utf8(input).is_ok(),
                                "{input:02x?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn unfinished_tail_is_found() {
        assert_eq!(unfinished_tail_start(b""), 0);
        assert_eq!(unfinished_tail_start(b"abc"), 3);
        assert_eq!(unfinished_tail_start(b"ab\xe2"), 2);
        assert_eq!(unfinished_tail_start(b"ab\xe2\x82"), 2);
        assert_eq!(unfinished_tail_start(b"ab\xe2\x82\xac"), 5);
        assert_eq!(unfinished_tail_start(b"\xf0\x9f\x98"), 0);
        assert_eq!(unfinished_tail_start(b"\xf0\x9f\x98\x80"), 4);
        // Continuation bytes with no lead among the last three are left to
        // the check, which fails on them.
        assert_eq!(unfinished_tail_start(b"a\x80\x80\x80"), 4);
        assert_eq!(unfinished_tail_start(b"a\xff"), 2);
    }

    #[test]
    fn sequence_cut_by_a_lead_byte_fails_at_that_byte() {
        // E2 82 is cut short by the E2 that starts an unfinished tail.
        let mut validator = Utf8Validator::new();
        let result = validator.feed(b"ab\xe2\x82\xe2\x82");
        assert_eq!(result, invalid_at(4));
        let result = validator.feed(b"x");
        assert_eq!(result, invalid_at(4));
    }

    proptest::proptest! {
        #[test]
        fn is_valid_agrees_with_core(
            text in proptest::collection::vec(proptest::char::any(), 0..90),
            flip in proptest::option::of((0usize..400, 0u8..=255)),
        ) {
            let mut bytes = text.iter().collect::<alloc::string::String>().into_bytes();
            if let Some((index, byte)) = flip
                && !bytes.is_empty()
            {
                let len = bytes.len();
                bytes[index % len] = byte;
            }
            proptest::prop_assert_eq!(is_valid(&bytes), core::str::from_utf8(&bytes).is_ok());
            proptest::prop_assert_eq!(is_valid_short(&bytes), core::str::from_utf8(&bytes).is_ok());
        }
    }

    #[test]
    fn default_is_new() {
        let validator = Utf8Validator::default();
        assert!(validator.is_boundary());
        assert_eq!(validator.pending_len(), 0);
        assert!(alloc::format!("{validator:?}").contains("Utf8Validator"));
    }
}

/// The text of one message failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8 in a message")]
pub struct MessageUtf8Error {
    /// The offset within the message of the first byte that cannot be UTF-8,
    /// or `None` when the message ended inside a character.
    pub offset: Option<u64>,
}

/// Validates one message's text fed in pieces, and reports a failure at its
/// offset within the message, so the error is the same however the message
/// was split into frames and reads.
///
/// ```
/// use wsmachine::utf8::MessageValidator;
///
/// let mut text = MessageValidator::new();
/// text.feed(b"ab\xe2").unwrap();
/// assert_eq!(text.feed(b"\x82x").unwrap_err().offset, Some(4));
/// ```
#[derive(Clone, Debug, Default)]
pub struct MessageValidator {
    utf8: Utf8Validator,
    validated: u64,
}

impl MessageValidator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        MessageValidator {
            utf8: Utf8Validator::new(),
            validated: 0,
        }
    }

    /// Validates the message's next bytes.
    ///
    /// # Errors
    /// [`MessageUtf8Error`] with the offset in the message of the first byte
    /// that can no longer be UTF-8.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), MessageUtf8Error> {
        let base = self.validated;
        self.validated = base.saturating_add(input.len() as u64);
        self.utf8.feed(input).map_err(|error| MessageUtf8Error {
            offset: error
                .offset()
                .map(|offset| base.saturating_add(offset as u64)),
        })
    }

    /// The bytes of an unfinished character at the end of what was fed: 0
    /// to 3.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.utf8.pending_len()
    }

    /// Ends the message, and starts over for the next one.
    ///
    /// # Errors
    /// [`MessageUtf8Error`] with no offset when the message ends inside a
    /// character, or the earlier failure.
    pub fn finish(&mut self) -> Result<(), MessageUtf8Error> {
        self.validated = 0;
        self.utf8.finish().map_err(|error| MessageUtf8Error {
            offset: error.offset().map(|offset| offset as u64),
        })
    }
}
