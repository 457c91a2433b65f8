//! Effects in byte order, with the app in the loop.
//!
//! A connection must behave exactly as if each received byte were delivered
//! alone, with the app draining events and reacting after every byte. Here
//! a scripted app (it echoes messages, pings every few events, and may close
//! on its own) reacts to random traffic, valid and invalid, fed whole, byte
//! by byte and at random splits, in both roles. The events it sees and the
//! bytes it transmits must be the same every way. Fixed cases pin down what
//! that means on the wire: an echo goes out before the Close that a later
//! bad frame or the peer's Close causes.

use crate::support;

use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use support::*;
use wsmachine::config::Config;
use wsmachine::entropy::FixedEntropy;
use wsmachine::{
    Client, CloseCode, Connection, DataKind, Event, Fragment, Frame, Opcode, Role, Server, State,
};

const NOW: Duration = Duration::from_secs(1);

/// What the scripted app does.
#[derive(Clone, Copy, Debug)]
struct Script {
    /// Sends a ping after every `ping_every`th event (never when 0).
    ping_every: usize,
    /// Closes with 4000 when it has seen this many events.
    close_after: Option<usize>,
}

/// The app: it echoes data frames as they come (fragments as fragments),
/// pings every few events, and perhaps closes. Sends that the connection
/// refuses (it is closing) are part of the behaviour, so they are recorded.
struct App {
    script: Script,
    seen: usize,
    events: Vec<Event>,
    refusals: usize,
}

impl App {
    fn new(script: Script) -> Self {
        App {
            script,
            seen: 0,
            events: Vec::new(),
            refusals: 0,
        }
    }

    fn react<R: Role>(&mut self, conn: &mut Connection<R>, event: Event) {
        self.seen += 1;
        let result = match &event {
            Event::Frame(frame) => echo(conn, frame),
            _ => Ok(()),
        };
        self.refusals += usize::from(result.is_err());
        if self.script.ping_every > 0 && self.seen.is_multiple_of(self.script.ping_every) {
            let payload = self.seen.to_be_bytes();
            self.refusals += usize::from(conn.send_ping(&payload).is_err());
        }
        if self.script.close_after == Some(self.seen) {
            let closed = conn.close(NOW, CloseCode(4000), "app");
            self.refusals += usize::from(closed.is_err());
        }
        self.events.push(event);
    }
}

fn echo<R: Role>(conn: &mut Connection<R>, frame: &Frame) -> Result<(), wsmachine::SendError> {
    let kind = |opcode| match opcode {
        Opcode::Text => DataKind::Text,
        _ => DataKind::Binary,
    };
    match (frame.opcode, frame.fin) {
        (Opcode::Text, true) => conn.send_text(std::str::from_utf8(&frame.payload).unwrap_or("")),
        (Opcode::Binary, true) => conn.send_binary(&frame.payload),
        (Opcode::Text | Opcode::Binary, false) => {
            conn.send_fragment(Fragment::First(kind(frame.opcode)), &frame.payload)
        }
        (Opcode::Continuation, false) => conn.send_fragment(Fragment::Continue, &frame.payload),
        (Opcode::Continuation, true) => conn.send_fragment(Fragment::Last, &frame.payload),
        _ => Ok(()),
    }
}

/// Everything the app and the peer can observe.
#[derive(Debug, PartialEq)]
struct Observed {
    events: Vec<Event>,
    transmitted: Vec<u8>,
    refusals: usize,
    state: State,
    error: Option<wsmachine::Error>,
}

/// Runs the app over `input` cut at `cuts`, then EOF if `eof`: after every
/// piece the app drains the events, reacting to each, and the output is
/// taken.
fn run<R: Role>(
    mut conn: Connection<R>,
    script: Script,
    input: &[u8],
    cuts: &[usize],
    eof: bool,
) -> Observed {
    let mut app = App::new(script);
    let mut transmitted = drain_transmit(&mut conn);
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(input.len());
    let mut start = 0;
    let turn = |conn: &mut Connection<R>, app: &mut App, transmitted: &mut Vec<u8>| {
        while let Some(event) = conn.poll_event() {
            app.react(conn, event);
        }
        transmitted.extend(drain_transmit(conn));
    };
    for end in cuts {
        let _ = conn.receive(NOW, &input[start..end]);
        start = end;
        turn(&mut conn, &mut app, &mut transmitted);
    }
    if eof {
        let _ = conn.receive_eof(NOW);
        turn(&mut conn, &mut app, &mut transmitted);
    }
    Observed {
        events: app.events,
        transmitted,
        refusals: app.refusals,
        state: conn.state(),
        error: conn.error().cloned(),
    }
}

/// The reference: every byte alone.
fn byte_by_byte(len: usize) -> Vec<usize> {
    (1..len).collect()
}

fn server() -> Server {
    let mut config = Config::default();
    config.max_frame_size = Some(4096);
    config.max_message_size = 16 * 1024;
    Server::new_open(config, NOW)
}

fn client() -> Client<FixedEntropy> {
    Client::new_open(
        Config::default(),
        FixedEntropy::new(&[1, 2, 3, 4, 5, 6, 7, 8, 9]),
        NOW,
    )
}

