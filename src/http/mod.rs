//! The HTTP/1.1 subset an opening handshake needs (RFC 9110, RFC 9112).
//!
//! This layer knows nothing about WebSocket.

mod headers;

pub use headers::Headers;
