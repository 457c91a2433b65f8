//! An ordered header list that keeps duplicates and the original case.

use alloc::string::String;
use alloc::vec::Vec;

/// An ordered list of header fields.
///
/// Duplicates and the original spelling of names are kept, because a
/// handshake must sometimes look at every line of a repeated field
/// (`Connection`, `Sec-WebSocket-Protocol`, ...). Lookups ignore ASCII case.
///
/// Values are bytes: HTTP allows obs-text (bytes 0x80–0xFF) in field values,
/// so a value is not necessarily UTF-8.
///
/// ```
/// use wsmachine::http::Headers;
///
/// let mut headers = Headers::new();
/// headers.push("Connection", "keep-alive");
/// headers.push("connection", "Upgrade");
/// assert_eq!(headers.get("CONNECTION"), Some(&b"keep-alive"[..]));
/// assert_eq!(headers.get_all("Connection").count(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, Vec<u8>)>,
}

impl Headers {
    /// An empty list.
    pub const fn new() -> Self {
        Headers {
            entries: Vec::new(),
        }
    }

    /// The number of fields, counting each repeated line.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a field, keeping any earlier field of the same name.
    ///
    /// Nothing is validated here; the writers in [`crate::http`] refuse a
    /// list holding a field that [`Headers::try_push`] would refuse. Use
    /// `try_push` to find out at once.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Appends a field after checking that it can be serialised as is.
    ///
    /// The name must be a token ([`is_token`]) and the value must match the
    /// RFC 9110 `field-value` grammar ([`is_field_value`]): no control
    /// characters other than HTAB (so no CR, LF or NUL), no DEL, and no
    /// leading or trailing whitespace, since a recipient strips that
    /// whitespace and the value would not survive the trip.
    ///
    /// # Errors
    ///
    /// [`HeaderError::InvalidName`] or [`HeaderError::InvalidValue`]; the list
    /// is unchanged.
    ///
    /// ```
    /// use wsmachine::http::{HeaderError, Headers};
    ///
    /// let mut headers = Headers::new();
    /// headers.try_push("Upgrade", "websocket")?;
    /// assert!(matches!(
    ///     headers.try_push("X-Evil", "a\r\nSet-Cookie: b"),
    ///     Err(HeaderError::InvalidValue { .. })
    /// ));
    /// assert!(matches!(
    ///     headers.try_push("Foo\r\nX", "y"),
    ///     Err(HeaderError::InvalidName { .. })
    /// ));
    /// assert_eq!(headers.len(), 1);
    /// # Ok::<(), HeaderError>(())
    /// ```
    pub fn try_push(
        &mut self,
        name: impl Into<String>,
        value: impl Into<Vec<u8>>,
    ) -> Result<(), HeaderError> {
        let name = name.into();
        let value = value.into();
        check_field(&name, &value)?;
        self.entries.push((name, value));
        Ok(())
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The value of the first field called `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field called `name`, returning how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        // `retain` only shrinks the list.
        before.saturating_sub(self.entries.len())
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The elements of the comma-separated list `name`, over every line of it.
    ///
    /// RFC 9110 §5.3: a field sent as several lines means the same as one line
    /// holding the values joined with commas, so every line counts.
    /// RFC 9110 §5.6.1: elements are separated by commas with optional
    /// whitespace around them, and empty elements are ignored. Elements that
    /// are not UTF-8 are skipped. Quoted strings are not understood: this is
    /// for token lists such as `Connection` or `Upgrade`.
    ///
    /// ```
    /// use wsmachine::http::Headers;
    ///
    /// let mut headers = Headers::new();
    /// headers.push("Connection", "keep-alive, ,Upgrade ");
    /// headers.push("connection", "close");
    /// let tokens: Vec<&str> = headers.tokens("Connection").collect();
    /// assert_eq!(tokens, ["keep-alive", "Upgrade", "close"]);
    /// ```
    pub fn tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|value| value.split(|&b| b == b',').map(trim_ows))
            .filter(|element| !element.is_empty())
            .filter_map(|element| core::str::from_utf8(element).ok())
    }

    /// Whether the comma-separated list `name` holds `token`, ignoring ASCII case.
    ///
    /// See [`Headers::tokens`] for how the list is split.
    ///
    /// ```
    /// use wsmachine::http::Headers;
    ///
    /// let mut headers = Headers::new();
    /// headers.push("Connection", "keep-alive");
    /// headers.push("Connection", "upgrade");
    /// assert!(headers.contains_token("connection", "Upgrade"));
    /// assert!(!headers.contains_token("Connection", "close"));
    /// ```
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name)
            .any(|element| element.eq_ignore_ascii_case(token))
    }

    /// The first field that [`Headers::try_push`] would refuse, as that error.
    ///
    /// # Errors
    ///
    /// [`HeaderError::InvalidName`] or [`HeaderError::InvalidValue`] for the
    /// first offending field.
    pub fn validate(&self) -> Result<(), HeaderError> {
        self.iter()
            .try_for_each(|(name, value)| check_field(name, value))
    }
}

/// Why a header field cannot be serialised.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The name is empty or holds a byte that is not a token character.
    #[error("invalid header name {name:?}: not an RFC 9110 token")]
    InvalidName {
        /// The refused name.
        name: String,
    },
    /// The value holds a control character, DEL, or whitespace at either end.
    #[error("invalid value for header {name:?}: control character or surrounding whitespace")]
    InvalidValue {
        /// The name of the field whose value was refused.
        name: String,
    },
}

fn check_field(name: &str, value: &[u8]) -> Result<(), HeaderError> {
    if !is_token(name) {
        return Err(HeaderError::InvalidName { name: name.into() });
    }
    if !is_field_value(value) {
        return Err(HeaderError::InvalidValue { name: name.into() });
    }
    Ok(())
}

