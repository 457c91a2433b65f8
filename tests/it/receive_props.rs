//! Receiving is split-invariant through every input path: one piece, any
//! chunking through `receive`, the lent room of `receive_room` (initialised
//! or not) and its `commit`, or `read_from` a reader, and any
//! mix of them, give the same events, output, error and state, and the
//! events are the frames that were sent, whether taken with `poll_event` or
//! borrowed with `poll_event_ref`. Small frames that arrive whole, frames
//! whose payload spans reads (unmasked while copied) and frames that stop at
//! a violation all take part.

use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use wsmachine::config::Config;
use wsmachine::{Error, Event, EventRef, Frame, Opcode, Server, State};

const NOW: Duration = Duration::ZERO;
const LIMIT: u64 = 80_000;

/// What the peer sends: valid frames, then perhaps one violation.
#[derive(Clone, Debug)]
struct Traffic {
    frames: Vec<(Frame, [u8; 4])>,
    violation: Option<Vec<u8>>,
}

fn payload(text: bool) -> impl Strategy<Value = Vec<u8>> {
    let len = prop_oneof![
        8 => 0usize..40,
        2 => 100usize..400,
        1 => 65_530usize..70_000,
    ];
    (len, any::<u8>()).prop_map(move |(len, seed)| {
        if text {
            // Multi-byte characters, so that reads split them.
            "aé€😀"
                .chars()
                .cycle()
                .skip(usize::from(seed % 4))
                .scan(0, |used, c| {
                    *used += c.len_utf8();
                    (*used <= len).then_some(c)
                })
                .collect::<String>()
                .into_bytes()
        } else {
            (0..len).map(|i| (i as u8).wrapping_add(seed)).collect()
        }
    })
}

/// A message of one to three frames, perhaps with a ping between them.
fn message() -> impl Strategy<Value = Vec<Frame>> {
    (any::<bool>(), 1usize..=3, any::<bool>()).prop_flat_map(|(text, parts, ping)| {
        prop::collection::vec(payload(text), parts).prop_map(move |parts| {
            let count = parts.len();
            let mut frames = Vec::new();
            for (i, part) in parts.into_iter().enumerate() {
                let opcode = match (i, text) {
                    (0, true) => Opcode::Text,
                    (0, false) => Opcode::Binary,
                    _ => Opcode::Continuation,
                };
                let mut frame = Frame::new(opcode, part);
                frame.fin = i + 1 == count;
                frames.push(frame);
                if ping && i == 0 {
                    frames.push(Frame::new(Opcode::Ping, &b"between"[..]));
                }
            }
            frames
        })
    })
}

/// Frames the server must refuse.
fn violation() -> impl Strategy<Value = Vec<u8>> {
    let masked = |frame: Frame| {
        let mut wire = BytesMut::new();
        frame.encode(Some([9, 8, 7, 6]), &mut wire);
        wire.to_vec()
    };
    prop_oneof![
        Just(masked(Frame::new(Opcode::Text, &b"ok \xff not"[..]))),
        Just(masked(Frame::new(Opcode::Text, &b"cut \xe2\x82"[..]))),
        Just({
            let mut frame = Frame::new(Opcode::Binary, &b"rsv"[..]);
            frame.rsv = 0b100;
            masked(frame)
        }),
        Just({
            let mut wire = BytesMut::new();
            Frame::new(Opcode::Binary, &b"plain"[..]).encode(None, &mut wire);
            wire.to_vec()
        }),
        Just(masked(Frame::new(
            Opcode::Binary,
            vec![0; LIMIT as usize + 1]
        ))),
        Just(masked(Frame::new(Opcode::Continuation, &b"orphan"[..]))),
        Just(vec![0x83, 0x80, 1, 2, 3, 4]),
    ]
}

fn traffic() -> impl Strategy<Value = Traffic> {
    (
        prop::collection::vec(message(), 1..8),
        prop::collection::vec(any::<[u8; 4]>(), 32),
        prop::option::of(violation()),
    )
        .prop_map(|(messages, keys, violation)| Traffic {
            frames: messages
                .into_iter()
                .flatten()
                .zip(keys.into_iter().cycle())
                .collect(),
            violation,
        })
}