// ---------------------------------------------------------------------------
// The traffic.
// ---------------------------------------------------------------------------

/// One piece of what the peer sends.
#[derive(Clone, Debug)]
enum Piece {
    Frame(Frame),
    /// Raw bytes that break a rule, whatever the role.
    Violation(Vec<u8>),
}

fn text_payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec!["a", "é", "€", "😀", " "]), 0..30)
        .prop_map(|parts| parts.concat().into_bytes())
}

fn binary_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(any::<u8>(), 126..300),
    ]
}

fn frame(opcode: Opcode, fin: bool, payload: Vec<u8>) -> Piece {
    let mut frame = Frame::new(opcode, payload);
    frame.fin = fin;
    Piece::Frame(frame)
}

/// A message: whole, or in fragments with a ping between the first two.
fn message() -> impl Strategy<Value = Vec<Piece>> {
    prop_oneof![
        text_payload().prop_map(|p| vec![frame(Opcode::Text, true, p)]),
        binary_payload().prop_map(|p| vec![frame(Opcode::Binary, true, p)]),
        (text_payload(), text_payload(), binary_payload()).prop_map(|(a, b, ping)| {
            let mut ping = ping;
            ping.truncate(125);
            vec![
                frame(Opcode::Text, false, a),
                frame(Opcode::Ping, true, ping),
                frame(Opcode::Continuation, true, b),
            ]
        }),
        (binary_payload(), binary_payload(), binary_payload()).prop_map(|(a, b, c)| vec![
            frame(Opcode::Binary, false, a),
            frame(Opcode::Continuation, false, b),
            frame(Opcode::Continuation, true, c),
        ]),
    ]
}

fn control() -> impl Strategy<Value = Vec<Piece>> {
    let short = prop::collection::vec(any::<u8>(), 0..20);
    prop_oneof![
        short
            .clone()
            .prop_map(|p| vec![frame(Opcode::Ping, true, p)]),
        short.prop_map(|p| vec![frame(Opcode::Pong, true, p)]),
        prop::sample::select(vec![1000u16, 1001, 3000, 4999]).prop_map(|code| {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(b"bye");
            vec![frame(Opcode::Close, true, payload)]
        }),
    ]
}

/// Bytes no peer may send: the codes are 1002 and 1007.
fn violation() -> impl Strategy<Value = Vec<Piece>> {
    prop_oneof![
        Just(vec![frame(Opcode::Text, true, b"bad \xff text".to_vec())]),
        Just(vec![frame(Opcode::Continuation, true, b"orphan".to_vec())]),
        Just(vec![frame(Opcode::Close, true, vec![0x03, 0xed])]), // 1005 on the wire
        Just(vec![Piece::Violation(vec![0x83, 0x00])]),           // reserved opcode, unmasked
        Just(vec![Piece::Violation(vec![0xc1, 0x00])]),           // RSV1 with nothing agreed
    ]
}

fn traffic() -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(
        prop_oneof![6 => message(), 2 => control(), 1 => violation()],
        1..10,
    )
    .prop_map(|groups| groups.into_iter().flatten().collect())
}

