//! Split points derived from a fuzz input, and a feeder for the head
//! parsers, shared by the fuzz checks.

use wsmachine::http::{HeadError, HeadLimits, HeadParser};

/// Cut positions derived from the input: FNV-1a of the bytes seeds a
/// xorshift generator that picks piece lengths of 1, a few, tens, or
/// hundreds of bytes.
pub fn cuts_for(stream: &[u8]) -> Vec<usize> {
    let mut state = stream
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
        | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut cuts = Vec::new();
    let mut position = 0usize;
    loop {
        let roll = next();
        let scale = [1u64, 8, 64, 512][(roll & 3) as usize];
        let piece = 1 + usize::try_from((roll >> 2) % scale).unwrap_or(0);
        position = position.saturating_add(piece);
        if position >= stream.len() {
            return cuts;
        }
        cuts.push(position);
    }
}

/// What a head parser returns: a complete head and its length, nothing yet,
/// or an error.
pub type HeadOutcome<T> = Result<Option<(T, usize)>, HeadError>;

/// Feeds `data` to a fresh head parser as a buffer that grows to each cut
/// and then to the whole, returning the first complete or failed result.
pub fn feed_head<T>(
    limits: HeadLimits,
    parse: fn(&mut HeadParser, &[u8]) -> HeadOutcome<T>,
    data: &[u8],
    cuts: impl IntoIterator<Item = usize>,
) -> HeadOutcome<T> {
    let mut parser = HeadParser::new(limits);
    for cut in cuts {
        match parse(&mut parser, &data[..cut.min(data.len())]) {
            Ok(None) => {}
            done => return done,
        }
    }
    parse(&mut parser, data)
}

/// Parses `data` whole, after checking that feeding it byte by byte and in
/// the cuts `cuts_for` derives from it gives the same outcome.
pub fn parse_split_invariant<T: PartialEq + std::fmt::Debug>(
    limits: HeadLimits,
    parse: fn(&mut HeadParser, &[u8]) -> HeadOutcome<T>,
    data: &[u8],
) -> HeadOutcome<T> {
    let whole = parse(&mut HeadParser::new(limits), data);
    assert_eq!(
        feed_head(limits, parse, data, 0..=data.len()),
        whole,
        "byte-by-byte feed differs"
    );
    assert_eq!(
        feed_head(limits, parse, data, cuts_for(data)),
        whole,
        "chunked feed differs"
    );
    whole
}
