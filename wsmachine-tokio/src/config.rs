//! The driver's own settings; the protocol's are the core's configs.

/// How a socket uses its transport.
///
/// ```
/// use wsmachine_tokio::Config;
///
/// let mut config = Config::default();
/// config.high_water_mark = 256 * 1024;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Unflushed output above which sending waits (`poll_ready` is
    /// pending) and reading pauses, so that a peer that stops reading costs
    /// at most this much memory plus one message (or the pongs and Close
    /// answering one read). Default 1 MiB.
    pub high_water_mark: usize,
    /// The most bytes read from the transport at once. Default 64 KiB: a
    /// few system calls per large message, and no more held per idle
    /// connection than the core's own buffers (the space is released
    /// between reads).
    pub read_buffer: usize,
    /// How long the end of a connection may take once the core has closed
    /// it: writing the last frames (a failure's Close, the replies queued
    /// before it), the transport's shutdown and the wait for the peer's
    /// end. Default 10 s.
    pub close_timeout: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            high_water_mark: 1 << 20,
            read_buffer: 64 * 1024,
            close_timeout: std::time::Duration::from_secs(10),
        }
    }
}
