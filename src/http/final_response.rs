//! Reading the body of a final response that ends an exchange (a refused
//! handshake, a proxy's refusal), so that the response can be reported
//! whole: its head, its decoded body and trailers, and why the body is
//! short if it is.

use bytes::Bytes;

use super::{BodyDecoder, BodyError, BodyFraming, BodyLimits, Headers, Response};

/// A final response head whose body is being read.
#[derive(Debug)]
pub(crate) struct FinalResponseReader {
    response: Response,
    /// `None` when the framing could not be known; `error` says why.
    decoder: Option<BodyDecoder>,
    error: Option<BodyError>,
    done: bool,
}

/// A final response, read to the end of its body or to the body's error.
#[derive(Debug)]
pub(crate) struct FinalResponse {
    pub(crate) response: Response,
    pub(crate) body: Bytes,
    pub(crate) trailers: Headers,
    pub(crate) body_error: Option<BodyError>,
}

impl FinalResponseReader {
    /// Starts reading the body of `response` (to a request other than HEAD
    /// or CONNECT-with-success), within `limits`.
    pub(crate) fn new(response: Response, limits: BodyLimits) -> Self {
        let (decoder, error) = match BodyFraming::for_response(response.status, &response.headers) {
            Ok(framing) => (Some(BodyDecoder::new(framing, limits)), None),
            Err(error) => (None, Some(error)),
        };
        let done = error.is_some() || decoder.as_ref().is_some_and(BodyDecoder::is_complete);
        FinalResponseReader {
            response,
            decoder,
            error,
            done,
        }
    }

    /// Whether the response is read: its body is complete or failed.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Consumes body bytes from `input`, returning how many. Bytes after the
    /// body are left alone.
    pub(crate) fn read(&mut self, input: &[u8]) -> usize {
        let Some(decoder) = self.decoder.as_mut().filter(|_| !self.done) else {
            return 0;
        };
        match decoder.decode(input) {
            Ok(consumed) => {
                self.done = decoder.is_complete();
                consumed.min(input.len())
            }
            Err(error) => {
                self.error = Some(error);
                self.done = true;
                0
            }
        }
    }

    /// The transport ended: an until-EOF body is complete, any other is
    /// truncated unless it already was complete.
    pub(crate) fn read_eof(&mut self) {
        if let Some(decoder) = self.decoder.as_mut().filter(|_| !self.done) {
            self.error = decoder.finish_eof().err();
        }
        self.done = true;
    }

    /// The exchange was cut off before the body's end (its deadline
    /// passed): the body is what arrived, and truncated.
    pub(crate) fn cut_short(&mut self) {
        if self.done {
            return;
        }
        let received = self
            .decoder
            .as_ref()
            .map_or(0, |decoder| decoder.body().len());
        self.error = Some(BodyError::Truncated {
            received: u64::try_from(received).unwrap_or(u64::MAX),
            expected: None,
        });
        self.done = true;
    }

    /// The response with what of its body arrived.
    pub(crate) fn finish(self) -> FinalResponse {
        let (body, trailers) = match self.decoder {
            Some(decoder) => decoder.into_parts(),
            None => Default::default(),
        };
        FinalResponse {
            response: self.response,
            body,
            trailers,
            body_error: self.error,
        }
    }
}
