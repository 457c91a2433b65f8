//! QPACK (RFC 9204) without a dynamic table: field sections made of
//! static-table references and literals.
//!
//! An endpoint that announces `SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0` (as
//! [`frame::encode_settings`](super::frame::encode_settings) does) forbids
//! its peer a table to decode against, and one that never inserts into the
//! peer's needs none either: every field section has a Required Insert
//! Count of 0, and no encoder or decoder instructions are needed. Strings
//! are encoded as they are; Huffman-coded ones (most of what aioquic
//! sends) are decoded.
//!
//! ```
//! use bytes::BytesMut;
//! use wsmachine::http3::qpack::{self, DEFAULT_MAX_FIELD_SECTION_SIZE};
//!
//! let fields: [(&[u8], &[u8]); 2] = [(b":method", b"CONNECT"), (b":protocol", b"websocket")];
//! let mut section = BytesMut::new();
//! qpack::encode_field_section(fields, &mut section);
//! let decoded = qpack::decode_field_section(&section, DEFAULT_MAX_FIELD_SECTION_SIZE)?;
//! assert_eq!(decoded[1], (b":protocol".to_vec(), b"websocket".to_vec()));
//! # Ok::<(), qpack::QpackError>(())
//! ```

use alloc::vec::Vec;

use bytes::{BufMut, BytesMut};

use super::huffman::{self, HuffmanError};

/// The largest decoded field section accepted by default, in the size
/// RFC 9114 §4.2.2 defines (each field's name and value lengths plus 32):
/// the default bound on a whole HTTP/1.1 head,
/// [`HeadLimits::DEFAULT`](crate::http::HeadLimits::DEFAULT)`.max_head_len`
/// (32 KiB), so that a head weighs the same over either.
pub const DEFAULT_MAX_FIELD_SECTION_SIZE: usize = crate::http::HeadLimits::DEFAULT.max_head_len;

/// Why a field section cannot be decoded (QPACK_DECOMPRESSION_FAILED, or a
/// section over the limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QpackError {
    /// The section ends inside a line, an integer or a string.
    #[error("the field section is truncated")]
    Truncated,
    /// An integer does not fit in 62 bits.
    #[error("an integer of the field section overflows")]
    IntegerOverflow,
    /// A reference to the dynamic table, which this decoder does not have
    /// (a Required Insert Count other than 0, a dynamic or post-base index).
    #[error("a reference to the QPACK dynamic table, whose capacity is 0")]
    DynamicTable,
    /// A static index past the table's 99 entries.
    #[error("static table index {0} does not exist")]
    StaticIndex(u64),
    /// A Huffman-coded string that is not valid (RFC 7541 §5.2).
    #[error("an invalid Huffman-coded string")]
    Huffman,
    /// The decoded section is larger than the limit.
    #[error("the field section is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in RFC 9114 §4.2.2's size.
        limit: usize,
    },
}

