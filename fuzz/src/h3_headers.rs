//! The HTTP/3 codecs of `wsmachine::http3` on arbitrary bytes: the same
//! input read as a QPACK field section, as a run of HTTP/3 frames with
//! SETTINGS payloads, as varints, and as a Huffman-coded string. Checks:
//! - nothing panics;
//! - a field section's decoded size never exceeds the limit, and a section
//!   that decodes without a limit decodes under a limit `L` to the same
//!   fields when its size is at most `L`, and to `TooLarge { limit: L }`
//!   otherwise;
//! - decoded fields re-encode (`encode_field_section`) and decode to the
//!   same fields, and so do fields cut from the input;
//! - a frame header re-encodes (shortest form) and decodes to the same
//!   type and length;
//! - a Huffman decoding is never longer than its limit, a string that
//!   decodes is exactly the encoding of what it decodes to (the padding is
//!   forced), and encoding then decoding any bytes is the identity.

use bytes::BytesMut;
use wsmachine::http3::qpack::{self, DEFAULT_MAX_FIELD_SECTION_SIZE, FIELD_OVERHEAD, QpackError};
use wsmachine::http3::{frame, huffman, varint};

fn section_size(fields: &[qpack::Field]) -> usize {
    fields
        .iter()
        .map(|(name, value)| name.len() + value.len() + FIELD_OVERHEAD)
        .sum()
}

fn encode(fields: &[qpack::Field]) -> BytesMut {
    let mut out = BytesMut::new();
    qpack::encode_field_section(
        fields
            .iter()
            .map(|(name, value)| (name.as_slice(), value.as_slice())),
        &mut out,
    );
    out
}

/// `section` under `limit`, checked against its decoding without a limit.
fn check_section(section: &[u8], limit: usize) {
    let bounded = qpack::decode_field_section(section, limit);
    if let Ok(fields) = &bounded {
        assert!(section_size(fields) <= limit, "over the limit {limit}");
        let again = qpack::decode_field_section(&encode(fields), limit);
        assert_eq!(again.as_ref(), Ok(fields), "re-encoded fields differ");
    }
    if let Ok(fields) = qpack::decode_field_section(section, usize::MAX) {
        let expected = if section_size(&fields) <= limit {
            Ok(fields)
        } else {
            Err(QpackError::TooLarge { limit })
        };
        assert_eq!(bounded, expected, "the limit {limit} changed the outcome");
    }
}

/// Fields cut from `data`: names and values alternate, split at 0xff.
fn fields_from(data: &[u8]) -> Vec<qpack::Field> {
    let mut parts = data.split(|&byte| byte == 0xff);
    let mut fields = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        fields.push((name.to_vec(), value.to_vec()));
    }
    fields
}

fn check_frames(mut input: &[u8]) {
    while let Some((frame_type, len, header_len)) = frame::decode_header(input) {
        assert!((2..=16).contains(&header_len) && header_len <= input.len());
        let mut header = BytesMut::new();
        frame::encode_header(frame_type, len, &mut header);
        assert!(header.len() <= header_len, "shortest form is longer");
        assert_eq!(
            frame::decode_header(&header),
            Some((frame_type, len, header.len()))
        );
        input = input.get(header_len..).unwrap_or_default();
        let payload_len = usize::try_from(len).unwrap_or(usize::MAX).min(input.len());
        let (payload, rest) = input.split_at(payload_len);
        let _ = frame::decode_settings(payload);
        input = rest;
    }
}

fn check_varints(input: &[u8]) {
    if let Some((value, len)) = varint::decode(input) {
        assert!(value <= varint::MAX && [1, 2, 4, 8].contains(&len));
        let mut out = BytesMut::new();
        varint::encode(value, &mut out);
        assert!(out.len() <= len);
        assert_eq!(varint::decode(&out), Some((value, out.len())));
        let mut settings = BytesMut::new();
        frame::encode_settings(value, &mut settings);
        let (_, _, header_len) = frame::decode_header(&settings).expect("a whole header");
        let ours = frame::decode_settings(&settings[header_len..]).expect("our SETTINGS");
        assert!(ours.enable_connect_protocol);
        assert_eq!(ours.max_field_section_size, Some(value));
    }
}

fn check_huffman(input: &[u8], max_len: usize) {
    match huffman::decode(input, max_len) {
        Ok(decoded) => {
            assert!(decoded.len() <= max_len);
            assert_eq!(huffman::encode(&decoded), input, "not the canonical coding");
        }
        Err(huffman::HuffmanError::TooLong) => {
            // Codes are at least 5 bits: 8/5 of the input always suffices.
            assert!(max_len < input.len() * 8 / 5);
        }
        Err(_) => {}
    }
    assert_eq!(
        huffman::decode(&huffman::encode(input), input.len()).as_deref(),
        Ok(input),
        "encode then decode is not the identity"
    );
}

/// Runs the checks on one input.
pub fn run(data: &[u8]) {
    // The first byte, when there is one, makes a small limit for the rest.
    let (small_limit, rest) = match data.split_first() {
        Some((&first, rest)) => (usize::from(first) * 2, rest),
        None => (0, data),
    };
    check_section(data, DEFAULT_MAX_FIELD_SECTION_SIZE);
    check_section(rest, small_limit);

    let fields = fields_from(data);
    assert_eq!(
        qpack::decode_field_section(&encode(&fields), usize::MAX),
        Ok(fields)
    );

    check_frames(data);
    let _ = frame::decode_settings(data);
    check_varints(data);

    check_huffman(data, data.len() * 8 / 5);
    check_huffman(rest, small_limit);
}
