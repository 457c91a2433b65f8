//! WebSocket extensions: the `Sec-WebSocket-Extensions` grammar (RFC 6455
//! §9.1) and, with the `deflate` feature, permessage-deflate (RFC 7692).
//!
//! The grammar is here without any feature, for apps that negotiate
//! extensions of their own:
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! ```
//! use wsmachine::extensions::{Extension, parse_list};
//!
//! let offers = parse_list(r#"permessage-deflate; client_max_window_bits, x-foo; level="3""#).unwrap();
//! assert_eq!(offers.len(), 2);
//! assert_eq!(offers[0].param("client_max_window_bits"), Some(None));
//! assert_eq!(offers[1].param("level"), Some(Some("3")));
//! assert_eq!(offers[1].to_string(), "x-foo; level=3");
//! ```
//!
//! Negotiated extensions act on data messages through the engine's
//! `MessageCodec`: the engine asks it which RSV bits a message's first
//! frame may carry, hands it the payload of compressed frames as they arrive,
//! and lets it compress what the app sends. Without the `deflate` feature the
//! codec is empty and every one of those calls is a no-op.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;

use crate::frame::ProtocolError;
use crate::http::{Headers, is_tchar, is_token, trim_ows, trim_ows_str};
use crate::invariant::Kept;
use crate::utf8::MessageValidator;

#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod permessage_deflate;

/// One element of `Sec-WebSocket-Extensions`: an extension's name and its
/// parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Extension {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// The parameters, in the order they were sent.
    pub params: Vec<ExtensionParam>,
}

/// One parameter of an [`Extension`]: a name with an optional value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    /// The parameter's name.
    pub name: String,
    /// The value, unquoted; `None` for a parameter sent without `=`.
    pub value: Option<String>,
}

/// Why an extension element does not follow RFC 6455 §9.1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The element does not start with a token: the extension's name.
    #[error("the extension name is missing or not a token")]
    InvalidName,
    /// A `;` is not followed by a parameter name that is a token.
    #[error("a parameter name is missing or not a token")]
    InvalidParamName,
    /// A `=` is followed by neither a token nor a quoted string.
    #[error("parameter {name:?} has `=` without a value")]
    MissingParamValue {
        /// The parameter's name.
        name: String,
    },
    /// A quoted string has no closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuotedString,
    /// A quoted value that, unquoted, is not a token (RFC 6455 §9.1).
    #[error("quoted value of {name:?} is not a token once unquoted")]
    QuotedValueNotToken {
        /// The parameter's name.
        name: String,
    },
    /// A character where a `;` or the end of the element was expected.
    #[error("unexpected character {found:?}")]
    UnexpectedCharacter {
        /// The character.
        found: char,
    },
}

impl Extension {
    /// An extension with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Extension {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter, with or without a value.
    pub fn with_param(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.params.push(ExtensionParam {
            name: name.into(),
            value: value.map(String::from),
        });
        self
    }

    /// Whether this is the extension `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The first parameter called `name` (ASCII case-insensitive): `None`
    /// when absent, `Some(None)` when sent without a value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|param| param.name.eq_ignore_ascii_case(name))
            .map(|param| param.value.as_deref())
    }

    /// Parses one element of the list (no top-level commas).
    ///
    /// Whitespace is allowed around `;` and `=`; parameter values may be
    /// tokens or quoted strings, and a quoted string is unescaped.
    ///
    /// # Errors
    /// [`ExtensionError`] for the first violation of the grammar.
    ///
    /// ```
    /// use wsmachine::extensions::{Extension, ExtensionError};
    ///
    /// let ext = Extension::parse(r#"permessage-deflate ; server_max_window_bits = "10""#)?;
    /// assert_eq!(ext, Extension::new("permessage-deflate").with_param("server_max_window_bits", Some("10")));
    /// assert_eq!(Extension::parse("x; a=\"b c\""),
    ///     Err(ExtensionError::QuotedValueNotToken { name: "a".into() }));
    /// # Ok::<(), ExtensionError>(())
    /// ```
    pub fn parse(element: &str) -> Result<Self, ExtensionError> {
        let mut rest = trim_ows_str(element);
        let name = take_token(&mut rest).ok_or(ExtensionError::InvalidName)?;
        let mut extension = Extension::new(name);
        loop {
            rest = trim_ows_str(rest);
            let Some(first) = rest.chars().next() else {
                return Ok(extension);
            };
            if first != ';' {
                return Err(ExtensionError::UnexpectedCharacter { found: first });
            }
            rest = trim_ows_str(rest.get(1..).unwrap_or(""));
            let param_name = take_token(&mut rest).ok_or(ExtensionError::InvalidParamName)?;
            rest = trim_ows_str(rest);
            let value = match rest.strip_prefix('=') {
                None => None,
                Some(after) => {
                    rest = trim_ows_str(after);
                    Some(take_value(&mut rest, param_name)?)
                }
            };
            extension.params.push(ExtensionParam {
                name: String::from(param_name),
                value,
            });
        }
    }
}