/// RFC 9204 Appendix A: the static table, indices 0 to 98.
#[rustfmt::skip]
const STATIC_TABLE: [(&str, &str); 99] = [
    (":authority", ""), (":path", "/"), ("age", "0"), ("content-disposition", ""),
    ("content-length", "0"), ("cookie", ""), ("date", ""), ("etag", ""),
    ("if-modified-since", ""), ("if-none-match", ""), ("last-modified", ""), ("link", ""),
    ("location", ""), ("referer", ""), ("set-cookie", ""), (":method", "CONNECT"),
    (":method", "DELETE"), (":method", "GET"), (":method", "HEAD"), (":method", "OPTIONS"),
    (":method", "POST"), (":method", "PUT"), (":scheme", "http"), (":scheme", "https"),
    (":status", "103"), (":status", "200"), (":status", "304"), (":status", "404"),
    (":status", "503"), ("accept", "*/*"), ("accept", "application/dns-message"),
    ("accept-encoding", "gzip, deflate, br"), ("accept-ranges", "bytes"),
    ("access-control-allow-headers", "cache-control"),
    ("access-control-allow-headers", "content-type"), ("access-control-allow-origin", "*"),
    ("cache-control", "max-age=0"), ("cache-control", "max-age=2592000"),
    ("cache-control", "max-age=604800"), ("cache-control", "no-cache"),
    ("cache-control", "no-store"), ("cache-control", "public, max-age=31536000"),
    ("content-encoding", "br"), ("content-encoding", "gzip"),
    ("content-type", "application/dns-message"), ("content-type", "application/javascript"),
    ("content-type", "application/json"), ("content-type", "application/x-www-form-urlencoded"),
    ("content-type", "image/gif"), ("content-type", "image/jpeg"), ("content-type", "image/png"),
    ("content-type", "text/css"), ("content-type", "text/html; charset=utf-8"),
    ("content-type", "text/plain"), ("content-type", "text/plain;charset=utf-8"),
    ("range", "bytes=0-"), ("strict-transport-security", "max-age=31536000"),
    ("strict-transport-security", "max-age=31536000; includesubdomains"),
    ("strict-transport-security", "max-age=31536000; includesubdomains; preload"),
    ("vary", "accept-encoding"), ("vary", "origin"), ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"), (":status", "100"), (":status", "204"),
    (":status", "206"), (":status", "302"), (":status", "400"), (":status", "403"),
    (":status", "421"), (":status", "425"), (":status", "500"), ("accept-language", ""),
    ("access-control-allow-credentials", "FALSE"), ("access-control-allow-credentials", "TRUE"),
    ("access-control-allow-headers", "*"), ("access-control-allow-methods", "get"),
    ("access-control-allow-methods", "get, post, options"),
    ("access-control-allow-methods", "options"),
    ("access-control-expose-headers", "content-length"),
    ("access-control-request-headers", "content-type"),
    ("access-control-request-method", "get"), ("access-control-request-method", "post"),
    ("alt-svc", "clear"), ("authorization", ""),
    ("content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"),
    ("early-data", "1"), ("expect-ct", ""), ("forwarded", ""), ("if-range", ""),
    ("origin", ""), ("purpose", "prefetch"), ("server", ""), ("timing-allow-origin", "*"),
    ("upgrade-insecure-requests", "1"), ("user-agent", ""), ("x-forwarded-for", ""),
    ("x-frame-options", "deny"), ("x-frame-options", "sameorigin"),
];

/// A decoded field: its name and its value.
pub type Field = (Vec<u8>, Vec<u8>);

/// The per-field overhead of RFC 9114 §4.2.2's field section size: a
/// section's size is the sum over its fields of name length, value length
/// and this.
pub const FIELD_OVERHEAD: usize = 32;

