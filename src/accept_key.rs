//! The `Sec-WebSocket-Accept` value (RFC 6455 §4.2.2).

use alloc::string::String;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

/// RFC 6455 §1.3: the GUID appended to the client's key.
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The accept value for a client's `Sec-WebSocket-Key`: base64 of the SHA-1
/// of the key (as sent, base64 text) followed by the WebSocket GUID.
///
/// ```
/// // RFC 6455 §1.3.
/// assert_eq!(
///     wsmachine::accept_key::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(client_key: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(client_key);
    hasher.update(WEBSOCKET_GUID);
    STANDARD.encode(hasher.finalize())
}

/// Encodes 16 random bytes as a `Sec-WebSocket-Key` value.
pub fn encode_key(nonce: &[u8; 16]) -> String {
    STANDARD.encode(nonce)
}

/// Whether a `Sec-WebSocket-Key` value is base64 of exactly 16 bytes
/// (RFC 6455 §4.2.1, item 5).
pub fn is_valid_key(key: &[u8]) -> bool {
    // 16 bytes encode to 24 characters ending in "==".
    key.len() == 24
        && STANDARD
            .decode(key)
            .is_ok_and(|decoded| decoded.len() == 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(encode_key(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"), "unpadded");
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=!"));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "20 bytes");
        assert!(!is_valid_key(b""));
    }
}
