//! Incremental parsing of HTTP/1.1 request and response heads (RFC 9112).
//!
//! [`HeadParser`] looks at each received byte once, as it arrives: it finds
//! the end of the head, enforces the [`HeadLimits`] and refuses the cheap
//! structural faults (bare CR or LF, control characters, folded lines, a bad
//! start line) without waiting for the rest of the head. Only when the blank
//! line that ends the head has arrived does it hand the head to `httparse`,
//! once. A head that trickles in one byte per read therefore costs O(n) in
//! total, not the O(n²) of re-parsing the whole buffer on every read
//! (CVE-2023-43669 in tungstenite).
//!
//! Decisions where RFC 9112 leaves the recipient a choice:
//! - Line endings must be CRLF. RFC 9112 §2.2 lets a recipient accept a bare
//!   LF, but two parties that disagree on line endings disagree on where a
//!   head ends, which is how requests get smuggled; a bare LF or a CR that is
//!   not followed by LF is refused, in requests and responses alike.
//! - Empty lines before the start line are refused. RFC 9112 §2.2 says a
//!   server SHOULD ignore at least one; they exist for connections reused
//!   after a body with a stray trailing CRLF, and a handshake is the first
//!   message on its connection.
//! - Obsolete line folding (RFC 9112 §5.2) and whitespace before the first
//!   header field (RFC 9112 §2.2) are refused in responses too, where the RFC
//!   also allows unfolding: a handshake peer has no reason to fold.
//! - A reason phrase that is not UTF-8 is converted lossily (invalid
//!   sequences become U+FFFD): RFC 9112 §4 tells a client to ignore the
//!   reason's content, so it is no ground for failing.
//! - A response status line without the space and reason phrase after the
//!   code (`HTTP/1.1 101`) is accepted, with an empty reason.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;

use super::headers::{Headers, is_tchar};
use crate::invariant::Kept;

/// Bounds on the size of a head, checked as bytes arrive.
///
/// The defaults follow what widely deployed servers enforce (nginx's
/// `large_client_header_buffers 4 8k`, Apache's `LimitRequestLine 8190` and
/// `LimitRequestFields 100`), so a client that works with them works here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// The longest start line or header line, in bytes, without its CRLF.
    ///
    /// Default 8 KiB (8192). Browsers' long lines are URLs and cookies, which
    /// the servers named above already cap at 8 KiB; a line longer than that
    /// is an attacker sending one unending line to make the server buffer it.
    pub max_line_len: usize,
    /// The longest whole head, in bytes, including every CRLF and the blank
    /// line that ends it.
    ///
    /// Default 32 KiB (32768), nginx's total for a request head. A browser's
    /// opening handshake is well under 2 KiB; this bounds the memory one
    /// connection can pin before it is refused.
    pub max_head_len: usize,
    /// The most header fields (lines after the start line).
    ///
    /// Default 128. A browser's handshake sends about 15 fields; attackers
    /// send many tiny ones to make the per-field work dominate. 128 leaves
    /// room for proxies that add their own.
    pub max_headers: usize,
}

impl HeadLimits {
    /// The default limits: 8 KiB lines, 32 KiB heads, 128 fields.
    pub const DEFAULT: HeadLimits = HeadLimits {
        max_line_len: 8 * 1024,
        max_head_len: 32 * 1024,
        max_headers: 128,
    };
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits::DEFAULT
    }
}

/// The HTTP versions a head may carry: HTTP/1.0 and HTTP/1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl HttpVersion {
    /// The version as it appears on the wire, e.g. `"HTTP/1.1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
        }
    }
}

impl core::fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, a token, with its case kept (methods are case-sensitive).
    pub method: String,
    /// The request target as sent: visible ASCII, not decoded.
    pub target: String,
    /// The protocol version.
    pub version: HttpVersion,
    /// The header fields in order, names in their original case, values with
    /// the surrounding whitespace removed.
    pub headers: Headers,
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code, 100 to 999.
    pub status: u16,
    /// The reason phrase, possibly empty; converted lossily if not UTF-8.
    pub reason: String,
    /// The protocol version.
    pub version: HttpVersion,
    /// The header fields in order, names in their original case, values with
    /// the surrounding whitespace removed.
    pub headers: Headers,
}

