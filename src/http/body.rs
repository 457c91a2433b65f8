//! How an HTTP/1.1 message body is delimited (RFC 9112 §6.3), and a bounded
//! decoder for it.
//!
//! [`BodyFraming`] reads the framing from the header section;
//! [`BodyDecoder`] then collects the body, stopping exactly at its end so
//! that the bytes after it are never mistaken for body (or for anything
//! else).

use bytes::{Bytes, BytesMut};

use super::chunked::{ChunkedDecoder, ChunkedError, ChunkedLimits};
use super::{Headers, is_tchar, trim_ows};
use crate::invariant::Kept;

/// How the end of a message body is found (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// The message has no body.
    None,
    /// The body is exactly this many bytes.
    ContentLength(u64),
    /// The body uses the chunked transfer coding.
    Chunked,
    /// The body runs until the peer closes the connection.
    UntilEof,
}

/// A header section whose body framing is invalid, or a body that broke its
/// framing or a limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// A `Content-Length` value is not a plain decimal number (`1*DIGIT`)
    /// that fits in 64 bits.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// `Content-Length` fields or list members disagree.
    #[error("conflicting Content-Length values")]
    ConflictingContentLengths,
    /// A `Transfer-Encoding` value is empty or has a member that is not a
    /// transfer coding (a token, optionally with parameters).
    #[error("invalid Transfer-Encoding")]
    InvalidTransferEncoding,
    /// `chunked` appears in `Transfer-Encoding` more than once.
    #[error("chunked transfer coding applied more than once")]
    ChunkedAppliedTwice,
    /// A request's `Transfer-Encoding` does not end with `chunked`, so its
    /// length cannot be determined.
    #[error("request Transfer-Encoding does not end with chunked")]
    RequestNotChunked,
    /// The decoded body would exceed [`BodyLimits::max_body`].
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The peer closed the connection before the body was complete.
    #[error("body truncated after {received} bytes")]
    Truncated {
        /// Decoded body bytes received.
        received: u64,
        /// The declared length, when the framing has one.
        expected: Option<u64>,
    },
    /// The chunked framing is invalid or exceeds a [`ChunkedLimits`] bound.
    #[error("invalid chunked body: {0}")]
    Chunked(#[source] ChunkedError),
}

/// The members of a comma-separated list field over all its lines, OWS
/// trimmed, empty members included (RFC 9110 §5.6.1).
fn list_members<'a>(headers: &'a Headers, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .get_all(name)
        .flat_map(|value| value.split(|&b| b == b','))
        .map(trim_ows)
}

/// The value of `Content-Length`, if present.
fn content_length(headers: &Headers) -> Result<Option<u64>, BodyError> {
    let mut length = None;
    for member in list_members(headers, "content-length") {
        // RFC 9110 §8.6: Content-Length = 1*DIGIT; no sign, no hex prefix,
        // no inner whitespace, not empty.
        if member.is_empty() || !member.iter().all(u8::is_ascii_digit) {
            return Err(BodyError::InvalidContentLength);
        }
        let value = member.iter().try_fold(0u64, |acc, &digit| {
            let digit = char::from(digit).to_digit(10)?;
            acc.checked_mul(10)?.checked_add(u64::from(digit))
        });
        let value = value.ok_or(BodyError::InvalidContentLength)?;
        match length {
            // RFC 9110 §8.6: identical repeated values may be folded into one;
            // differing ones make the framing unknowable.
            Some(previous) if previous != value => {
                return Err(BodyError::ConflictingContentLengths);
            }
            _ => length = Some(value),
        }
    }
    Ok(length)
}

