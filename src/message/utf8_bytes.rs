//! [`Utf8Bytes`]: text that shares its buffer.

use alloc::string::String;
use bytes::Bytes;
use core::fmt;

/// Bytes that hold valid UTF-8: a text message that shares its buffer with
/// the frame it came in.
///
/// Every way to build one checks the bytes, or takes them from a `str` or
/// from a check already made (a text message the connection validated), so
/// [`as_str`](Self::as_str) and `Deref<Target = str>` cost nothing.
///
/// ```
/// use wsmachine::message::Utf8Bytes;
///
/// let text = Utf8Bytes::try_from(bytes::Bytes::from_static("héllo".as_bytes())).unwrap();
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text, "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Bytes already known to be UTF-8: a text message the connection
    /// validated as it arrived, or the join of its fragments.
    pub(crate) fn from_checked(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text, without a second check.
    ///
    /// Re-checking here was a linear scan on every access: a driver that
    /// sends a received text back paid it once per message, half of a
    /// 16 KiB text echo's time (`cargo bench --bench utf8 -- as_str`
    /// compares the two).
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        debug_assert!(core::str::from_utf8(&self.0).is_ok());
        // SAFETY: every constructor of `Utf8Bytes` checks its bytes
        // (`TryFrom<Bytes>`), takes them from a `str` (`From<String>`,
        // `From<&str>`), or from bytes the crate validated as UTF-8
        // (`from_checked`), and the bytes are never changed afterwards.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = core::str::Utf8Error;

    /// Checks that `bytes` are UTF-8 and wraps them without copying.
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text))
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies the text.
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<&String> for Utf8Bytes {
    /// Copies the text.
    fn from(text: &String) -> Self {
        Utf8Bytes::from(text.as_str())
    }
}

impl Utf8Bytes {
    /// Text in static memory, without a copy.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }
}

impl core::ops::Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl core::borrow::Borrow<str> for Utf8Bytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<Utf8Bytes> for String {
    fn from(text: Utf8Bytes) -> Self {
        String::from(text.as_str())
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Self {
        text.0
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl crate::event::Piece {
    /// A text piece as text, without checking it again: the connection
    /// checked it as it came, and a text piece never splits a character.
    /// `None` for a binary piece.
    ///
    /// ```
    /// use core::time::Duration;
    /// use wsmachine::{Event, Server, config::Config};
    ///
    /// let config = Config::default().piece_size(Some(1024));
    /// let mut server = Server::new_open(config, Duration::ZERO);
    /// // A masked text frame of 4 bytes ("h€"), of which 2 have arrived.
    /// server.receive(Duration::ZERO, &[0x81, 0x84, 0, 0, 0, 0, b'h', 0xe2])?;
    /// let Some(Event::Piece(piece)) = server.poll_event() else { panic!() };
    /// assert_eq!(piece.text().unwrap(), "h"); // the € waits for its bytes
    /// server.receive(Duration::ZERO, &[0x82, 0xac])?;
    /// let Some(Event::Piece(piece)) = server.poll_event() else { panic!() };
    /// assert_eq!(piece.text().unwrap(), "€");
    /// assert!(piece.message_end);
    /// # Ok::<(), wsmachine::Error>(())
    /// ```
    pub fn text(&self) -> Option<Utf8Bytes> {
        (self.kind == crate::protocol::DataKind::Text)
            .then(|| Utf8Bytes::from_checked(self.payload.clone()))
    }
}