/// Why a head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The request line is longer than [`HeadLimits::max_line_len`] (414).
    #[error("request line longer than {limit} bytes")]
    RequestLineTooLong {
        /// The limit that was passed.
        limit: usize,
    },
    /// The status line is longer than [`HeadLimits::max_line_len`].
    #[error("status line longer than {limit} bytes")]
    StatusLineTooLong {
        /// The limit that was passed.
        limit: usize,
    },
    /// A header line is longer than [`HeadLimits::max_line_len`] (431).
    #[error("header line longer than {limit} bytes")]
    HeaderLineTooLong {
        /// The limit that was passed.
        limit: usize,
    },
    /// The head is longer than [`HeadLimits::max_head_len`] (431).
    #[error("head longer than {limit} bytes")]
    HeadTooLarge {
        /// The limit that was passed.
        limit: usize,
    },
    /// The head has more than [`HeadLimits::max_headers`] fields (431).
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// The limit that was passed.
        limit: usize,
    },
    /// A well-formed HTTP version other than 1.0 and 1.1 (505).
    #[error("unsupported HTTP version {major}.{minor}")]
    UnsupportedVersion {
        /// The major version digit.
        major: u8,
        /// The minor version digit.
        minor: u8,
    },
    /// An HTTP/1.1 request without a Host field (400).
    #[error("HTTP/1.1 request without a Host field")]
    MissingHost,
    /// A request with more than one Host field (400).
    #[error("request with more than one Host field")]
    DuplicateHost,
    /// The bytes are not a well-formed head (400).
    #[error("malformed head: {0}")]
    Malformed(MalformedKind),
}

/// What kind of fault a [`HeadError`] is, for the failure categories of the
/// layers above (handshake and proxy errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadFault {
    /// A line, the head or the number of fields is over its limit.
    TooLarge,
    /// An HTTP version other than 1.x.
    Version,
    /// Not well-formed HTTP.
    Malformed,
}

impl HeadError {
    /// Its kind of fault.
    pub(crate) fn fault(&self) -> HeadFault {
        match self {
            HeadError::RequestLineTooLong { .. }
            | HeadError::StatusLineTooLong { .. }
            | HeadError::HeaderLineTooLong { .. }
            | HeadError::HeadTooLarge { .. }
            | HeadError::TooManyHeaders { .. } => HeadFault::TooLarge,
            HeadError::UnsupportedVersion { .. } => HeadFault::Version,
            HeadError::MissingHost | HeadError::DuplicateHost | HeadError::Malformed(_) => {
                HeadFault::Malformed
            }
        }
    }

    /// The status code a server answers a request refused with this error:
    /// 414, 431, 505 or 400.
    ///
    /// Errors that only responses produce map to 400; a client has no one to
    /// answer.
    ///
    /// ```
    /// use wsmachine::http::HeadError;
    ///
    /// assert_eq!(HeadError::RequestLineTooLong { limit: 8192 }.server_status(), 414);
    /// assert_eq!(HeadError::TooManyHeaders { limit: 128 }.server_status(), 431);
    /// assert_eq!(HeadError::UnsupportedVersion { major: 2, minor: 0 }.server_status(), 505);
    /// ```
    pub const fn server_status(&self) -> u16 {
        match self {
            HeadError::RequestLineTooLong { .. } => 414,
            HeadError::HeaderLineTooLong { .. }
            | HeadError::HeadTooLarge { .. }
            | HeadError::TooManyHeaders { .. } => 431,
            HeadError::UnsupportedVersion { .. } => 505,
            HeadError::StatusLineTooLong { .. }
            | HeadError::MissingHost
            | HeadError::DuplicateHost
            | HeadError::Malformed(_) => 400,
        }
    }
}

