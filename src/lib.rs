//! wsmachine: a sans-I/O WebSocket protocol engine.
//!
//! The crate consumes bytes and emits events. It never performs I/O, never
//! reads a clock or a random source of its own, and keeps its memory bounded by
//! limits the caller sets.
//!
//! Layers, from the bottom up:
//! - [`mask`] and [`utf8`]: the byte layer (RFC 6455 §5.3 masking and
//!   incremental UTF-8 validation);
//! - [`frame`] and [`close`]: the frame layer (RFC 6455 §5 and §7.4);
//! - [`http`] and [`chunked`]: the HTTP/1.1 subset an opening handshake needs
//!   (RFC 9110, RFC 9112).
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod chunked;
pub mod close;
pub mod error;
pub mod frame;
pub mod http;
pub mod mask;
pub mod utf8;