/// Writes the element in its canonical form: `name; param; param=value`,
/// quoting a value only when it is not a token.
impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for param in &self.params {
            write!(f, "; {}", param.name)?;
            match &param.value {
                None => {}
                Some(value) if is_token(value) => write!(f, "={value}")?,
                Some(value) => {
                    f.write_str("=\"")?;
                    for c in value.chars() {
                        if matches!(c, '"' | '\\') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// Parses a whole `Sec-WebSocket-Extensions` value: the elements in order,
/// empty elements skipped (RFC 9110 §5.6.1).
///
/// # Errors
/// The first element's [`ExtensionError`].
///
/// ```
/// use wsmachine::extensions::{ExtensionError, parse_list};
///
/// let list = parse_list(" , a; x=\"1\" ,b").unwrap();
/// assert_eq!(list.iter().map(|e| e.to_string()).collect::<Vec<_>>(), ["a; x=1", "b"]);
/// // The comma inside the quotes does not split the list.
/// assert_eq!(parse_list("a; x=\"1,2\""),
///     Err(ExtensionError::QuotedValueNotToken { name: "x".into() }));
/// ```
pub fn parse_list(value: &str) -> Result<Vec<Extension>, ExtensionError> {
    split_list(value.as_bytes())
        .into_iter()
        .map(|element| {
            // The splitter cuts only at ASCII bytes, so every element of a
            // `str` is a `str`.
            let element = core::str::from_utf8(element).unwrap_or("");
            Extension::parse(element)
        })
        .collect()
}

/// The elements of every `Sec-WebSocket-Extensions` field line, split at
/// commas outside quoted strings and trimmed, empty ones skipped. Elements
/// that are not UTF-8 are skipped, as [`Headers::tokens`] does.
pub(crate) fn header_elements(headers: &Headers) -> Vec<&str> {
    headers
        .get_all("Sec-WebSocket-Extensions")
        .flat_map(split_list)
        .filter_map(|element| core::str::from_utf8(element).ok())
        .collect()
}

/// Splits a list at commas outside quoted strings, trims each element's
/// whitespace and skips empty elements. An unterminated quoted string runs
/// to the end of the value; the element parser reports it.
fn split_list(value: &[u8]) -> Vec<&[u8]> {
    let mut elements = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, &byte) in value.iter().enumerate() {
        if in_quotes {
            // RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ).
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_quotes = false;
            }
        } else if byte == b'"' {
            in_quotes = true;
        } else if byte == b',' {
            elements.push(value.get(start..index).kept());
            start = index + 1;
        }
    }
    elements.push(value.get(start..).kept());
    elements
        .into_iter()
        .map(trim_ows)
        .filter(|element| !element.is_empty())
        .collect()
}

/// Takes the longest token at the start of `rest`, or `None` when it does
/// not start with a token character.
fn take_token<'a>(rest: &mut &'a str) -> Option<&'a str> {
    // A tchar is ASCII, so the first byte that is not one starts a character.
    let end = rest
        .bytes()
        .position(|b| !is_tchar(b))
        .unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    let (token, after) = rest.split_at(end);
    *rest = after;
    Some(token)
}