/// The precise fault in a malformed head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedKind {
    /// A LF not preceded by CR.
    #[error("bare LF line ending")]
    BareLf,
    /// A CR not followed by LF.
    #[error("CR not followed by LF")]
    BareCr,
    /// A control character other than HTAB, or DEL.
    #[error("control character")]
    ControlCharacter,
    /// An empty line before the start line.
    #[error("empty line before the start line")]
    LeadingEmptyLine,
    /// Whitespace at the start of the first header line.
    #[error("whitespace between the start line and the first header field")]
    WhitespaceBeforeFirstHeader,
    /// A header line starting with whitespace: obsolete line folding.
    #[error("obsolete line folding")]
    ObsoleteLineFolding,
    /// The request method is not a token.
    #[error("invalid method")]
    InvalidMethod,
    /// The request target is missing or holds a byte other than visible ASCII.
    #[error("invalid request target")]
    InvalidTarget,
    /// The protocol version is missing or not of the form `HTTP/x.y`.
    #[error("invalid HTTP version")]
    InvalidVersion,
    /// The status code is not three digits from 100 to 999 followed by SP or
    /// the end of the line.
    #[error("invalid status code")]
    InvalidStatusCode,
    /// A header line without a colon, or whose name is not a token (this
    /// includes whitespace before the colon, RFC 9112 §5.1).
    #[error("invalid header name")]
    InvalidHeaderName,
    /// A header value with a byte httparse refuses.
    #[error("invalid header value")]
    InvalidHeaderValue,
    /// httparse refused the head for a reason the checks before it did not
    /// single out.
    #[error("refused by the HTTP parser")]
    Unrecognised,
}

impl From<MalformedKind> for HeadError {
    fn from(kind: MalformedKind) -> Self {
        HeadError::Malformed(kind)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeadKind {
    Request,
    Response,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Still looking for the blank line that ends the head.
    Scanning,
    /// The head ends after `head_len` bytes.
    Complete { head_len: usize },
    /// Refused; every later call reports the same error.
    Failed(HeadError),
}

/// An incremental parser for one request or response head.
///
/// Feed it the growing buffer of received bytes; it remembers how far it
/// has looked, so each byte is examined once however the head is split.
///
/// ```
/// use wsmachine::http::{HeadLimits, HeadParser, HttpVersion};
///
/// let wire = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\nrest";
/// let mut parser = HeadParser::new(HeadLimits::default());
/// assert_eq!(parser.parse_request(&wire[..30])?, None);
/// let (request, head_len) = parser.parse_request(wire)?.expect("complete head");
/// assert_eq!(request.method, "GET");
/// assert_eq!(request.target, "/chat");
/// assert_eq!(request.version, HttpVersion::Http11);
/// assert_eq!(request.headers.get_str("upgrade"), Some("websocket"));
/// assert_eq!(&wire[head_len..], b"rest");
/// # Ok::<(), wsmachine::http::HeadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HeadParser {
    limits: HeadLimits,
    /// Which kind of head the scan so far was for, once a call has been made.
    kind: Option<HeadKind>,
    state: State,
    /// How many bytes of the buffer have been examined.
    scanned: usize,
    /// Offset of the first byte of the line being scanned.
    line_start: usize,
    /// 0 for the start line, then 1, 2, ... for header lines.
    line_index: usize,
    /// Whether the last byte examined was a CR.
    after_cr: bool,
    /// Length of the start line without its CRLF, once it has ended.
    start_line_len: usize,
    /// Times httparse ran, across resets (the work-count tests read it).
    #[cfg(test)]
    httparse_calls: usize,
    /// Bytes examined by the scan, across resets.
    #[cfg(test)]
    examined: usize,
}

impl Default for HeadParser {
    fn default() -> Self {
        HeadParser::new(HeadLimits::default())
    }
}

impl HeadParser {
    /// A parser that enforces `limits`.
    pub const fn new(limits: HeadLimits) -> Self {
        HeadParser {
            limits,
            kind: None,
            state: State::Scanning,
            scanned: 0,
            line_start: 0,
            line_index: 0,
            after_cr: false,
            start_line_len: 0,
            #[cfg(test)]
            httparse_calls: 0,
            #[cfg(test)]
            examined: 0,
        }
    }

