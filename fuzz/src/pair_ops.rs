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
//! Shared by the `pair_ops` fuzz target, `tests/pair_props.rs` and the
//! corpus replay; it uses nothing but `wsmachine` and `std`.

use std::time::Duration;

use wsmachine::close::ClosePayload;
use wsmachine::config::{Config, Keepalive};
use wsmachine::entropy::FixedEntropy;
use wsmachine::frame::{Decoded, FrameDecoder};
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{
    Client, ClientRole, Close, CloseCode, Connection, DataKind, Error, Event, Fragment, Opcode,
    Role, SendError, Server, ServerRole, State,
};

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
        config.limits.max_frame_payload = MAX_FRAME_PAYLOAD;
        config.limits.max_message_size = MAX_MESSAGE_SIZE;
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

/// Reads ops from fuzz input.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = usize::from(self.byte().unwrap_or(0)) % (max + 1);
        let len = len.min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        taken.to_vec()
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte().unwrap_or(0), self.byte().unwrap_or(0)])
    }

    fn fragment(&mut self) -> Fragment {
        match self.byte().unwrap_or(0) % 4 {
            0 => Fragment::First(DataKind::Text),
            1 => Fragment::First(DataKind::Binary),
            2 => Fragment::Continue,
            _ => Fragment::Last,
        }
    }
}

/// Close codes worth trying: valid ones and ones `close` must refuse.
const CLOSE_CODES: [u16; 12] = [
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1011, 1015, 3000, 4999, 5000,
];

/// Decodes ops from fuzz input: a kind byte (low nibble: the kind; bit 4:
/// the side), then the kind's arguments.
pub fn decode_ops(data: &[u8]) -> Vec<Op> {
    let mut reader = Reader { data };
    let mut ops = Vec::new();
    while let Some(kind) = reader.byte() {
        let side = if kind & 0x10 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        let op = match kind & 0x0f {
            0 => Op::Text(
                side,
                String::from_utf8_lossy(&reader.bytes(64)).into_owned(),
            ),
            1 => Op::Binary(side, reader.bytes(255)),
            2 => {
                let fragment = match reader.byte().unwrap_or(0) % 5 {
                    0 => Some(Fragment::First(DataKind::Text)),
                    1 => Some(Fragment::First(DataKind::Binary)),
                    2 => Some(Fragment::Continue),
                    3 => Some(Fragment::Last),
                    _ => None,
                };
                Op::Large(side, fragment, reader.byte().unwrap_or(0))
            }
            3 => {
                let fragment = reader.fragment();
                Op::Fragment(side, fragment, reader.bytes(64))
            }
            4 => Op::Ping(side, reader.bytes(130)),
            5 => Op::Pong(side, reader.bytes(130)),
            6 => {
                let choice = reader.byte().unwrap_or(0);
                let code = match CLOSE_CODES.get(usize::from(choice)) {
                    Some(&code) => code,
                    None => reader.u16(),
                };
                let reason = String::from_utf8_lossy(&reader.bytes(130)).into_owned();
                Op::Close(side, code, reason)
            }
            7 => Op::Advance(reader.u16()),
            8 => Op::Drive,
            9 => {
                let amount = reader.byte().unwrap_or(0);
                let amount = if amount < 128 {
                    u16::from(amount)
                } else {
                    u16::from(amount - 128) * 512
                };
                Op::Deliver(side, amount)
            }
            10 => Op::Eof(side),
            11 => Op::Garbage(side, reader.bytes(32)),
            _ => Op::Drive,
        };
        ops.push(op);
    }
    ops
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

/// One side and everything observed of it.
struct Peer<R: Role> {
    conn: Connection<R>,
    is_client: bool,
    /// Every byte this side transmitted.
    written: Vec<u8>,
    /// Bytes in flight toward this side.
    inbound: Vec<u8>,
    /// The transport toward this side has ended (EOF delivered).
    inbound_ended: bool,
    /// This side was Closed and closed its transport.
    transport_closed: bool,
    /// Garbage went into the stream toward this side.
    tainted: bool,
    state: State,
    opened: bool,
    error: Option<Error>,
    closes: Vec<Close>,
    /// Messages sent whole, in order.
    sent: Vec<Message>,
    /// The fragmented message being sent.
    sending: Option<(DataKind, Vec<u8>)>,
    /// Text and binary messages received whole, in order.
    received: Vec<Message>,
    /// How many of them were found among those the peer sent.
    verified: usize,
    assembler: MessageAssembler,
    /// The code of the Close this side's output must end with: it failed
    /// while open.
    failure_close: Option<CloseCode>,
}

/// `LARGE_LENGTHS[index % 8]` ASCII bytes, from a buffer made once.
fn large_payload(index: u8) -> &'static [u8] {
    static ALPHABET: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let longest = LARGE_LENGTHS[LARGE_LENGTHS.len() - 1];
    let alphabet = ALPHABET.get_or_init(|| (0..longest).map(|i| b'a' + (i % 26) as u8).collect());
    let len = LARGE_LENGTHS[usize::from(index) % LARGE_LENGTHS.len()];
    &alphabet[..len]
}

