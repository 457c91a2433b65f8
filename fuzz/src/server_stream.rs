//! A whole server fed arbitrary bytes as its transport stream, then EOF.
//!
//! The input is fed whole, in pieces whose sizes are derived from the input
//! (once through `receive` alone, once with every other piece written into
//! the room `receive_room` lends, junk after it, and events taken with
//! `poll_event_ref`),
//! and (for short inputs) byte by byte; every valid request is accepted as
//! soon as it is reported, so that frame processing is reached too, and the
//! app echoes every whole message and pings after every third frame, so that
//! what it sends in reaction is part of the output the runs must agree on.
//! Checks:
//! - the three runs give the same events, bytes out, error and state;
//! - errors are sticky, and a closed connection neither sends nor reports
//!   anything more;
//! - at most one Request, first; frames only after it; exactly one Close for
//!   a connection that opened and none otherwise, and nothing after it;
//! - a refused request gets exactly one well-formed HTTP error response with
//!   Content-Length and `Connection: close`, whose status is the error's;
//! - an accepted one gets a 101 followed by whole, unmasked frames, none
//!   after a Close frame.

use std::time::Duration;

use wsmachine::frame::{FrameHeader, Opcode};
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Error, Event, EventRef, Server, State};

const NOW: Duration = Duration::ZERO;

/// Inputs are cut to this length so that the bytes a server holds while the
/// app decides stay under the default head limit (32 KiB) however the input
/// is split: with the decision made at a different point, the early-data
/// limit would legitimately make the runs differ.
const MAX_INPUT: usize = 16 * 1024;

/// Inputs up to this length are also fed one byte per call.
const MAX_BYTE_BY_BYTE: usize = 512;

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    transmitted: Vec<u8>,
    error: Option<Error>,
    state: State,
}

/// Feeds `stream` cut at `cuts` (increasing positions), then EOF, accepting
/// any request at once, and checks the per-call properties on the way.
/// With `lent`, every other piece is written into the room
/// `receive_room` lends, a little larger than the piece and filled with
/// junk first, which must never count as received, and events are taken
/// borrowed (`poll_event_ref`).
fn drive(stream: &[u8], cuts: &[usize], lent: bool) -> Outcome {
    let mut server = Server::new(ServerConfig::default());
    let mut outcome = Outcome {
        events: Vec::new(),
        transmitted: Vec::new(),
        error: None,
        state: State::Connecting,
    };
    let mut start = 0;
    let ends = cuts
        .iter()
        .copied()
        .filter(|&cut| cut > 0 && cut < stream.len())
        .chain([stream.len()]);
    for (i, end) in ends.enumerate() {
        let piece = stream.get(start..end).unwrap_or_default();
        start = end;
        let closed = server.state() == State::Closed;
        let result = if lent && i % 2 == 1 {
            let mut room = server.receive_room(piece.len() + piece.len() % 7 + 1);
            room.fill(0x81);
            if let Some(head) = room.get_mut(..piece.len()) {
                head.copy_from_slice(piece);
            }
            room.commit(NOW, piece.len())
        } else {
            server.receive(NOW, piece)
        };
        settle(&mut server, result, closed, lent, &mut outcome);
    }
    let closed = server.state() == State::Closed;
    let result = server.receive_eof(NOW);
    settle(&mut server, result, closed, lent, &mut outcome);
    outcome.state = server.state();
    outcome
}

/// Checks one call's result, then drains events (accepting a request) and
/// output into `outcome`.
fn settle(
    server: &mut Server,
    result: Result<(), Error>,
    closed: bool,
    borrowed: bool,
    outcome: &mut Outcome,
) {
    if let Some(sticky) = &outcome.error {
        assert_eq!(result.as_ref(), Err(sticky), "errors are sticky");
    }
    if let Err(error) = &result {
        assert_eq!(
            server.error(),
            Some(error),
            "the returned error is recorded"
        );
    }
    let events_before = outcome.events.len();
    let transmitted_before = outcome.transmitted.len();
    loop {
        let event = if borrowed {
            server.poll_event_ref().map(EventRef::into_event)
        } else {
            server.poll_event()
        };
        let Some(event) = event else { break };
        if let Event::Request(request) = &event {
            let accept = match request.protocols.first() {
                Some(protocol) => Accept::default().with_protocol(protocol.clone()),
                None => Accept::default(),
            };
            assert_eq!(
                server.accept(NOW, accept),
                Ok(()),
                "a reported request can be accepted"
            );
        }
        if let Event::Frame(frame) = &event {
            react(server, frame, outcome.events.len());
        }
        outcome.events.push(event);
    }
    while let Some(bytes) = server.poll_transmit() {
        outcome.transmitted.extend_from_slice(&bytes);
    }
    if closed {
        assert_eq!(outcome.events.len(), events_before, "no event once closed");
        assert_eq!(
            outcome.transmitted.len(),
            transmitted_before,
            "nothing sent once closed"
        );
    }
    outcome.error = server.error().cloned();
}

/// The app's reaction to a frame: an echo of a whole message, and a ping
/// after every third event. A send refused because the connection is
/// closing is part of the behaviour; it must be the same in every run.
fn react(server: &mut Server, frame: &wsmachine::Frame, seen: usize) {
    let _ = match (frame.opcode, frame.fin) {
        (Opcode::Text, true) => server.send_text(std::str::from_utf8(&frame.payload).unwrap_or("")),
        (Opcode::Binary, true) => server.send_binary(&frame.payload),
        _ => Ok(()),
    };
    if seen % 3 == 2 {
        let _ = server.send_ping(&seen.to_be_bytes());
    }
}