    /// The limits this parser enforces.
    pub const fn limits(&self) -> HeadLimits {
        self.limits
    }

    /// Start over for the next head (e.g. after an interim 1xx response,
    /// whose bytes the caller dropped).
    pub fn reset(&mut self) {
        *self = HeadParser {
            #[cfg(test)]
            httparse_calls: self.httparse_calls,
            #[cfg(test)]
            examined: self.examined,
            ..HeadParser::new(self.limits)
        };
    }

    /// Parses a request head from the bytes received so far.
    ///
    /// `buf` holds every byte received so far for this head, starting at the
    /// head's first byte; earlier bytes must be unchanged between calls (the
    /// caller appends). Only the bytes added since the last call are
    /// examined. Once the head is complete, bytes after `head_len` are not
    /// part of it (they are the body, or the next protocol's bytes).
    ///
    /// A buffer shorter than what was already examined, or a switch from
    /// [`HeadParser::parse_response`], restarts the scan from the first byte.
    /// After a complete head or an error, later calls give the same outcome
    /// until [`HeadParser::reset`].
    ///
    /// # Errors
    ///
    /// A [`HeadError`] as soon as the bytes so far break a rule or a limit;
    /// see [`HeadError::server_status`] for the answer a server owes.
    pub fn parse_request(&mut self, buf: &[u8]) -> Result<Option<(Request, usize)>, HeadError> {
        let Some(head_len) = self.advance(buf, HeadKind::Request)? else {
            return Ok(None);
        };
        let outcome = self.finish_request(buf, head_len);
        self.settle(outcome.map(|request| Some((request, head_len))))
    }

    /// Parses a response head from the bytes received so far.
    ///
    /// The contract on `buf` is that of [`HeadParser::parse_request`]. An
    /// interim (1xx) response is returned like any other; the caller drops
    /// its bytes and calls [`HeadParser::reset`] before the next head.
    ///
    /// # Errors
    ///
    /// A [`HeadError`] as soon as the bytes so far break a rule or a limit.
    ///
    /// ```
    /// use wsmachine::http::{HeadParser, HttpVersion};
    ///
    /// let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    /// let (response, head_len) = HeadParser::default().parse_response(wire)?.expect("complete");
    /// assert_eq!((response.status, response.reason.as_str()), (101, "Switching Protocols"));
    /// assert_eq!(head_len, wire.len());
    /// # Ok::<(), wsmachine::http::HeadError>(())
    /// ```
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<Option<(Response, usize)>, HeadError> {
        let Some(head_len) = self.advance(buf, HeadKind::Response)? else {
            return Ok(None);
        };
        let outcome = self.finish_response(buf, head_len);
        self.settle(outcome.map(|response| Some((response, head_len))))
    }

    /// Records a final error so that later calls repeat it.
    fn settle<T>(&mut self, outcome: Result<T, HeadError>) -> Result<T, HeadError> {
        if let Err(error) = outcome {
            self.state = State::Failed(error);
        }
        outcome
    }

    /// Brings the scan up to the end of `buf`: the head's length once its
    /// end has been seen.
    fn advance(&mut self, buf: &[u8], kind: HeadKind) -> Result<Option<usize>, HeadError> {
        let examined = match self.state {
            State::Complete { head_len } => head_len,
            _ => self.scanned,
        };
        if self.kind != Some(kind) || buf.len() < examined {
            // The caller broke the contract (other kind, shrunken buffer):
            // start again rather than trust state built from other bytes.
            self.reset();
            self.kind = Some(kind);
        }
        match self.state {
            State::Failed(error) => Err(error),
            State::Complete { head_len } => Ok(Some(head_len)),
            State::Scanning => match self.scan(buf, kind) {
                Ok(Some(head_len)) => {
                    self.state = State::Complete { head_len };
                    Ok(Some(head_len))
                }
                Ok(None) => Ok(None),
                Err(error) => {
                    self.state = State::Failed(error);
                    Err(error)
                }
            },
        }
    }

