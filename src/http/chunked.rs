//! Incremental decoder for the HTTP/1.1 chunked transfer coding (RFC 9112 §7.1).
//!
//! [`ChunkedDecoder`] is a byte-at-a-time state machine for the framing and a
//! bulk copier for chunk data: it accepts input split at any byte, never looks
//! at a byte twice, and never reserves memory for data that has not arrived.
//! Every violation of the grammar is a [`ChunkedError`]; lenient parsing of
//! chunked framing is what request-smuggling and response-splitting attacks
//! feed on, so nothing outside the grammar is tolerated.
//!
//! ```
//! use bytes::BytesMut;
//! use wsmachine::http::chunked::{ChunkedDecoder, ChunkedLimits};
//!
//! let mut decoder = ChunkedDecoder::new(ChunkedLimits::default(), 1024);
//! let mut body = BytesMut::new();
//! let wire = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nExpires: never\r\n\r\nNEXT";
//!
//! // Input may arrive in any pieces.
//! let first = decoder.decode(&wire[..9], &mut body)?;
//! let second = decoder.decode(&wire[first..], &mut body)?;
//! assert_eq!(first, 9);
//! assert_eq!(first + second, wire.len() - 4, "bytes after the body are left alone");
//! assert!(decoder.is_done());
//! assert_eq!(&body[..], b"hello world");
//! assert_eq!(decoder.trailers().get("expires"), Some(&b"never"[..]));
//! # Ok::<(), wsmachine::http::chunked::ChunkedError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use bytes::BytesMut;

use super::{Headers, is_tchar, trim_ows};
use crate::invariant::Kept;

/// Bounds on the framing overhead of one chunked body.
///
/// The decoded data itself is bounded separately, by the `max_body` given to
/// [`ChunkedDecoder::new`]. These limits bound the bytes a peer can make the
/// decoder read, and the memory it can make it keep, without producing data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedLimits {
    /// Longest chunk-size line, counting the hex digits and the whitespace
    /// after them (not the extensions, not the CRLF).
    ///
    /// Default 64: a `u64` size needs at most 16 digits, and 64 leaves room for
    /// padding with leading zeros while stopping an endless run of `0`s, which
    /// would otherwise keep the decoder busy forever without producing data.
    pub max_size_line: usize,
    /// Total chunk-extension bytes (from each `;` up to its CRLF) over the
    /// whole body.
    ///
    /// Default 16 KiB: extensions carry nothing this crate uses, so they are
    /// skipped; the bound stops a peer from sending unlimited traffic that is
    /// read but never counted as body, for example a great many tiny chunks
    /// each with a long extension (the Node.js CVE-2024-22019 pattern).
    pub max_extension_bytes: usize,
    /// Total bytes of the trailer section: every field line with its CRLF,
    /// not counting the empty line that ends the body.
    ///
    /// Default 8 KiB: trailers are kept in memory, and a rejected handshake
    /// has no use for large ones; 8 KiB is in line with what servers accept
    /// for a whole header section.
    pub max_trailer_bytes: usize,
    /// Most trailer fields.
    ///
    /// Default 32: bounds the number of allocations for the trailer list
    /// independently of their total size.
    pub max_trailers: usize,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits {
            max_size_line: 64,
            max_extension_bytes: 16 * 1024,
            max_trailer_bytes: 8 * 1024,
            max_trailers: 32,
        }
    }
}

/// A violation of the chunked framing, or of a limit.
///
/// Once a decoder has returned an error, it returns the same error on every
/// later call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkedError {
    /// A chunk-size line has no hex digits before `;` or CRLF.
    #[error("chunk size is empty")]
    EmptySize,
    /// A byte in the chunk size that is not a hex digit, whitespace, `;` or
    /// CR (for example the `x` of `0x10`, or a `+`, `-` or `_`).
    #[error("invalid byte 0x{byte:02x} in chunk size")]
    InvalidSizeDigit {
        /// The offending byte.
        byte: u8,
    },
    /// The chunk size does not fit in 64 bits.
    #[error("chunk size overflows 64 bits")]
    SizeOverflow,
    /// The chunk-size digits and the whitespace after them are longer than
    /// [`ChunkedLimits::max_size_line`].
    #[error("chunk-size line longer than {limit} bytes")]
    SizeLineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Whitespace before the chunk size, or inside it.
    #[error("whitespace before or inside a chunk size")]
    InvalidWhitespace,
    /// A LF that is not preceded by CR.
    #[error("bare LF in chunked framing")]
    BareLf,
    /// A CR that is not followed by LF.
    #[error("CR not followed by LF in chunked framing")]
    BareCr,
    /// The bytes after a chunk's data are not CRLF.
    #[error("chunk data not followed by CRLF")]
    MissingCrlfAfterData,
    /// The chunk extensions of the body add up to more than
    /// [`ChunkedLimits::max_extension_bytes`].
    #[error("chunk extensions longer than {limit} bytes")]
    ExtensionsTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A trailer line that is not `token ":" OWS value OWS`, or whose value
    /// holds a control character.
    #[error("malformed trailer field")]
    InvalidTrailer,
    /// The trailer section is longer than [`ChunkedLimits::max_trailer_bytes`].
    #[error("trailer section longer than {limit} bytes")]
    TrailersTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// More trailer fields than [`ChunkedLimits::max_trailers`].
    #[error("more than {limit} trailer fields")]
    TooManyTrailers {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A chunk would take the decoded body past the `max_body` given to
    /// [`ChunkedDecoder::new`]; raised when its size is known, before any of
    /// its data is accepted.
    #[error("chunked body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit that was exceeded.
        limit: u64,
    },
}