/// Appends an integer with an `prefix_bits`-bit prefix (RFC 7541 §5.1)
/// whose first byte also carries `flags` above the prefix.
fn encode_integer(flags: u8, prefix_bits: u32, mut value: u64, out: &mut BytesMut) {
    let max_prefix = (1u64 << prefix_bits) - 1;
    if value < max_prefix {
        out.put_u8(flags | value as u8);
        return;
    }
    out.put_u8(flags | max_prefix as u8);
    value -= max_prefix;
    while value >= 0x80 {
        out.put_u8(0x80 | (value & 0x7f) as u8);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// The integer with a `prefix_bits`-bit prefix at the start of `input`, and
/// how many bytes it took.
fn decode_integer(input: &[u8], prefix_bits: u32) -> Result<(u64, usize), QpackError> {
    let max_prefix = (1u64 << prefix_bits) - 1;
    let first = *input.first().ok_or(QpackError::Truncated)?;
    let mut value = u64::from(first) & max_prefix;
    if value < max_prefix {
        return Ok((value, 1));
    }
    let mut shift = 0u32;
    for (index, byte) in input.iter().enumerate().skip(1) {
        let part = u64::from(byte & 0x7f);
        // 62 bits are enough for anything HTTP/3 counts.
        if shift > 56 || (part << shift) >> shift != part {
            return Err(QpackError::IntegerOverflow);
        }
        value = value
            .checked_add(part << shift)
            .filter(|value| *value < 1 << 62)
            .ok_or(QpackError::IntegerOverflow)?;
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
        shift += 7;
    }
    Err(QpackError::Truncated)
}

/// Appends a string literal, not Huffman-coded, its length with a
/// `prefix_bits`-bit prefix after `flags`.
fn encode_string(flags: u8, prefix_bits: u32, string: &[u8], out: &mut BytesMut) {
    encode_integer(flags, prefix_bits, string.len() as u64, out);
    out.extend_from_slice(string);
}

/// The string literal at the start of `input` (its H bit just above the
/// `prefix_bits`-bit length), decoded, refused when longer than `budget`;
/// and how many bytes it took.
fn decode_string(
    input: &[u8],
    prefix_bits: u32,
    budget: usize,
    limit: usize,
) -> Result<(Vec<u8>, usize), QpackError> {
    let first = *input.first().ok_or(QpackError::Truncated)?;
    let huffman = first & (1 << prefix_bits) != 0;
    let (len, len_len) = decode_integer(input, prefix_bits)?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(len_len))
        .ok_or(QpackError::Truncated)?;
    let raw = input.get(len_len..end).ok_or(QpackError::Truncated)?;
    let string = if huffman {
        huffman::decode(raw, budget).map_err(|error| match error {
            HuffmanError::TooLong => QpackError::TooLarge { limit },
            HuffmanError::Eos | HuffmanError::Padding => QpackError::Huffman,
        })?
    } else if raw.len() > budget {
        return Err(QpackError::TooLarge { limit });
    } else {
        raw.to_vec()
    };
    Ok((string, end))
}

/// Appends the field section of `fields` (names lowercase, pseudo-header
/// fields first): its prefix, then one line per field, each an indexed
/// static line when the table has the whole field, a literal with a static
/// name reference when it has the name, a literal otherwise. Strings are
/// not Huffman-coded.
pub fn encode_field_section<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut BytesMut,
) {
    // Required Insert Count 0, then Delta Base 0 with its sign bit clear.
    out.put_slice(&[0, 0]);
    for (name, value) in fields {
        let mut name_index = None;
        let mut whole_index = None;
        for (index, (static_name, static_value)) in STATIC_TABLE.iter().enumerate() {
            if static_name.as_bytes() == name {
                name_index.get_or_insert(index);
                if static_value.as_bytes() == value {
                    whole_index = Some(index);
                    break;
                }
            }
        }
        match (whole_index, name_index) {
            // 1 T=1 index(6): an indexed field line, static.
            (Some(index), _) => encode_integer(0b1100_0000, 6, index as u64, out),
            // 01 N=0 T=1 index(4), then the value with H=0.
            (None, Some(index)) => {
                encode_integer(0b0101_0000, 4, index as u64, out);
                encode_string(0, 7, value, out);
            }
            // 001 N=0 H=0 name length(3), the name, then the value.
            (None, None) => {
                encode_string(0b0010_0000, 3, name, out);
                encode_string(0, 7, value, out);
            }
        }
    }
}