    /// Examines the bytes of `buf` not yet seen, one at a time.
    fn scan(&mut self, buf: &[u8], kind: HeadKind) -> Result<Option<usize>, HeadError> {
        let limits = self.limits;
        loop {
            self.skip_plain_words(buf);
            let Some(&byte) = buf.get(self.scanned) else {
                break;
            };
            let offset = self.scanned;
            // Cannot overflow: `offset` indexes `buf`, so `offset + 1 <= buf.len()`.
            self.scanned = offset.saturating_add(1);
            #[cfg(test)]
            {
                self.examined += 1;
            }
            if self.scanned > limits.max_head_len {
                return Err(HeadError::HeadTooLarge {
                    limit: limits.max_head_len,
                });
            }

            if self.after_cr {
                // RFC 9112 §2.2: lines end with CRLF; a lone CR is refused.
                if byte != b'\n' {
                    return Err(MalformedKind::BareCr.into());
                }
                self.after_cr = false;
                // The line is line_start..offset - 1 (the CR is at offset - 1).
                let line_end = offset.saturating_sub(1);
                let line = buf.get(self.line_start..line_end).kept();
                if line.is_empty() {
                    if self.line_index == 0 {
                        // RFC 9112 §2.2: a server SHOULD ignore empty lines
                        // before the request line; we refuse them (see the
                        // module docs).
                        return Err(MalformedKind::LeadingEmptyLine.into());
                    }
                    // RFC 9112 §2.1: an empty line ends the head.
                    return Ok(Some(self.scanned));
                }
                if self.line_index == 0 {
                    match kind {
                        HeadKind::Request => {
                            parse_request_line(line)?;
                        }
                        HeadKind::Response => {
                            parse_status_line(line)?;
                        }
                    }
                    self.start_line_len = line.len();
                }
                self.line_index = self.line_index.saturating_add(1);
                self.line_start = self.scanned;
                continue;
            }

            match byte {
                b'\r' => self.after_cr = true,
                // RFC 9112 §2.2: a recipient MAY accept a bare LF; we refuse it
                // so that no other party can see a different end of line.
                b'\n' => return Err(MalformedKind::BareLf.into()),
                _ if is_ctl(byte) => return Err(MalformedKind::ControlCharacter.into()),
                _ => {
                    if offset == self.line_start && self.line_index > 0 {
                        self.check_header_line_start(byte)?;
                    }
                    let line_len = self.scanned.saturating_sub(self.line_start);
                    if line_len > limits.max_line_len {
                        let limit = limits.max_line_len;
                        return Err(match (self.line_index, kind) {
                            (0, HeadKind::Request) => HeadError::RequestLineTooLong { limit },
                            (0, HeadKind::Response) => HeadError::StatusLineTooLong { limit },
                            _ => HeadError::HeaderLineTooLong { limit },
                        });
                    }
                }
            }
        }
        Ok(None)
    }

    /// Moves the scan over whole 8-byte words in the middle of a line that
    /// hold no CR, LF or other control character, and stops short of the
    /// byte that would pass the head or line limit, so that each rule is
    /// still applied by the byte loop, at the byte it concerns. Most of a
    /// head is such bytes.
    fn skip_plain_words(&mut self, buf: &[u8]) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        if self.after_cr || self.scanned == self.line_start {
            return;
        }
        let line_len = self.scanned.saturating_sub(self.line_start);
        let allowed = (self.limits.max_head_len.saturating_sub(self.scanned))
            .min(self.limits.max_line_len.saturating_sub(line_len));
        let end = self.scanned.saturating_add(allowed).min(buf.len());
        #[cfg(test)]
        let start = self.scanned;
        while let Some(chunk) = buf
            .get(self.scanned..end)
            .and_then(|rest| rest.first_chunk::<8>())
        {
            let word = u64::from_le_bytes(*chunk);
            // A byte below 0x20 (which includes CR, LF and TAB), or DEL.
            // Exact for whether any byte matches: a borrow only starts at a
            // byte below 0x20.
            let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
            let del = word ^ (ONES * 0x7f);
            let is_del = del.wrapping_sub(ONES) & !del & HIGH;
            if below_space | is_del != 0 {
                break;
            }
            self.scanned += 8;
        }
        #[cfg(test)]
        {
            self.examined += self.scanned - start;
        }
    }