/// A head: the status line and the fields, and the bytes after it.
fn split_head(wire: &[u8]) -> (String, Vec<(String, String)>, &[u8]) {
    let end = wire
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete response head");
    let (head, rest) = wire.split_at(end);
    let rest = rest.get(4..).unwrap_or_default();
    let head = std::str::from_utf8(head).expect("the response head is text");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let fields = lines
        .map(|line| {
            assert!(!line.contains(['\r', '\n']), "bare CR or LF in {line:?}");
            let (name, value) = line.split_once(": ").expect("a field line");
            (name.to_ascii_lowercase(), value.to_string())
        })
        .collect();
    (status_line, fields, rest)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Checks that `wire` is a sequence of whole frames that a server may send.
fn check_server_frames(mut wire: &[u8]) {
    let mut closed = false;
    while !wire.is_empty() {
        assert!(!closed, "a frame after the Close frame");
        let (header, header_len) = FrameHeader::decode(wire)
            .expect("the server sends valid frame headers")
            .expect("the server sends whole frames");
        assert_eq!(header.mask, None, "a server frame is never masked");
        assert_eq!(header.rsv, 0);
        if header.opcode.is_control() {
            assert!(header.fin && header.payload_len <= 125);
        }
        closed = header.opcode == Opcode::Close;
        let frame_len = usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| len.checked_add(header_len))
            .expect("a frame length that fits in memory");
        wire = wire
            .get(frame_len..)
            .expect("the server sends whole frames");
    }
}

/// The properties of one complete run.
fn check(outcome: &Outcome) {
    assert_eq!(
        outcome.state,
        State::Closed,
        "EOF always ends the connection"
    );
    let requests = outcome
        .events
        .iter()
        .filter(|event| matches!(event, Event::Request(_)))
        .count();
    assert!(requests <= 1, "one request per connection");
    if requests == 0 {
        assert_eq!(outcome.events, [], "nothing happens before a request");
        let Some(Error::Handshake(error)) = &outcome.error else {
            panic!("a connection that never opened failed its handshake: {outcome:?}")
        };
        if outcome.transmitted.is_empty() {
            assert_eq!(*error, HandshakeError::UnexpectedEof, "{outcome:?}");
            return;
        }
        let status = error.status().expect("a refusal has a status");
        let (status_line, fields, body) = split_head(&outcome.transmitted);
        assert!(
            status_line.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status_line:?} for {error:?}"
        );
        assert_eq!(field(&fields, "transfer-encoding"), Vec::<&str>::new());
        // RFC 9110 §7.8: a 426 names the protocol, and Upgrade is a
        // connection option.
        let upgrade = field(&fields, "upgrade");
        if status == 426 {
            assert_eq!(upgrade, ["websocket"]);
        }
        let connection = if upgrade.is_empty() {
            "close"
        } else {
            "upgrade, close"
        };
        assert_eq!(field(&fields, "connection"), [connection]);
        let length = field(&fields, "content-length");
        assert_eq!(
            length,
            [body.len().to_string().as_str()],
            "one response, framed"
        );
        return;
    }
    assert!(matches!(outcome.events.first(), Some(Event::Request(_))));
    let (status_line, fields, frames) = split_head(&outcome.transmitted);
    assert_eq!(status_line, "HTTP/1.1 101 Switching Protocols");
    assert_eq!(field(&fields, "sec-websocket-accept").len(), 1);
    assert_eq!(field(&fields, "content-length"), Vec::<&str>::new());
    check_server_frames(frames);

    let closes: Vec<usize> = outcome
        .events
        .iter()
        .enumerate()
        .filter(|(_, event)| matches!(event, Event::Close(_)))
        .map(|(index, _)| index)
        .collect();
    let [close_index] = closes.as_slice() else {
        panic!("exactly one Close for a connection that opened: {outcome:?}")
    };
    assert_eq!(
        *close_index,
        outcome.events.len() - 1,
        "nothing after Close"
    );
    let Some(Event::Close(close)) = outcome.events.last() else {
        unreachable!("found above")
    };
    assert_eq!(close.error, outcome.error, "the Close reports the failure");
    for event in outcome.events.get(1..*close_index).unwrap_or_default() {
        assert!(matches!(event, Event::Frame(_)), "{event:?}");
    }
    if let Some(error) = &outcome.error {
        assert!(
            matches!(error, Error::Protocol(_) | Error::UnexpectedEof),
            "{error:?}"
        );
    }
}

/// The fuzz check.
pub fn run(data: &[u8]) {
    let stream = data.get(..MAX_INPUT).unwrap_or(data);
    let whole = drive(stream, &[], false);
    check(&whole);
    let cuts = super::split::cuts_for(stream);
    assert_eq!(drive(stream, &cuts, false), whole, "split at {cuts:?}");
    assert_eq!(
        drive(stream, &cuts, true),
        whole,
        "split at {cuts:?}, every other piece through lent room"
    );
    if stream.len() <= MAX_BYTE_BY_BYTE {
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(drive(stream, &every_byte, false), whole, "byte by byte");
    }
}
