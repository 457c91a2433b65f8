//! Limits, timers and switches of a connection.

use core::time::Duration;

/// Size limits on what the peer may send after the handshake.
///
/// Each is checked from the frame header, before any payload is buffered, and
/// a frame or message over it fails the connection with 1009.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameLimits {
    /// The largest payload of a single frame. Default 1 MiB: large enough for
    /// every common message, small enough that a hostile length costs little.
    pub max_frame_payload: u64,
    /// The largest message, summed over its fragments. Default 1 MiB, for
    /// the same reason.
    pub max_message_size: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_frame_payload: 1 << 20,
            max_message_size: 1 << 20,
        }
    }
}

/// Optional keepalive: a ping `interval` after the connection opens and
/// `interval` after each answering pong, and a failure (1011) when a pong
/// does not come within `timeout`. Only one ping is outstanding at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Time from the opening, or from the last pong, to the next ping.
    pub interval: Duration,
    /// How long to wait for the pong.
    pub timeout: Duration,
}

/// The behaviour of a connection once it is open.
///
/// ```
/// use core::time::Duration;
/// use wsmachine::config::{Config, Keepalive};
///
/// let mut config = Config::default();
/// config.limits.max_message_size = 64 * 1024;
/// config.keepalive = Some(Keepalive { interval: Duration::from_secs(20), timeout: Duration::from_secs(20) });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Frame and message size limits.
    pub limits: FrameLimits,
    /// Answer pings with pongs automatically. Default on.
    pub auto_pong: bool,
    /// How long to wait for the peer's Close after sending ours, and (a
    /// client) for the server to close the transport after the closing
    /// handshake. Default 10 s.
    pub close_timeout: Duration,
    /// How long the opening handshake may take, from the first call that
    /// gives the connection the caller's clock: for a server, until the
    /// whole request has arrived (the app's decision is not counted); for a
    /// client, until the whole response has. A server then answers 408, a
    /// client fails; both report [`HandshakeError::Timeout`]. Default 10 s,
    /// as python-websockets has: long enough for a slow network, short
    /// enough that connections which send half a request and stop cannot
    /// pile up. `Duration::MAX` turns it off.
    ///
    /// [`HandshakeError::Timeout`]: crate::handshake::HandshakeError::Timeout
    pub handshake_timeout: Duration,
    /// Keepalive pings. Default off: many deployments already have one at
    /// another layer, and a sans-I/O core should not add traffic unasked.
    pub keepalive: Option<Keepalive>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: FrameLimits::default(),
            auto_pong: true,
            close_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            keepalive: None,
        }
    }
}
