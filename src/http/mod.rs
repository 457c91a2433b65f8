//! The HTTP/1.1 subset an opening handshake needs (RFC 9110, RFC 9112).
//!
//! This layer knows nothing about WebSocket.

mod body;
pub mod chunked;
pub(crate) mod final_response;
mod headers;

pub use body::{BodyDecoder, BodyError, BodyFraming, BodyLimits};
pub use headers::Headers;
pub use headers::{HeaderError, is_field_value, is_token};
pub(crate) use headers::{is_tchar, trim_ows, trim_ows_str};

mod head;
pub(crate) use head::HeadFault;
pub use head::{HeadError, HeadLimits, HeadParser, HttpVersion, MalformedKind, Request, Response};

mod write;
pub use write::{WriteError, canonical_reason, write_request, write_response};

#[cfg(feature = "http")]
mod convert;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use convert::{ConvertError, status_from_http, status_to_http};