/// Whether `b` is an RFC 9110 §5.6.2 `tchar`.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Whether `s` is an RFC 9110 §5.6.2 token: one or more of
/// `` !#$%&'*+-.^_`|~ ``, digits and ASCII letters.
///
/// Methods and field names are tokens.
///
/// ```
/// use wsmachine::http::is_token;
///
/// assert!(is_token("Sec-WebSocket-Key"));
/// assert!(!is_token(""));
/// assert!(!is_token("Foo\r\nX: y"));
/// assert!(!is_token("a b"));
/// ```
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `value` matches the RFC 9110 §5.5 `field-value` grammar.
///
/// That is: empty, or visible ASCII and obs-text (0x80–0xFF) with SP and HTAB
/// allowed only between them. CR, LF, NUL, every other control character and
/// DEL are refused, and so is whitespace at either end.
///
/// ```
/// use wsmachine::http::is_field_value;
///
/// assert!(is_field_value(b"keep-alive, Upgrade"));
/// assert!(is_field_value(b""));
/// assert!(!is_field_value(b" padded"));
/// assert!(!is_field_value(b"a\r\nb"));
/// assert!(!is_field_value(b"nul\0"));
/// ```
pub fn is_field_value(value: &[u8]) -> bool {
    // RFC 9110 §5.5: field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
    let inner_ok = value
        .iter()
        .all(|&b| is_field_vchar(b) || b == b' ' || b == b'\t');
    let ends_ok = match (value.first(), value.last()) {
        (Some(&first), Some(&last)) => is_field_vchar(first) && is_field_vchar(last),
        _ => true,
    };
    inner_ok && ends_ok
}

/// RFC 9110 §5.5: `field-vchar = VCHAR / obs-text`.
const fn is_field_vchar(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0x80..=0xFF)
}

/// Strips RFC 9110 §5.6.3 optional whitespace (SP / HTAB, unlike
/// `trim_ascii`) from both ends.
pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = core::iter::Map<
        core::slice::Iter<'a, (String, Vec<u8>)>,
        fn(&'a (String, Vec<u8>)) -> (&'a str, &'a [u8]),
    >;

    fn into_iter(self) -> Self::IntoIter {
        fn pair(entry: &(String, Vec<u8>)) -> (&str, &[u8]) {
            (entry.0.as_str(), entry.1.as_slice())
        }
        self.entries.iter().map(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn token_list_across_lines_and_case() {
        let mut headers = Headers::new();
        headers.push("Connection", "keep-alive, Upgrade");
        assert!(headers.contains_token("connection", "upgrade"));
        assert!(headers.contains_token("CONNECTION", "KEEP-ALIVE"));
        assert!(!headers.contains_token("Connection", "upgrad"));
        assert!(!headers.contains_token("Upgrade", "upgrade"));

        let mut split = Headers::new();
        split.push("Connection", "keep-alive");
        split.push("connection", "upgrade");
        assert!(split.contains_token("Connection", "Upgrade"));
    }

    #[test]
    fn tokens_trim_ows_and_skip_empty_and_non_utf8() {
        let mut headers = Headers::new();
        headers.push("X", " a ,\tb\t,, ,");
        headers.push("Y", "ignored");
        headers.push("x", b"\xff, c".to_vec());
        headers.push("X", "");
        let tokens: Vec<&str> = headers.tokens("x").collect();
        assert_eq!(tokens, vec!["a", "b", "c"]);
    }

    #[test]
    fn token_matching_is_whole_element() {
        let mut headers = Headers::new();
        headers.push("Connection", "Upgrade-Insecure");
        assert!(!headers.contains_token("Connection", "Upgrade"));
    }

    #[test]
    fn is_token_accepts_every_tchar_and_nothing_else() {
        for b in 0u8..=127 {
            let s = [b];
            let Ok(text) = core::str::from_utf8(&s) else {
                continue;
            };
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_token(text), expected, "byte {b:#04x}");
        }
        assert!(!is_token("é"));
        assert!(!is_token(""));
    }

    #[test]
    fn field_value_rules() {
        assert!(is_field_value(b"a\tb c"));
        assert!(is_field_value(b"\x80\xff"));
        assert!(is_field_value(b"x"));
        for bad in [
            &b"a\rb"[..],
            b"a\nb",
            b"a\0b",
            b"a\x7fb",
            b"a\x01b",
            b" a",
            b"a ",
            b"\ta",
            b"a\t",
            b" ",
        ] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn try_push_refuses_injection_and_leaves_list_unchanged() {
        let mut headers = Headers::new();
        assert_eq!(
            headers.try_push("Foo\r\nX", "y"),
            Err(HeaderError::InvalidName {
                name: "Foo\r\nX".into()
            })
        );
        assert_eq!(
            headers.try_push("", "y"),
            Err(HeaderError::InvalidName { name: "".into() })
        );
        assert_eq!(
            headers.try_push("Foo", "a\r\nX: y"),
            Err(HeaderError::InvalidValue { name: "Foo".into() })
        );
        assert_eq!(
            headers.try_push("Foo", "nul\0"),
            Err(HeaderError::InvalidValue { name: "Foo".into() })
        );
        assert!(headers.is_empty());
        assert_eq!(headers.try_push("Foo", ""), Ok(()));
        assert_eq!(headers.try_push("Foo", "a\tb"), Ok(()));
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn validate_reports_first_bad_field() {
        let mut headers = Headers::new();
        headers.push("Good", "1");
        assert_eq!(headers.validate(), Ok(()));
        headers.push("Bad Name", "1");
        headers.push("Bad-Value", "\n");
        assert_eq!(
            headers.validate(),
            Err(HeaderError::InvalidName {
                name: "Bad Name".into()
            })
        );
    }
}
