//! A server that hands payload out in pieces (`Config::piece_size`), fed
//! arbitrary bytes after its handshake, with the app echoing each message
//! once its last piece has come.
//!
//! The first byte picks the piece size; the rest is the stream, fed whole,
//! in pieces derived from the input, and (for short inputs) byte by byte.
//! Checks:
//! - every piece fits the size; a text piece is UTF-8 on its own; the
//!   flags open and close each message once, in order;
//! - with each message's pieces joined (and the offsets where its frames
//!   end noted), the three runs give the same events, the same bytes out
//!   (pongs, Close replies and the echoes), the same error and state;
//! - the messages that end are those the whole-frame path delivers for the
//!   same stream, and the connection closes with the same code.

use std::time::Duration;

use wsmachine::config::Config;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{CloseCode, DataKind, Error, Event, Server, State};

use super::split::cuts_for;

const NOW: Duration = Duration::ZERO;
const MAX_INPUT: usize = 16 * 1024;
const MAX_BYTE_BY_BYTE: usize = 512;
const SIZES: [usize; 5] = [1, 5, 7, 64, 4096];

/// A message's pieces joined, or any other event.
#[derive(Debug, PartialEq)]
enum Seen {
    Message {
        kind: DataKind,
        bytes: Vec<u8>,
        frame_ends: Vec<usize>,
        ended: bool,
    },
    Other(Event),
}

#[derive(Debug, PartialEq)]
struct Outcome {
    seen: Vec<Seen>,
    transmitted: Vec<u8>,
    error: Option<Error>,
    state: State,
}

fn drive(stream: &[u8], cuts: &[usize], size: usize) -> Outcome {
    let mut server = Server::new_open(Config::default().piece_size(Some(size)), NOW);
    let mut outcome = Outcome {
        seen: Vec::new(),
        transmitted: Vec::new(),
        error: None,
        state: State::Open,
    };
    let mut open = false;
    let mut start = 0;
    for end in cuts.iter().copied().chain([stream.len()]) {
        let piece = stream.get(start..end).unwrap_or_default();
        start = end;
        if let Err(error) = server.receive(NOW, piece) {
            outcome.error = Some(error);
        }
        while let Some(event) = server.poll_event() {
            let Event::Piece(piece) = event else {
                outcome.seen.push(Seen::Other(event));
                continue;
            };
            assert!(piece.payload.len() <= size.max(4), "{piece:?}");
            if piece.kind == DataKind::Text {
                assert!(std::str::from_utf8(&piece.payload).is_ok(), "{piece:?}");
            }
            assert_eq!(piece.message_start, !open, "{piece:?}");
            open = !piece.message_end;
            if piece.message_start {
                outcome.seen.push(Seen::Message {
                    kind: piece.kind,
                    bytes: Vec::new(),
                    frame_ends: Vec::new(),
                    ended: false,
                });
            }
            let message = outcome
                .seen
                .iter_mut()
                .rev()
                .find(|seen| matches!(seen, Seen::Message { .. }));
            let Some(Seen::Message {
                kind,
                bytes,
                frame_ends,
                ended,
            }) = message
            else {
                panic!("a piece outside a message: {piece:?}");
            };
            assert_eq!(*kind, piece.kind);
            bytes.extend_from_slice(&piece.payload);
            if piece.frame_end {
                frame_ends.push(bytes.len());
            }
            *ended = piece.message_end;
            if piece.message_end {
                // The app echoes the message it has now whole.
                let _ = match kind {
                    DataKind::Text => server.send_text(std::str::from_utf8(bytes).unwrap_or("")),
                    DataKind::Binary => server.send_binary(bytes),
                };
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            outcome.transmitted.extend_from_slice(&bytes);
        }
    }
    outcome.state = server.state();
    if outcome.error.is_none() {
        outcome.error = server.error().cloned();
    }
    outcome
}

/// The messages and the close code of the whole-frame path.
fn whole_frames(stream: &[u8]) -> (Vec<(DataKind, Vec<u8>)>, Option<CloseCode>) {
    let mut server = Server::new_open(Config::default(), NOW);
    let _ = server.receive(NOW, stream);
    let mut assembler = MessageAssembler::new(usize::MAX);
    let mut messages = Vec::new();
    let mut close = None;
    while let Some(event) = server.poll_event() {
        match event {
            Event::Frame(frame) if !frame.opcode.is_control() => match assembler.push(frame) {
                Ok(Some(Message::Text(text))) => {
                    messages.push((DataKind::Text, text.as_bytes().to_vec()));
                }
                Ok(Some(Message::Binary(bytes))) => {
                    messages.push((DataKind::Binary, bytes.to_vec()));
                }
                _ => {}
            },
            Event::Close(event) => close = Some(event.code),
            _ => {}
        }
    }
    (messages, close)
}

pub fn run(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let stream = stream.get(..MAX_INPUT).unwrap_or(stream);
    let size = SIZES[usize::from(selector) % SIZES.len()];
    let whole = drive(stream, &[], size);
    assert_eq!(drive(stream, &cuts_for(stream), size), whole);
    if stream.len() <= MAX_BYTE_BY_BYTE {
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(drive(stream, &every, size), whole);
    }
    let (messages, close) = whole_frames(stream);
    let ended: Vec<(DataKind, Vec<u8>)> = whole
        .seen
        .iter()
        .filter_map(|seen| match seen {
            Seen::Message {
                kind,
                bytes,
                ended: true,
                ..
            } => Some((*kind, bytes.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(ended, messages);
    let piece_close = whole.seen.iter().find_map(|seen| match seen {
        Seen::Other(Event::Close(close)) => Some(close.code),
        _ => None,
    });
    assert_eq!(piece_close, close);
}