/// The wire form of `pieces` as the peer of `role` sends it: masked to a
/// server, unmasked to a client. Violations go as they are, with the mask
/// bit the role expects, so that each breaks only its own rule.
fn wire(pieces: &[Piece], to_server: bool, keys: &[[u8; 4]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for (i, piece) in pieces.iter().enumerate() {
        let key = to_server.then(|| keys[i % keys.len()]);
        match piece {
            Piece::Frame(frame) => frame.encode(key, &mut out),
            Piece::Violation(bytes) => {
                let mut bytes = bytes.clone();
                if let Some(key) = key {
                    bytes[1] |= 0x80;
                    bytes.extend_from_slice(&key);
                }
                out.extend_from_slice(&bytes);
            }
        }
    }
    out.to_vec()
}

fn script() -> impl Strategy<Value = Script> {
    (0usize..5, prop::option::of(1usize..12)).prop_map(|(ping_every, close_after)| Script {
        ping_every,
        close_after,
    })
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(128)))]

    #[test]
    fn a_server_with_the_app_in_the_loop_acts_the_same_however_bytes_are_split(
        traffic in traffic(),
        keys in prop::collection::vec(any::<[u8; 4]>(), 1..8),
        script in script(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        eof in any::<bool>(),
    ) {
        let input = wire(&traffic, true, &keys);
        let reference = run(server(), script, &input, &byte_by_byte(input.len()), eof);
        prop_assert_eq!(&run(server(), script, &input, &[], eof), &reference, "whole");
        prop_assert_eq!(&run(server(), script, &input, &cuts, eof), &reference, "cuts {:?}", cuts);
    }

    #[test]
    fn a_client_with_the_app_in_the_loop_acts_the_same_however_bytes_are_split(
        traffic in traffic(),
        script in script(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        eof in any::<bool>(),
    ) {
        let input = wire(&traffic, false, &[]);
        let reference = run(client(), script, &input, &byte_by_byte(input.len()), eof);
        prop_assert_eq!(&run(client(), script, &input, &[], eof), &reference, "whole");
        prop_assert_eq!(&run(client(), script, &input, &cuts, eof), &reference, "cuts {:?}", cuts);
    }
}

// ---------------------------------------------------------------------------
// What the order means on the wire.
// ---------------------------------------------------------------------------

const ECHO: Script = Script {
    ping_every: 0,
    close_after: None,
};

/// The frames a server wrote.
fn written(transmitted: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let mut buf = BytesMut::from(transmitted);
    let mut decoder = wsmachine::frame::FrameDecoder::new();
    let mut frames = Vec::new();
    while let Ok(Some(decoded)) = decoder.decode(&mut buf) {
        if let wsmachine::frame::Decoded::Frame(frame) = decoded {
            frames.push((frame.opcode, frame.payload.to_vec()));
        }
    }
    frames
}

fn masked(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    masked_frame(opcode, true, payload, [7, 7, 7, 7])
}

#[test]
fn a_message_and_a_bad_frame_in_one_read_get_the_echo_before_the_1002() {
    // Autobahn 3.2 and its kin: a valid message, then a frame with RSV bits,
    // in one write.
    let mut bad = masked(Opcode::Text, b"x");
    bad[0] |= 0x40;
    let input = [masked(Opcode::Text, b"Hello"), bad].concat();
    let observed = run(server(), ECHO, &input, &[], false);
    assert_eq!(
        written(&observed.transmitted),
        vec![
            (Opcode::Text, b"Hello".to_vec()),
            (Opcode::Close, 1002u16.to_be_bytes().to_vec()),
        ]
    );
    assert_eq!(observed.state, State::Closed);
}

#[test]
fn a_message_and_the_peers_close_in_one_read_get_the_echo_before_the_reply() {
    let input = [
        masked(Opcode::Binary, b"last words"),
        masked(Opcode::Close, &1000u16.to_be_bytes()),
    ]
    .concat();
    let observed = run(server(), ECHO, &input, &[], false);
    assert_eq!(
        written(&observed.transmitted),
        vec![
            (Opcode::Binary, b"last words".to_vec()),
            (Opcode::Close, 1000u16.to_be_bytes().to_vec()),
        ]
    );
    assert!(matches!(observed.events.last(), Some(Event::Close(close)) if close.error.is_none()));
}

#[test]
fn what_the_app_sends_goes_before_a_later_pong() {
    let input = [masked(Opcode::Text, b"first"), masked(Opcode::Ping, b"p")].concat();
    let observed = run(server(), ECHO, &input, &[], false);
    assert_eq!(
        written(&observed.transmitted),
        vec![
            (Opcode::Text, b"first".to_vec()),
            (Opcode::Pong, b"p".to_vec()),
        ]
    );
}

#[test]
fn nothing_after_the_failure_is_delivered_or_answered() {
    // A message, garbage, then more messages and a ping: the first is
    // answered, nothing after the failure is.
    let input = [
        masked(Opcode::Text, b"one"),
        vec![0x83, 0x80, 1, 2, 3, 4],
        masked(Opcode::Text, b"two"),
        masked(Opcode::Ping, b"p"),
    ]
    .concat();
    let observed = run(server(), ECHO, &input, &[], false);
    assert_eq!(
        written(&observed.transmitted),
        vec![
            (Opcode::Text, b"one".to_vec()),
            (Opcode::Close, 1002u16.to_be_bytes().to_vec()),
        ]
    );
    assert_eq!(observed.events.len(), 2, "{:?}", observed.events);
    assert!(matches!(&observed.events[1], Event::Close(close) if close.error.is_some()));
}

#[test]
fn the_end_of_the_transport_comes_after_the_bytes_before_it() {
    let input = masked(Opcode::Text, b"before the end");
    let observed = run(server(), ECHO, &input, &[], true);
    assert_eq!(
        written(&observed.transmitted),
        vec![(Opcode::Text, b"before the end".to_vec())]
    );
    assert_eq!(observed.events.len(), 2);
    assert!(matches!(
        &observed.events[1],
        Event::Close(close) if close.code == CloseCode::ABNORMAL
    ));
    assert_eq!(observed.error, Some(wsmachine::Error::UnexpectedEof));
}

#[test]
fn the_apps_close_goes_out_before_the_next_message_is_decoded() {
    // The app closes after the first message of a read; its Close is on the
    // wire before anything of the second.
    let input = [masked(Opcode::Text, b"a"), masked(Opcode::Text, b"b")].concat();
    let script = Script {
        ping_every: 0,
        close_after: Some(1),
    };
    let observed = run(server(), script, &input, &[], false);
    assert_eq!(
        written(&observed.transmitted),
        vec![
            (Opcode::Text, b"a".to_vec()),
            (Opcode::Close, [&4000u16.to_be_bytes()[..], b"app"].concat()),
        ]
    );
    // While Closing, data still arrives: the second message is delivered,
    // and the app's echo of it is refused.
    assert_eq!(observed.events.len(), 2);
    assert_eq!(observed.refusals, 1);
}