impl<R: Role> Peer<R> {
    fn new(conn: Connection<R>, is_client: bool) -> Self {
        let state = conn.state();
        Peer {
            conn,
            is_client,
            written: Vec::new(),
            inbound: Vec::new(),
            inbound_ended: false,
            transport_closed: false,
            tainted: false,
            state,
            opened: false,
            error: None,
            closes: Vec::new(),
            sent: Vec::new(),
            sending: None,
            received: Vec::new(),
            verified: 0,
            assembler: MessageAssembler::new(usize::MAX),
            failure_close: None,
        }
    }

    fn name(&self) -> &'static str {
        if self.is_client { "client" } else { "server" }
    }

    /// Carries out a send or close; checks that a refusal queued nothing.
    fn send(&mut self, now: Duration, op: &Op) {
        let result = match op {
            Op::Text(_, text) => self.conn.send_text(text).map(|()| {
                self.sent.push(Message::Text(text.clone().into()));
            }),
            Op::Binary(_, data) => self.conn.send_binary(data).map(|()| {
                self.sent.push(Message::Binary(data.clone().into()));
            }),
            Op::Large(_, None, index) => {
                let data = large_payload(*index);
                // Bit 3 of the index picks the owned-payload send.
                let sent = if index & 8 == 0 {
                    self.conn.send_binary(data)
                } else {
                    self.conn.send_binary_owned(data.to_vec())
                };
                sent.map(|()| {
                    self.sent.push(Message::Binary(data.to_vec().into()));
                })
            }
            Op::Large(_, Some(fragment), index) => {
                self.send_fragment(*fragment, large_payload(*index))
            }
            Op::Fragment(_, fragment, data) => self.send_fragment(*fragment, data),
            Op::Ping(_, payload) => self.conn.send_ping(payload),
            Op::Pong(_, payload) => self.conn.send_pong(payload),
            Op::Close(_, code, reason) => self.conn.close(now, CloseCode(*code), reason),
            _ => Ok(()),
        };
        match result {
            Ok(()) => assert!(
                self.state == State::Open,
                "{}: a send succeeded in {:?}",
                self.name(),
                self.state
            ),
            Err(error) => {
                assert_eq!(
                    self.conn.poll_transmit(),
                    None,
                    "{}: refused {error:?} but queued",
                    self.name()
                );
                if let SendError::NotOpen { state } = error {
                    assert_eq!(state, self.conn.state());
                }
            }
        }
    }

    fn send_fragment(&mut self, fragment: Fragment, data: &[u8]) -> Result<(), SendError> {
        self.conn.send_fragment(fragment, data)?;
        match fragment {
            Fragment::First(kind) => {
                assert!(
                    self.sending.is_none(),
                    "{}: a second first fragment",
                    self.name()
                );
                self.sending = Some((kind, data.to_vec()));
            }
            Fragment::Continue | Fragment::Last => {
                let Some((kind, mut bytes)) = self.sending.take() else {
                    panic!("{}: a continuation with no message", self.name())
                };
                bytes.extend_from_slice(data);
                if fragment == Fragment::Continue {
                    self.sending = Some((kind, bytes));
                } else {
                    self.sent.push(match kind {
                        DataKind::Text => Message::Text(
                            String::from_utf8(bytes)
                                .expect("sent text fragments are UTF-8")
                                .into(),
                        ),
                        DataKind::Binary => Message::Binary(bytes.into()),
                    });
                }
            }
        }
        Ok(())
    }

    fn receive(&mut self, now: Duration, bytes: &[u8]) {
        if let Err(error) = self.conn.receive(now, bytes) {
            assert_eq!(
                self.conn.error(),
                Some(&error),
                "{}: receive's error is the sticky one",
                self.name()
            );
        }
    }

    /// Delivers up to `max` bytes in flight (0: all).
    fn deliver(&mut self, now: Duration, max: usize) {
        let len = if max == 0 {
            self.inbound.len()
        } else {
            max.min(self.inbound.len())
        };
        if len == 0 {
            return;
        }
        let rest = self.inbound.split_off(len);
        let bytes = std::mem::replace(&mut self.inbound, rest);
        self.receive(now, &bytes);
    }

    /// The transport toward this side ends.
    fn end_inbound(&mut self, now: Duration) {
        if self.inbound_ended {
            return;
        }
        self.deliver(now, 0);
        self.inbound_ended = true;
        if let Err(error) = self.conn.receive_eof(now) {
            assert_eq!(
                self.conn.error(),
                Some(&error),
                "{}: receive_eof's error is the sticky one",
                self.name()
            );
        }
    }

    /// Drains events and checks the state; returns whether a handshake
    /// request waits for a decision.
    fn observe(&mut self) -> bool {
        let mut request = false;
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Request(_) => {
                    assert!(!self.is_client);
                    request = true;
                }
                Event::Accepted(_) => {
                    assert!(self.is_client);
                    self.opened = true;
                }
                Event::HandshakeRejected(_) => assert!(self.is_client),
                Event::ProxyRejected(_) => {
                    panic!("a pair without a proxy cannot be refused by one")
                }
                Event::Frame(frame) => {
                    assert!(self.opened, "{}: a frame before open", self.name());
                    assert!(
                        self.closes.is_empty(),
                        "{}: a frame after the Close event",
                        self.name()
                    );
                    match self.assembler.push(frame) {
                        Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            self.received.push(message);
                        }
                        Ok(_) => {}
                        Err(error) => panic!(
                            "{}: the connection passed a frame the assembler refuses: {error:?}",
                            self.name()
                        ),
                    }
                }
                Event::Close(close) => {
                    assert!(self.opened, "{}: a Close event before open", self.name());
                    match &close.error {
                        None => assert!(
                            close.code.is_allowed_on_wire() || close.code == CloseCode::NO_STATUS,
                            "{}: {close:?}",
                            self.name()
                        ),
                        Some(error) => {
                            assert_eq!(
                                close.code,
                                error.close_code().unwrap_or(CloseCode::ABNORMAL)
                            );
                            assert_eq!(self.conn.error(), Some(error));
                        }
                    }
                    self.closes.push(close);
                    assert!(
                        self.closes.len() <= 1,
                        "{}: two Close events: {:?}",
                        self.name(),
                        self.closes
                    );
                }
            }
        }
        let state = self.conn.state();
        assert!(
            state >= self.state,
            "{}: {:?} went back to {state:?}",
            self.name(),
            self.state
        );
        let error = self.conn.error().cloned();
        if let Some(before) = &self.error {
            assert_eq!(
                error.as_ref(),
                Some(before),
                "{}: the error changed",
                self.name()
            );
        }
        if let Some(error) = &error {
            assert_eq!(
                state,
                State::Closed,
                "{}: failed with {error:?} but not closed",
                self.name()
            );
            // Failed now, and open until now (or opened within this call).
            if self.error.is_none() && self.opened && self.state <= State::Open {
                self.failure_close = error.close_code();
            }
        }
        self.state = state;
        self.error = error;
        request
    }

    /// Takes what this side transmitted.
    fn take_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.conn.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        assert!(
            out.is_empty() || !self.transport_closed,
            "{}: transmitted after closing its transport",
            self.name()
        );
        self.written.extend_from_slice(&out);
        out
    }

    fn check_timers(&self, now: Duration) {
        if let Some(deadline) = self.conn.poll_timeout() {
            assert!(
                deadline > now,
                "{}: timer at {deadline:?} still due at {now:?}",
                self.name()
            );
        }
    }

    /// Decodes this side's output and checks it against what it sent.
    fn check_output(&self) {
        let Some(head_end) = self.written.windows(4).position(|w| w == b"\r\n\r\n") else {
            assert!(
                !self.opened,
                "{}: opened without a handshake head",
                self.name()
            );
            return;
        };
        let stream = &self.written[head_end + 4..];
        if !self.opened {
            if self.is_client {
                assert!(stream.is_empty(), "{}: frames before open", self.name());
            }
            // A server that did not open may have sent an error body.
            return;
        }
        let mut decoder = FrameDecoder::new();
        let mut buf = Default::default();
        // An empty first call settles the buffer's type (the decoder's own),
        // so that this file needs no crate but wsmachine.
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(stream);
        let mut assembler = MessageAssembler::new(usize::MAX);
        let mut messages = Vec::new();
        let mut close = None;
        let mut last_opcode = None;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Decoded::Header(header))) => {
                    assert_eq!(
                        header.mask.is_some(),
                        self.is_client,
                        "{}: masking",
                        self.name()
                    );
                    assert_eq!(header.rsv, 0, "{}: RSV bits", self.name());
                }
                Ok(Some(Decoded::Frame(frame))) => {
                    assert!(
                        close.is_none(),
                        "{}: a {:?} frame after its Close",
                        self.name(),
                        frame.opcode
                    );
                    last_opcode = Some(frame.opcode);
                    if frame.opcode == Opcode::Close {
                        let payload = ClosePayload::decode(&frame.payload).unwrap_or_else(|e| {
                            panic!("{}: sent an invalid Close: {e:?}", self.name())
                        });
                        close = Some(payload.map(|p| p.code));
                        continue;
                    }
                    match assembler.push(frame) {
                        Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            messages.push(message);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            panic!("{}: sent frames out of sequence: {error:?}", self.name())
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => panic!("{}: sent an invalid frame: {error:?}", self.name()),
            }
        }
        assert!(
            buf.is_empty() && decoder.current_header().is_none(),
            "{}: a cut frame",
            self.name()
        );
        assert!(
            messages == self.sent,
            "{}: the output does not carry the messages sent",
            self.name()
        );
        if let Some(code) = self.failure_close {
            assert_eq!(
                last_opcode,
                Some(Opcode::Close),
                "{}: failed without a Close",
                self.name()
            );
            assert_eq!(
                close,
                Some(Some(code)),
                "{}: the failure's Close",
                self.name()
            );
        }
    }

    /// The messages received are a prefix of those the peer sent, unless
    /// garbage spoilt the stream.
    fn check_received_from(&mut self, peer_sent: &[Message]) {
        if self.tainted {
            return;
        }
        // Both lists only grow: compare what arrived since the last check.
        let (verified, received) = (self.verified, self.received.len());
        assert!(
            received <= peer_sent.len()
                && self.received.get(verified..) == peer_sent.get(verified..received),
            "{}: received messages the peer did not send",
            self.name()
        );
        self.verified = received;
        // A clean closing handshake: the peer's Close came after all of them.
        if self
            .closes
            .first()
            .is_some_and(|close| close.error.is_none())
        {
            assert!(
                self.received.len() == peer_sent.len(),
                "{}: messages lost before a clean close",
                self.name()
            );
        }
    }
}

