//! The HTTP/1.1 subset an opening handshake needs (RFC 9110, RFC 9112).
//!
//! This layer knows nothing about WebSocket.

mod body;
mod headers;

pub use body::{BodyDecoder, BodyError, BodyFraming, BodyLimits};
pub use headers::Headers;
