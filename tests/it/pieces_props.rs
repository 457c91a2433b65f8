//! Payload in pieces (`Config::piece_size`): however the input is split and
//! whatever the piece size, each message's pieces concatenate to the same
//! bytes with the same frame boundaries, control frames and failures come
//! at the same place, the connection's own output is the same, every piece
//! fits the size, and every text piece is UTF-8 on its own. And the
//! messages are those the whole-frame path delivers.

use proptest::prelude::*;
use wsmachine::config::Config;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{CloseCode, DataKind, Event, Opcode, State};

use crate::support::{close_payload, masked_frame, pieces, saved_beside, server_with};

/// What the app sees, with the pieces of a message joined.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    /// A message's pieces, joined: its kind, bytes, the message offsets at
    /// which its frames end, and whether it ended.
    Message {
        kind: DataKind,
        bytes: Vec<u8>,
        frame_ends: Vec<usize>,
        ended: bool,
    },
    /// Any other event.
    Other(Event),
}

/// One message on the wire: its fragments (each a frame), with a ping
/// after some of them.
#[derive(Clone, Debug)]
struct Wire {
    bytes: Vec<u8>,
}

fn text_payload() -> impl Strategy<Value = Vec<u8>> {
    // ASCII, 2-, 3- and 4-byte characters.
    prop::collection::vec(
        prop::sample::select(vec!['a', 'z', 'é', 'ß', '€', '中', '😀', '𝄞']),
        0..200,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>().into_bytes())
}

/// A message to send: text or not, its payload, where to cut it into
/// fragments, and after which fragments a ping comes.
type Sent = (bool, Vec<u8>, Vec<usize>, Vec<bool>);

fn message() -> impl Strategy<Value = Sent> {
    (
        any::<bool>(),
        prop_oneof![text_payload(), prop::collection::vec(any::<u8>(), 0..300)],
        prop::collection::vec(any::<usize>(), 0..4),
        prop::collection::vec(any::<bool>(), 4),
    )
}

/// Masked client frames: the messages, each cut into fragments at `cuts`
/// (which may split a character), a ping after a fragment where `pings`
/// says so, then invalid UTF-8 in the last text when `corrupt`, then a
/// Close.
fn wire(messages: &[Sent], corrupt: Option<usize>, close: bool) -> Wire {
    let mut bytes = Vec::new();
    for (index, (is_text, payload, cuts, pings)) in messages.iter().enumerate() {
        let mut payload = payload.clone();
        let is_text = *is_text && std::str::from_utf8(&payload).is_ok();
        if is_text
            && index == messages.len() - 1
            && let Some(at) = corrupt
        {
            let at = at % (payload.len() + 1);
            payload.insert(at, 0xff);
        }
        let mut ends: Vec<usize> = cuts.iter().map(|cut| cut % (payload.len() + 1)).collect();
        ends.sort_unstable();
        ends.push(payload.len());
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let opcode = match (i, is_text) {
                (0, true) => Opcode::Text,
                (0, false) => Opcode::Binary,
                _ => Opcode::Continuation,
            };
            let fin = i == ends.len() - 1;
            let key = [i as u8, 0x5a, index as u8, 7];
            bytes.extend(masked_frame(opcode, fin, &payload[start..end], key));
            start = end;
            if !fin && pings.get(i).copied().unwrap_or(false) {
                bytes.extend(masked_frame(Opcode::Ping, true, b"p", [1, 2, 3, 4]));
            }
        }
    }
    if close {
        bytes.extend(masked_frame(
            Opcode::Close,
            true,
            &close_payload(1000, "bye"),
            [9, 9, 9, 9],
        ));
    }
    Wire { bytes }
}