/// Takes a parameter value: a token, or a quoted string that unquotes to a
/// token.
fn take_value(rest: &mut &str, name: &str) -> Result<String, ExtensionError> {
    let Some(quoted) = rest.strip_prefix('"') else {
        return take_token(rest).map(String::from).ok_or_else(|| {
            ExtensionError::MissingParamValue {
                name: String::from(name),
            }
        });
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    loop {
        match chars.next() {
            None => return Err(ExtensionError::UnterminatedQuotedString),
            Some((index, '"')) => {
                *rest = quoted.get(index + 1..).unwrap_or("");
                break;
            }
            Some((_, '\\')) => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => return Err(ExtensionError::UnterminatedQuotedString),
            },
            Some((_, c)) => value.push(c),
        }
    }
    // RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform
    // to the 'token' ABNF".
    if !is_token(&value) {
        return Err(ExtensionError::QuotedValueNotToken {
            name: String::from(name),
        });
    }
    Ok(value)
}

/// The extensions in effect on a connection, as the engine sees them: which
/// RSV bits a message may use, and what happens to data messages.
#[derive(Debug, Default)]
pub(crate) struct MessageCodec {
    #[cfg(feature = "deflate")]
    deflate: Option<alloc::boxed::Box<permessage_deflate::DeflateCodec>>,
}

impl MessageCodec {
    /// No extension.
    pub(crate) fn none() -> Self {
        MessageCodec::default()
    }

    /// permessage-deflate as negotiated.
    #[cfg(feature = "deflate")]
    pub(crate) fn deflate(codec: permessage_deflate::DeflateCodec) -> Self {
        MessageCodec {
            deflate: Some(alloc::boxed::Box::new(codec)),
        }
    }

    /// The RSV bits a data message's first frame may carry.
    pub(crate) fn rsv_bits(&self) -> u8 {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            // RFC 7692 §6: RSV1 is the "Per-Message Compressed" bit.
            return RSV1;
        }
        0
    }

    /// Whether a message whose first frame has these RSV bits is compressed.
    pub(crate) fn is_compressed(&self, rsv: u8) -> bool {
        self.rsv_bits() & rsv & RSV1 != 0
    }

    /// Inflates more of a compressed frame's payload into the frame's output,
    /// with the rest of the message allowed `allowance` more bytes out of
    /// `limit`; `end_of_message` after the last bytes of the final frame.
    /// Text is validated as each step comes out. Returns the bytes produced.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        end_of_message: bool,
        allowance: u64,
        limit: u64,
        text: Option<&mut MessageValidator>,
    ) -> Result<u64, ProtocolError> {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &mut self.deflate {
            return deflate.inflate(input, end_of_message, allowance, limit, text);
        }
        Ok(0)
    }

    /// One bounded inflate step, for payload handed out in pieces (see
    /// `DeflateCodec::inflate_piece`); `None` without a codec.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflate_piece(
        &mut self,
        input: &[u8],
        allowance: u64,
        limit: u64,
        cap: usize,
        text: Option<&mut MessageValidator>,
    ) -> Option<Result<(usize, bool), ProtocolError>> {
        let deflate = self.deflate.as_mut()?;
        Some(
            deflate
                .inflate_piece(input, allowance, limit, cap, text)
                .map(|step| (step.consumed, step.more)),
        )
    }

    /// The tail a compressed message lacks, inflated after its last frame.
    #[cfg(feature = "deflate")]
    pub(crate) const INFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

    /// A message inflated in pieces has ended.
    #[cfg(feature = "deflate")]
    pub(crate) fn end_inflated_message(&mut self) {
        if let Some(deflate) = &mut self.deflate {
            deflate.end_inflated_message();
        }
    }

    /// Takes the first `n` bytes of the inflated output.
    #[cfg(feature = "deflate")]
    pub(crate) fn take_inflated_prefix(&mut self, n: usize) -> Bytes {
        self.deflate
            .as_mut()
            .map_or_else(Bytes::new, |deflate| deflate.take_inflated_prefix(n))
    }

    /// Bytes inflated and not yet taken.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflated_bytes(&self) -> &[u8] {
        self.deflate
            .as_ref()
            .map_or(&[], |deflate| deflate.inflated_bytes())
    }

    /// The inflated payload of the frame just finished.
    pub(crate) fn take_inflated(&mut self) -> Bytes {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &mut self.deflate {
            return deflate.take_inflated();
        }
        Bytes::new()
    }

    /// Whether a message that starts with `len` bytes is sent compressed.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    pub(crate) fn compresses(&self, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.deflate {
            return deflate.compresses(len);
        }
        false
    }

    /// Compresses the next piece of an outgoing message; `end_of_message`
    /// for its last piece. Returns the payload to send.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    pub(crate) fn compress<'a>(
        &'a mut self,
        payload: &'a [u8],
        end_of_message: bool,
    ) -> Result<&'a [u8], CompressionFailed> {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &mut self.deflate {
            return deflate.compress(payload, end_of_message);
        }
        Ok(payload)
    }
}