/// Where the decoder is in the chunked grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size (possibly none yet).
    SizeDigits,
    /// Reading whitespace after the size digits.
    SizeWhitespace,
    /// Skipping chunk extensions up to the CR.
    Extension,
    /// Saw the CR ending a chunk-size line.
    SizeLf,
    /// Copying chunk data; this many bytes of the chunk are still to come.
    Data { remaining: u64 },
    /// Expecting the CR after a chunk's data.
    DataCr,
    /// Expecting the LF after a chunk's data.
    DataLf,
    /// Reading a trailer line, or the empty line ending the body.
    TrailerLine,
    /// Saw the CR ending a trailer line.
    TrailerLf,
    /// The final CRLF has been read.
    Done,
}

/// An incremental decoder for one chunked message body (RFC 9112 §7.1).
///
/// Feed it input with [`decode`](Self::decode) in pieces of any size; it
/// appends chunk data to the buffer given, keeps trailer fields in
/// [`trailers`](Self::trailers), and stops exactly after the final CRLF.
/// Work is linear in the input, and memory is bounded by `max_body` plus
/// [`ChunkedLimits::max_trailer_bytes`].
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    limits: ChunkedLimits,
    max_body: u64,
    state: State,
    /// The chunk size read so far on the current size line.
    size: u64,
    /// Whether the current size line has at least one digit.
    size_has_digit: bool,
    /// Digits and whitespace on the current size line.
    size_line_len: usize,
    /// Extension bytes over the whole body.
    extension_bytes: usize,
    /// Trailer-section bytes so far.
    trailer_bytes: usize,
    /// The trailer line being read, without its CRLF.
    trailer_line: Vec<u8>,
    trailers: Headers,
    decoded_len: u64,
    error: Option<ChunkedError>,
}

/// Splits `bytes` after `n` bytes, or after all of them if there are fewer.
fn split_clamped(bytes: &[u8], n: usize) -> (&[u8], &[u8]) {
    bytes.split_at_checked(n).unwrap_or((bytes, &[]))
}

/// RFC 9110 §5.5: a field value is field-vchar (VCHAR / obs-text) with SP
/// and HTAB allowed between them; every other control byte is invalid.
fn is_field_value_byte(byte: u8) -> bool {
    matches!(byte, b'\t' | b' '..=b'~' | 0x80..=0xff)
}

