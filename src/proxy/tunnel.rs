//! The CONNECT exchange as a state machine: the request out, the proxy's
//! answer in, and one outcome.

use alloc::boxed::Box;
use alloc::string::String;
use bytes::{Buf, Bytes, BytesMut};

use super::config::{ProxyConfig, ProxyConfigError, target_authority};
use crate::http::final_response::{FinalResponse, FinalResponseReader};
use crate::http::{
    BodyError, BodyLimits, HeadError, HeadFault, HeadParser, Headers, Response, WriteError,
    write_request,
};
use crate::invariant::Kept;

/// Why a tunnel failed: the proxy's answer is malformed, over a limit, or
/// cut short.
///
/// [`ProxyError::kind`] gives a category to count and filter by.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The response head is malformed or over a limit.
    #[error("invalid proxy response head: {0}")]
    InvalidResponseHead(HeadError),
    /// A 101 to a CONNECT, which asked for no protocol switch.
    #[error("proxy answered CONNECT with 101 Switching Protocols")]
    UnexpectedSwitch,
    /// The body of a refusal is malformed, truncated or over its limit. The
    /// status and headers were still reported as a [`ProxyRejection`].
    #[error("proxy rejection body: {0}")]
    RejectionBody(BodyError),
    /// The transport ended before the response head did.
    #[error("the transport ended before the proxy answered")]
    UnexpectedEof,
}

/// A category of tunnel failure, for metrics and log filtering.
///
/// ```
/// use wsmachine::proxy::{ProxyError, ProxyErrorKind};
///
/// assert_eq!(ProxyError::UnexpectedEof.kind(), ProxyErrorKind::Eof);
/// assert_eq!(ProxyErrorKind::Eof.as_str(), "eof");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProxyErrorKind {
    /// Bytes that are not well-formed HTTP.
    MalformedHttp,
    /// A head over a size limit.
    HeadTooLarge,
    /// An HTTP version other than 1.0 and 1.1.
    HttpVersion,
    /// A well-formed answer no CONNECT can get.
    InvalidResponse,
    /// A refusal whose body could not be read whole.
    RejectionBody,
    /// The transport ended before the answer.
    Eof,
}

impl ProxyErrorKind {
    /// A stable snake_case label, e.g. for a metrics dimension.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProxyErrorKind::MalformedHttp => "malformed_http",
            ProxyErrorKind::HeadTooLarge => "head_too_large",
            ProxyErrorKind::HttpVersion => "http_version",
            ProxyErrorKind::InvalidResponse => "invalid_response",
            ProxyErrorKind::RejectionBody => "rejection_body",
            ProxyErrorKind::Eof => "eof",
        }
    }
}

impl ProxyError {
    /// The failure's category.
    pub fn kind(&self) -> ProxyErrorKind {
        match self {
            ProxyError::InvalidResponseHead(error) => match error.fault() {
                HeadFault::TooLarge => ProxyErrorKind::HeadTooLarge,
                HeadFault::Version => ProxyErrorKind::HttpVersion,
                HeadFault::Malformed => ProxyErrorKind::MalformedHttp,
            },
            ProxyError::UnexpectedSwitch => ProxyErrorKind::InvalidResponse,
            ProxyError::RejectionBody(_) => ProxyErrorKind::RejectionBody,
            ProxyError::UnexpectedEof => ProxyErrorKind::Eof,
        }
    }
}

/// The proxy refused the tunnel: a final status other than 2xx.
///
/// Typed apart from the WebSocket server's
/// [`Rejection`](crate::handshake::Rejection): a 407 here is the proxy's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRejection {
    /// The status code (407 when the proxy wants credentials).
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The response's header fields, `Proxy-Authenticate` among them.
    pub headers: Headers,
    /// The decoded body: whole, or what arrived before `body_error`.
    pub body: Bytes,
    /// Trailer fields of a chunked body.
    pub trailers: Headers,
    /// Why the body is incomplete, if it is.
    pub body_error: Option<BodyError>,
}

impl From<FinalResponse> for ProxyRejection {
    fn from(read: FinalResponse) -> Self {
        ProxyRejection {
            status: read.response.status,
            reason: read.response.reason,
            headers: read.response.headers,
            body: read.body,
            trailers: read.trailers,
            body_error: read.body_error,
        }
    }
}