impl Traffic {
    fn wire(&self) -> Vec<u8> {
        let mut wire = BytesMut::new();
        for (frame, key) in &self.frames {
            frame.encode(Some(*key), &mut wire);
        }
        if let Some(violation) = &self.violation {
            wire.extend_from_slice(violation);
        }
        wire.to_vec()
    }
}

fn server() -> Server {
    let mut config = Config::default();
    config.max_frame_size = Some(LIMIT);
    config.max_message_size = 4 * LIMIT;
    Server::new_open(config, NOW)
}

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    transmitted: Vec<u8>,
    error: Option<Error>,
    state: State,
}

/// How a piece of input is handed over.
#[derive(Clone, Copy, Debug)]
enum Path {
    Slice,
    /// Written into the room `receive_room` lends, a little more room
    /// than the piece needs, with junk after the piece that must never
    /// count as received (the room a read leaves is lent again as it is).
    Lent,
    /// Read by `read_from` from a reader holding the piece (`read_from`
    /// needs the `std` feature).
    #[cfg(feature = "std")]
    Reader,
    /// Written into the uninitialised room `receive_room_uninit` lends,
    /// a little more than the piece needs, and committed with its `unsafe`
    /// `commit`.
    Uninit,
}

/// How events are taken.
#[derive(Clone, Copy, Debug)]
enum Drain {
    /// `poll_event`.
    Owned,
    /// `poll_event_ref`, with lent frames copied for the comparison.
    Borrowed,
    /// The two in turn.
    Mixed,
}

/// Feeds `wire` cut at `cuts`, each piece through the path `paths` gives
/// it, draining with `poll_event` after every call.
fn feed(wire: &[u8], cuts: &[usize], paths: &[Path]) -> Outcome {
    feed_drained(wire, cuts, paths, Drain::Owned)
}

/// As `feed`, draining as `drain` says.
fn feed_drained(wire: &[u8], cuts: &[usize], paths: &[Path], drain: Drain) -> Outcome {
    let mut server = server();
    let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(wire.len());
    let mut outcome = Outcome {
        events: Vec::new(),
        transmitted: Vec::new(),
        error: None,
        state: State::Open,
    };
    let mut start = 0;
    for (i, end) in cuts.into_iter().enumerate() {
        let piece = &wire[start..end];
        start = end;
        let result = match paths.get(i % paths.len().max(1)).unwrap_or(&Path::Slice) {
            Path::Slice => server.receive(NOW, piece),
            Path::Lent => {
                let mut room = server.receive_room(piece.len() + 7);
                room.fill(0x81);
                room[..piece.len()].copy_from_slice(piece);
                room.commit(NOW, piece.len())
            }
            #[cfg(feature = "std")]
            Path::Reader => read_all(&mut server, piece),
            Path::Uninit => {
                let mut room = server.receive_room_uninit(piece.len() + 7);
                for (slot, byte) in room.as_uninit_mut().iter_mut().zip(piece) {
                    slot.write(*byte);
                }
                // SAFETY: the loop above wrote the first `piece.len()` bytes.
                unsafe { room.commit(NOW, piece.len()) }
            }
        };
        if let Err(error) = result {
            outcome.error = Some(error);
        }
        loop {
            let borrowed = match drain {
                Drain::Owned => false,
                Drain::Borrowed => true,
                Drain::Mixed => outcome.events.len() % 2 == 1,
            };
            let event = if borrowed {
                server.poll_event_ref().map(EventRef::into_event)
            } else {
                server.poll_event()
            };
            let Some(event) = event else { break };
            outcome.events.push(event);
        }
        while let Some(bytes) = server.poll_transmit() {
            outcome.transmitted.extend_from_slice(&bytes);
        }
    }
    outcome.state = server.state();
    // The error reported by `poll_event` is the connection's, whichever call
    // came last.
    outcome.error = server.error().cloned();
    outcome
}

/// Reads `piece` with `read_from` until it is used up (a read takes at most
/// 64 KiB), without reaching its end: an empty reader would mean EOF.
#[cfg(feature = "std")]
fn read_all(server: &mut Server, mut piece: &[u8]) -> Result<(), Error> {
    while !piece.is_empty() {
        match server.read_from(NOW, &mut piece) {
            Ok(_) => {}
            Err(wsmachine::ReadError::Connection(error)) => return Err(error),
            Err(wsmachine::ReadError::Io(error)) => panic!("a slice cannot fail: {error}"),
        }
    }
    Ok(())
}

