//! Test support: an in-memory client/server pair on virtual time, and
//! helpers that feed an input whole, byte by byte and at every split point.
#![allow(dead_code)]

use std::time::Duration;

use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use wsmachine::config::Config;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, Connection, Error, Event, Role, Server, State};

/// RFC 6455 §1.3's sample nonce, then §5.7's masking key, over and over.
pub const RFC_ENTROPY: &[u8] = b"the sample nonce\x37\xfa\x21\x3d";

/// The `Sec-WebSocket-Key` and `Sec-WebSocket-Accept` of that nonce.
pub const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub fn client(url: &str) -> Client<FixedEntropy> {
    client_with(ClientConfig::new(url).expect("valid url"))
}

pub fn client_with(config: ClientConfig) -> Client<FixedEntropy> {
    Client::new(config, FixedEntropy::new(RFC_ENTROPY)).expect("valid client")
}

/// A client whose request has been taken off its output.
pub fn client_after_request(config: ClientConfig) -> Client<FixedEntropy> {
    let mut client = client_with(config);
    drain_transmit(&mut client);
    client
}

pub fn drain_events<R: Role>(conn: &mut Connection<R>) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

pub fn drain_transmit<R: Role>(conn: &mut Connection<R>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

/// A valid handshake request from the RFC's sample key.
pub fn upgrade_request(extra_headers: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {RFC_KEY}\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    )
    .into_bytes()
}

/// The 101 for the RFC's sample key.
pub fn switching_response(extra_headers: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n{extra_headers}\r\n"
    )
    .into_bytes()
}

/// Everything observable after feeding some input to a fresh connection.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub events: Vec<Event>,
    pub transmitted: Vec<u8>,
    /// The connection's fatal error at the end, whether a call returned it
    /// or `poll_event` reported it.
    pub error: Option<Error>,
    pub state: State,
}

/// Feeds `input` in the pieces `cuts` makes (sorted positions), then EOF if
/// `eof`, draining after every call.
pub fn feed<R: Role>(mut conn: Connection<R>, input: &[u8], cuts: &[usize], eof: bool) -> Outcome {
    let mut events = Vec::new();
    let mut transmitted = Vec::new();
    let mut error = None;
    let mut start = 0;
    let ends = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .chain([input.len()]);
    for end in ends {
        if let Err(e) = conn.receive(Duration::ZERO, &input[start..end]) {
            error = Some(e);
        }
        start = end;
        events.extend(drain_events(&mut conn));
        transmitted.extend(drain_transmit(&mut conn));
    }
    if eof {
        if let Err(e) = conn.receive_eof(Duration::ZERO) {
            error = Some(e);
        }
        events.extend(drain_events(&mut conn));
        transmitted.extend(drain_transmit(&mut conn));
    }
    // A call's error is the connection's: the two channels agree.
    if let Some(returned) = &error {
        assert_eq!(conn.error(), Some(returned), "a returned error is sticky");
    }
    Outcome {
        events,
        transmitted,
        error: conn.error().cloned(),
        state: conn.state(),
    }
}

/// Feeds `input` whole, byte by byte, and split in two at every position,
/// asserts that all give the same outcome, and returns it.
pub fn feed_every_way<R: Role>(
    make: impl Fn() -> Connection<R>,
    input: &[u8],
    eof: bool,
) -> Outcome {
    let whole = feed(make(), input, &[], eof);
    let every_byte: Vec<usize> = (1..input.len()).collect();
    assert_eq!(feed(make(), input, &every_byte, eof), whole, "byte by byte");
    for cut in 1..input.len() {
        assert_eq!(feed(make(), input, &[cut], eof), whole, "split at {cut}");
    }
    whole
}

/// A client and a server joined in memory, on a virtual clock.
pub struct Pair {
    pub client: Client<FixedEntropy>,
    pub server: Server,
    pub now: Duration,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    pub client_errors: Vec<Error>,
    pub server_errors: Vec<Error>,
    /// Whether each side has closed its end of the transport.
    pub client_transport_closed: bool,
    pub server_transport_closed: bool,
    /// Whether the server answers a request with `Accept::default()`.
    pub auto_accept: bool,
}

impl Pair {
    pub fn new(client_config: ClientConfig, server_config: ServerConfig) -> Pair {
        Pair {
            client: client_with(client_config),
            server: Server::new(server_config),
            now: Duration::ZERO,
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_errors: Vec::new(),
            server_errors: Vec::new(),
            client_transport_closed: false,
            server_transport_closed: false,
            auto_accept: true,
        }
    }

    /// A pair whose handshake is done, with the events of it cleared.
    pub fn connected() -> Pair {
        let mut pair = Pair::new(
            ClientConfig::new("ws://server.example.com/chat").unwrap(),
            ServerConfig::default(),
        );
        pair.drive();
        assert_eq!(pair.client.state(), State::Open);
        assert_eq!(pair.server.state(), State::Open);
        pair.client_events.clear();
        pair.server_events.clear();
        pair
    }

