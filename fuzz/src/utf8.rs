//! Fuzz check for `wsmachine::utf8::Utf8Validator`.
//!
//! Input layout: the first byte is the number of split points (mod 16); that
//! many following bytes are the split points (each taken modulo the message
//! length + 1); the rest is the message. The message is fed in those pieces
//! and the verdict must equal `core::str::from_utf8` on the whole message,
//! including the fail-fast position of an invalid byte.

use wsmachine::utf8::{Utf8ErrorKind, Utf8Validator};

/// The fail-fast verdict implied by core: `Ok`, `Err(Some(index))` for an
/// invalid byte at `index`, `Err(None)` for a message ending mid-sequence.
fn expected(message: &[u8]) -> Result<(), Option<usize>> {
    match core::str::from_utf8(message) {
        Ok(_) => Ok(()),
        Err(err) => match err.error_len() {
            None => Err(None),
            Some(len) => {
                let start = err.valid_up_to();
                // A valid lead byte (C2..F4) fails at the first byte after its
                // valid part; any other byte fails at itself.
                if (0xc2..=0xf4).contains(&message[start]) {
                    Err(Some(start + len))
                } else {
                    Err(Some(start))
                }
            }
        },
    }
}

/// Runs one fuzz input; panics if the validator disagrees with core.
pub fn run(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 16).min(rest.len());
    let (cut_bytes, message) = rest.split_at(count);
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&cut| usize::from(cut) % (message.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(message.len());

    let mut validator = Utf8Validator::new();
    let mut start = 0;
    let mut verdict = None;
    for end in cuts {
        let piece = &message[start..end];
        match validator.feed(piece) {
            Ok(()) => assert!(validator.pending_len() <= 3, "too many pending bytes"),
            Err(err) => {
                assert_eq!(err.kind(), Utf8ErrorKind::InvalidByte);
                let offset = err.offset().expect("an invalid byte has an offset");
                assert!(offset < piece.len(), "offset {offset} outside the piece");
                assert_eq!(validator.feed(b"x"), Err(err), "failure must be sticky");
                verdict = Some(Err(Some(start + offset)));
                break;
            }
        }
        start = end;
    }
    let verdict = verdict.unwrap_or_else(|| match validator.finish() {
        Ok(()) => Ok(()),
        Err(err) => {
            assert_eq!(err.kind(), Utf8ErrorKind::IncompleteAtEnd);
            assert_eq!(err.offset(), None);
            Err(None)
        }
    });
    assert_eq!(verdict, expected(message), "message {message:02x?}");
}