/// The pair on its virtual clock.
struct Pair {
    client: Peer<ClientRole<FixedEntropy>>,
    server: Peer<ServerRole>,
    now: Duration,
}

/// Moves what `from` transmitted into the stream toward `to`.
fn transfer<A: Role, B: Role>(from: &mut Peer<A>, to: &mut Peer<B>) {
    let bytes = from.take_output();
    if !to.inbound_ended {
        to.inbound.extend_from_slice(&bytes);
    }
}

impl Pair {
    fn new(setup: Setup) -> Pair {
        let mut client_config =
            ClientConfig::new("ws://server.example.com/chat").expect("a valid URL");
        client_config.config = Setup::config(setup.client_auto_pong, setup.client_keepalive);
        let mut server_config = ServerConfig::default();
        server_config.config = Setup::config(setup.server_auto_pong, setup.server_keepalive);
        // RFC 6455's sample nonce, then its sample masking key.
        let entropy = FixedEntropy::new(b"the sample nonce\x37\xfa\x21\x3d");
        let client = Client::new(client_config, entropy).expect("a valid client");
        Pair {
            client: Peer::new(client, true),
            server: Peer::new(Server::new(server_config), false),
            now: Duration::ZERO,
        }
    }

    /// After any call: drains events (accepting requests) and output.
    fn settle(&mut self) {
        loop {
            let request = self.server.observe();
            self.client.observe();
            // The request may be gone already: the transport ended, or the
            // client sent too much before the answer.
            if request && self.server.conn.pending_request().is_some() {
                let accepted = self.server.conn.accept(self.now, Accept::default());
                assert_eq!(accepted, Ok(()));
                self.server.opened = true;
            } else if request {
                assert_eq!(self.server.conn.state(), State::Closed);
            }
            transfer(&mut self.client, &mut self.server);
            transfer(&mut self.server, &mut self.client);
            if !request {
                break;
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.now;
        match op {
            Op::Text(side, ..)
            | Op::Binary(side, ..)
            | Op::Large(side, ..)
            | Op::Fragment(side, ..)
            | Op::Ping(side, ..)
            | Op::Pong(side, ..)
            | Op::Close(side, ..) => match side {
                Side::Client => self.client.send(now, op),
                Side::Server => self.server.send(now, op),
            },
            Op::Advance(ms) => {
                self.now = self
                    .now
                    .saturating_add(Duration::from_millis(u64::from(*ms)));
                self.fire_timers();
            }
            Op::Drive => self.drive(),
            Op::Deliver(Side::Client, max) => self.client.deliver(now, usize::from(*max)),
            Op::Deliver(Side::Server, max) => self.server.deliver(now, usize::from(*max)),
            Op::Eof(Side::Client) => self.client.end_inbound(now),
            Op::Eof(Side::Server) => self.server.end_inbound(now),
            Op::Garbage(side, bytes) => {
                let (inbound, ended, tainted) = match side {
                    Side::Client => (
                        &mut self.client.inbound,
                        self.client.inbound_ended,
                        &mut self.client.tainted,
                    ),
                    Side::Server => (
                        &mut self.server.inbound,
                        self.server.inbound_ended,
                        &mut self.server.tainted,
                    ),
                };
                if !ended && !bytes.is_empty() {
                    inbound.extend_from_slice(bytes);
                    *tainted = true;
                }
            }
        }
        self.settle();
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        self.client.conn.handle_timeout(now);
        self.client.check_timers(now);
        self.settle();
        self.server.conn.handle_timeout(now);
        self.server.check_timers(now);
        self.settle();
    }

    /// Moves bytes both ways until nothing moves; a Closed side closes its
    /// transport and the other side gets EOF.
    fn drive(&mut self) {
        loop {
            let mut progress = false;
            if !self.server.inbound.is_empty() {
                self.server.deliver(self.now, 0);
                progress = true;
            }
            self.settle();
            if !self.client.inbound.is_empty() {
                self.client.deliver(self.now, 0);
                progress = true;
            }
            self.settle();
            if self.server.state == State::Closed && !self.server.transport_closed {
                self.server.transport_closed = true;
                self.client.end_inbound(self.now);
                progress = true;
            }
            self.settle();
            if self.client.state == State::Closed && !self.client.transport_closed {
                self.client.transport_closed = true;
                self.server.end_inbound(self.now);
                progress = true;
            }
            self.settle();
            if !progress {
                break;
            }
        }
    }

    fn check_prefixes(&mut self) {
        self.client.check_received_from(&self.server.sent);
        self.server.check_received_from(&self.client.sent);
    }

    /// Closes both sides, lets time run out, and checks the end state.
    fn finish(&mut self) {
        self.drive();
        self.apply(&Op::Close(Side::Client, 1000, String::new()));
        self.apply(&Op::Close(Side::Server, 1001, String::new()));
        self.drive();
        for _ in 0..3 {
            self.now = self.now.saturating_add(CLOSE_TIMEOUT * 2);
            self.fire_timers();
            self.drive();
        }
        for (name, opened, state, closes) in [
            (
                "client",
                self.client.opened,
                self.client.state,
                self.client.closes.len(),
            ),
            (
                "server",
                self.server.opened,
                self.server.state,
                self.server.closes.len(),
            ),
        ] {
            if opened {
                assert_eq!(state, State::Closed, "{name}: not closed at the end");
                assert_eq!(closes, 1, "{name}: Close events");
            } else {
                assert_eq!(closes, 0, "{name}: a Close event without opening");
            }
        }
        self.check_prefixes();
        self.client.check_output();
        self.server.check_output();
    }
}
