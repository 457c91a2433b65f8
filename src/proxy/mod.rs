//! HTTP CONNECT tunnels through a proxy (RFC 9110 §9.3.6), sans-I/O.
//!
//! A [`ProxyTunnel`] writes `CONNECT host:port HTTP/1.1` and reads the
//! proxy's answer with the same strict head parser and body framing as the
//! opening handshake. A 2xx establishes the tunnel and hands over the bytes
//! after the head; anything else is a [`ProxyRejection`], with its body
//! decoded and bounded, typed apart from a WebSocket server's rejection.
//!
//! For `ws://`, a [`Client`](crate::Client) whose config has
//! [`ClientConfig::with_proxy`](crate::handshake::client::ClientConfig::with_proxy)
//! runs the tunnel and then the handshake on one byte stream. For `wss://`,
//! TLS goes between the two: run a `ProxyTunnel`, then TLS over the tunnel,
//! then a plain `Client` over TLS (see `docs/embedding.md`).

mod config;
mod tunnel;

pub use config::{ProxyConfig, ProxyConfigError, ProxyCredentials};
pub(crate) use tunnel::TunnelStep;
pub use tunnel::{ProxyError, ProxyErrorKind, ProxyRejection, ProxyTunnel, TunnelEvent};