    /// Checks the first byte of header line number `self.line_index`.
    fn check_header_line_start(&self, byte: u8) -> Result<(), HeadError> {
        if byte == b' ' || byte == b'\t' {
            return Err(if self.line_index == 1 {
                // RFC 9112 §2.2: whitespace between the start line and the
                // first field must be refused or the line ignored.
                MalformedKind::WhitespaceBeforeFirstHeader.into()
            } else {
                // RFC 9112 §5.2: a server MUST refuse obs-fold (or unfold
                // it); we refuse it in responses too.
                MalformedKind::ObsoleteLineFolding.into()
            });
        }
        if self.line_index > self.limits.max_headers {
            return Err(HeadError::TooManyHeaders {
                limit: self.limits.max_headers,
            });
        }
        Ok(())
    }

    /// The number of header lines of the complete head.
    fn header_count(&self) -> usize {
        // The blank line's index is one more than the number of fields.
        self.line_index.saturating_sub(1)
    }

    fn finish_request(&mut self, buf: &[u8], head_len: usize) -> Result<Request, HeadError> {
        let head = buf.get(..head_len).kept();
        let start_line = head.get(..self.start_line_len).kept();
        let (method, target, version) = parse_request_line(start_line)?;

        let mut slots = vec![httparse::EMPTY_HEADER; self.header_count()];
        let mut parsed = httparse::Request::new(&mut slots);
        self.count_httparse_call();
        check_httparse(parsed.parse(head), head_len, self.limits)?;
        let headers = collect_headers(parsed.headers);

        // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request
        // without Host and to any request with more than one Host line.
        match headers.get_all("host").count() {
            0 if version == HttpVersion::Http11 => return Err(HeadError::MissingHost),
            0 | 1 => {}
            _ => return Err(HeadError::DuplicateHost),
        }

        Ok(Request {
            method: method.to_owned(),
            target: target.to_owned(),
            version,
            headers,
        })
    }

    fn finish_response(&mut self, buf: &[u8], head_len: usize) -> Result<Response, HeadError> {
        let head = buf.get(..head_len).kept();
        let start_line = head.get(..self.start_line_len).kept();
        let (version, status, reason) = parse_status_line(start_line)?;

        let mut slots = vec![httparse::EMPTY_HEADER; self.header_count()];
        let mut parsed = httparse::Response::new(&mut slots);
        self.count_httparse_call();
        check_httparse(parsed.parse(head), head_len, self.limits)?;
        let headers = collect_headers(parsed.headers);

        Ok(Response {
            status,
            // httparse replaces a reason holding obs-text with "", so the
            // reason is taken from the line itself.
            reason: String::from_utf8_lossy(reason).into_owned(),
            version,
            headers,
        })
    }

    #[cfg(test)]
    fn count_httparse_call(&mut self) {
        self.httparse_calls += 1;
    }

    #[cfg(not(test))]
    fn count_httparse_call(&mut self) {}
}

/// Maps httparse's verdict on a complete head to ours.
fn check_httparse(
    verdict: httparse::Result<usize>,
    head_len: usize,
    limits: HeadLimits,
) -> Result<(), HeadError> {
    match verdict {
        Ok(httparse::Status::Complete(len)) if len == head_len => Ok(()),
        // The scan found the blank line, so httparse ends there too; anything
        // else means the two disagree, and the head is refused.
        Ok(_) => Err(MalformedKind::Unrecognised.into()),
        Err(httparse::Error::HeaderName) => Err(MalformedKind::InvalidHeaderName.into()),
        Err(httparse::Error::HeaderValue) => Err(MalformedKind::InvalidHeaderValue.into()),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders {
            limit: limits.max_headers,
        }),
        // The start line and line endings were checked before; httparse
        // refusing them anyway is reported without guessing.
        Err(_) => Err(MalformedKind::Unrecognised.into()),
    }
}

