//! permessage-deflate (RFC 7692): negotiation of its four parameters on both
//! sides, and the codec that compresses and inflates data messages.
//!
//! Set [`Config::deflate`](crate::config::Config::deflate) and a client
//! offers it, and [`Server::accept`](crate::Server::accept) answers the
//! first offer it can honour. From then on the connection compresses what it sends (messages
//! of at least [`DeflateConfig::min_message_size`] bytes) and inflates what it
//! receives; [`Event::Frame`](crate::Event::Frame)s carry inflated payloads
//! with RSV1 cleared.
//!
//! ```
//! use wsmachine::extensions::permessage_deflate::{DeflateConfig, DeflateParams};
//!
//! let config = DeflateConfig::default();
//! assert_eq!(config.offer().to_string(), "permessage-deflate; client_max_window_bits");
//!
//! let offers = ["permessage-deflate; server_max_window_bits=10; client_max_window_bits"];
//! let response = config.negotiate(offers).unwrap();
//! assert_eq!(response.to_string(), "permessage-deflate; server_max_window_bits=10");
//! ```
//!
//! Window bits: RFC 7692 allows 8 to 15, but zlib cannot compress a raw
//! deflate stream with an 8-bit window. A compressor told to use 8 uses 9:
//! zlib never emits a distance over the window size minus 262 bytes, so a
//! 9-bit window's output (distances up to 250) fits a peer with an 8-bit
//! window. An inflater for 8 uses 9 too, which inflates anything 8 can.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{Extension, ExtensionError};
use crate::extensions::CompressionFailed;
use crate::frame::ProtocolError;
use crate::invariant::Kept;
use crate::utf8::MessageValidator;

/// The extension's name.
pub const NAME: &str = "permessage-deflate";

const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The largest LZ77 window, 2^15 bytes, and the default.
pub const MAX_WINDOW_BITS: u8 = 15;
/// The smallest window RFC 7692 allows.
pub const MIN_WINDOW_BITS: u8 = 8;

/// RFC 7692 §7.2.1: a sync flush ends with an empty stored block, whose
/// last four bytes the sender removes and the receiver appends again.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What this endpoint wants: a connection setting, kept with the others in
/// [`config`](crate::config); its negotiation is here.
pub use crate::config::DeflateConfig;

/// The least room one inflate step gets. The inflated output's buffer grows
/// from there by doubling (or at once to the size of the frame before), and
/// never past what the message may still hold plus one byte, so a
/// decompression bomb costs at most the size limit plus one byte.
pub const INFLATE_STEP: usize = 16 * 1024;

/// A compression buffer larger than this is not kept between messages.
const KEPT_BUFFER: usize = 64 * 1024;

/// The parameters of one permessage-deflate offer or response.
///
/// ```
/// use wsmachine::extensions::Extension;
/// use wsmachine::extensions::permessage_deflate::DeflateParams;
///
/// let ext = Extension::parse("permessage-deflate; client_max_window_bits; server_max_window_bits=\"12\"").unwrap();
/// let params = DeflateParams::from_extension(&ext).unwrap();
/// assert_eq!(params.server_max_window_bits, Some(12));
/// assert_eq!(params.client_max_window_bits, Some(None));
/// assert_eq!(params.to_string(), "permessage-deflate; server_max_window_bits=12; client_max_window_bits");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// `server_no_context_takeover` is present.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` is present.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits`, which always has a value.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`: `None` when absent, `Some(None)` when
    /// present without a value (allowed in an offer only).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Why an element is not a valid permessage-deflate offer or response
/// (RFC 7692 §7: a server declines such an offer, a client fails the
/// connection on such a response).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateParamError {
    /// The element names another extension.
    #[error("{name:?} is not permessage-deflate")]
    NotPermessageDeflate {
        /// The extension's name.
        name: String,
    },
    /// A parameter RFC 7692 does not define.
    #[error("unknown permessage-deflate parameter {name:?}")]
    UnknownParam {
        /// The parameter's name.
        name: String,
    },
    /// A parameter given twice.
    #[error("permessage-deflate parameter {name:?} given twice")]
    DuplicateParam {
        /// The parameter's name.
        name: String,
    },
    /// A value where none is allowed, none where one is required, or a
    /// window size outside 8 to 15.
    #[error("invalid value {value:?} for permessage-deflate parameter {name:?}")]
    InvalidValue {
        /// The parameter's name.
        name: String,
        /// The value, if there was one.
        value: Option<String>,
    },
}

