//! Tunnels through a proxy, sans-I/O: HTTP CONNECT (RFC 9110 §9.3.6) and
//! SOCKS5 (RFC 1928, with RFC 1929 username/password).
//!
//! A [`ProxyTunnel`] writes `CONNECT host:port HTTP/1.1` and reads the
//! proxy's answer with the same strict head parser and body framing as the
//! opening handshake. A 2xx establishes the tunnel and hands over the bytes
//! after the head; anything else is a [`ProxyRejection`], with its body
//! decoded and bounded, typed apart from a WebSocket server's rejection.
//!
//! A [`Socks5Tunnel`] runs the SOCKS5 greeting, authentication and CONNECT
//! and hands over the bytes after the reply; a refusal is a
//! [`Socks5Error::Refused`] with the proxy's [`ReplyCode`].
//!
//! For `ws://`, a [`Client`](crate::Client) whose config has
//! [`ClientConfig::with_proxy`](crate::handshake::client::ClientConfig::with_proxy)
//! runs the CONNECT tunnel and then the handshake on one byte stream. For
//! `wss://`, and for SOCKS5, the caller runs the tunnel first, then TLS (for
//! `wss://`), then a plain `Client` (see `docs/embedding.md`).

mod config;
mod socks5;
mod socks5_config;
mod tunnel;

pub use config::{ProxyConfig, ProxyConfigError, ProxyCredentials};
pub use socks5::{BoundAddress, ReplyCode, Socks5Error, Socks5Event, Socks5Tunnel};
pub use socks5_config::{
    Socks5Config, Socks5ConfigError, Socks5Credentials, Socks5Field, Socks5Target,
};
pub(crate) use tunnel::TunnelStep;
pub use tunnel::{ProxyError, ProxyErrorKind, ProxyRejection, ProxyTunnel, TunnelEvent};