fn collect_headers(parsed: &[httparse::Header<'_>]) -> Headers {
    let name_bytes = parsed.iter().map(|field| field.name.len()).sum();
    let value_bytes = parsed.iter().map(|field| field.value.len()).sum();
    let mut headers = Headers::with_capacity(parsed.len(), name_bytes, value_bytes);
    for field in parsed {
        headers.push(field.name, field.value);
    }
    headers
}

/// RFC 5234 CTL, less HTAB (allowed in field values and reason phrases).
/// CR and LF are handled before this is asked.
const fn is_ctl(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7F
}

/// Splits `line` at its first SP: the part before, and the part after if
/// there is a SP.
fn split_at_space(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(|&b| b == b' ') {
        Some(at) => {
            let (before, after) = line.split_at(at);
            (before, after.get(1..))
        }
        None => (line, None),
    }
}

/// RFC 9112 §3: `request-line = method SP request-target SP HTTP-version`,
/// with single spaces.
fn parse_request_line(line: &[u8]) -> Result<(&str, &str, HttpVersion), HeadError> {
    let (method, rest) = split_at_space(line);
    // RFC 9112 §3.1: method = token.
    let method = core::str::from_utf8(method)
        .ok()
        .filter(|m| !m.is_empty() && m.bytes().all(is_tchar))
        .ok_or(MalformedKind::InvalidMethod)?;
    let (target, version) = split_at_space(rest.ok_or(MalformedKind::InvalidTarget)?);
    // RFC 9112 §3.2: the target is a URI form, so visible ASCII only, at least
    // one byte.
    if target.is_empty() || !target.iter().all(|b| matches!(b, 0x21..=0x7E)) {
        return Err(MalformedKind::InvalidTarget.into());
    }
    let target = core::str::from_utf8(target).map_err(|_| MalformedKind::InvalidTarget)?;
    let version = parse_version(version.ok_or(MalformedKind::InvalidVersion)?)?;
    Ok((method, target, version))
}

/// RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`,
/// also accepting a line that ends right after the code.
fn parse_status_line(line: &[u8]) -> Result<(HttpVersion, u16, &[u8]), HeadError> {
    let (version, rest) = split_at_space(line);
    let version = parse_version(version)?;
    let rest = rest.ok_or(MalformedKind::InvalidStatusCode)?;
    // RFC 9112 §4: status-code = 3DIGIT; RFC 9110 §15: the first digit is
    // the class, 1 to 5 in use, so "0xx" is never valid.
    let (code, after) = match rest {
        [
            h @ b'1'..=b'9',
            t @ b'0'..=b'9',
            o @ b'0'..=b'9',
            after @ ..,
        ] => {
            let code = u16::from(h - b'0') * 100 + u16::from(t - b'0') * 10 + u16::from(o - b'0');
            (code, after)
        }
        _ => return Err(MalformedKind::InvalidStatusCode.into()),
    };
    let reason = match after {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(MalformedKind::InvalidStatusCode.into()),
    };
    Ok((version, code, reason))
}

/// RFC 9112 §2.3: `HTTP-version = "HTTP" "/" DIGIT "." DIGIT`, case-sensitive.
fn parse_version(field: &[u8]) -> Result<HttpVersion, HeadError> {
    match field {
        b"HTTP/1.0" => Ok(HttpVersion::Http10),
        b"HTTP/1.1" => Ok(HttpVersion::Http11),
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            major @ b'0'..=b'9',
            b'.',
            minor @ b'0'..=b'9',
        ] => Err(HeadError::UnsupportedVersion {
            major: major - b'0',
            minor: minor - b'0',
        }),
        _ => Err(MalformedKind::InvalidVersion.into()),
    }
}

#[cfg(test)]
mod tests;