/// How a tunnel ended, from [`ProxyTunnel::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TunnelEvent {
    /// A 2xx: the tunnel is open. RFC 9110 §9.3.6: such a response has no
    /// body, whatever its header fields say, so `leftover`, the bytes after
    /// the head, is the first data from the target.
    Established {
        /// The proxy's response head.
        response: Response,
        /// Bytes received after the head: give them to the next layer.
        leftover: Bytes,
    },
    /// The proxy refused.
    Rejected(ProxyRejection),
}

/// What the proxy's answer came to so far, for a caller that owns the
/// receive buffer.
#[derive(Debug)]
pub(crate) enum TunnelStep {
    /// More bytes are needed.
    Pending,
    /// A 2xx; the bytes after its head are not the tunnel's.
    Established(Response),
    /// A refusal, read whole (or to its body's error).
    Rejected(ProxyRejection),
}

#[derive(Debug)]
enum State {
    AwaitingResponse(HeadParser),
    /// Boxed: a body reader is several times the size of a head parser.
    ReadingRejection(Box<FinalResponseReader>),
    Done,
}

/// An HTTP CONNECT tunnel through a proxy (RFC 9110 §9.3.6), sans-I/O.
///
/// [`new`](Self::new) queues `CONNECT host:port HTTP/1.1` for
/// [`poll_transmit`](Self::poll_transmit); feed the proxy's bytes to
/// [`receive`](Self::receive) and the end of the transport to
/// [`receive_eof`](Self::receive_eof); [`poll_event`](Self::poll_event) then
/// gives the one outcome. After [`TunnelEvent::Established`] the stream is
/// the target's: start TLS on it, or a [`Client`](crate::Client), and give
/// it `leftover` first.
///
/// ```
/// use wsmachine::proxy::{ProxyConfig, ProxyTunnel, TunnelEvent};
///
/// let proxy = ProxyConfig::from_url("http://proxy.local:3128")?;
/// let mut tunnel = ProxyTunnel::new(&proxy, "example.com", 443)?;
/// let request = tunnel.poll_transmit().ok_or("no request")?;
/// assert_eq!(&request[..], b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
///
/// tunnel.receive(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03")?;
/// match tunnel.poll_event() {
///     Some(TunnelEvent::Established { leftover, .. }) => assert_eq!(&leftover[..], b"\x16\x03"),
///     other => panic!("not established: {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ProxyTunnel {
    state: State,
    body_limits: BodyLimits,
    out: BytesMut,
    recv: BytesMut,
    outcome: Option<TunnelStep>,
    error: Option<ProxyError>,
}

impl ProxyTunnel {
    /// A tunnel to `host:port` through the proxy `config` describes, its
    /// CONNECT request queued.
    ///
    /// # Errors
    /// A [`ProxyConfigError`] when the host or port could not be written
    /// safely, or an extra header is invalid or set by the tunnel itself.
    pub fn new(config: &ProxyConfig, host: &str, port: u16) -> Result<Self, ProxyConfigError> {
        let authority = target_authority(host, port)?;
        let headers = config.request_headers(&authority)?;
        let mut out = BytesMut::new();
        // RFC 9112 §3.2.3: a CONNECT's target is in authority form. The
        // writer checks every field again, so nothing reaches the wire that
        // would not parse back to the same fields.
        write_request(&mut out, "CONNECT", &authority, &headers, &[]).map_err(
            |error| match error {
                WriteError::Header(error) => ProxyConfigError::Header(error),
                other => ProxyConfigError::Write(other),
            },
        )?;
        Ok(ProxyTunnel {
            state: State::AwaitingResponse(HeadParser::new(config.head_limits)),
            body_limits: config.body_limits,
            out,
            recv: BytesMut::new(),
            outcome: None,
            error: None,
        })
    }