/// Why a client refuses the server's permessage-deflate response
/// (RFC 7692 §5.1: the client fails the WebSocket connection).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateResponseError {
    /// The response element breaks the header grammar.
    #[error("malformed permessage-deflate response: {0}")]
    Malformed(ExtensionError),
    /// A parameter is unknown, repeated or has an invalid value.
    #[error(transparent)]
    Param(DeflateParamError),
    /// The server answered with permessage-deflate more than once.
    #[error("more than one permessage-deflate response")]
    DuplicateResponse,
    /// The client asked for `server_no_context_takeover`; the response lacks it.
    #[error("server_no_context_takeover was requested but not answered")]
    MissingServerNoContextTakeover,
    /// The client asked for `server_max_window_bits`; the response lacks it.
    #[error("server_max_window_bits={offered} was requested but not answered")]
    MissingServerMaxWindowBits {
        /// The value offered.
        offered: u8,
    },
    /// The server's window is larger than the client asked for.
    #[error("server_max_window_bits={answered} is over the {offered} offered")]
    ServerMaxWindowBitsTooLarge {
        /// The value offered.
        offered: u8,
        /// The value answered.
        answered: u8,
    },
    /// `client_max_window_bits` in a response to an offer without it.
    #[error("client_max_window_bits was not offered")]
    UnofferedClientMaxWindowBits,
    /// `client_max_window_bits` without a value, which only an offer may send.
    #[error("client_max_window_bits without a value in a response")]
    ClientMaxWindowBitsWithoutValue,
    /// The client's window is limited to more than the client offered.
    #[error("client_max_window_bits={answered} is over the {offered} offered")]
    ClientMaxWindowBitsTooLarge {
        /// The value offered.
        offered: u8,
        /// The value answered.
        answered: u8,
    },
}

impl DeflateParams {
    /// Reads a permessage-deflate element's parameters.
    ///
    /// # Errors
    /// [`DeflateParamError`] for another extension, an unknown or repeated
    /// parameter, or an invalid value (RFC 7692 §7.1).
    pub fn from_extension(extension: &Extension) -> Result<Self, DeflateParamError> {
        if !extension.is(NAME) {
            return Err(DeflateParamError::NotPermessageDeflate {
                name: extension.name.clone(),
            });
        }
        let mut params = DeflateParams::default();
        let mut seen = [false; 4];
        for param in &extension.params {
            let name = param.name.as_str();
            let value = param.value.as_deref();
            let invalid = || DeflateParamError::InvalidValue {
                name: String::from(name),
                value: value.map(String::from),
            };
            let index = [
                SERVER_NO_CONTEXT_TAKEOVER,
                CLIENT_NO_CONTEXT_TAKEOVER,
                SERVER_MAX_WINDOW_BITS,
                CLIENT_MAX_WINDOW_BITS,
            ]
            .iter()
            .position(|known| known.eq_ignore_ascii_case(name))
            .ok_or_else(|| DeflateParamError::UnknownParam {
                name: String::from(name),
            })?;
            // RFC 7692 §7: an offer or response with "multiple extension
            // parameters with the same name" is declined or fails.
            match seen.get_mut(index) {
                Some(seen) if !*seen => *seen = true,
                _ => {
                    return Err(DeflateParamError::DuplicateParam {
                        name: String::from(name),
                    });
                }
            }
            match index {
                // RFC 7692 §7.1.1: the no_context_takeover parameters have
                // no value.
                0 | 1 if value.is_some() => return Err(invalid()),
                0 => params.server_no_context_takeover = true,
                1 => params.client_no_context_takeover = true,
                // RFC 7692 §7.1.2.1: server_max_window_bits always has a
                // value.
                2 => {
                    let bits = value.and_then(parse_window_bits).ok_or_else(invalid)?;
                    params.server_max_window_bits = Some(bits);
                }
                // RFC 7692 §7.1.2.2: client_max_window_bits may come
                // without a value.
                _ => {
                    let bits = match value {
                        None => None,
                        Some(value) => Some(parse_window_bits(value).ok_or_else(invalid)?),
                    };
                    params.client_max_window_bits = Some(bits);
                }
            }
        }
        Ok(params)
    }