/// Whether the final transfer coding is `chunked`, if `Transfer-Encoding` is
/// present.
fn ends_with_chunked(headers: &Headers) -> Result<Option<bool>, BodyError> {
    if !headers.contains("transfer-encoding") {
        return Ok(None);
    }
    let mut last_is_chunked = None;
    let mut seen_chunked = false;
    // RFC 9110 §5.6.1: empty list members are ignored.
    for member in list_members(headers, "transfer-encoding").filter(|m| !m.is_empty()) {
        // RFC 9110 §10.1.4: transfer-coding = token *( OWS ";" OWS
        // transfer-parameter ); only the name matters here.
        let (name, parameters) = match member.iter().position(|&b| b == b';') {
            Some(at) => (trim_ows(member.get(..at).kept()), true),
            None => (member, false),
        };
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(BodyError::InvalidTransferEncoding);
        }
        let is_chunked = name.eq_ignore_ascii_case(b"chunked");
        if is_chunked {
            // RFC 9112 §7: chunked has no parameters.
            if parameters {
                return Err(BodyError::InvalidTransferEncoding);
            }
            // RFC 9112 §7.1: a sender MUST NOT apply chunked more than once.
            if seen_chunked {
                return Err(BodyError::ChunkedAppliedTwice);
            }
            seen_chunked = true;
        }
        last_is_chunked = Some(is_chunked);
    }
    // RFC 9112 §6.1: Transfer-Encoding = #transfer-coding, with at least one
    // member in practice; a field with none says nothing usable.
    last_is_chunked
        .map(Some)
        .ok_or(BodyError::InvalidTransferEncoding)
}

impl BodyFraming {
    /// The framing of a response to a request other than HEAD or CONNECT
    /// (for example the GET of an opening handshake).
    ///
    /// 1xx, 204 and 304 responses have no body whatever their headers say.
    /// `Transfer-Encoding` wins over `Content-Length`: the body is chunked
    /// when `chunked` is the final coding, and runs until EOF otherwise
    /// (other codings are not undone; the raw bytes are the body). Without
    /// either field the body runs until EOF.
    ///
    /// # Errors
    ///
    /// [`BodyError::InvalidContentLength`],
    /// [`BodyError::ConflictingContentLengths`],
    /// [`BodyError::InvalidTransferEncoding`] or
    /// [`BodyError::ChunkedAppliedTwice`] when the framing is unknowable.
    ///
    /// ```
    /// use wsmachine::http::{BodyFraming, Headers};
    ///
    /// let mut headers = Headers::new();
    /// headers.push("Content-Length", "12");
    /// assert_eq!(BodyFraming::for_response(200, &headers), Ok(BodyFraming::ContentLength(12)));
    /// assert_eq!(BodyFraming::for_response(304, &headers), Ok(BodyFraming::None));
    /// assert_eq!(BodyFraming::for_response(200, &Headers::new()), Ok(BodyFraming::UntilEof));
    /// ```
    pub fn for_response(status: u16, headers: &Headers) -> Result<BodyFraming, BodyError> {
        // RFC 9112 §6.3 rule 1: 1xx, 204 and 304 responses end at the header
        // section, whatever their header fields say.
        if (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(BodyFraming::None);
        }
        // RFC 9112 §6.3 rules 3 and 4: Transfer-Encoding overrides
        // Content-Length; a response whose final coding is not chunked is
        // delimited by the connection closing.
        match ends_with_chunked(headers)? {
            Some(true) => return Ok(BodyFraming::Chunked),
            Some(false) => return Ok(BodyFraming::UntilEof),
            None => {}
        }
        // RFC 9112 §6.3 rules 5, 6 and 8.
        Ok(match content_length(headers)? {
            Some(length) => BodyFraming::ContentLength(length),
            None => BodyFraming::UntilEof,
        })
    }

    /// The framing of a request.
    ///
    /// A request without `Content-Length` or `Transfer-Encoding` has no body;
    /// a request never reads until EOF. `Transfer-Encoding` wins over
    /// `Content-Length`.
    ///
    /// # Errors
    ///
    /// [`BodyError::RequestNotChunked`] when `Transfer-Encoding` is present
    /// but its final coding is not `chunked` (RFC 9112 §6.3 rule 4: the
    /// server answers 400 and closes), and the errors of
    /// [`for_response`](Self::for_response) for invalid fields.
    ///
    /// ```
    /// use wsmachine::http::{BodyError, BodyFraming, Headers};
    ///
    /// assert_eq!(BodyFraming::for_request(&Headers::new()), Ok(BodyFraming::None));
    /// let mut headers = Headers::new();
    /// headers.push("Transfer-Encoding", "gzip");
    /// assert_eq!(BodyFraming::for_request(&headers), Err(BodyError::RequestNotChunked));
    /// ```
    pub fn for_request(headers: &Headers) -> Result<BodyFraming, BodyError> {
        // RFC 9112 §6.3 rules 3 and 4: Transfer-Encoding overrides
        // Content-Length, and a request whose final coding is not chunked
        // cannot be delimited.
        match ends_with_chunked(headers)? {
            Some(true) => return Ok(BodyFraming::Chunked),
            Some(false) => return Err(BodyError::RequestNotChunked),
            None => {}
        }
        // RFC 9112 §6.3 rules 5, 6 and 7.
        Ok(match content_length(headers)? {
            Some(length) => BodyFraming::ContentLength(length),
            None => BodyFraming::None,
        })
    }
}

