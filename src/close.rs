//! Close codes and close frame payloads (RFC 6455 §5.5.1 and §7.4).

use alloc::string::String;
use bytes::BufMut;
use core::fmt;

/// A close status code: an open newtype over the wire value.
///
/// Unknown values are kept as they are, so a private code such as 4001 survives
/// a round trip. The named constants cover RFC 6455 §7.4.1 and the IANA
/// registry.
///
/// ```
/// use wsmachine::close::CloseCode;
///
/// assert_eq!(CloseCode::from(1000), CloseCode::NORMAL);
/// assert_eq!(format!("{:?}", CloseCode::NORMAL), "CloseCode::NORMAL");
/// assert_eq!(format!("{:?}", CloseCode(4001)), "CloseCode(4001)");
/// assert!(CloseCode(4001).is_allowed_on_wire());
/// assert!(!CloseCode::ABNORMAL.is_allowed_on_wire());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

macro_rules! close_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        impl CloseCode {
            $(
                $(#[$doc])*
                pub const $name: CloseCode = CloseCode($value);
            )*

            /// The constant's name for a registered code, such as `"NORMAL"`.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

close_codes! {
    /// 1000: the purpose of the connection has been fulfilled.
    NORMAL = 1000,
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    GOING_AWAY = 1001,
    /// 1002: the peer broke the protocol.
    PROTOCOL_ERROR = 1002,
    /// 1003: a data type the endpoint cannot accept (e.g. binary only).
    UNSUPPORTED_DATA = 1003,
    /// 1004: reserved; never on the wire.
    RESERVED = 1004,
    /// 1005: no status code was present; never on the wire.
    NO_STATUS = 1005,
    /// 1006: the connection closed without a close frame; never on the wire.
    ABNORMAL = 1006,
    /// 1007: data inconsistent with the message type (e.g. invalid UTF-8 text).
    INVALID_PAYLOAD = 1007,
    /// 1008: a message violates the endpoint's policy.
    POLICY_VIOLATION = 1008,
    /// 1009: a message is too big to process.
    MESSAGE_TOO_BIG = 1009,
    /// 1010: the client expected an extension the server did not negotiate.
    MANDATORY_EXTENSION = 1010,
    /// 1011: the server met an unexpected condition.
    INTERNAL_ERROR = 1011,
    /// 1012: the service is restarting (IANA registry).
    SERVICE_RESTART = 1012,
    /// 1013: try again later (IANA registry).
    TRY_AGAIN_LATER = 1013,
    /// 1014: a gateway or proxy got an invalid upstream response (IANA registry).
    BAD_GATEWAY = 1014,
    /// 1015: the TLS handshake failed; never on the wire.
    TLS_HANDSHAKE = 1015,
}

impl CloseCode {
    /// Whether this code may appear in a close frame, sent or received.
    ///
    /// RFC 6455 §7.4.1 and §7.4.2 with the IANA registry: 1000–1003 and
    /// 1007–1014 are defined for the wire, 3000–4999 belong to libraries and
    /// applications. 1004, 1005, 1006 and 1015 must never be sent, and 0–999,
    /// 1016–2999 and 5000 and above are not valid codes.
    pub const fn is_allowed_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(value: u16) -> Self {
        CloseCode(value)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "CloseCode::{name}"),
            None => write!(f, "CloseCode({})", self.0),
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// RFC 6455 §5.5: a control frame payload is at most 125 bytes, and the code
/// takes 2 of them.
pub const MAX_REASON_LEN: usize = 123;

/// Why a close payload is invalid, received or about to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidClose {
    /// A 1-byte payload: neither empty nor a 2-byte code.
    #[error("close payload of 1 byte")]
    OneBytePayload,
    /// The code may not appear on the wire.
    #[error("close code {0} is not allowed on the wire")]
    CodeNotAllowed(CloseCode),
    /// The reason is longer than 123 bytes.
    #[error("close reason of {len} bytes is longer than 123")]
    ReasonTooLong {
        /// The reason's length in bytes.
        len: usize,
    },
    /// The reason is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    ReasonNotUtf8,
}

/// A Close frame's code and reason: what a Close that carries a status
/// code says, received or to be sent.
///
/// An empty close payload has no code; [`CloseFrame::decode`] gives `None`
/// for it, and the receiver reports [`CloseCode::NO_STATUS`] to the app.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most 123 bytes of UTF-8.
    pub reason: String,
}

impl CloseFrame {
    /// Parses a received close payload: empty, or a code and a UTF-8 reason.
    ///
    /// # Errors
    /// [`InvalidClose`] for a 1-byte payload, a code that may not be on the
    /// wire, a reason over 123 bytes or a reason that is not UTF-8.
    ///
    /// ```
    /// use wsmachine::close::{CloseFrame, CloseCode};
    ///
    /// let close = CloseFrame::decode(b"\x03\xe8bye")?.ok_or("no code")?;
    /// assert_eq!(close.code, CloseCode::NORMAL);
    /// assert_eq!(close.reason, "bye");
    /// assert_eq!(CloseFrame::decode(b"")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(payload: &[u8]) -> Result<Option<CloseFrame>, InvalidClose> {
        let (code, reason) = match payload {
            [] => return Ok(None),
            // RFC 6455 §5.5.1: if there is a body, its first two bytes are the code.
            [_] => return Err(InvalidClose::OneBytePayload),
            [high, low, reason @ ..] => (CloseCode(u16::from_be_bytes([*high, *low])), reason),
        };
        check(code, reason.len())?;
        let reason = core::str::from_utf8(reason).map_err(|_| InvalidClose::ReasonNotUtf8)?;
        Ok(Some(CloseFrame {
            code,
            reason: String::from(reason),
        }))
    }

    /// Checks a code and reason and appends their wire form to `out`.
    ///
    /// Nothing is written when the payload is invalid.
    ///
    /// # Errors
    /// [`InvalidClose::CodeNotAllowed`] or [`InvalidClose::ReasonTooLong`].
    pub fn encode(
        code: CloseCode,
        reason: &str,
        out: &mut impl BufMut,
    ) -> Result<(), InvalidClose> {
        check(code, reason.len())?;
        out.put_u16(code.0);
        out.put_slice(reason.as_bytes());
        Ok(())
    }
}

