//! An ordered header list that keeps duplicates and the original case.

use crate::invariant::Kept;
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
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// Every name, back to back.
    names: String,
    /// Every value, back to back.
    values: Vec<u8>,
    /// For each field, where its name ends in `names` and its value ends in
    /// `values`; both start where the previous field's end. Three buffers
    /// however many fields, so a list costs three allocations to build or
    /// clone instead of two per field.
    ends: Vec<(usize, usize)>,
}

impl Headers {
    /// An empty list.
    pub const fn new() -> Self {
        Headers {
            names: String::new(),
            values: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// An empty list with room for `fields` fields whose names and values
    /// total `name_bytes` and `value_bytes`.
    pub(crate) fn with_capacity(fields: usize, name_bytes: usize, value_bytes: usize) -> Self {
        Headers {
            names: String::with_capacity(name_bytes),
            values: Vec::with_capacity(value_bytes),
            ends: Vec::with_capacity(fields),
        }
    }

    /// The number of fields, counting each repeated line.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends a field, keeping any earlier field of the same name.
    ///
    /// Nothing is validated here; the writers in [`crate::http`] refuse a
    /// list holding a field that [`Headers::try_push`] would refuse. Use
    /// `try_push` to find out at once.
    pub fn push(&mut self, name: impl AsRef<str>, value: impl AsRef<[u8]>) {
        self.names.push_str(name.as_ref());
        self.values.extend_from_slice(value.as_ref());
        self.ends.push((self.names.len(), self.values.len()));
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
        name: impl AsRef<str>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), HeaderError> {
        check_field(name.as_ref(), value.as_ref())?;
        self.push(name, value);
        Ok(())
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of the first field called `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field called `name`, returning how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let mut kept = Headers::with_capacity(self.len(), self.names.len(), self.values.len());
        for (field_name, value) in self.iter() {
            if !field_name.eq_ignore_ascii_case(name) {
                kept.push(field_name, value);
            }
        }
        let removed = self.len().saturating_sub(kept.len());
        *self = kept;
        removed
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            headers: self,
            index: 0,
            name_start: 0,
            value_start: 0,
        }
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

/// [`trim_ows`] on text. OWS is ASCII, so both cuts fall between
/// characters.
pub(crate) fn trim_ows_str(s: &str) -> &str {
    let trimmed = trim_ows(s.as_bytes());
    let start = trimmed.as_ptr().addr() - s.as_ptr().addr();
    s.get(start..start + trimmed.len()).kept()
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The fields of a [`Headers`] list as `(name, value)`, in order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    headers: &'a Headers,
    index: usize,
    name_start: usize,
    value_start: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let &(name_end, value_end) = self.headers.ends.get(self.index)?;
        // Every end was recorded after a whole name was appended, so it is a
        // character boundary.
        let name = self.headers.names.get(self.name_start..name_end).kept();
        let value = self.headers.values.get(self.value_start..value_end).kept();
        self.index += 1;
        self.name_start = name_end;
        self.value_start = value_end;
        Some((name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.headers.ends.len().saturating_sub(self.index);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl core::fmt::Debug for Headers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Values as text where they are text, so a list reads like a head.
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn fields_keep_order_case_and_bytes_through_remove_and_clone() {
        let mut headers = Headers::new();
        headers.push("Host", "example.com");
        headers.push("X-Ünïcode", "naïve");
        headers.push("x-empty", "");
        headers.push("X-Bytes", [0xff, 0x80, b'a']);
        headers.push("HOST", String::from("second"));
        let fields: Vec<(&str, &[u8])> = headers.iter().collect();
        assert_eq!(
            fields,
            [
                ("Host", &b"example.com"[..]),
                ("X-Ünïcode", "naïve".as_bytes()),
                ("x-empty", b""),
                ("X-Bytes", &[0xff, 0x80, b'a']),
                ("HOST", b"second"),
            ]
        );
        assert_eq!(headers.iter().len(), 5);
        let copy = headers.clone();
        assert_eq!(copy, headers);
        assert_eq!(headers.remove("host"), 2);
        let mut expected = Headers::new();
        expected.push("X-Ünïcode", "naïve");
        expected.push("x-empty", "");
        expected.push("X-Bytes", [0xff, 0x80, b'a']);
        assert_eq!(headers, expected);
        assert_ne!(headers, copy);
        assert_eq!(headers.get("x-bytes"), Some(&[0xff, 0x80, b'a'][..]));
        assert_eq!(headers.get("HOST"), None);
        assert_eq!(
            alloc::format!("{expected:?}"),
            "[(\"X-Ünïcode\", \"naïve\"), (\"x-empty\", \"\"), (\"X-Bytes\", \"\u{fffd}\u{fffd}a\")]"
        );
    }

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
    fn ows_is_sp_and_htab_on_bytes_and_text() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"\r\na\n"), b"\r\na\n");
        assert_eq!(trim_ows_str("\t\u{e9}t\u{e9} "), "\u{e9}t\u{e9}");
        assert_eq!(trim_ows_str(" \t "), "");
        assert_eq!(trim_ows_str(""), "");
    }

    #[test]
    fn tokens_trim_ows_and_skip_empty_and_non_utf8() {
        let mut headers = Headers::new();
        headers.push("X", " a ,\tb\t,, ,");
        headers.push("Y", "ignored");
        headers.push("x", b"\xff, c");
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
