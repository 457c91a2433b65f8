//! wsmachine on tokio: `connect`, `accept`, and a [`WebSocket`] that is a
//! `Stream` + `Sink` of [`Message`]s.
//!
//! The protocol is wsmachine's sans-I/O core; this crate is its one tokio
//! loop. It reads into the core, takes events from it one at a time, writes
//! what it queues, runs its timers on `tokio::time`, and shuts the
//! transport down when the core says the connection is over.
//!
//! A client:
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use wsmachine_tokio::{Message, connect};
//!
//! # async fn run() -> Result<(), wsmachine_tokio::Error> {
//! let (mut ws, _accepted) = connect("ws://127.0.0.1:9002/").await?;
//! ws.send(Message::text("hello")).await?;
//! while let Some(message) = ws.next().await {
//!     println!("{:?}", message?);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A server:
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use tokio::net::TcpListener;
//!
//! # async fn run() -> Result<(), wsmachine_tokio::Error> {
//! let listener = TcpListener::bind("127.0.0.1:9002").await?;
//! let (stream, _) = listener.accept().await?;
//! let mut ws = wsmachine_tokio::accept(stream).await?;
//! while let Some(message) = ws.next().await {
//!     let message = message?;
//!     // Queued; written with the other replies before next() waits.
//!     if message.is_data() { ws.feed(message).await?; }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! A rejected handshake keeps its answer:
//!
//! ```
//! # async fn run() {
//! match wsmachine_tokio::connect("ws://127.0.0.1:9/").await {
//!     Err(wsmachine_tokio::Error::Rejected { status, body, .. }) => {
//!         eprintln!("{status}: {}", String::from_utf8_lossy(&body));
//!     }
//!     other => { let _ = other; }
//! }
//! # }
//! ```
//!
//! Features: `rustls` (wss://), `http` (the core's `http` conversions, for
//! hyper upgrades), `axum` (an upgrade extractor), `h2` (a client of
//! WebSockets over HTTP/2, [`h2::Client`]), `h3` (WebSockets over HTTP/3 on
//! quinn, [`h3::Client`] and [`h3::Server`]), `tracing` (one DEBUG event per
//! failure).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod client;
mod conn;
mod error;
#[cfg(feature = "h2")]
#[cfg_attr(docsrs, doc(cfg(feature = "h2")))]
pub mod h2;
#[cfg(feature = "h3")]
#[cfg_attr(docsrs, doc(cfg(feature = "h3")))]
pub mod h3;
mod proxy;
pub mod proxy_env;
mod server;
mod socket;
mod socks;
#[cfg(feature = "rustls")]
mod tls;
mod trace;
mod transport;

#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use client::connect_tls;
pub use client::{IntoClientConfig, client, connect, connect_with_config};
pub use error::{Error, Timeout};
pub use server::{Decision, accept, accept_with, accept_with_config};
pub use socket::{MessageReader, MessageWriter, ReuniteError, SplitSink, SplitStream, WebSocket};
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tls::client_config as tls_client_config;
pub use transport::MaybeTlsStream;

pub use wsmachine;
pub use wsmachine::config::{Config, Keepalive};
pub use wsmachine::extensions::permessage_deflate::DeflateConfig;
pub use wsmachine::handshake::client::ClientConfig;
pub use wsmachine::handshake::server::ServerConfig;
pub use wsmachine::{CloseCode, CloseFrame, DataKind, Message, Utf8Bytes};

/// The tokio guide's examples (`docs/tokio.md`), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/tokio.md")]
struct TokioGuideDoctests;

/// The migration guide's examples (`docs/migrating.md`), beside
/// tokio-tungstenite's and axum's, compiled as doctests.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../../docs/migrating.md")]
struct MigratingDoctests;

/// The README's examples, compiled as doctests here, where both the core and
/// the driver are in scope.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// A socket and its halves move between tasks and threads and are `Unpin`,
/// as tokio-tungstenite's are: checked when the crate compiles.
const _: () = {
    const fn send_sync_unpin<T: Send + Sync + Unpin>() {}
    send_sync_unpin::<WebSocket<tokio::net::TcpStream>>();
    send_sync_unpin::<SplitSink<tokio::net::TcpStream>>();
    send_sync_unpin::<SplitStream<tokio::net::TcpStream>>();
    send_sync_unpin::<WebSocket<MaybeTlsStream<tokio::net::TcpStream>>>();
    send_sync_unpin::<Error>();
    #[cfg(feature = "h2")]
    send_sync_unpin::<WebSocket<h2::H2Stream>>();
    #[cfg(feature = "h3")]
    send_sync_unpin::<WebSocket<h3::H3Stream>>();
};