/// Parses one trailer field line (without its CRLF) into a name and value.
fn parse_trailer_line(line: &[u8]) -> Result<(String, Vec<u8>), ChunkedError> {
    // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ChunkedError::InvalidTrailer)?;
    let (name, value_with_colon) = split_clamped(line, colon);
    let value = value_with_colon.get(1..).kept();
    // RFC 9110 §5.1: field-name = token. RFC 9112 §5.1 forbids whitespace
    // between the name and the colon, and a line starting with whitespace
    // (obs-fold) has no valid name; both fail the tchar check.
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ChunkedError::InvalidTrailer);
    }
    let value = trim_ows(value);
    if !value.iter().all(|&b| is_field_value_byte(b)) {
        return Err(ChunkedError::InvalidTrailer);
    }
    let name = core::str::from_utf8(name).map_err(|_| ChunkedError::InvalidTrailer)?;
    Ok((String::from(name), Vec::from(value)))
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    ///
    /// `max_body` bounds the decoded data: a chunk whose declared size would
    /// take the total past it is refused with
    /// [`ChunkedError::BodyTooLarge`] as soon as its size is read.
    pub fn new(limits: ChunkedLimits, max_body: u64) -> Self {
        ChunkedDecoder {
            limits,
            max_body,
            state: State::SizeDigits,
            size: 0,
            size_has_digit: false,
            size_line_len: 0,
            extension_bytes: 0,
            trailer_bytes: 0,
            trailer_line: Vec::new(),
            trailers: Headers::new(),
            decoded_len: 0,
            error: None,
        }
    }

    /// Decodes from `input`, appending chunk data to `out`.
    ///
    /// Returns how many bytes of `input` were consumed: all of them, unless
    /// the body ended inside `input`, in which case the bytes after the final
    /// CRLF are left unconsumed. Once the body is done, every call returns 0.
    ///
    /// Data decoded before an error stays in `out`.
    ///
    /// # Errors
    ///
    /// A [`ChunkedError`] for the first violation of the chunked grammar or
    /// of a limit. The decoder then stays failed: later calls return the same
    /// error and consume nothing.
    pub fn decode(&mut self, input: &[u8], out: &mut BytesMut) -> Result<usize, ChunkedError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let mut rest = input;
        let result = self.decode_inner(&mut rest, out);
        match result {
            Ok(()) => Ok(input.len().saturating_sub(rest.len())),
            Err(error) => {
                self.error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Whether the final CRLF of the body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The number of data bytes decoded so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded_len
    }

    /// The trailer fields read so far, in order.
    ///
    /// They are kept for the application only: nothing in them (not even a
    /// `Content-Length` or `Transfer-Encoding`) affects the framing.
    pub fn trailers(&self) -> &Headers {
        &self.trailers
    }

    /// Consumes the decoder, returning its trailer fields.
    pub fn into_trailers(self) -> Headers {
        self.trailers
    }

    /// Runs the state machine over `rest`, advancing it past what was used.
    fn decode_inner(&mut self, rest: &mut &[u8], out: &mut BytesMut) -> Result<(), ChunkedError> {
        loop {
            match self.state {
                State::Done => return Ok(()),
                State::Data { remaining } => {
                    if rest.is_empty() {
                        return Ok(());
                    }
                    // One copy for the whole run of data present in the input.
                    let run = usize::try_from(remaining).unwrap_or(usize::MAX);
                    let (data, tail) = split_clamped(rest, run);
                    out.extend_from_slice(data);
                    *rest = tail;
                    let copied = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    // Cannot saturate: decoded_len + remaining <= max_body was
                    // checked when the size was read, and copied <= remaining.
                    self.decoded_len = self.decoded_len.saturating_add(copied);
                    let remaining = remaining.saturating_sub(copied);
                    self.state = if remaining == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining }
                    };
                }
                _ => {
                    let Some((&byte, tail)) = rest.split_first() else {
                        return Ok(());
                    };
                    *rest = tail;
                    self.step(byte)?;
                }
            }
        }
    }

    /// Advances the framing state machine by one byte (never in `Data`).
    fn step(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match self.state {
            State::SizeDigits => self.step_size_digit(byte),
            State::SizeWhitespace => self.step_size_whitespace(byte),
            State::Extension => self.step_extension(byte),
            State::SizeLf => {
                // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF; the CR must be
                // followed by LF.
                if byte != b'\n' {
                    return Err(ChunkedError::BareCr);
                }
                self.state = if self.size == 0 {
                    State::TrailerLine
                } else {
                    State::Data {
                        remaining: self.size,
                    }
                };
                Ok(())
            }
            State::DataCr | State::DataLf => self.step_data_crlf(byte),
            State::TrailerLine => self.step_trailer_byte(byte),
            State::TrailerLf => self.step_trailer_lf(byte),
            // Data is copied in bulk by decode_inner, and Done reads nothing.
            State::Data { .. } | State::Done => Ok(()),
        }
    }

    fn step_size_digit(&mut self, byte: u8) -> Result<(), ChunkedError> {
        // RFC 9112 §7.1: chunk-size = 1*HEXDIG, either case.
        if let Some(digit) = char::from(byte).to_digit(16) {
            self.count_size_line_byte()?;
            self.size = self
                .size
                .checked_mul(16)
                .and_then(|size| size.checked_add(u64::from(digit)))
                .ok_or(ChunkedError::SizeOverflow)?;
            self.size_has_digit = true;
            return Ok(());
        }
        match byte {
            // RFC 9112 §7.1: a lone LF does not end a line.
            b'\n' => Err(ChunkedError::BareLf),
            // RFC 9112 §7.1: BWS may only follow the size, never precede it.
            b' ' | b'\t' if !self.size_has_digit => Err(ChunkedError::InvalidWhitespace),
            b' ' | b'\t' | b';' | b'\r' if !self.size_has_digit => Err(ChunkedError::EmptySize),
            b' ' | b'\t' | b';' | b'\r' => {
                self.check_body_limit()?;
                self.end_size_digits(byte)
            }
            _ => Err(ChunkedError::InvalidSizeDigit { byte }),
        }
    }

    fn step_size_whitespace(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match byte {
            b' ' | b'\t' | b';' | b'\r' => self.end_size_digits(byte),
            b'\n' => Err(ChunkedError::BareLf),
            // RFC 9112 §7.1: the size is one run of HEXDIG; "1 0" is not 16.
            _ if byte.is_ascii_hexdigit() => Err(ChunkedError::InvalidWhitespace),
            _ => Err(ChunkedError::InvalidSizeDigit { byte }),
        }
    }

    /// Handles the BWS, `;` or CR that follows the size digits.
    fn end_size_digits(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match byte {
            b';' => {
                self.count_extension_byte()?;
                self.state = State::Extension;
            }
            b'\r' => self.state = State::SizeLf,
            _ => {
                // RFC 9112 §7.1.1: BWS before ";" is SP / HTAB.
                self.count_size_line_byte()?;
                self.state = State::SizeWhitespace;
            }
        }
        Ok(())
    }

    fn step_extension(&mut self, byte: u8) -> Result<(), ChunkedError> {
        // RFC 9112 §7.1.1: extensions are skipped, quoted strings included;
        // a CR or LF ends the line whatever the quoting, so line framing
        // cannot be hidden inside an extension.
        match byte {
            b'\r' => {
                self.state = State::SizeLf;
                Ok(())
            }
            b'\n' => Err(ChunkedError::BareLf),
            _ => self.count_extension_byte(),
        }
    }

    fn step_data_crlf(&mut self, byte: u8) -> Result<(), ChunkedError> {
        // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF;
        // anything but CRLF right after the data is an error, never skipped.
        match (self.state, byte) {
            (State::DataCr, b'\r') => self.state = State::DataLf,
            (State::DataLf, b'\n') => self.start_size_line(),
            _ => return Err(ChunkedError::MissingCrlfAfterData),
        }
        Ok(())
    }

    fn step_trailer_byte(&mut self, byte: u8) -> Result<(), ChunkedError> {
        match byte {
            b'\r' => {
                self.state = State::TrailerLf;
                Ok(())
            }
            b'\n' => Err(ChunkedError::BareLf),
            _ => {
                if self.trailer_line.is_empty() && self.trailers.len() >= self.limits.max_trailers {
                    return Err(ChunkedError::TooManyTrailers {
                        limit: self.limits.max_trailers,
                    });
                }
                self.count_trailer_bytes(1)?;
                self.trailer_line.push(byte);
                Ok(())
            }
        }
    }

    fn step_trailer_lf(&mut self, byte: u8) -> Result<(), ChunkedError> {
        // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the
        // body ends with CRLF.
        if byte != b'\n' {
            return Err(ChunkedError::BareCr);
        }
        if self.trailer_line.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        self.count_trailer_bytes(2)?;
        let (name, value) = parse_trailer_line(&self.trailer_line)?;
        self.trailers.push(name, value);
        self.trailer_line.clear();
        self.state = State::TrailerLine;
        Ok(())
    }

    fn start_size_line(&mut self) {
        self.size = 0;
        self.size_has_digit = false;
        self.size_line_len = 0;
        self.state = State::SizeDigits;
    }

    fn check_body_limit(&self) -> Result<(), ChunkedError> {
        let fits = self
            .decoded_len
            .checked_add(self.size)
            .is_some_and(|total| total <= self.max_body);
        if fits {
            Ok(())
        } else {
            Err(ChunkedError::BodyTooLarge {
                limit: self.max_body,
            })
        }
    }

    fn count_size_line_byte(&mut self) -> Result<(), ChunkedError> {
        self.size_line_len = self.size_line_len.saturating_add(1);
        if self.size_line_len > self.limits.max_size_line {
            return Err(ChunkedError::SizeLineTooLong {
                limit: self.limits.max_size_line,
            });
        }
        Ok(())
    }

    fn count_extension_byte(&mut self) -> Result<(), ChunkedError> {
        self.extension_bytes = self.extension_bytes.saturating_add(1);
        if self.extension_bytes > self.limits.max_extension_bytes {
            return Err(ChunkedError::ExtensionsTooLong {
                limit: self.limits.max_extension_bytes,
            });
        }
        Ok(())
    }

    fn count_trailer_bytes(&mut self, n: usize) -> Result<(), ChunkedError> {
        self.trailer_bytes = self.trailer_bytes.saturating_add(n);
        if self.trailer_bytes > self.limits.max_trailer_bytes {
            return Err(ChunkedError::TrailersTooLarge {
                limit: self.limits.max_trailer_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
