//! The Huffman code of HPACK (RFC 7541 §5.2, Appendix B), which QPACK uses
//! for string literals (RFC 9204 §4.1.2). Peers such as aioquic's encoder
//! use it for most strings, so [`decode`] is what a decoder needs;
//! [`encode`] is its inverse ([`qpack`](super::qpack) itself sends strings
//! as they are).
//!
//! ```
//! use wsmachine::http3::huffman;
//!
//! let coded = huffman::encode(b"no-cache");
//! assert_eq!(coded, [0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]);
//! assert_eq!(huffman::decode(&coded, 100).as_deref(), Ok(&b"no-cache"[..]));
//! ```

use alloc::vec::Vec;

/// Why a Huffman-coded string is refused (a QPACK decompression failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HuffmanError {
    /// The string codes the EOS symbol, which RFC 7541 §5.2 forbids.
    #[error("the Huffman-coded string contains EOS")]
    Eos,
    /// The last bits are not a prefix of EOS of at most 7 bits.
    #[error("the Huffman-coded string's padding is not up to 7 one bits")]
    Padding,
    /// The decoded string is longer than the caller allows.
    #[error("the Huffman-coded string decodes to more than the limit")]
    TooLong,
}

/// `(code, length in bits)` of symbols 0 to 255 and EOS (256), from
/// RFC 7541 Appendix B.
#[rustfmt::skip]
const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),
    (0x3fffffff, 30),
];

const EOS: u16 = 256;
/// A child that is a symbol rather than another node.
const LEAF: u16 = 0x8000;
/// The internal nodes of a complete binary tree with 257 leaves.
const NODES: usize = 256;

/// The code as a binary tree, built at compile time: each node's two
/// children (by the next bit), each either another node's index or
/// `LEAF | symbol`. The root is node 0, so 0 as a child would mean "no
/// child"; the code is complete, and `build_tree` asserts that none is left.
static TREE: [[u16; 2]; NODES] = build_tree();

const fn build_tree() -> [[u16; 2]; NODES] {
    let mut nodes = [[0u16; 2]; NODES];
    let mut used = 1;
    let mut symbol = 0;
    while symbol < CODES.len() {
        let (code, len) = CODES[symbol];
        let mut node = 0;
        let mut depth = len;
        while depth > 0 {
            depth -= 1;
            let bit = ((code >> depth) & 1) as usize;
            if depth == 0 {
                assert!(nodes[node][bit] == 0, "a code is a prefix of another");
                nodes[node][bit] = LEAF | symbol as u16;
            } else {
                if nodes[node][bit] == 0 {
                    nodes[node][bit] = used as u16;
                    used += 1;
                }
                assert!(
                    nodes[node][bit] & LEAF == 0,
                    "a code is a prefix of another"
                );
                node = nodes[node][bit] as usize;
            }
        }
        symbol += 1;
    }
    assert!(used == NODES, "the code is not complete");
    let mut node = 0;
    while node < NODES {
        assert!(
            nodes[node][0] != 0 && nodes[node][1] != 0,
            "a missing child"
        );
        node += 1;
    }
    nodes
}

/// Decodes `input`, refusing an output longer than `max_len`.
///
/// # Errors
/// [`HuffmanError`] for a string that codes EOS, whose padding is not up
/// to 7 one bits, or that decodes to more than `max_len` bytes.
pub fn decode(input: &[u8], max_len: usize) -> Result<Vec<u8>, HuffmanError> {
    let tree = &TREE;
    // Huffman codes are at least 5 bits long, so the output is at most
    // 8/5 of the input.
    let mut out = Vec::with_capacity((input.len() * 8 / 5).min(max_len));
    let mut node = 0usize;
    // The bits read since the last symbol, and whether all were ones: the
    // padding must be such a run, shorter than a byte.
    let mut pending_bits = 0u32;
    let mut all_ones = true;
    for byte in input {
        for shift in (0..8).rev() {
            let bit = (byte >> shift) & 1;
            pending_bits += 1;
            all_ones &= bit == 1;
            let child = tree[node][usize::from(bit)];
            if child & LEAF != 0 {
                let symbol = child & !LEAF;
                if symbol == EOS {
                    return Err(HuffmanError::Eos);
                }
                if out.len() == max_len {
                    return Err(HuffmanError::TooLong);
                }
                out.push(symbol as u8);
                node = 0;
                pending_bits = 0;
                all_ones = true;
            } else {
                node = usize::from(child);
            }
        }
    }
    if pending_bits > 7 || !all_ones {
        return Err(HuffmanError::Padding);
    }
    Ok(out)
}

/// The Huffman coding of `input`, padded with the high bits of EOS.
pub fn encode(input: &[u8]) -> Vec<u8> {
    let total_bits: usize = input
        .iter()
        .map(|&byte| usize::from(CODES[usize::from(byte)].1))
        .sum();
    let mut out = Vec::with_capacity(total_bits.div_ceil(8));
    let (mut acc, mut bits) = (0u64, 0u32);
    for &byte in input {
        let (code, len) = CODES[usize::from(byte)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        // Padding: the most significant bits of EOS, all ones.
        out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) as u8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn the_examples_of_rfc_7541_appendix_c_4_decode() {
        let cases: [(&str, &str); 3] = [
            ("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"),
            ("a8eb10649cbf", "no-cache"),
            ("25a849e95bb8e8b4bf", "custom-value"),
        ];
        for (hex, text) in cases {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            assert_eq!(decode(&bytes, 100).expect("valid"), text.as_bytes());
            assert_eq!(encode(text.as_bytes()), bytes);
        }
    }

    #[test]
    fn every_symbol_decodes_alone_and_in_a_run() {
        let all: Vec<u8> = (0..=255).collect();
        for byte in 0..=255u8 {
            assert_eq!(decode(&encode(&[byte]), 1), Ok(vec![byte]), "{byte}");
        }
        assert_eq!(decode(&encode(&all), 256), Ok(all));
    }

    #[test]
    fn eos_padding_and_length_are_checked() {
        // EOS is 30 ones: four bytes of ones hold it whole.
        assert_eq!(decode(&[0xff; 4], 10), Err(HuffmanError::Eos));
        // 'a' is 00011 (5 bits); padding with zeros is refused.
        assert_eq!(decode(&[0b0001_1000], 10), Err(HuffmanError::Padding));
        assert_eq!(decode(&[0b0001_1111], 10), Ok(b"a".to_vec()));
        // A whole byte of ones as padding is too long.
        assert_eq!(decode(&[0b0001_1111, 0xff], 10), Err(HuffmanError::Padding));
        assert_eq!(decode(&encode(b"abc"), 2), Err(HuffmanError::TooLong));
        assert_eq!(decode(&encode(b"abc"), 3), Ok(b"abc".to_vec()));
    }

    proptest! {
        #[test]
        fn any_string_round_trips(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(decode(&encode(&input), input.len()), Ok(input));
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&input, 1000);
        }
    }
}
