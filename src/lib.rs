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
//! - [`http`]: the HTTP/1.1 subset an opening handshake needs (RFC 9110,
//!   RFC 9112), with chunked decoding in [`http::chunked`];
//! - [`http3`]: the HTTP/3 codecs of RFC 9220 (QUIC varints, frame headers
//!   and SETTINGS, QPACK with the static table, Huffman), beside the HTTP
//!   layer;
//! - [`url`]: `ws://` and `wss://` URLs (RFC 6455 §3) and RFC 3986 reference
//!   resolution, in the HTTP layer;
//! - [`proxy`]: HTTP CONNECT tunnels through a proxy, on the HTTP layer;
//! - [`handshake`]: RFC 6455 §4 on both sides;
//! - [`extensions`]: the `Sec-WebSocket-Extensions` grammar, and with the
//!   `deflate` feature permessage-deflate (RFC 7692);
//! - [`Connection`], with its two roles [`Client`] and [`Server`]: the whole
//!   lifecycle.
//!
//! # The polling loop
//!
//! After every input (`receive`, `receive_eof`, `handle_timeout`) and every
//! command (`send_*`, `close`, `accept`, `reject`), drain
//! [`Connection::poll_event`] and [`Connection::poll_transmit`]; close the
//! transport when the state is [`State::Closed`]; call
//! [`Connection::handle_timeout`] no later than [`Connection::poll_timeout`].
//! Here a client and a server talk through two in-memory pipes, on a clock
//! the example keeps itself:
//!
//! ```
//! use core::time::Duration;
//! use wsmachine::entropy::FixedEntropy;
//! use wsmachine::handshake::client::ClientConfig;
//! use wsmachine::handshake::server::{Accept, ServerConfig};
//! use wsmachine::{Client, CloseCode, Connection, Event, Role, Server, State};
//!
//! /// One turn of the loop for one side: feed what the peer wrote, react to
//! /// the events, and return what this side writes.
//! fn turn<R: Role>(
//!     conn: &mut Connection<R>,
//!     now: Duration,
//!     input: &[u8],
//!     on_event: &mut dyn FnMut(&mut Connection<R>, Event),
//! ) -> Vec<u8> {
//!     if !input.is_empty() {
//!         // An error is sticky and its reply is already queued: keep
//!         // draining, then close the transport.
//!         let _ = conn.receive(now, input);
//!     }
//!     if conn.poll_timeout().is_some_and(|deadline| deadline <= now) {
//!         conn.handle_timeout(now);
//!     }
//!     while let Some(event) = conn.poll_event() {
//!         on_event(conn, event);
//!     }
//!     std::iter::from_fn(|| conn.poll_transmit()).flatten().collect()
//! }
//!
//! let config = ClientConfig::new("ws://example.com/chat").unwrap();
//! // Real clients use `OsEntropy`; a fixed source keeps the example reproducible.
//! let mut client = Client::new(config, FixedEntropy::new(b"the sample nonce")).unwrap();
//! let mut server = Server::new(ServerConfig::default());
//!
//! let mut to_server = Vec::new();
//! let mut to_client = Vec::new();
//! let mut echoed = Vec::new();
//! for tick in 0..10 {
//!     let now = Duration::from_millis(tick);
//!     to_server.extend(turn(&mut client, now, &std::mem::take(&mut to_client), &mut |client, event| {
//!         match event {
//!             Event::Accepted(_) => client.send_text("hello").unwrap(),
//!             Event::Frame(frame) => {
//!                 echoed.push(frame.payload);
//!                 client.close(now, CloseCode::NORMAL, "done").unwrap();
//!             }
//!             _ => {}
//!         }
//!     }));
//!     to_client.extend(turn(&mut server, now, &std::mem::take(&mut to_server), &mut |server, event| {
//!         match event {
//!             Event::Request(_) => server.accept(now, Accept::default()).unwrap(),
//!             Event::Frame(frame) => server.send_text(std::str::from_utf8(&frame.payload).unwrap()).unwrap(),
//!             _ => {}
//!         }
//!     }));
//!     if server.state() == State::Closed && client.state() != State::Closed {
//!         // The server closed its transport: the client sees the end of it.
//!         let _ = client.receive(now, &std::mem::take(&mut to_client));
//!         client.receive_eof(now).unwrap();
//!     }
//! }
//! assert_eq!(echoed, [&b"hello"[..]]);
//! assert_eq!((client.state(), server.state()), (State::Closed, State::Closed));
//! ```
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod accept_key;
pub mod close;
pub mod config;
pub mod entropy;
pub mod error;
pub mod event;
pub mod extensions;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod http3;
pub mod mask;
pub mod message;
pub mod proxy;
pub mod state;
pub mod url;
pub mod utf8;

mod client;
mod connection;
mod invariant;
mod protocol;
mod receive_into;
mod server;

pub use client::{Client, ClientRole};
pub use close::{CloseCode, CloseFrame};
pub use connection::{Connection, Role};
pub use error::{Error, SendError};
pub use event::{Close, Event, EventRef, FrameRef, Initiator, Piece};
pub use frame::{Frame, Opcode};
pub use message::{Message, Utf8Bytes};
pub use protocol::{DataKind, Fragment};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use receive_into::ReadError;
pub use receive_into::ReceiveRoom;
pub use server::{Server, ServerRole};
pub use state::State;

/// The handshake failures guide's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/handshake-failures.md")]
struct HandshakeFailuresDoctests;

/// The embedding guide's examples, compiled and run as doctests. Its
/// upgraded-stream and HTTP/2 sections use the `http` and `deflate`
/// features.
#[cfg(all(doctest, feature = "http", feature = "deflate"))]
#[doc = include_str!("../docs/embedding.md")]
struct EmbeddingDoctests;

/// The permessage-deflate guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "deflate"))]
#[doc = include_str!("../docs/deflate.md")]
struct DeflateDoctests;
