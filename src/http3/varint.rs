//! QUIC variable-length integers (RFC 9000 §16), which HTTP/3 uses for
//! stream types, frame types and lengths, and settings.
//!
//! ```
//! use bytes::BytesMut;
//! use wsmachine::http3::varint;
//!
//! let mut out = BytesMut::new();
//! varint::encode(15_293, &mut out);
//! assert_eq!(&out[..], [0x7b, 0xbd]);
//! assert_eq!(varint::decode(&out), Some((15_293, 2)));
//! ```

use bytes::{BufMut, BytesMut};

/// The largest value a variable-length integer holds, 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// Appends `value` in the shortest encoding.
///
/// `value` is at most [`MAX`]: HTTP/3 encodes lengths of buffers and
/// fixed codes, never more. Debug builds assert it; release builds write
/// the low 62 bits.
pub fn encode(value: u64, out: &mut BytesMut) {
    debug_assert!(value <= MAX, "{value} is no QUIC varint");
    if value < 1 << 6 {
        out.put_u8(value as u8);
    } else if value < 1 << 14 {
        out.put_u16(0x4000 | value as u16);
    } else if value < 1 << 30 {
        out.put_u32(0x8000_0000 | value as u32);
    } else {
        out.put_u64(0xc000_0000_0000_0000 | (value & MAX));
    }
}

/// The integer at the start of `input` and how many bytes it took, or
/// `None` when `input` ends before it does. Any 1, 2, 4 or 8-byte encoding
/// is accepted, the shortest or not (RFC 9000 §16 allows both).
pub fn decode(input: &[u8]) -> Option<(u64, usize)> {
    let first = *input.first()?;
    // The two high bits give the length: 1, 2, 4 or 8 bytes.
    let len = 1usize << (first >> 6);
    let bytes = input.get(..len)?;
    let value = bytes
        .iter()
        .skip(1)
        .fold(u64::from(first & 0x3f), |value, byte| {
            (value << 8) | u64::from(*byte)
        });
    Some((value, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_of_rfc_9000_appendix_a_1_decode() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Some((value, bytes.len())));
            let mut out = BytesMut::new();
            encode(value, &mut out);
            assert_eq!(&out[..], bytes);
        }
        // A two-byte encoding of a value that fits in one is still valid.
        assert_eq!(decode(&[0x40, 0x25]), Some((37, 2)));
    }

    #[test]
    fn a_cut_integer_is_incomplete() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[0x7b]), None);
        assert_eq!(decode(&[0xc2, 0x19, 0x7c]), None);
    }

    #[test]
    fn every_length_boundary_round_trips() {
        for value in [0, 63, 64, 16_383, 16_384, (1 << 30) - 1, 1 << 30, MAX] {
            let mut out = BytesMut::new();
            encode(value, &mut out);
            assert_eq!(decode(&out), Some((value, out.len())), "{value}");
        }
    }
}
