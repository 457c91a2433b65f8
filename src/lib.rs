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
//!   (RFC 9110, RFC 9112);
//! - [`handshake`]: RFC 6455 §4 on both sides;
//! - [`extensions`]: the `Sec-WebSocket-Extensions` grammar, and with the
//!   `deflate` feature permessage-deflate (RFC 7692);
//! - [`Connection`], with its two roles [`Client`] and [`Server`]: the whole
//!   lifecycle.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod accept_key;
pub mod chunked;
pub mod close;
pub mod config;
pub mod entropy;
pub mod error;
pub mod event;
pub mod extensions;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod mask;
pub mod message;
pub mod state;
pub mod utf8;

mod client;
mod connection;
mod protocol;
mod server;

pub use client::{Client, ClientRole};
pub use close::CloseCode;
pub use connection::{Connection, Role};
pub use error::{Error, SendError};
pub use event::{Close, Event, Initiator};
pub use frame::{Frame, Opcode};
pub use protocol::{DataKind, Fragment};
pub use server::{Server, ServerRole};
pub use state::State;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The handshake failures guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/handshake-failures.md")]
struct HandshakeFailuresDoctests;

/// The embedding guide's examples, compiled and run as doctests. Its hyper
/// section uses the `http` feature's conversions.
#[cfg(all(doctest, feature = "http"))]
#[doc = include_str!("../docs/embedding.md")]
struct EmbeddingDoctests;

/// The permessage-deflate guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "deflate"))]
#[doc = include_str!("../docs/deflate.md")]
struct DeflateDoctests;