    /// The element for these parameters, in a fixed order.
    pub fn to_extension(&self) -> Extension {
        let mut extension = Extension::new(NAME);
        if self.server_no_context_takeover {
            extension = extension.with_param(SERVER_NO_CONTEXT_TAKEOVER, None);
        }
        if self.client_no_context_takeover {
            extension = extension.with_param(CLIENT_NO_CONTEXT_TAKEOVER, None);
        }
        if let Some(bits) = self.server_max_window_bits {
            extension = extension.with_param(SERVER_MAX_WINDOW_BITS, Some(&bits.to_string()));
        }
        if let Some(bits) = self.client_max_window_bits {
            let value = bits.map(|bits| bits.to_string());
            extension = extension.with_param(CLIENT_MAX_WINDOW_BITS, value.as_deref());
        }
        extension
    }

    /// Client: checks a server's response against this offer.
    ///
    /// # Errors
    /// [`DeflateResponseError`] when the response does not fit the offer
    /// (RFC 7692 §7.1.1.1, §7.1.2.1, §7.1.2.2).
    ///
    /// ```
    /// use wsmachine::extensions::permessage_deflate::{DeflateParams, DeflateResponseError};
    ///
    /// let offer = DeflateParams { server_max_window_bits: Some(10), ..Default::default() };
    /// let response = DeflateParams { server_max_window_bits: Some(12), ..Default::default() };
    /// assert_eq!(
    ///     offer.check_response(&response),
    ///     Err(DeflateResponseError::ServerMaxWindowBitsTooLarge { offered: 10, answered: 12 })
    /// );
    /// ```
    pub fn check_response(&self, response: &DeflateParams) -> Result<(), DeflateResponseError> {
        // RFC 7692 §7.1.1.1: a server accepting an offer with
        // server_no_context_takeover MUST include it.
        if self.server_no_context_takeover && !response.server_no_context_takeover {
            return Err(DeflateResponseError::MissingServerNoContextTakeover);
        }
        // RFC 7692 §7.1.2.1: the server answers an offered
        // server_max_window_bits with the same or a smaller value; unoffered,
        // it may still limit its own window.
        match (self.server_max_window_bits, response.server_max_window_bits) {
            (Some(offered), None) => {
                return Err(DeflateResponseError::MissingServerMaxWindowBits { offered });
            }
            (Some(offered), Some(answered)) if answered > offered => {
                return Err(DeflateResponseError::ServerMaxWindowBitsTooLarge {
                    offered,
                    answered,
                });
            }
            _ => {}
        }
        // RFC 7692 §7.1.2.2: client_max_window_bits may be answered only
        // when offered, and always with a value.
        match (self.client_max_window_bits, response.client_max_window_bits) {
            (_, None) => {}
            (None, Some(_)) => return Err(DeflateResponseError::UnofferedClientMaxWindowBits),
            (Some(_), Some(None)) => {
                return Err(DeflateResponseError::ClientMaxWindowBitsWithoutValue);
            }
            (Some(Some(offered)), Some(Some(answered))) if answered > offered => {
                return Err(DeflateResponseError::ClientMaxWindowBitsTooLarge {
                    offered,
                    answered,
                });
            }
            (Some(_), Some(Some(_))) => {}
        }
        Ok(())
    }
}

impl fmt::Display for DeflateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_extension().fmt(f)
    }
}