/// Feeds `input` in the given cuts to a server taking payload in pieces of
/// `size`, checks every piece, and joins them.
fn feed_pieces(input: &[u8], cuts: &[usize], size: usize) -> (Vec<Seen>, Vec<u8>, State) {
    let config = Config::default().piece_size(Some(size));
    let mut server = server_with(config);
    let mut seen: Vec<Seen> = Vec::new();
    let mut transmitted = Vec::new();
    let mut open_message = false;
    for piece in pieces(input, cuts) {
        let _ = server.receive(std::time::Duration::ZERO, piece);
        while let Some(event) = server.poll_event() {
            match event {
                Event::Piece(piece) => {
                    assert!(piece.payload.len() <= size.max(4), "{piece:?}");
                    if piece.kind == DataKind::Text {
                        assert!(
                            std::str::from_utf8(&piece.payload).is_ok(),
                            "a text piece is UTF-8 on its own: {piece:?}"
                        );
                        assert_eq!(piece.text().unwrap().as_bytes(), &piece.payload[..]);
                    }
                    assert_eq!(piece.message_start, !open_message, "{piece:?}");
                    if piece.message_start {
                        seen.push(Seen::Message {
                            kind: piece.kind,
                            bytes: Vec::new(),
                            frame_ends: Vec::new(),
                            ended: false,
                        });
                    }
                    let Some(Seen::Message {
                        kind,
                        bytes,
                        frame_ends,
                        ended,
                    }) = seen
                        .iter_mut()
                        .rev()
                        .find(|seen| matches!(seen, Seen::Message { .. }))
                    else {
                        panic!("a piece outside a message")
                    };
                    assert_eq!(*kind, piece.kind);
                    bytes.extend_from_slice(&piece.payload);
                    if piece.frame_end {
                        frame_ends.push(bytes.len());
                    }
                    *ended = piece.message_end;
                    open_message = !piece.message_end;
                }
                other => seen.push(Seen::Other(other)),
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            transmitted.extend_from_slice(&bytes);
        }
    }
    (seen, transmitted, server.state())
}

/// The messages the whole-frame path delivers for `input`, and its close.
fn whole_messages(input: &[u8]) -> (Vec<Message>, Option<CloseCode>) {
    let mut server = server_with(Config::default());
    let _ = server.receive(std::time::Duration::ZERO, input);
    let mut assembler = MessageAssembler::new(usize::MAX);
    let mut messages = Vec::new();
    let mut close = None;
    while let Some(event) = server.poll_event() {
        match event {
            Event::Frame(frame) if !frame.opcode.is_control() => {
                if let Ok(Some(message)) = assembler.push(frame) {
                    messages.push(message);
                }
            }
            Event::Close(event) => close = Some(event.code),
            _ => {}
        }
    }
    (messages, close)
}

proptest! {
    #![proptest_config(saved_beside(ProptestConfig::with_cases(128)))]

    #[test]
    fn pieces_are_the_same_however_the_input_is_split(
        messages in prop::collection::vec(message(), 1..4),
        corrupt in prop::option::weighted(0.3, any::<usize>()),
        close in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        size in prop::sample::select(vec![1usize, 4, 5, 7, 64, 1 << 20]),
    ) {
        let wire = wire(&messages, corrupt, close);
        let whole = feed_pieces(&wire.bytes, &[], size);
        let byte_by_byte: Vec<usize> = (1..wire.bytes.len()).collect();
        prop_assert_eq!(&feed_pieces(&wire.bytes, &cuts, size), &whole);
        prop_assert_eq!(&feed_pieces(&wire.bytes, &byte_by_byte, size), &whole);
        // Another piece size changes the pieces, not the messages.
        prop_assert_eq!(&feed_pieces(&wire.bytes, &cuts, 6), &whole);

        // The messages that ended are the whole-frame path's messages.
        let (expected, close_code) = whole_messages(&wire.bytes);
        let ended: Vec<(DataKind, Vec<u8>)> = whole
            .0
            .iter()
            .filter_map(|seen| match seen {
                Seen::Message { kind, bytes, ended: true, .. } => Some((*kind, bytes.clone())),
                _ => None,
            })
            .collect();
        let expected: Vec<(DataKind, Vec<u8>)> = expected
            .into_iter()
            .map(|message| match message {
                Message::Text(text) => (DataKind::Text, text.as_bytes().to_vec()),
                Message::Binary(bytes) => (DataKind::Binary, bytes.to_vec()),
                other => panic!("{other:?}"),
            })
            .collect();
        prop_assert_eq!(ended, expected);
        let piece_close = whole.0.iter().find_map(|seen| match seen {
            Seen::Other(Event::Close(close)) => Some(close.code),
            _ => None,
        });
        prop_assert_eq!(piece_close, close_code);
    }
}

#[test]
fn invalid_utf8_mid_frame_fails_at_its_byte_after_the_text_before_it() {
    // A text frame that declares 1 GiB: 1000 valid bytes, then a bad byte;
    // the rest never comes. The valid bytes go out, then the 1007, with no
    // buffer of the frame's length.
    let key = [1, 2, 3, 4];
    let mut wire = vec![0x81, 0x80 | 127];
    wire.extend_from_slice(&(1u64 << 30).to_be_bytes());
    wire.extend_from_slice(&key);
    let mut payload = vec![b'a'; 4096];
    payload[1000] = 0xff;
    wire.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, byte)| byte ^ key[i % 4]),
    );
    let config = Config::default()
        .piece_size(Some(64 << 10))
        .max_message_size(u64::MAX);
    let mut server = server_with(config);
    server
        .receive(std::time::Duration::ZERO, &wire)
        .expect("taken");
    let Some(Event::Piece(piece)) = server.poll_event() else {
        panic!("the valid bytes come first")
    };
    assert_eq!((piece.payload.len(), piece.frame_end), (1000, false));
    let Some(Event::Close(close)) = server.poll_event() else {
        panic!("then the failure")
    };
    assert_eq!(close.code, CloseCode::INVALID_PAYLOAD);
    assert_eq!(
        close.error,
        Some(wsmachine::Error::Protocol(
            wsmachine::error::ProtocolError::InvalidUtf8 { offset: Some(1000) }
        ))
    );
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn the_message_limit_holds_in_pieces_at_its_boundary() {
    for (len, fails) in [(4096u64, false), (4097, true)] {
        let config = Config::default()
            .piece_size(Some(1024))
            .max_message_size(4096);
        let mut server = server_with(config);
        let first = masked_frame(Opcode::Binary, false, &[7; 2048], [1, 2, 3, 4]);
        let rest = vec![7; len as usize - 2048];
        let last = masked_frame(Opcode::Continuation, true, &rest, [5, 6, 7, 8]);
        server
            .receive(std::time::Duration::ZERO, &[first, last].concat())
            .expect("taken");
        let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
        let received: usize = events
            .iter()
            .map(|event| match event {
                Event::Piece(piece) => piece.payload.len(),
                _ => 0,
            })
            .sum();
        let closed = events.iter().find_map(|event| match event {
            Event::Close(close) => Some(close.code),
            _ => None,
        });
        if fails {
            // The first frame fits and goes out; the second is refused at
            // its header.
            assert_eq!(received, 2048);
            assert_eq!(closed, Some(CloseCode::MESSAGE_TOO_BIG));
        } else {
            assert_eq!(received, 4096);
            assert_eq!(closed, None);
        }
    }
}

