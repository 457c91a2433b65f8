//! The HTTP/3 codecs a WebSocket over HTTP/3 (RFC 9220) needs, sans I/O:
//! QUIC variable-length integers ([`varint`]), HTTP/3 frame headers and
//! SETTINGS ([`frame`]), QPACK field sections with the static table only
//! ([`qpack`]), and HPACK's Huffman code that QPACK strings may use
//! ([`huffman`]).
//!
//! QUIC, streams and the order of frames are the transport's: a driver
//! such as `wsmachine-tokio`'s `h3` module reads and writes the streams and
//! calls these to turn bytes into frames and field sections and back. The
//! extended CONNECT those field sections carry is
//! [`handshake::h2`](crate::handshake)'s (feature `http`), which covers
//! RFC 8441 and RFC 9220 alike.
//!
//! Every decoder here takes arbitrary bytes without panicking and bounds
//! what it allocates: a field section by the caller's limit (RFC 9114
//! §4.2.2's size), a Huffman-coded string by its caller's length.

pub mod frame;
pub mod huffman;
pub mod qpack;
pub mod varint;