fn check(code: CloseCode, reason_len: usize) -> Result<(), InvalidClose> {
    // RFC 6455 §7.4.1: 1004–1006 and 1015 "MUST NOT be set as a status code in
    // a Close control frame by an endpoint"; §7.4.2 leaves 0–999 unused.
    if !code.is_allowed_on_wire() {
        return Err(InvalidClose::CodeNotAllowed(code));
    }
    if reason_len > MAX_REASON_LEN {
        return Err(InvalidClose::ReasonTooLong { len: reason_len });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn wire_rules_follow_rfc_ranges() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_allowed_on_wire(), expected, "{code}");
        }
        for never in [1004, 1005, 1006, 1015] {
            assert!(!CloseCode(never).is_allowed_on_wire());
        }
    }

    #[test]
    fn private_code_round_trips() {
        let mut out = Vec::new();
        CloseFrame::encode(CloseCode(4001), "custom", &mut out).unwrap();
        let back = CloseFrame::decode(&out).unwrap().unwrap();
        assert_eq!(back.code, CloseCode(4001));
        assert_eq!(back.reason, "custom");
        assert_eq!(alloc::format!("{:?}", back.code), "CloseCode(4001)");
    }

    #[test]
    fn debug_names_known_codes() {
        assert_eq!(
            alloc::format!("{:?}", CloseCode(1009)),
            "CloseCode::MESSAGE_TOO_BIG"
        );
        assert_eq!(CloseCode(1015).name(), Some("TLS_HANDSHAKE"));
        assert_eq!(CloseCode(1016).name(), None);
    }

    #[test]
    fn decode_rejects_invalid_payloads() {
        assert_eq!(
            CloseFrame::decode(&[0x03]),
            Err(InvalidClose::OneBytePayload)
        );
        assert_eq!(
            CloseFrame::decode(&[0x03, 0xee]),
            Err(InvalidClose::CodeNotAllowed(CloseCode::ABNORMAL))
        );
        assert_eq!(
            CloseFrame::decode(&[0x03, 0xe7]),
            Err(InvalidClose::CodeNotAllowed(CloseCode(999)))
        );
        assert_eq!(
            CloseFrame::decode(&[0x03, 0xe8, 0xff]),
            Err(InvalidClose::ReasonNotUtf8)
        );
        let mut long = Vec::from([0x03, 0xe8]);
        long.extend_from_slice(&[b'a'; 124]);
        assert_eq!(
            CloseFrame::decode(&long),
            Err(InvalidClose::ReasonTooLong { len: 124 })
        );
        long.pop();
        assert_eq!(
            CloseFrame::decode(&long).unwrap().unwrap().reason.len(),
            123
        );
    }

    #[test]
    fn encode_refuses_and_writes_nothing() {
        let mut out = Vec::new();
        assert_eq!(
            CloseFrame::encode(CloseCode::NO_STATUS, "", &mut out),
            Err(InvalidClose::CodeNotAllowed(CloseCode::NO_STATUS))
        );
        let reason = "x".repeat(124);
        assert_eq!(
            CloseFrame::encode(CloseCode::NORMAL, &reason, &mut out),
            Err(InvalidClose::ReasonTooLong { len: 124 })
        );
        assert!(out.is_empty());
    }
}