/// The compressor failed; it was reset. The connection reports it as
/// `SendError::CompressionFailed`. Without the `deflate` feature nothing
/// compresses, and it cannot be made.
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CompressionFailed;

/// Without the `deflate` feature nothing compresses, so nothing fails.
#[cfg(not(feature = "deflate"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompressionFailed {}

/// RSV1 in [`FrameHeader::rsv`](crate::frame::FrameHeader::rsv).
pub(crate) const RSV1: u8 = 0b100;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn elements_parse() {
        assert_eq!(
            Extension::parse("permessage-deflate").unwrap(),
            Extension::new("permessage-deflate")
        );
        assert_eq!(
            Extension::parse("a;b;c=d").unwrap(),
            Extension::new("a")
                .with_param("b", None)
                .with_param("c", Some("d"))
        );
        assert_eq!(
            Extension::parse("a ;\tb = \"x\\yz\" ").unwrap(),
            Extension::new("a").with_param("b", Some("xyz"))
        );
        assert_eq!(Extension::parse(""), Err(ExtensionError::InvalidName));
        assert_eq!(Extension::parse("; b"), Err(ExtensionError::InvalidName));
        assert_eq!(
            Extension::parse("a;"),
            Err(ExtensionError::InvalidParamName)
        );
        assert_eq!(
            Extension::parse("a; =1"),
            Err(ExtensionError::InvalidParamName)
        );
        assert_eq!(
            Extension::parse("a; b="),
            Err(ExtensionError::MissingParamValue { name: "b".into() })
        );
        assert_eq!(
            Extension::parse("a; b=\"1"),
            Err(ExtensionError::UnterminatedQuotedString)
        );
        assert_eq!(
            Extension::parse("a; b=\"1\\"),
            Err(ExtensionError::UnterminatedQuotedString)
        );
        assert_eq!(
            Extension::parse("a; b=\"\""),
            Err(ExtensionError::QuotedValueNotToken { name: "b".into() })
        );
        assert_eq!(
            Extension::parse("a b"),
            Err(ExtensionError::UnexpectedCharacter { found: 'b' })
        );
        assert_eq!(
            Extension::parse("a; b=1 2"),
            Err(ExtensionError::UnexpectedCharacter { found: '2' })
        );
        assert_eq!(Extension::parse("é"), Err(ExtensionError::InvalidName));
    }

    #[test]
    fn lists_split_outside_quotes() {
        assert_eq!(
            split_list(b" a; x=\"1,\\\"2\" , ,b,"),
            [&b"a; x=\"1,\\\"2\""[..], b"b"]
        );
        assert_eq!(split_list(b"a; x=\"1,2"), [&b"a; x=\"1,2"[..]]);
        assert!(split_list(b" , ").is_empty());
    }

    #[test]
    fn display_quotes_only_what_is_not_a_token() {
        let ext = Extension::new("x")
            .with_param("a", None)
            .with_param("b", Some("1"))
            .with_param("c", Some("p q\"\\"));
        assert_eq!(ext.to_string(), r#"x; a; b=1; c="p q\"\\""#);
    }

    #[test]
    fn header_elements_cover_every_field_line() {
        let mut headers = Headers::new();
        headers.push("Sec-WebSocket-Extensions", "a; q=\"x,y\", b");
        headers.push("sec-websocket-extensions", b"c, \xff");
        assert_eq!(header_elements(&headers), ["a; q=\"x,y\"", "b", "c"]);
    }
}