/// Bounds on one message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// Most decoded body bytes kept.
    ///
    /// Default 1 MiB: the body of a rejected handshake is an error page or
    /// message meant for logs and users; 1 MiB is ample for that and keeps a
    /// hostile peer from making the client buffer without bound.
    pub max_body: usize,
    /// Bounds on chunked framing overhead (size lines, extensions,
    /// trailers), which is not counted in `max_body`.
    pub chunked: ChunkedLimits,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            max_body: 1024 * 1024,
            chunked: ChunkedLimits::default(),
        }
    }
}

/// Where a [`BodyDecoder`] is.
#[derive(Clone, Debug)]
enum Progress {
    /// Nothing more belongs to the body.
    Complete,
    /// A Content-Length body with `remaining` of `expected` bytes to come.
    Length {
        remaining: u64,
        expected: u64,
    },
    Chunked(ChunkedDecoder),
    /// A body delimited by EOF, which has not been seen yet.
    UntilEof,
}

/// An empty trailer list for bodies that are not chunked.
static NO_TRAILERS: Headers = Headers::new();

/// Collects one message body according to its [`BodyFraming`], within
/// [`BodyLimits`].
///
/// Feed it input with [`decode`](Self::decode); it consumes body bytes only
/// and stops at the end of the body. Report the peer closing the stream with
/// [`finish_eof`](Self::finish_eof). The body decoded so far is available
/// from [`body`](Self::body) at any time, also after an error.
///
/// A `Content-Length` above [`BodyLimits::max_body`] is refused before any
/// byte is read: [`new`](Self::new) records the error, and the first
/// [`decode`](Self::decode) or [`finish_eof`](Self::finish_eof) returns
/// [`BodyError::BodyTooLarge`].
///
/// ```
/// use wsmachine::http::{BodyDecoder, BodyFraming, BodyLimits, Headers};
///
/// let mut headers = Headers::new();
/// headers.push("Transfer-Encoding", "chunked");
/// let framing = BodyFraming::for_response(503, &headers)?;
/// assert_eq!(framing, BodyFraming::Chunked);
///
/// let mut decoder = BodyDecoder::new(framing, BodyLimits::default());
/// let wire = b"b\r\nbusy, sorry\r\n0\r\nRetry-After: 5\r\n\r\n";
/// assert_eq!(decoder.decode(wire)?, wire.len());
/// assert!(decoder.is_complete());
/// let (body, trailers) = decoder.into_parts();
/// assert_eq!(&body[..], b"busy, sorry");
/// assert_eq!(trailers.get("retry-after"), Some(&b"5"[..]));
/// # Ok::<(), wsmachine::http::BodyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BodyDecoder {
    framing: BodyFraming,
    limits: BodyLimits,
    progress: Progress,
    body: BytesMut,
    error: Option<BodyError>,
}

impl BodyDecoder {
    /// A decoder for a body with the given framing.
    pub fn new(framing: BodyFraming, limits: BodyLimits) -> Self {
        let max_body = u64::try_from(limits.max_body).unwrap_or(u64::MAX);
        let mut error = None;
        let progress = match framing {
            BodyFraming::None | BodyFraming::ContentLength(0) => Progress::Complete,
            BodyFraming::ContentLength(length) => {
                if length > max_body {
                    error = Some(BodyError::BodyTooLarge {
                        limit: limits.max_body,
                    });
                }
                Progress::Length {
                    remaining: length,
                    expected: length,
                }
            }
            BodyFraming::Chunked => {
                Progress::Chunked(ChunkedDecoder::new(limits.chunked, max_body))
            }
            BodyFraming::UntilEof => Progress::UntilEof,
        };
        BodyDecoder {
            framing,
            limits,
            progress,
            body: BytesMut::new(),
            error,
        }
    }