    /// Moves bytes both ways until neither side has anything to say. A side
    /// that is closed closes its transport, and the other side sees EOF.
    pub fn drive(&mut self) {
        loop {
            let mut progress = false;
            let from_client = drain_transmit(&mut self.client);
            if !from_client.is_empty()
                && !self.server_transport_closed
                && !self.client_transport_closed
            {
                progress = true;
                if let Err(e) = self.server.receive(self.now, &from_client) {
                    note_error(&mut self.server_errors, e);
                }
            }
            let from_server = drain_transmit(&mut self.server);
            if !from_server.is_empty()
                && !self.client_transport_closed
                && !self.server_transport_closed
            {
                progress = true;
                if let Err(e) = self.client.receive(self.now, &from_server) {
                    note_error(&mut self.client_errors, e);
                }
            }
            for event in drain_events(&mut self.server) {
                if let Event::Close(close) = &event
                    && let Some(error) = &close.error
                {
                    note_error(&mut self.server_errors, error.clone());
                }
                if self.auto_accept && matches!(event, Event::Request(_)) {
                    self.server
                        .accept(self.now, Accept::default())
                        .expect("accept");
                    progress = true;
                }
                self.server_events.push(event);
            }
            for event in drain_events(&mut self.client) {
                if let Event::Close(close) = &event
                    && let Some(error) = &close.error
                {
                    note_error(&mut self.client_errors, error.clone());
                }
                self.client_events.push(event);
            }
            // A side that is closed writes what it still has, then closes
            // its transport.
            if self.server.state() == State::Closed && !self.server_transport_closed {
                self.server_transport_closed = true;
                progress = true;
                let last = drain_transmit(&mut self.server);
                if !self.client_transport_closed {
                    if let Err(e) = self.client.receive(self.now, &last) {
                        note_error(&mut self.client_errors, e);
                    }
                    if let Err(e) = self.client.receive_eof(self.now) {
                        note_error(&mut self.client_errors, e);
                    }
                }
            }
            if self.client.state() == State::Closed && !self.client_transport_closed {
                self.client_transport_closed = true;
                progress = true;
                let last = drain_transmit(&mut self.client);
                if !self.server_transport_closed {
                    if let Err(e) = self.server.receive(self.now, &last) {
                        note_error(&mut self.server_errors, e);
                    }
                    if let Err(e) = self.server.receive_eof(self.now) {
                        note_error(&mut self.server_errors, e);
                    }
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// Advances the clock to `now`, fires due timers on both sides and drives.
    pub fn advance_to(&mut self, now: Duration) {
        self.now = now;
        self.client.handle_timeout(now);
        self.server.handle_timeout(now);
        self.drive();
    }
}

/// Records a side's error once: a failure's Close event and a later call's
/// `Err` report the same sticky error.
fn note_error(errors: &mut Vec<Error>, error: Error) {
    if errors.last() != Some(&error) {
        errors.push(error);
    }
}

// ---------------------------------------------------------------------------
// Fixtures: a connection in each role.
// ---------------------------------------------------------------------------

/// A server waiting for the request, with the default config.
pub fn server() -> Server {
    Server::new(ServerConfig::default())
}

/// A server past the handshake (`Server::new_open`), at time zero.
pub fn server_open() -> Server {
    server_with(Config::default())
}

/// A server past the handshake with `config`, at time zero.
pub fn server_with(config: Config) -> Server {
    Server::new_open(config, Duration::ZERO)
}

/// A client past the handshake, masking with the RFC's key, at time zero.
pub fn client_open() -> Client<FixedEntropy> {
    client_with_config(Config::default())
}

/// A client past the handshake with `config`, masking with the RFC's key.
pub fn client_with_config(config: Config) -> Client<FixedEntropy> {
    Client::new_open(config, FixedEntropy::new(RFC_ENTROPY), Duration::ZERO)
}

// ---------------------------------------------------------------------------
// The frame builder: frames written byte by byte, not by the crate's
// encoder, so that they can break any rule.
// ---------------------------------------------------------------------------

/// A frame with any first byte (FIN, RSV, opcode), masked when `mask` is
/// given; the length takes its shortest form.
pub fn raw_frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// The first byte of a frame: FIN, the RSV bits (`0b100` is RSV1) and the
/// opcode.
pub fn first_byte(opcode: wsmachine::Opcode, fin: bool, rsv: u8) -> u8 {
    (u8::from(fin) << 7) | (rsv << 4) | opcode.to_wire()
}

/// A frame as a client sends it, masked with `key`.
pub fn masked_frame(opcode: wsmachine::Opcode, fin: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    raw_frame(first_byte(opcode, fin, 0), Some(key), payload)
}

/// A frame as a server sends it, unmasked.
pub fn unmasked_frame(opcode: wsmachine::Opcode, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(first_byte(opcode, fin, 0), None, payload)
}

/// A Close frame's payload: the code, then the reason's bytes.
pub fn close_payload<R: AsRef<[u8]> + ?Sized>(code: u16, reason: &R) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_ref());
    payload
}

/// Where the pieces of an input of `len` bytes end, cut at `cuts` (any
/// order, repeats and out-of-range cuts ignored): ascending, the last `len`.
pub fn ends(cuts: &[usize], len: usize) -> Vec<usize> {
    let mut cuts = cuts.to_vec();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.into_iter()
        .filter(|&cut| cut > 0 && cut < len)
        .chain([len])
        .collect()
}

/// Cuts `input` at the given (unsorted, possibly repeated) points.
pub fn pieces<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&input[start..cut]);
        start = cut;
    }
    pieces.push(&input[start..]);
    pieces
}

/// `config` with proptest's failures saved beside the test's source file:
/// `x.rs` keeps its cases in `x.proptest-regressions`, and replays them
/// first on every run. proptest's default would save them in a
/// `proptest-regressions/` folder beside `tests/it/`, since this folder
/// has a `main.rs`.
pub fn saved_beside(config: ProptestConfig) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..config
    }
}