fn path() -> impl Strategy<Value = Path> {
    prop::sample::select(vec![
        Path::Slice,
        Path::Lent,
        #[cfg(feature = "std")]
        Path::Reader,
        Path::Uninit,
    ])
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(96)))]

    #[test]
    fn every_chunking_and_path_gives_the_same_outcome(
        traffic in traffic(),
        cuts in prop::collection::vec(any::<usize>(), 0..24),
        paths in prop::collection::vec(path(), 1..4),
    ) {
        let wire = traffic.wire();
        let whole = feed(&wire, &[], &[Path::Slice]);
        prop_assert_eq!(&feed(&wire, &cuts, &[Path::Slice]), &whole);
        prop_assert_eq!(&feed(&wire, &cuts, &[Path::Lent]), &whole);
        #[cfg(feature = "std")]
        prop_assert_eq!(&feed(&wire, &cuts, &[Path::Reader]), &whole);
        prop_assert_eq!(&feed(&wire, &cuts, &[Path::Uninit]), &whole);
        prop_assert_eq!(&feed(&wire, &cuts, &paths), &whole);
        // Borrowed events are the same events.
        prop_assert_eq!(&feed_drained(&wire, &cuts, &paths, Drain::Borrowed), &whole);
        prop_assert_eq!(&feed_drained(&wire, &cuts, &paths, Drain::Mixed), &whole);

        // The events are the frames sent, in order, then the failure's Close.
        let sent: Vec<Event> = traffic
            .frames
            .iter()
            .map(|(frame, _)| Event::Frame(frame.clone()))
            .collect();
        prop_assert_eq!(whole.events.get(..sent.len()), Some(&sent[..]));
        match traffic.violation {
            None => {
                prop_assert_eq!(whole.events.len(), sent.len());
                prop_assert_eq!(&whole.error, &None);
                prop_assert_eq!(whole.state, State::Open);
            }
            Some(_) => {
                prop_assert!(whole.error.is_some());
                prop_assert!(matches!(whole.events.last(), Some(Event::Close(_))));
                prop_assert_eq!(whole.state, State::Closed);
            }
        }
    }
}

#[test]
fn room_never_committed_is_given_back() {
    let mut server = server();
    server.receive_room(100).fill(0x81);
    // Dropped, not committed: the next call sees only bytes that were
    // received.
    assert_eq!(server.poll_event(), None);
    let frame = [0x82, 0x81, 0, 0, 0, 0, 9];
    drop(server.receive_room(3));
    server.receive(NOW, &frame).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(events, [Event::Frame(Frame::new(Opcode::Binary, &[9][..]))]);
}

#[test]
fn room_a_read_left_unfilled_is_lent_again_as_it_is() {
    let mut server = server();
    let mut room = server.receive_room(64);
    room.fill(0xee);
    // The start of a masked 5-byte binary frame: two bytes received.
    room[..2].copy_from_slice(&[0x82, 0x85]);
    room.commit(NOW, 2).unwrap();
    assert_eq!(server.poll_event(), None);
    // The rest of the room comes back as the read left it, not zeroed again.
    let mut room = server.receive_room(62);
    assert!(room.iter().all(|&byte| byte == 0xee));
    // Only what is committed counts.
    room[..9].copy_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4, 5]);
    room.commit(NOW, 9).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events,
        [Event::Frame(Frame::new(
            Opcode::Binary,
            &[1, 2, 3, 4, 5][..]
        ))]
    );
    assert_eq!(server.poll_event(), None);
}