#[test]
fn a_large_frame_goes_out_as_it_arrives() {
    // 1 MiB of binary in one frame, arriving 10 KiB at a time: each read's
    // bytes go out at once, in pieces of at most 4 KiB.
    let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let frame = masked_frame(Opcode::Binary, true, &payload, [0xde, 0xad, 0xbe, 0xef]);
    let mut server = server_with(Config::default().piece_size(Some(4096)));
    let mut joined = Vec::new();
    for read in frame.chunks(10 * 1024) {
        server
            .receive(std::time::Duration::ZERO, read)
            .expect("taken");
        while let Some(event) = server.poll_event() {
            let Event::Piece(piece) = event else {
                panic!("{event:?}")
            };
            assert!(piece.payload.len() <= 4096);
            joined.extend_from_slice(&piece.payload);
        }
        // Nothing that has arrived waits for the frame's end: every
        // payload byte received so far has gone out.
        let received = (frame.len().min(joined.len() + 14)).min(frame.len());
        let header_len = frame.len() - payload.len();
        let arrived_payload = (read.as_ptr() as usize + read.len() - frame.as_ptr() as usize)
            .saturating_sub(header_len);
        assert_eq!(joined.len(), arrived_payload, "{received}");
    }
    assert_eq!(joined, payload);
}
