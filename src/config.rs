//! Limits, timers and switches of a connection.

use core::time::Duration;

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

/// A connection's settings: size limits, timers, keepalive,
/// permessage-deflate and output backpressure. One type for both roles and
/// for every runtime; the tokio driver takes this same `Config`.
///
/// Set fields directly, or chain the setters of the same names:
///
/// ```
/// use core::time::Duration;
/// use wsmachine::config::{Config, Keepalive};
///
/// let config = Config::default()
///     .max_message_size(256 * 1024)
///     .close_timeout(Duration::from_secs(5))
///     .keepalive(Some(Keepalive { interval: Duration::from_secs(20), timeout: Duration::from_secs(20) }));
/// assert_eq!(config.frame_limit(), 256 * 1024);
/// ```
///
/// The size defaults are those of tungstenite and axum, so that an app
/// moving from them meets no new 1009: a message of up to 64 MiB, in
/// frames of any size up to that. Memory follows what a peer actually
/// sends (nothing is reserved up front), and a server facing many
/// untrusted peers should lower [`max_message_size`](Self::max_message_size)
/// to what its messages need (docs/security.md).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest message the peer may send, summed over its fragments
    /// (for a compressed message, its inflated size). Over it the
    /// connection fails with 1009. Default 64 MiB.
    pub max_message_size: u64,
    /// The largest single frame's payload; `None`, the default, allows
    /// frames up to [`max_message_size`](Self::max_message_size), so that
    /// raising the message limit is enough. A frame's payload is held whole
    /// before it is handed out.
    pub max_frame_size: Option<u64>,
    /// Answer pings with pongs automatically. Default on.
    pub auto_pong: bool,
    /// How long to wait for the peer's Close after sending ours, and (a
    /// client) for the server to close the transport after the closing
    /// handshake. A driver also bounds by it the writing of the last frames
    /// once the connection is over. Default 10 s.
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
    /// Output not yet written above which a runtime (the tokio driver)
    /// stops reading and makes senders wait, so that a peer that does not
    /// read costs at most this much plus one message; compare it with
    /// [`Connection::pending_output`](crate::Connection::pending_output)
    /// and what your loop holds. Default 1 MiB.
    pub high_water_mark: usize,
    /// The most bytes a runtime reads from its transport at once (the
    /// `preferred` it passes to
    /// [`Connection::receive_size_hint`](crate::Connection::receive_size_hint)).
    /// Default 64 KiB: a few system calls per large message, and nothing
    /// held between reads.
    pub read_buffer: usize,
    /// The largest allocation the receive buffer and the output buffer each
    /// keep for reuse once empty; a larger one is let go of as soon as it
    /// is empty, so that a connection after a large message holds little.
    /// Room lent for a read and given back unused (the transport had
    /// nothing yet) lets go of the receive buffer whatever its size, and of
    /// the output buffer and the event queue's memory when nothing is in
    /// them: a connection waiting on its transport holds no buffer. Default
    /// 4 KiB: messages of up to about 1 KiB that follow one another reuse
    /// both buffers and allocate nothing, also through a runtime that reads
    /// into room of twice what its last read brought (the tokio driver,
    /// whose smallest read room is this size). 0 lets go of each buffer
    /// whenever it is empty.
    pub kept_buffer_capacity: usize,
    /// Hand out data payload in pieces of at most this many bytes, as it
    /// arrives ([`Event::Piece`](crate::Event::Piece)), instead of whole
    /// frames: a frame of any length then needs no buffer of its length,
    /// and [`max_frame_size`](Self::max_frame_size) plays no part unless
    /// set. [`max_message_size`](Self::max_message_size) still bounds each
    /// message; `u64::MAX` lifts it, for an app that streams messages of
    /// any size. Sizes below 4 are taken as 4, the longest UTF-8
    /// character. Default `None`: whole frames, as [`Event::Frame`](crate::Event::Frame).
    pub piece_size: Option<usize>,
    /// permessage-deflate (RFC 7692): a client offers it, a server accepts
    /// it when offered (unless its app's `Accept` chose extensions itself).
    /// Default off, in both roles and in every way of making a connection:
    /// its two 32 KiB windows per connection are a cost an app should
    /// choose.
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: 64 << 20,
            max_frame_size: None,
            auto_pong: true,
            close_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            keepalive: None,
            high_water_mark: 1 << 20,
            read_buffer: 64 * 1024,
            kept_buffer_capacity: 4 * 1024,
            piece_size: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl Config {
    /// The largest frame payload taken: [`max_frame_size`](Self::max_frame_size)
    /// when set, and never more than [`max_message_size`](Self::max_message_size).
    pub fn frame_limit(&self) -> u64 {
        self.max_frame_size.map_or(self.max_message_size, |frame| {
            frame.min(self.max_message_size)
        })
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_frame_size`](Self::max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, bytes: Option<u64>) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`auto_pong`](Self::auto_pong).
    #[must_use]
    pub fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`keepalive`](Self::keepalive).
    #[must_use]
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }

    /// Sets [`high_water_mark`](Self::high_water_mark).
    #[must_use]
    pub fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water_mark = bytes;
        self
    }

    /// Sets [`read_buffer`](Self::read_buffer).
    #[must_use]
    pub fn read_buffer(mut self, bytes: usize) -> Self {
        self.read_buffer = bytes;
        self
    }

    /// Sets [`piece_size`](Self::piece_size).
    #[must_use]
    pub fn piece_size(mut self, bytes: Option<usize>) -> Self {
        self.piece_size = bytes;
        self
    }

    /// The size of the pieces data payload is handed out in, if it is
    /// (see [`piece_size`](Self::piece_size)): at least 4.
    pub fn piece_limit(&self) -> Option<usize> {
        self.piece_size.map(|size| size.max(4))
    }

    /// Turns permessage-deflate on with its default parameters, or off.
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate(mut self, on: bool) -> Self {
        self.deflate = on.then(DeflateConfig::default);
        self
    }

    /// Turns permessage-deflate on with these parameters.
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate_with(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }
}

/// What this endpoint wants from permessage-deflate (RFC 7692), for
/// [`Config::deflate`]. A plain setting: its offer and negotiation are
/// [`crate::extensions::permessage_deflate`]'s.
///
/// The parameters are named as in RFC 7692 and mean the same on both sides:
/// `server_no_context_takeover` is about the server's compressor whether
/// the config is a client's (which asks for it) or a server's (which does
/// it).
///
/// ```
/// use wsmachine::extensions::permessage_deflate::DeflateConfig;
///
/// let mut config = DeflateConfig::default();
/// config.level = 1;
/// config.client_no_context_takeover = true;
/// assert_eq!(
///     config.offer().to_string(),
///     "permessage-deflate; client_no_context_takeover; client_max_window_bits"
/// );
/// ```
#[cfg(feature = "deflate")]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// zlib compression level, 0 (stored) to 9 (smallest); higher values
    /// are taken as 9. Default 6, zlib's own default.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed: deflate's framing
    /// costs more than it saves on tiny messages. A fragmented message is
    /// compressed when its first fragment reaches this size. Default 32.
    pub min_message_size: usize,
    /// The server resets its compressor after every message. A client asks
    /// for it (and fails the handshake if the server does not agree); a
    /// server does it. Saves the receiving client a 32 KiB window per
    /// connection between messages at the cost of ratio. Default off.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message. A client does
    /// it (and hints so in its offer); a server requires it in its answer.
    /// Default off.
    pub client_no_context_takeover: bool,
    /// The largest window, in bits (8 to 15), the server compresses with. A
    /// client below 15 asks for it; a server uses at most this and at most
    /// what the client asked for. Default 15.
    pub server_max_window_bits: u8,
    /// The largest window, in bits (8 to 15), the client compresses with. A
    /// client uses at most this; a server below 15 requires the client to
    /// support the parameter and limits it, declining offers that do not.
    /// Default 15.
    pub client_max_window_bits: u8,
}

#[cfg(feature = "deflate")]
impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 6,
            min_message_size: 32,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}