#[test]
fn uninitialised_room_is_taken_only_through_its_own_commit() {
    let mut server = server();
    let frame = [0x82, 0x81, 0, 0, 0, 0, 9];
    let mut room = server.receive_room_uninit(64);
    for (slot, byte) in room.as_uninit_mut().iter_mut().zip(&frame) {
        slot.write(*byte);
    }
    // Dropped, not committed: nothing is taken.
    drop(room);
    assert_eq!(server.poll_event(), None);
    // The frame, then a second one (51 zero bytes, masked with a zero key)
    // that fills the 64 bytes of room exactly.
    let mut bytes = frame.to_vec();
    bytes.extend_from_slice(&[0x82, 0x80 | 51, 0, 0, 0, 0]);
    bytes.resize(64, 0);
    let mut room = server.receive_room_uninit(64);
    for (slot, byte) in room.as_uninit_mut().iter_mut().zip(&bytes) {
        slot.write(*byte);
    }
    // SAFETY: the loop wrote all 64 bytes of the room; the commit takes at
    // most the room lent, whatever it is told.
    unsafe { room.commit(NOW, 1000) }.unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events,
        [
            Event::Frame(Frame::new(Opcode::Binary, &[9][..])),
            Event::Frame(Frame::new(Opcode::Binary, vec![0u8; 51])),
        ]
    );
}

#[test]
fn a_commit_takes_at_most_the_room_lent() {
    let mut server = server();
    let frame = [0x82, 0x81, 0, 0, 0, 0, 9];
    let mut room = server.receive_room(frame.len());
    room.copy_from_slice(&frame);
    room.commit(NOW, 1000).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(events, [Event::Frame(Frame::new(Opcode::Binary, &[9][..]))]);
    assert_eq!(server.state(), State::Open);
}

#[cfg(feature = "std")]
#[test]
fn read_from_takes_a_reset_as_the_end_of_the_transport() {
    struct Reset;
    impl std::io::Read for Reset {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::ConnectionReset.into())
        }
    }
    struct Timeout;
    impl std::io::Read for Timeout {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::WouldBlock.into())
        }
    }
    let mut server = server();
    assert!(matches!(
        server.read_from(NOW, &mut Timeout),
        Err(wsmachine::ReadError::Io(error)) if error.kind() == std::io::ErrorKind::WouldBlock
    ));
    assert_eq!(server.state(), State::Open, "a timeout takes nothing");
    assert_eq!(server.read_from(NOW, &mut Reset).unwrap(), 0);
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert!(matches!(
        &events[..],
        [Event::Close(close)] if close.error == Some(Error::UnexpectedEof)
    ));
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn borrowed_frames_are_lent_from_the_receive_buffer() {
    let mut server = server();
    let mut wire = BytesMut::new();
    Frame::new(Opcode::Text, &b"first"[..]).encode(Some([1, 2, 3, 4]), &mut wire);
    Frame::new(Opcode::Ping, &b"ping"[..]).encode(Some([5, 6, 7, 8]), &mut wire);
    let mut fragment = Frame::new(Opcode::Binary, &b"frag"[..]);
    fragment.fin = false;
    fragment.encode(Some([9, 9, 9, 9]), &mut wire);
    Frame::new(Opcode::Continuation, &b"ment"[..]).encode(Some([7, 7, 7, 7]), &mut wire);
    Frame::new(Opcode::Binary, &b"last"[..]).encode(Some([3, 3, 3, 3]), &mut wire);
    let mut room = server.receive_room(wire.len());
    room.copy_from_slice(&wire);
    let lent = room.as_ptr_range();
    room.commit(NOW, wire.len()).expect("valid");

    // A whole message in one frame: its payload is the room's bytes,
    // unmasked where they lie.
    let Some(EventRef::Frame(first)) = server.poll_event_ref() else {
        panic!("no borrowed frame");
    };
    assert_eq!((first.opcode, first.payload), (Opcode::Text, &b"first"[..]));
    assert!(lent.contains(&first.payload.as_ptr()));
    // Control frames and fragments come as owned events, in order.
    for expected in [&b"ping"[..], b"frag", b"ment"] {
        match server.poll_event_ref() {
            Some(EventRef::Event(Event::Frame(frame))) => assert_eq!(&frame.payload[..], expected),
            other => panic!("unexpected {other:?}"),
        }
    }
    let Some(EventRef::Frame(last)) = server.poll_event_ref() else {
        panic!("no borrowed frame");
    };
    assert_eq!(last.payload, b"last");
    assert!(lent.contains(&last.payload.as_ptr()));
    assert_eq!(server.poll_event_ref(), None);
    // The pong for the ping was queued as with `poll_event`.
    assert!(server.poll_transmit().is_some());
}