/// The fields of a field section, in order, each `(name, value)`, when
/// the decoded section's size (RFC 9114 §4.2.2) is at most `limit`.
///
/// # Errors
/// [`QpackError`] for a section that is malformed, refers to a dynamic
/// table, or is larger than `limit`.
pub fn decode_field_section(input: &[u8], limit: usize) -> Result<Vec<Field>, QpackError> {
    let (required_insert_count, used) = decode_integer(input, 8)?;
    if required_insert_count != 0 {
        return Err(QpackError::DynamicTable);
    }
    let mut rest = input.get(used..).unwrap_or_default();
    // The Base's sign and delta mean nothing without a dynamic table.
    let (_, used) = decode_integer(rest, 7)?;
    rest = rest.get(used..).unwrap_or_default();
    let mut fields = Vec::new();
    let mut size = 0usize;
    let too_large = QpackError::TooLarge { limit };
    while let Some(&first) = rest.first() {
        let budget = limit.saturating_sub(size);
        let ((name, value), used) = if first & 0x80 != 0 {
            // Indexed field line: 1 T index(6).
            if first & 0x40 == 0 {
                return Err(QpackError::DynamicTable);
            }
            let (index, used) = decode_integer(rest, 6)?;
            let (name, value) = static_entry(index)?;
            ((name.as_bytes().to_vec(), value.as_bytes().to_vec()), used)
        } else if first & 0x40 != 0 {
            // Literal field line with name reference: 01 N T index(4).
            if first & 0x10 == 0 {
                return Err(QpackError::DynamicTable);
            }
            let (index, used) = decode_integer(rest, 4)?;
            let (name, _) = static_entry(index)?;
            let after = rest.get(used..).unwrap_or_default();
            let budget = budget.saturating_sub(name.len());
            let (value, value_len) = decode_string(after, 7, budget, limit)?;
            ((name.as_bytes().to_vec(), value), used + value_len)
        } else if first & 0x20 != 0 {
            // Literal field line with literal name: 001 N H length(3).
            let (name, name_len) = decode_string(rest, 3, budget, limit)?;
            let after = rest.get(name_len..).unwrap_or_default();
            let budget = budget.saturating_sub(name.len());
            let (value, value_len) = decode_string(after, 7, budget, limit)?;
            ((name, value), name_len + value_len)
        } else {
            // 0001: indexed with a post-base index; 0000: literal with a
            // post-base name reference. Both point into the dynamic table.
            return Err(QpackError::DynamicTable);
        };
        size = size
            .checked_add(name.len() + value.len() + FIELD_OVERHEAD)
            .filter(|size| *size <= limit)
            .ok_or(too_large)?;
        fields.push((name, value));
        rest = rest.get(used..).unwrap_or_default();
    }
    Ok(fields)
}