    /// The next bytes to write to the proxy: the CONNECT request, once.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.split().freeze())
        }
    }

    /// Feeds bytes read from the proxy. Bytes after the outcome are kept
    /// for `leftover` until [`poll_event`](Self::poll_event) has given it;
    /// later ones are the next layer's and are not read.
    ///
    /// # Errors
    /// The tunnel's [`ProxyError`], returned again by every later call.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), ProxyError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if matches!(self.state, State::Done) {
            if matches!(self.outcome, Some(TunnelStep::Established(_))) {
                self.recv.extend_from_slice(data);
            }
            return Ok(());
        }
        self.recv.extend_from_slice(data);
        let mut recv = core::mem::take(&mut self.recv);
        let (consumed, step) = self.read(&recv);
        recv.advance(consumed.min(recv.len()));
        self.recv = recv;
        self.settle(step)
    }

    /// Tells the tunnel the transport ended: this completes a refusal whose
    /// body runs until EOF.
    ///
    /// # Errors
    /// [`ProxyError::UnexpectedEof`] before the head was complete, or the
    /// body's error for a refusal cut short.
    pub fn receive_eof(&mut self) -> Result<(), ProxyError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let step = self.read_eof();
        self.settle(step)
    }

    /// The outcome, once: `None` before it and after it was taken.
    pub fn poll_event(&mut self) -> Option<TunnelEvent> {
        Some(match self.outcome.take()? {
            TunnelStep::Pending => return None,
            TunnelStep::Established(response) => TunnelEvent::Established {
                response,
                leftover: core::mem::take(&mut self.recv).freeze(),
            },
            TunnelStep::Rejected(rejection) => TunnelEvent::Rejected(rejection),
        })
    }

    /// Whether the exchange is over: established, refused or failed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The fatal error, if the tunnel failed.
    pub fn error(&self) -> Option<&ProxyError> {
        self.error.as_ref()
    }

    fn settle(&mut self, step: Result<TunnelStep, ProxyError>) -> Result<(), ProxyError> {
        match step {
            Ok(TunnelStep::Pending) => Ok(()),
            Ok(done) => {
                if let TunnelStep::Rejected(rejection) = &done {
                    // Whatever follows a refusal is not the target's.
                    self.recv.clear();
                    self.error = rejection.body_error.clone().map(ProxyError::RejectionBody);
                }
                self.outcome = Some(done);
                self.error.clone().map_or(Ok(()), Err)
            }
            Err(error) => {
                self.recv.clear();
                self.error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Reads the proxy's answer from `buf`, every byte received and not yet
    /// consumed, starting where the last call's consumption ended; returns
    /// how many bytes were consumed. On [`TunnelStep::Established`] the
    /// bytes after the head stay unconsumed.
    pub(crate) fn read(&mut self, buf: &[u8]) -> (usize, Result<TunnelStep, ProxyError>) {
        let mut consumed = 0;
        loop {
            let rest = buf.get(consumed..).kept();
            match &mut self.state {
                State::Done => return (consumed, Ok(TunnelStep::Pending)),
                State::AwaitingResponse(parser) => {
                    let (response, head_len) = match parser.parse_response(rest) {
                        Ok(Some(parsed)) => parsed,
                        Ok(None) => return (consumed, Ok(TunnelStep::Pending)),
                        Err(error) => {
                            self.state = State::Done;
                            return (consumed, Err(ProxyError::InvalidResponseHead(error)));
                        }
                    };
                    consumed += head_len;
                    match response.status {
                        // RFC 9110 §9.3.6: any 2xx means the tunnel is
                        // open, and its framing fields are to be ignored.
                        200..=299 => {
                            self.state = State::Done;
                            return (consumed, Ok(TunnelStep::Established(response)));
                        }
                        101 => {
                            self.state = State::Done;
                            return (consumed, Err(ProxyError::UnexpectedSwitch));
                        }
                        // RFC 9110 §15.2: interim responses come before
                        // the final one and are skipped.
                        100..=199 => parser.reset(),
                        _ => {
                            let reader = FinalResponseReader::new(response, self.body_limits);
                            self.state = State::ReadingRejection(Box::new(reader));
                        }
                    }
                }
                State::ReadingRejection(reader) => {
                    consumed += reader.read(rest);
                    return (consumed, Ok(self.finish_rejection()));
                }
            }
        }
    }

    /// The transport ended.
    pub(crate) fn read_eof(&mut self) -> Result<TunnelStep, ProxyError> {
        match &mut self.state {
            State::AwaitingResponse(_) => {
                self.state = State::Done;
                Err(ProxyError::UnexpectedEof)
            }
            State::ReadingRejection(reader) => {
                reader.read_eof();
                Ok(self.finish_rejection())
            }
            State::Done => Ok(TunnelStep::Pending),
        }
    }

    /// The exchange was cut off (a deadline passed): a refusal whose body
    /// was coming is reported with the body so far, truncated.
    pub(crate) fn cut_short(&mut self) -> TunnelStep {
        if let State::ReadingRejection(reader) = &mut self.state {
            reader.cut_short();
            return self.finish_rejection();
        }
        self.state = State::Done;
        TunnelStep::Pending
    }

    /// The refusal, once its body is read.
    fn finish_rejection(&mut self) -> TunnelStep {
        match core::mem::replace(&mut self.state, State::Done) {
            State::ReadingRejection(reader) if reader.is_done() => {
                TunnelStep::Rejected(reader.finish().into())
            }
            other => {
                self.state = other;
                TunnelStep::Pending
            }
        }
    }
}
