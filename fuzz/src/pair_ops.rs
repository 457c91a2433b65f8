//! A client and a server joined in memory on a virtual clock, driven by a
//! sequence of API calls: sends of every kind from either side, closes,
//! time, partial deliveries, transport ends and injected garbage.
//!
//! Checked after every call:
//! - states only move forward, and an error means Closed;
//! - the error is sticky: it never changes, and `receive` returns it;
//! - at most one Close event per side, its code matching its error;
//! - a refused send queues nothing; a side that closed its transport
//!   transmits nothing more;
//! - after `handle_timeout(now)` no timer is due at `now`;
//! - the frames a side reports are accepted by a `MessageAssembler`, and
//!   the messages it received from an unspoilt stream are a prefix of those
//!   the peer sent.
//!
//! Checked at the end, after both sides close and time runs out:
//! - a side that opened is Closed with exactly one Close event; one that
//!   never opened has none;
//! - each side's output, decoded with `FrameDecoder`, is well formed (masked
//!   by the client only, no RSV bits, valid Close payloads), carries exactly
//!   the messages the side sent, and has no frame after its Close;
//! - a side that failed while open ended its output with a Close carrying
//!   the error's code;
//! - a side whose closing handshake ended cleanly received every message the
//!   peer sent.
//!
//! Shared by the `pair_ops` fuzz target, `tests/it/pair_props.rs` and the
//! corpus replay; it uses nothing but `wsmachine` and `std`.

// The children are declared with #[path] so that they are found in
// pair_ops/ both when this file is the fuzz crate's `pair_ops` module and
// when a test includes it by #[path] (which looks for `mod child;` next to
// this file, not in pair_ops/).
#[path = "pair_ops/decode.rs"]
mod decode;
#[path = "pair_ops/pair.rs"]
mod pair;
#[path = "pair_ops/peer.rs"]
mod peer;

use std::time::Duration;

use wsmachine::Fragment;
use wsmachine::config::{Config, Keepalive};

pub use decode::decode_ops;
use pair::Pair;

/// The close timeout of both sides.
pub const CLOSE_TIMEOUT: Duration = Duration::from_millis(1000);
/// The largest frame payload either side accepts.
pub const MAX_FRAME_PAYLOAD: u64 = 70_000;
/// The largest message either side accepts.
pub const MAX_MESSAGE_SIZE: u64 = 100_000;
/// Lengths for large payloads: the length-form boundaries and both sides of
/// each limit.
pub const LARGE_LENGTHS: [usize; 8] = [125, 126, 65535, 65536, 70_000, 70_001, 100_000, 100_001];

/// Which side of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client.
    Client,
    /// The server.
    Server,
}

/// The switches of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Whether the client answers pings itself.
    pub client_auto_pong: bool,
    /// Whether the server answers pings itself.
    pub server_auto_pong: bool,
    /// Whether the client sends keepalive pings.
    pub client_keepalive: bool,
    /// Whether the server sends keepalive pings.
    pub server_keepalive: bool,
}

impl Setup {
    /// The switches from the low four bits of a byte; a set bit turns auto
    /// pong off or keepalive on.
    pub fn from_byte(byte: u8) -> Setup {
        Setup {
            client_auto_pong: byte & 1 == 0,
            server_auto_pong: byte & 2 == 0,
            client_keepalive: byte & 4 != 0,
            server_keepalive: byte & 8 != 0,
        }
    }

    fn config(auto_pong: bool, keepalive: bool) -> Config {
        let mut config = Config::default();
        config.auto_pong = auto_pong;
        config.close_timeout = CLOSE_TIMEOUT;
        config.max_frame_size = Some(MAX_FRAME_PAYLOAD);
        config.max_message_size = MAX_MESSAGE_SIZE;
        if keepalive {
            config.keepalive = Some(Keepalive {
                interval: Duration::from_millis(700),
                timeout: Duration::from_millis(500),
            });
        }
        config
    }
}

/// One API call, or one move of the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `send_text`.
    Text(Side, String),
    /// `send_binary`.
    Binary(Side, Vec<u8>),
    /// A payload of `LARGE_LENGTHS[index % 8]` ASCII bytes, as a whole binary
    /// message (borrowed, or owned when bit 3 of the index is set) or as a
    /// fragment.
    Large(Side, Option<Fragment>, u8),
    /// `send_fragment`.
    Fragment(Side, Fragment, Vec<u8>),
    /// `send_ping`.
    Ping(Side, Vec<u8>),
    /// `send_pong`.
    Pong(Side, Vec<u8>),
    /// `close` with a code and a reason.
    Close(Side, u16, String),
    /// Advances the clock by this many milliseconds and fires both sides'
    /// timers.
    Advance(u16),
    /// Moves bytes both ways until neither side has anything to say; a
    /// Closed side closes its transport.
    Drive,
    /// Delivers up to this many of the bytes in flight toward a side (0:
    /// all of them).
    Deliver(Side, u16),
    /// The transport toward a side ends: what is in flight arrives, then EOF.
    Eof(Side),
    /// Bytes injected into the stream toward a side.
    Garbage(Side, Vec<u8>),
}

/// The fuzz check: `data[0]` is the [`Setup`], the rest the ops.
pub fn run(data: &[u8]) {
    let Some((&setup, ops)) = data.split_first() else {
        return;
    };
    run_ops(Setup::from_byte(setup), &decode_ops(ops));
}

/// Runs `ops` on a fresh pair, then closes both sides and lets time run
/// out, asserting the invariants of the module docs.
pub fn run_ops(setup: Setup, ops: &[Op]) {
    let mut pair = Pair::new(setup);
    pair.settle();
    for op in ops {
        pair.apply(op);
        pair.check_prefixes();
    }
    pair.finish();
}
