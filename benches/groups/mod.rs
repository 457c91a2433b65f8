//! The groups of `benches/compare.rs`, one file per kind of work.

pub mod chunked;
pub mod common;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod handshake;
pub mod receive;
pub mod send;
