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
    /// Nothing is validated here; serialisation refuses names that are not
    /// tokens and values that contain CR, LF or NUL.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.entries.push((name.into(), value.into()));
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
        before - self.entries.len()
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
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
