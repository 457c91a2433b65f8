//! Properties of the incremental UTF-8 validator: any split of any input
//! gives `core::str::from_utf8`'s verdict, with the fail-fast error position,
//! and never more than 3 pending bytes.

use proptest::collection::vec;
use proptest::prelude::*;
use wsmachine::utf8::{Utf8ErrorKind, Utf8Validator};

/// What the validator must report for a whole message, from core's verdict.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Valid,
    /// Global index of the first byte that cannot start or continue a
    /// sequence.
    InvalidByte(usize),
    IncompleteAtEnd,
}

/// core reports the end of the valid prefix and the length of the broken
/// sequence's valid part. Fail-fast: if the byte at `valid_up_to` is a lead
/// byte (C2..F4), the error is at the first byte after its valid part; a byte
/// that can never start a sequence is itself the error.
fn expected(message: &[u8]) -> Verdict {
    match core::str::from_utf8(message) {
        Ok(_) => Verdict::Valid,
        Err(err) => match err.error_len() {
            None => Verdict::IncompleteAtEnd,
            Some(len) => {
                let start = err.valid_up_to();
                if (0xc2..=0xf4).contains(&message[start]) {
                    Verdict::InvalidByte(start + len)
                } else {
                    Verdict::InvalidByte(start)
                }
            }
        },
    }
}

/// Bytes of an unfinished sequence at the end of `prefix` (0 if the prefix
/// ends on a boundary or is already invalid before its end).
fn unfinished_tail(prefix: &[u8]) -> usize {
    match core::str::from_utf8(prefix) {
        Err(err) if err.error_len().is_none() => prefix.len() - err.valid_up_to(),
        _ => 0,
    }
}

/// Feeds `message` split at `cuts`, checking the invariants after every
/// piece, and returns the validator's verdict for the whole message.
fn run_in_pieces(message: &[u8], cuts: &[usize]) -> Result<Verdict, TestCaseError> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (message.len() + 1)).collect();
    points.sort_unstable();
    points.push(message.len());

    let mut validator = Utf8Validator::new();
    let mut start = 0;
    for end in points {
        let piece = &message[start..end];
        match validator.feed(piece) {
            Ok(()) => {
                let pending = validator.pending_len();
                prop_assert!(pending <= 3, "{pending} bytes pending");
                prop_assert_eq!(pending, unfinished_tail(&message[..end]));
                prop_assert_eq!(validator.is_boundary(), pending == 0);
            }
            Err(err) => {
                prop_assert_eq!(err.kind(), Utf8ErrorKind::InvalidByte);
                let offset = err.offset().expect("InvalidByte has an offset");
                prop_assert!(offset < piece.len(), "offset {offset} outside the piece");
                // The validator stays failed with the same error.
                prop_assert_eq!(validator.feed(b"a"), Err(err));
                prop_assert!(!validator.is_boundary());
                prop_assert_eq!(validator.finish(), Err(err));
                prop_assert!(validator.is_boundary());
                return Ok(Verdict::InvalidByte(start + offset));
            }
        }
        start = end;
    }
    let verdict = match validator.finish() {
        Ok(()) => Verdict::Valid,
        Err(err) => {
            prop_assert_eq!(err.kind(), Utf8ErrorKind::IncompleteAtEnd);
            prop_assert_eq!(err.offset(), None);
            Verdict::IncompleteAtEnd
        }
    };
    prop_assert!(validator.is_boundary(), "finish resets the validator");
    Ok(verdict)
}

/// Valid text with one byte replaced, inserted or removed (or none).
fn mutated_text() -> impl Strategy<Value = Vec<u8>> {
    (any::<String>(), any::<usize>(), any::<u8>(), 0u8..4).prop_map(
        |(text, position, byte, mutation)| {
            let mut bytes = text.into_bytes();
            let at = position % (bytes.len() + 1);
            match mutation {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
            bytes
        },
    )
}

/// Byte soup biased towards the bytes that matter for UTF-8 structure.
fn utf8ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        any::<u8>(),
        0x80u8..=0xbf,
        Just(0xc2u8),
        Just(0xe0u8),
        Just(0xedu8),
        Just(0xf0u8),
        Just(0xf4u8),
        Just(b'a'),
    ];
    vec(byte, 0..64)
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(1024)))]

    #[test]
    fn arbitrary_bytes_in_pieces_agree_with_core(
        message in vec(any::<u8>(), 0..200),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        prop_assert_eq!(run_in_pieces(&message, &cuts)?, expected(&message));
    }

    #[test]
    fn utf8ish_bytes_in_pieces_agree_with_core(
        message in utf8ish_bytes(),
        cuts in vec(any::<usize>(), 0..16),
    ) {
        prop_assert_eq!(run_in_pieces(&message, &cuts)?, expected(&message));
    }

    #[test]
    fn mutated_text_in_pieces_agrees_with_core(
        message in mutated_text(),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        prop_assert_eq!(run_in_pieces(&message, &cuts)?, expected(&message));
    }

    #[test]
    fn valid_text_byte_by_byte_is_valid(text in any::<String>()) {
        let cuts: Vec<usize> = (0..text.len()).collect();
        prop_assert_eq!(run_in_pieces(text.as_bytes(), &cuts)?, Verdict::Valid);
    }

    #[test]
    fn long_mostly_ascii_text_agrees_with_core(
        ascii in "[ -~]{0,300}",
        text in any::<String>(),
        extra in vec(any::<u8>(), 0..4),
        cuts in vec(any::<usize>(), 0..6),
    ) {
        let mut message = ascii.into_bytes();
        message.extend_from_slice(text.as_bytes());
        message.extend_from_slice(&extra);
        prop_assert_eq!(run_in_pieces(&message, &cuts)?, expected(&message));
    }

    #[test]
    fn validator_is_reusable_after_any_message(
        first in vec(any::<u8>(), 0..50),
        second in any::<String>(),
    ) {
        let mut validator = Utf8Validator::new();
        let _ = validator.feed(&first);
        let _ = validator.finish();
        prop_assert_eq!(validator.feed(second.as_bytes()), Ok(()));
        prop_assert_eq!(validator.finish(), Ok(()));
    }
}