impl DeflateConfig {
    /// Client: the offer this configuration sends. It always includes
    /// `client_max_window_bits`, so that a server may limit the client's
    /// window, with a value when this side's is below 15.
    pub fn offer(&self) -> DeflateParams {
        let server_bits = clamp_window_bits(self.server_max_window_bits);
        let client_bits = clamp_window_bits(self.client_max_window_bits);
        DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover,
            server_max_window_bits: (server_bits < MAX_WINDOW_BITS).then_some(server_bits),
            client_max_window_bits: Some((client_bits < MAX_WINDOW_BITS).then_some(client_bits)),
        }
    }

    /// Server: the response to one offer, or `None` to decline it.
    ///
    /// An offer is declined when this configuration limits the client's
    /// window and the offer does not say the client supports that
    /// (`client_max_window_bits` absent). Everything else an offer asks for
    /// is granted: a server can always reset its context and use a smaller
    /// window.
    pub fn respond(&self, offer: &DeflateParams) -> Option<DeflateParams> {
        let own_server_bits = clamp_window_bits(self.server_max_window_bits);
        let own_client_bits = clamp_window_bits(self.client_max_window_bits);
        let server_bits = offer
            .server_max_window_bits
            .map_or(own_server_bits, |offered| offered.min(own_server_bits));
        let client_max_window_bits = match offer.client_max_window_bits {
            // RFC 7692 §7.1.2.2: without the parameter in the offer, the
            // server cannot limit the client's window.
            None if own_client_bits < MAX_WINDOW_BITS => return None,
            None => None,
            Some(hint) => {
                let bits = hint.map_or(own_client_bits, |hint| hint.min(own_client_bits));
                (bits < MAX_WINDOW_BITS || hint.is_some()).then_some(Some(bits))
            }
        };
        Some(DeflateParams {
            // RFC 7692 §7.1.1.1: an offered server_no_context_takeover MUST
            // be answered.
            server_no_context_takeover: offer.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || self.client_no_context_takeover,
            // RFC 7692 §7.1.2.1: an offered server_max_window_bits is
            // answered with the same or a smaller value.
            server_max_window_bits: (offer.server_max_window_bits.is_some()
                || server_bits < MAX_WINDOW_BITS)
                .then_some(server_bits),
            client_max_window_bits,
        })
    }

    /// Server: the response to the first acceptable permessage-deflate offer
    /// among a request's extension offers, or `None` when there is none.
    /// Offers of other extensions are skipped; a permessage-deflate offer
    /// that is malformed, has unknown or repeated parameters or invalid
    /// values is declined (RFC 7692 §7), and so is one that
    /// [`respond`](Self::respond) declines.
    pub fn negotiate<I>(&self, offers: I) -> Option<DeflateParams>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        offers.into_iter().find_map(|offer| {
            let offer = offer.as_ref();
            if !is_deflate_element(offer) {
                return None;
            }
            let extension = Extension::parse(offer).ok()?;
            let params = DeflateParams::from_extension(&extension).ok()?;
            self.respond(&params)
        })
    }

    /// Client: checks a server's response against this configuration's
    /// [`offer`](Self::offer).
    ///
    /// # Errors
    /// As [`DeflateParams::check_response`].
    pub fn check_response(&self, response: &DeflateParams) -> Result<(), DeflateResponseError> {
        self.offer().check_response(response)
    }
}

/// Whether an extension element names permessage-deflate.
pub(crate) fn is_deflate_element(element: &str) -> bool {
    element
        .split(';')
        .next()
        .is_some_and(|name| name.trim_matches([' ', '\t']).eq_ignore_ascii_case(NAME))
}

/// The permessage-deflate response among a 101's extension elements, if
/// any: one element at most, well-formed, with a value on
/// `client_max_window_bits`.
pub(crate) fn find_response<'a>(
    elements: impl IntoIterator<Item = &'a str>,
) -> Result<Option<DeflateParams>, DeflateResponseError> {
    let mut found = None;
    for element in elements {
        if !is_deflate_element(element) {
            continue;
        }
        if found.is_some() {
            return Err(DeflateResponseError::DuplicateResponse);
        }
        let extension = Extension::parse(element).map_err(DeflateResponseError::Malformed)?;
        let params =
            DeflateParams::from_extension(&extension).map_err(DeflateResponseError::Param)?;
        // RFC 7692 §7.1.2.2: a response's client_max_window_bits has a value.
        if params.client_max_window_bits == Some(None) {
            return Err(DeflateResponseError::ClientMaxWindowBitsWithoutValue);
        }
        found = Some(params);
    }
    Ok(found)
}

/// Client: the permessage-deflate response among the server's extension
/// elements, checked against the offer `config` made.
pub(crate) fn client_response<'a>(
    config: &DeflateConfig,
    elements: impl IntoIterator<Item = &'a str>,
) -> Result<Option<DeflateParams>, DeflateResponseError> {
    let found = find_response(elements)?;
    if let Some(params) = &found {
        config.check_response(params)?;
    }
    Ok(found)
}

/// RFC 7692 §7.1.2.1: a window size is 8 to 15, in decimal without leading
/// zeros.
fn parse_window_bits(value: &str) -> Option<u8> {
    match value {
        "8" => Some(8),
        "9" => Some(9),
        "10" => Some(10),
        "11" => Some(11),
        "12" => Some(12),
        "13" => Some(13),
        "14" => Some(14),
        "15" => Some(15),
        _ => None,
    }
}

fn clamp_window_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

/// zlib's raw deflate takes 9 to 15; see the module docs for why 9 serves 8.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS + 1, MAX_WINDOW_BITS)
}