    /// The framing this decoder follows.
    pub fn framing(&self) -> BodyFraming {
        self.framing
    }

    /// Consumes body bytes from `input`, returning how many were consumed.
    ///
    /// Stops at the end of the body: bytes after it are not consumed, so the
    /// caller can report or discard them. Once the body is complete, every
    /// call returns 0.
    ///
    /// # Errors
    ///
    /// [`BodyError::BodyTooLarge`] when the body would exceed
    /// [`BodyLimits::max_body`] (an until-EOF body keeps its first
    /// `max_body` bytes), and [`BodyError::Chunked`] for invalid chunked
    /// framing. The decoder then stays failed and returns the same error.
    pub fn decode(&mut self, input: &[u8]) -> Result<usize, BodyError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let result = match &mut self.progress {
            Progress::Complete => Ok(0),
            Progress::Length {
                remaining,
                expected: _,
            } => {
                let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                let (data, _) = input.split_at_checked(take).unwrap_or((input, &[]));
                self.body.extend_from_slice(data);
                *remaining =
                    remaining.saturating_sub(u64::try_from(data.len()).unwrap_or(u64::MAX));
                if *remaining == 0 {
                    self.progress = Progress::Complete;
                }
                Ok(data.len())
            }
            Progress::Chunked(decoder) => {
                decoder
                    .decode(input, &mut self.body)
                    .map_err(|error| match error {
                        ChunkedError::BodyTooLarge { .. } => BodyError::BodyTooLarge {
                            limit: self.limits.max_body,
                        },
                        other => BodyError::Chunked(other),
                    })
            }
            Progress::UntilEof => {
                let room = self.limits.max_body.saturating_sub(self.body.len());
                let (data, _) = input.split_at_checked(room).unwrap_or((input, &[]));
                self.body.extend_from_slice(data);
                if input.len() > room {
                    Err(BodyError::BodyTooLarge {
                        limit: self.limits.max_body,
                    })
                } else {
                    Ok(input.len())
                }
            }
        };
        if let Err(error) = &result {
            self.error = Some(error.clone());
        }
        result
    }

    /// Whether the whole body has been read.
    ///
    /// An until-EOF body is complete only once [`finish_eof`](Self::finish_eof)
    /// has been called.
    pub fn is_complete(&self) -> bool {
        match &self.progress {
            Progress::Complete => true,
            Progress::Chunked(decoder) => decoder.is_done(),
            Progress::Length { .. } | Progress::UntilEof => false,
        }
    }

    /// Tells the decoder the peer closed the stream.
    ///
    /// This completes an until-EOF body; for any other framing the body must
    /// already be complete.
    ///
    /// # Errors
    ///
    /// [`BodyError::Truncated`] if the body was not complete (the bytes
    /// decoded so far stay available from [`body`](Self::body)), or the error
    /// the decoder had already failed with.
    pub fn finish_eof(&mut self) -> Result<(), BodyError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let truncated = match &self.progress {
            Progress::Complete => None,
            Progress::UntilEof => {
                self.progress = Progress::Complete;
                None
            }
            Progress::Length {
                remaining,
                expected,
            } => Some(BodyError::Truncated {
                received: expected.saturating_sub(*remaining),
                expected: Some(*expected),
            }),
            Progress::Chunked(decoder) if decoder.is_done() => None,
            Progress::Chunked(decoder) => Some(BodyError::Truncated {
                received: decoder.decoded_len(),
                expected: None,
            }),
        };
        match truncated {
            None => Ok(()),
            Some(error) => {
                self.error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// The body decoded so far, also after an error.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The trailer fields of a chunked body (empty for other framings).
    pub fn trailers(&self) -> &Headers {
        match &self.progress {
            Progress::Chunked(decoder) => decoder.trailers(),
            _ => &NO_TRAILERS,
        }
    }

    /// Consumes the decoder, returning the body and the trailer fields.
    pub fn into_parts(self) -> (Bytes, Headers) {
        let trailers = match self.progress {
            Progress::Chunked(decoder) => decoder.into_trailers(),
            _ => Headers::new(),
        };
        (self.body.freeze(), trailers)
    }
}

#[cfg(test)]
mod tests;
