//! HTTP/3 frames (RFC 9114 §7): the frame header, SETTINGS, and the
//! stream and frame type codes a WebSocket over HTTP/3 (RFC 9220) uses.
//!
//! ```
//! use bytes::BytesMut;
//! use wsmachine::http3::frame;
//!
//! let mut out = BytesMut::new();
//! frame::encode_settings(16_384, &mut out);
//! let (frame_type, len, header_len) = frame::decode_header(&out).expect("whole");
//! assert_eq!(frame_type, frame::SETTINGS);
//! assert_eq!(header_len + len as usize, out.len());
//! let settings = frame::decode_settings(&out[header_len..]).expect("valid");
//! assert!(settings.enable_connect_protocol);
//! assert_eq!(settings.max_field_section_size, Some(16_384));
//! ```

use alloc::vec::Vec;

use bytes::BytesMut;

use super::varint;

// Frame types (RFC 9114 §7.2).

/// DATA: a request stream's payload bytes.
pub const DATA: u64 = 0x0;
/// HEADERS: a QPACK-encoded field section.
pub const HEADERS: u64 = 0x1;
/// CANCEL_PUSH: control stream only.
pub const CANCEL_PUSH: u64 = 0x3;
/// SETTINGS: the first frame of each control stream.
pub const SETTINGS: u64 = 0x4;
/// PUSH_PROMISE: server push, from a server on a request stream.
pub const PUSH_PROMISE: u64 = 0x5;
/// GOAWAY: control stream only.
pub const GOAWAY: u64 = 0x7;
/// MAX_PUSH_ID: control stream only, from a client.
pub const MAX_PUSH_ID: u64 = 0xd;

// Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).

/// The control stream, one each way per connection.
pub const CONTROL_STREAM: u64 = 0x00;
/// QPACK's encoder stream.
pub const QPACK_ENCODER_STREAM: u64 = 0x02;
/// QPACK's decoder stream.
pub const QPACK_DECODER_STREAM: u64 = 0x03;

// Setting identifiers (RFC 9204 §5, RFC 9114 §7.2.4.1, RFC 9220 §3).

/// `SETTINGS_QPACK_MAX_TABLE_CAPACITY`: the decoder's dynamic table size.
pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
/// `SETTINGS_MAX_FIELD_SECTION_SIZE`: the largest field section accepted.
pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
/// `SETTINGS_QPACK_BLOCKED_STREAMS`: streams that may wait on the table.
pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;
/// `SETTINGS_ENABLE_CONNECT_PROTOCOL`: extended CONNECT (RFC 9220 §3).
pub const ENABLE_CONNECT_PROTOCOL: u64 = 0x08;

/// Appends a frame header: its type, then its payload's length (each at
/// most [`varint::MAX`]).
pub fn encode_header(frame_type: u64, len: u64, out: &mut BytesMut) {
    varint::encode(frame_type, out);
    varint::encode(len, out);
}

/// A frame header at the start of `input`: the type, the payload length
/// and the header's own length; `None` while it is incomplete.
pub fn decode_header(input: &[u8]) -> Option<(u64, u64, usize)> {
    let (frame_type, type_len) = varint::decode(input)?;
    let (len, len_len) = varint::decode(input.get(type_len..)?)?;
    Some((frame_type, len, type_len + len_len))
}

/// Whether a frame type is one HTTP/3 reserves because it was HTTP/2's
/// (PRIORITY, PING, WINDOW_UPDATE, CONTINUATION; RFC 9114 §7.2.8): receiving
/// one is H3_FRAME_UNEXPECTED.
pub fn is_http2_only(frame_type: u64) -> bool {
    matches!(frame_type, 0x2 | 0x6 | 0x8 | 0x9)
}