/// One connection's compressor and inflater, as negotiated.
#[derive(Debug)]
pub(crate) struct DeflateCodec {
    level: u32,
    min_message_size: usize,
    compress_window_bits: u8,
    /// Reset the compressor after every message (no context takeover).
    compress_reset: bool,
    inflate_window_bits: u8,
    /// Reset the inflater after every message.
    inflate_reset: bool,
    /// Created on first use: a connection that only receives never pays for
    /// a compressor.
    compressor: Option<Compress>,
    inflater: Option<Decompress>,
    /// The payload of the frame being sent.
    compressed: Vec<u8>,
    /// The inflated payload of the frame being received.
    inflated: Vec<u8>,
    /// The room the last frame's inflated payload took, plus the byte that
    /// showed it was over: the first room of the next frame, so frames of a
    /// similar size are inflated without growing (and copying) the buffer.
    inflated_hint: usize,
}

impl DeflateCodec {
    /// The codec for the agreed parameters `agreed` (the response), with
    /// this side's level and threshold from `config`.
    pub(crate) fn new(config: &DeflateConfig, agreed: &DeflateParams, is_client: bool) -> Self {
        let server_bits = agreed.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
        let client_bits = agreed
            .client_max_window_bits
            .flatten()
            .unwrap_or(MAX_WINDOW_BITS);
        let (compress_window_bits, compress_reset, inflate_window_bits, inflate_reset) =
            if is_client {
                (
                    client_bits.min(config.client_max_window_bits),
                    agreed.client_no_context_takeover || config.client_no_context_takeover,
                    server_bits,
                    agreed.server_no_context_takeover,
                )
            } else {
                (
                    server_bits.min(config.server_max_window_bits),
                    agreed.server_no_context_takeover || config.server_no_context_takeover,
                    client_bits,
                    agreed.client_no_context_takeover,
                )
            };
        DeflateCodec {
            level: config.level.min(9),
            min_message_size: config.min_message_size,
            compress_window_bits: zlib_window_bits(compress_window_bits),
            compress_reset,
            inflate_window_bits: zlib_window_bits(inflate_window_bits),
            inflate_reset,
            compressor: None,
            inflater: None,
            compressed: Vec::new(),
            inflated: Vec::new(),
            inflated_hint: 0,
        }
    }

    pub(crate) fn compresses(&self, len: usize) -> bool {
        len >= self.min_message_size
    }

    /// Compresses the next piece of a message with a sync flush, so the
    /// piece can be sent as a frame of its own.
    pub(crate) fn compress(
        &mut self,
        payload: &[u8],
        end_of_message: bool,
    ) -> Result<&[u8], CompressionFailed> {
        if self.compress_into(payload, end_of_message).is_err() {
            // Every piece ends at a flush, so a fresh compressor continues
            // the stream validly: it only loses the history.
            if let Some(compressor) = &mut self.compressor {
                compressor.reset();
            }
            return Err(CompressionFailed);
        }
        Ok(&self.compressed)
    }

    fn compress_into(
        &mut self,
        payload: &[u8],
        end_of_message: bool,
    ) -> Result<(), flate2::CompressError> {
        let (level, bits) = (self.level, self.compress_window_bits);
        let compressor = self.compressor.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        self.compressed.clear();
        // A large message's buffer is not kept for the connection's life.
        self.compressed.shrink_to(KEPT_BUFFER);
        // Deflate rarely grows data by more than a few bytes per block.
        self.compressed.reserve(
            payload
                .len()
                .saturating_add(payload.len() / 64)
                .saturating_add(64),
        );
        let mut input = payload;
        loop {
            let before = compressor.total_in();
            compressor.compress_vec(input, &mut self.compressed, FlushCompress::Sync)?;
            let consumed =
                usize::try_from(compressor.total_in().saturating_sub(before)).unwrap_or(usize::MAX);
            input = input.get(consumed..).kept();
            // zlib stops short of the end of the output only once the input
            // is consumed and the flush is written.
            if input.is_empty() && self.compressed.len() < self.compressed.capacity() {
                break;
            }
            self.compressed.reserve(input.len().max(1024));
        }
        if end_of_message {
            // RFC 7692 §7.2.1: the message ends with an empty stored block,
            // whose last four bytes 00 00 ff ff are removed. A flush with
            // nothing new since the last one writes nothing, not even that
            // block: the stream is byte-aligned then, so the block is its
            // header byte 00 alone once the four bytes are removed.
            if self.compressed.ends_with(&TAIL) {
                self.compressed.truncate(self.compressed.len() - TAIL.len());
            } else {
                self.compressed.push(0x00);
            }
            // RFC 7692 §7.1.1: without context takeover, the next message
            // starts from an empty window.
            if self.compress_reset {
                compressor.reset();
            }
        }
        Ok(())
    }

