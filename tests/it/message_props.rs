//! Properties of `MessageAssembler`: any fragmentation of a message
//! reassembles to it, the limit holds at any fragmentation, and arbitrary
//! frame sequences agree with a simple model.

use bytes::Bytes;
use proptest::prelude::*;
use wsmachine::message::{Message, MessageAssembler, MessageError};
use wsmachine::{CloseFrame, Frame, Opcode};

/// Splits `payload` at the given points into a first frame and
/// continuations.
fn fragments(opcode: Opcode, payload: &[u8], cuts: &[usize]) -> Vec<Frame> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
    points.sort_unstable();
    points.push(payload.len());
    let mut frames = Vec::new();
    let mut start = 0;
    for (i, end) in points.iter().copied().enumerate() {
        let code = if i == 0 { opcode } else { Opcode::Continuation };
        let mut frame = Frame::new(code, payload[start..end].to_vec());
        frame.fin = i + 1 == points.len();
        frames.push(frame);
        start = end;
    }
    frames
}

/// Feeds frames, with a ping after the frames `pings` picks, and returns
/// the messages, the pings and the first error.
fn assemble(
    assembler: &mut MessageAssembler,
    frames: Vec<Frame>,
    pings: &[bool],
) -> (Vec<Message>, usize, Option<MessageError>) {
    let mut messages = Vec::new();
    let mut ping_count = 0;
    for (i, frame) in frames.into_iter().enumerate() {
        match assembler.push(frame) {
            Ok(Some(message)) => messages.push(message),
            Ok(None) => {}
            Err(error) => return (messages, ping_count, Some(error)),
        }
        if pings.get(i).copied().unwrap_or(false) {
            let ping = assembler.push(Frame::new(Opcode::Ping, Bytes::from_static(b"p")));
            assert_eq!(ping, Ok(Some(Message::Ping(Bytes::from_static(b"p")))));
            ping_count += 1;
        }
    }
    (messages, ping_count, None)
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::default()))]
    #[test]
    fn any_fragmentation_of_a_text_message_reassembles_to_it(
        text in "\\PC{0,40}",
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        pings in proptest::collection::vec(any::<bool>(), 0..9),
    ) {
        let mut assembler = MessageAssembler::new(text.len());
        let frames = fragments(Opcode::Text, text.as_bytes(), &cuts);
        let count = frames.len();
        let (messages, ping_count, error) = assemble(&mut assembler, frames, &pings);
        prop_assert_eq!(error, None);
        prop_assert_eq!(messages, vec![Message::Text(text.clone().into())]);
        prop_assert_eq!(ping_count, pings.iter().take(count).filter(|p| **p).count());
        prop_assert!(!assembler.is_in_progress());
    }

    #[test]
    fn any_fragmentation_of_a_binary_message_reassembles_to_it(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        pings in proptest::collection::vec(any::<bool>(), 0..9),
    ) {
        let mut assembler = MessageAssembler::new(data.len());
        let frames = fragments(Opcode::Binary, &data, &cuts);
        let (messages, _, error) = assemble(&mut assembler, frames, &pings);
        prop_assert_eq!(error, None);
        prop_assert_eq!(messages, vec![Message::Binary(Bytes::from(data))]);
    }

    #[test]
    fn one_byte_over_the_limit_fails_at_any_fragmentation(
        data in proptest::collection::vec(any::<u8>(), 1..100),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut assembler = MessageAssembler::new(data.len() - 1);
        let frames = fragments(Opcode::Binary, &data, &cuts);
        let (messages, _, error) = assemble(&mut assembler, frames, &[]);
        prop_assert!(messages.is_empty());
        prop_assert_eq!(
            error,
            Some(MessageError::TooLarge { size: data.len(), limit: data.len() - 1 })
        );
        // Ready for the next message.
        prop_assert_eq!(
            assembler.push(Frame::new(Opcode::Binary, Bytes::new())),
            Ok(Some(Message::Binary(Bytes::new())))
        );
    }

    #[test]
    fn invalid_text_fails_at_any_fragmentation(
        prefix in "\\PC{0,10}",
        bad in prop_oneof![Just(&b"\xff"[..]), Just(&b"\xed\xa0\x80"[..]), Just(&b"\xc0\xaf"[..]), Just(&b"\xe2\x82"[..])],
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let payload = [prefix.as_bytes(), bad].concat();
        let mut assembler = MessageAssembler::new(1000);
        let frames = fragments(Opcode::Text, &payload, &cuts);
        let (messages, _, error) = assemble(&mut assembler, frames, &[]);
        prop_assert!(messages.is_empty());
        prop_assert!(matches!(error, Some(MessageError::InvalidUtf8(_))), "{:?}", error);
    }

    /// Arbitrary frames never panic, and the output agrees with a model that
    /// concatenates fragments.
    #[test]
    fn arbitrary_frames_agree_with_a_model(
        frames in proptest::collection::vec(
            (0u8..6, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..6)),
            0..30,
        ),
        limit in 0usize..20,
    ) {
        let mut assembler = MessageAssembler::new(limit);
        // The model: the kind and bytes of the message in progress.
        let mut model: Option<(Opcode, Vec<u8>)> = None;
        for (code, fin, payload) in frames {
            let opcode = [
                Opcode::Continuation, Opcode::Text, Opcode::Binary,
                Opcode::Ping, Opcode::Pong, Opcode::Close,
            ][usize::from(code)];
            let mut frame = Frame::new(opcode, payload.clone());
            frame.fin = fin;
            let got = assembler.push(frame);
            if opcode.is_control() {
                let expected = match opcode {
                    Opcode::Ping => Ok(Some(Message::Ping(payload.into()))),
                    Opcode::Pong => Ok(Some(Message::Pong(payload.into()))),
                    // A Close's payload is decoded as a connection decodes
                    // it; an invalid one is refused.
                    _ => CloseFrame::decode(&payload)
                        .map(|frame| Some(Message::Close(frame)))
                        .map_err(MessageError::InvalidClose),
                };
                prop_assert_eq!(got, expected);
                continue;
            }
            let (kind, mut bytes) = match (opcode, model.take()) {
                (Opcode::Continuation, None) => {
                    prop_assert_eq!(got, Err(MessageError::UnexpectedContinuation));
                    continue;
                }
                (Opcode::Text | Opcode::Binary, Some(_)) => {
                    prop_assert_eq!(got, Err(MessageError::ExpectedContinuation));
                    continue;
                }
                (Opcode::Continuation, Some(started)) => started,
                (first, _) => (first, Vec::new()),
            };
            bytes.extend_from_slice(&payload);
            if bytes.len() > limit {
                prop_assert_eq!(got, Err(MessageError::TooLarge { size: bytes.len(), limit }));
                continue;
            }
            if kind == Opcode::Text {
                // Whether the text so far can still become valid UTF-8.
                let valid_prefix = match std::str::from_utf8(&bytes) {
                    Ok(_) => true,
                    Err(e) => !fin && e.error_len().is_none(),
                };
                if !valid_prefix {
                    prop_assert!(matches!(got, Err(MessageError::InvalidUtf8(_))), "{:?}", got);
                    continue;
                }
            }
            if !fin {
                prop_assert_eq!(got, Ok(None));
                model = Some((kind, bytes));
                continue;
            }
            let expected = if kind == Opcode::Text {
                Message::Text(String::from_utf8(bytes).unwrap().into())
            } else {
                Message::Binary(bytes.into())
            };
            prop_assert_eq!(got, Ok(Some(expected)));
        }
        prop_assert_eq!(assembler.is_in_progress(), model.is_some());
    }
}