/// Appends a whole SETTINGS frame, header included, for an endpoint of
/// RFC 9220: extended CONNECT on, no QPACK dynamic table (so no blocked
/// streams), and `max_field_section_size`, the largest field section it
/// decodes.
pub fn encode_settings(max_field_section_size: u64, out: &mut BytesMut) {
    let mut payload = BytesMut::new();
    for (id, value) in [
        (QPACK_MAX_TABLE_CAPACITY, 0),
        (QPACK_BLOCKED_STREAMS, 0),
        (ENABLE_CONNECT_PROTOCOL, 1),
        (MAX_FIELD_SECTION_SIZE, max_field_section_size),
    ] {
        varint::encode(id, &mut payload);
        varint::encode(value, &mut payload);
    }
    encode_header(SETTINGS, payload.len() as u64, out);
    out.extend_from_slice(&payload);
}

/// What [`decode_settings`] reads of a peer's SETTINGS; the other settings
/// (grease included) are ignored, as RFC 9114 §7.2.4 asks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerSettings {
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 9220 §3).
    pub enable_connect_protocol: bool,
    /// `SETTINGS_MAX_FIELD_SECTION_SIZE`, when the peer set one.
    pub max_field_section_size: Option<u64>,
}

/// Why a SETTINGS payload is refused (H3_FRAME_ERROR or
/// H3_SETTINGS_ERROR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The payload ends inside an identifier or a value.
    #[error("the SETTINGS payload ends inside a setting")]
    Truncated,
    /// An identifier appears twice, or is one of HTTP/2's (RFC 9114
    /// §7.2.4.1), or ENABLE_CONNECT_PROTOCOL is neither 0 nor 1.
    #[error("a repeated, reserved or out-of-range setting")]
    Invalid,
}

/// Reads a SETTINGS frame's payload.
///
/// # Errors
/// [`SettingsError`] for a payload cut inside a setting, a repeated
/// identifier, one of HTTP/2's, or an `ENABLE_CONNECT_PROTOCOL` other than
/// 0 or 1.
pub fn decode_settings(mut payload: &[u8]) -> Result<PeerSettings, SettingsError> {
    let mut settings = PeerSettings::default();
    let mut seen = Vec::new();
    while !payload.is_empty() {
        let (id, id_len) = varint::decode(payload).ok_or(SettingsError::Truncated)?;
        let rest = payload.get(id_len..).unwrap_or_default();
        let (value, value_len) = varint::decode(rest).ok_or(SettingsError::Truncated)?;
        payload = rest.get(value_len..).unwrap_or_default();
        if seen.contains(&id) || matches!(id, 0x0 | 0x2..=0x5) {
            return Err(SettingsError::Invalid);
        }
        seen.push(id);
        match id {
            ENABLE_CONNECT_PROTOCOL => {
                settings.enable_connect_protocol = match value {
                    0 => false,
                    1 => true,
                    _ => return Err(SettingsError::Invalid),
                };
            }
            MAX_FIELD_SECTION_SIZE => settings.max_field_section_size = Some(value),
            _ => {}
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_settings_read_back() {
        let mut out = BytesMut::new();
        encode_settings(16_384, &mut out);
        let (frame_type, len, header_len) = decode_header(&out).expect("a header");
        assert_eq!(frame_type, SETTINGS);
        assert_eq!(len as usize, out.len() - header_len);
        let settings = decode_settings(&out[header_len..]).expect("valid");
        assert!(settings.enable_connect_protocol);
        assert_eq!(settings.max_field_section_size, Some(16_384));
    }

    #[test]
    fn unknown_settings_are_ignored_and_bad_ones_refused() {
        // A grease identifier (0x1f * N + 0x21) with a value, then ENABLE_CONNECT_PROTOCOL.
        let grease = [0x40, 0x21, 0x05, 0x08, 0x01];
        let settings = decode_settings(&grease).expect("valid");
        assert!(settings.enable_connect_protocol);
        assert_eq!(decode_settings(&[0x08, 0x02]), Err(SettingsError::Invalid));
        assert_eq!(
            decode_settings(&[0x08, 0x01, 0x08, 0x01]),
            Err(SettingsError::Invalid)
        );
        // HTTP/2's SETTINGS_ENABLE_PUSH (0x2) is not an HTTP/3 setting.
        assert_eq!(decode_settings(&[0x02, 0x00]), Err(SettingsError::Invalid));
        assert_eq!(decode_settings(&[0x08]), Err(SettingsError::Truncated));
    }
}