fn static_entry(index: u64) -> Result<(&'static str, &'static str), QpackError> {
    usize::try_from(index)
        .ok()
        .and_then(|index| STATIC_TABLE.get(index))
        .copied()
        .ok_or(QpackError::StaticIndex(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use proptest::prelude::*;

    fn encode(fields: &[(&str, &str)]) -> BytesMut {
        let mut out = BytesMut::new();
        encode_field_section(
            fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            &mut out,
        );
        out
    }

    fn owned(fields: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        fields
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_request_uses_the_static_table_and_reads_back() {
        let fields = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", "localhost:4433"),
            (":path", "/chat"),
            ("sec-websocket-version", "13"),
        ];
        let out = encode(&fields);
        // The prefix; :method CONNECT is static entry 15, indexed; :protocol
        // is a literal name.
        assert_eq!(&out[..4], &[0x00, 0x00, 0xc0 | 15, 0x20 | 7]);
        assert_eq!(
            decode_field_section(&out, 4096).expect("valid"),
            owned(&fields)
        );
    }

    #[test]
    fn rfc_9204_appendix_b_1_decodes() {
        // "Literal Field Line with Name Reference": :path /index.html.
        let section = b"\x00\x00\x51\x0b/index.html";
        assert_eq!(
            decode_field_section(section, 4096),
            Ok(owned(&[(":path", "/index.html")]))
        );
    }

    #[test]
    fn huffman_strings_decode_in_both_literal_forms() {
        let mut section = BytesMut::from(&[0u8, 0][..]);
        // :authority (static 0) with a Huffman value.
        let value = huffman::encode(b"www.example.com");
        encode_integer(0b0101_0000, 4, 0, &mut section);
        encode_integer(0x80, 7, value.len() as u64, &mut section);
        section.extend_from_slice(&value);
        // A Huffman literal name and a Huffman value.
        let (name, value) = (
            huffman::encode(b"custom-key"),
            huffman::encode(b"custom-value"),
        );
        encode_integer(0b0010_1000, 3, name.len() as u64, &mut section);
        section.extend_from_slice(&name);
        encode_integer(0x80, 7, value.len() as u64, &mut section);
        section.extend_from_slice(&value);
        assert_eq!(
            decode_field_section(&section, 4096),
            Ok(owned(&[
                (":authority", "www.example.com"),
                ("custom-key", "custom-value")
            ]))
        );
    }

    #[test]
    fn the_dynamic_table_is_refused() {
        assert_eq!(
            decode_field_section(&[0x02, 0x00], 4096),
            Err(QpackError::DynamicTable)
        );
        // Indexed field line, T = 0 (dynamic).
        assert_eq!(
            decode_field_section(&[0, 0, 0x80], 4096),
            Err(QpackError::DynamicTable)
        );
        // Post-base forms.
        assert_eq!(
            decode_field_section(&[0, 0, 0x10], 4096),
            Err(QpackError::DynamicTable)
        );
        assert_eq!(
            decode_field_section(&[0, 0, 0x00], 4096),
            Err(QpackError::DynamicTable)
        );
        assert_eq!(
            decode_field_section(&[0, 0, 0xc0 | 63, 36], 4096),
            Err(QpackError::StaticIndex(99))
        );
        assert_eq!(
            decode_field_section(&[0, 0, 0xc0 | 63, 35], 4096),
            Ok(owned(&[("x-frame-options", "sameorigin")]))
        );
    }

    #[test]
    fn the_size_limit_holds_at_its_boundary() {
        // One field: 1 + 9 + 32 = 42 bytes of section size.
        let fields = [("a", "123456789")];
        let out = encode(&fields);
        assert_eq!(decode_field_section(&out, 42), Ok(owned(&fields)));
        assert_eq!(
            decode_field_section(&out, 41),
            Err(QpackError::TooLarge { limit: 41 })
        );
        // The same with a Huffman value, whose decoding stops at the limit.
        let mut section = BytesMut::from(&[0u8, 0][..]);
        let value = huffman::encode(b"123456789");
        encode_string(0b0010_0000, 3, b"a", &mut section);
        encode_integer(0x80, 7, value.len() as u64, &mut section);
        section.extend_from_slice(&value);
        assert_eq!(decode_field_section(&section, 42), Ok(owned(&fields)));
        assert_eq!(
            decode_field_section(&section, 41),
            Err(QpackError::TooLarge { limit: 41 })
        );
    }

    #[test]
    fn integers_cross_their_prefix() {
        for (prefix, value) in [
            (3, 6),
            (3, 7),
            (3, 8),
            (7, 126),
            (7, 127),
            (7, 128),
            (4, 1337),
            (6, 1 << 40),
        ] {
            let mut out = BytesMut::new();
            encode_integer(0, prefix, value, &mut out);
            assert_eq!(
                decode_integer(&out, prefix),
                Ok((value, out.len())),
                "{prefix} {value}"
            );
        }
        assert_eq!(decode_integer(&[0x1f, 0x9a], 5), Err(QpackError::Truncated));
        let huge = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(decode_integer(&huge, 8), Err(QpackError::IntegerOverflow));
    }

    proptest! {
        #[test]
        fn any_fields_round_trip(fields in proptest::collection::vec(
            (prop_oneof![
                Just(":path".to_string()), Just(":status".to_string()), Just("origin".to_string()),
                "[a-z-]{1,20}",
             ], prop_oneof![Just("200".to_string()), Just("/".to_string()), any::<String>()]),
            0..12,
        )) {
            let mut out = BytesMut::new();
            encode_field_section(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &mut out);
            let expected: Vec<(Vec<u8>, Vec<u8>)> = fields
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
            prop_assert_eq!(decode_field_section(&out, usize::MAX), Ok(expected));
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_field_section(&input, 4096);
        }

        #[test]
        fn the_limit_is_never_exceeded(input in proptest::collection::vec(any::<u8>(), 0..200), limit in 0usize..300) {
            if let Ok(fields) = decode_field_section(&input, limit) {
                let size: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
                prop_assert!(size <= limit);
            }
        }
    }
}