    /// Inflates more of a compressed frame; with `end_of_message`, then
    /// the removed tail (RFC 7692 §7.2.2). Returns the bytes produced.
    ///
    /// Output comes in steps that fill the buffer's room (at least
    /// [`INFLATE_STEP`] bytes, never more than what the message may still
    /// grow by, `allowance`, plus one byte), each checked against
    /// `allowance` and, for text, validated, before the next step is
    /// inflated: a decompression bomb costs at most the limit plus one byte.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        end_of_message: bool,
        allowance: u64,
        limit: u64,
        mut text: Option<&mut MessageValidator>,
    ) -> Result<u64, ProtocolError> {
        let mut produced = self.inflate_input(input, allowance, limit, text.as_deref_mut())?;
        if end_of_message {
            // RFC 7692 §7.2.2: append 00 00 ff ff to the message's payload.
            produced = produced.saturating_add(self.inflate_input(
                &TAIL,
                allowance.saturating_sub(produced),
                limit,
                text,
            )?);
            if self.inflate_reset
                && let Some(inflater) = &mut self.inflater
            {
                inflater.reset(false);
            }
        }
        Ok(produced)
    }

    fn inflate_input(
        &mut self,
        mut input: &[u8],
        allowance: u64,
        limit: u64,
        mut text: Option<&mut MessageValidator>,
    ) -> Result<u64, ProtocolError> {
        let bits = self.inflate_window_bits;
        let inflater = self
            .inflater
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut produced: u64 = 0;
        loop {
            // One byte more than the message may still grow by: producing it
            // proves the message is over the limit.
            let left = usize::try_from(allowance.saturating_sub(produced).saturating_add(1))
                .unwrap_or(usize::MAX);
            let start = self.inflated.len();
            // Never past what the message may still hold.
            let most = start.saturating_add(left);
            if self.inflated.capacity() > most {
                self.inflated.shrink_to(most);
            } else if self.inflated.capacity() == start {
                let target = start
                    .saturating_mul(2)
                    .max(self.inflated_hint)
                    .max(start.saturating_add(INFLATE_STEP))
                    .min(most);
                self.inflated.reserve_exact(target - start);
            }
            // Inflated into the buffer's spare capacity: nothing is zeroed
            // first.
            let room = self.inflated.capacity().min(most) - start;
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let result = inflater.decompress_vec(input, &mut self.inflated, FlushDecompress::None);
            let consumed =
                usize::try_from(inflater.total_in().saturating_sub(in_before)).unwrap_or(0);
            let out = usize::try_from(inflater.total_out().saturating_sub(out_before))
                .unwrap_or(0)
                .min(self.inflated.len().saturating_sub(start));
            input = input.get(consumed..).kept();
            produced = produced.saturating_add(out as u64);
            // What came out before any error is checked first, so that the
            // error does not depend on how the payload was split.
            if produced > allowance {
                return Err(ProtocolError::MessageTooLarge { limit });
            }
            if let Some(text) = text.as_deref_mut() {
                text.feed(self.inflated.get(start..).kept())?;
            }
            // RFC 7692 §8 (via §7.2.2): data that does not inflate fails the
            // connection.
            let status = result.map_err(|_| ProtocolError::InvalidCompressedData)?;
            let output_full = out == room;
            match status {
                // RFC 7692 §7.2.3.4: a block with BFINAL set ends the deflate
                // stream; what follows starts a new one.
                Status::StreamEnd => {
                    inflater.reset(false);
                    if input.is_empty() && !output_full {
                        break;
                    }
                }
                Status::Ok | Status::BufError => {
                    if !output_full {
                        if input.is_empty() {
                            break;
                        }
                        if consumed == 0 {
                            // zlib neither consumed nor produced: the input
                            // cannot be inflated.
                            return Err(ProtocolError::InvalidCompressedData);
                        }
                    }
                }
            }
        }
        Ok(produced)
    }

    /// One bounded step for payload handed out in pieces: inflates from
    /// `input` until the output holds `cap` bytes or `input` is used up,
    /// with the message allowed `allowance` more bytes out of `limit`; text
    /// is validated as it comes out. Returns how much of `input` it took
    /// and whether it stopped for want of room, so that output may still
    /// come without more input. Over the allowance, the output is cut at it
    /// (and validated) before the error, so the bytes up to the limit can
    /// still go out.
    pub(crate) fn inflate_piece(
        &mut self,
        input: &[u8],
        allowance: u64,
        limit: u64,
        cap: usize,
        text: Option<&mut MessageValidator>,
    ) -> Result<InflatedStep, ProtocolError> {
        let bits = self.inflate_window_bits;
        let inflater = self
            .inflater
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let start = self.inflated.len();
        // One byte more than the message may still grow by: producing it
        // proves the message is over the limit.
        let left = usize::try_from(allowance.saturating_add(1)).unwrap_or(usize::MAX);
        let room = cap.saturating_sub(start).min(left);
        if room == 0 {
            return Ok(InflatedStep {
                consumed: 0,
                more: true,
            });
        }
        let most = start.saturating_add(room);
        if self.inflated.capacity() > most {
            self.inflated.shrink_to(most);
        } else {
            self.inflated.reserve_exact(room);
        }
        let room = self.inflated.capacity().min(most) - start;
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let result = inflater.decompress_vec(input, &mut self.inflated, FlushDecompress::None);
        let consumed = usize::try_from(inflater.total_in().saturating_sub(in_before)).unwrap_or(0);
        let out = usize::try_from(inflater.total_out().saturating_sub(out_before))
            .unwrap_or(0)
            .min(self.inflated.len().saturating_sub(start));
        let over = out as u64 > allowance;
        if over {
            let end = start.saturating_add(usize::try_from(allowance).unwrap_or(usize::MAX));
            self.inflated.truncate(end);
        }
        if let Some(text) = text {
            text.feed(self.inflated.get(start..).kept())?;
        }
        if over {
            return Err(ProtocolError::MessageTooLarge { limit });
        }
        let status = result.map_err(|_| ProtocolError::InvalidCompressedData)?;
        let more = out == room;
        if status == Status::StreamEnd {
            // RFC 7692 §7.2.3.4: what follows a final block starts a new
            // deflate stream.
            inflater.reset(false);
        } else if !more && consumed == 0 && !input.is_empty() {
            // zlib neither consumed nor produced: the input cannot be
            // inflated.
            return Err(ProtocolError::InvalidCompressedData);
        }
        Ok(InflatedStep { consumed, more })
    }

    /// A message inflated in pieces has ended: without context takeover,
    /// the next one starts from an empty window.
    pub(crate) fn end_inflated_message(&mut self) {
        if self.inflate_reset
            && let Some(inflater) = &mut self.inflater
        {
            inflater.reset(false);
        }
    }

    /// Takes the first `n` bytes of the inflated output.
    pub(crate) fn take_inflated_prefix(&mut self, n: usize) -> Bytes {
        let n = n.min(self.inflated.len());
        if n == self.inflated.len() {
            return Bytes::from(core::mem::take(&mut self.inflated));
        }
        let rest = self.inflated.split_off(n);
        Bytes::from(core::mem::replace(&mut self.inflated, rest))
    }

    /// Bytes inflated and not yet taken.
    pub(crate) fn inflated_bytes(&self) -> &[u8] {
        &self.inflated
    }

    /// The inflated payload of the frame just finished.
    pub(crate) fn take_inflated(&mut self) -> Bytes {
        let mut inflated = core::mem::take(&mut self.inflated);
        self.inflated_hint = inflated.len().saturating_add(1);
        if inflated.capacity()
            > inflated
                .len()
                .saturating_mul(2)
                .saturating_add(INFLATE_STEP)
        {
            // A small frame after a large one: the app does not hold the
            // large one's room.
            inflated.shrink_to_fit();
        }
        Bytes::from(inflated)
    }

    /// Bytes inflated for the current frame and not yet taken.
    #[cfg(test)]
    pub(crate) fn inflated_len(&self) -> usize {
        self.inflated.len()
    }
}

/// What one [`DeflateCodec::inflate_piece`] step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InflatedStep {
    /// The input bytes it took.
    pub(crate) consumed: usize,
    /// It stopped for want of output room: more may come without input.
    pub(crate) more: bool,
}

#[cfg(test)]
mod tests;
