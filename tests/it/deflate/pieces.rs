//! Compressed messages in pieces (`Config::piece_size`): inflated a
//! bounded step at a time, the same pieces joined however the input is
//! split, and the limits at their boundary.

use proptest::prelude::*;

use super::*;

/// A client and a server (payload in pieces of `size`) that agreed on
/// permessage-deflate; the server's handshake bytes are taken.
fn deflate_pair(size: usize, limit: u64) -> Pair {
    let mut server = server_config(deflate(DeflateConfig::default()));
    server.config = server
        .config
        .clone()
        .piece_size(Some(size))
        .max_message_size(limit);
    let mut pair = Pair::new(client_config(deflate(DeflateConfig::default())), server);
    pair.drive();
    assert_eq!(pair.server.state(), State::Open);
    pair.server_events.clear();
    pair
}

/// What the client sends for `messages` (text or binary, each in the
/// given fragments), as bytes on the wire.
fn client_wire(pair: &mut Pair, messages: &[(bool, Vec<Vec<u8>>)]) -> Vec<u8> {
    for (is_text, fragments) in messages {
        let kind = if *is_text {
            DataKind::Text
        } else {
            DataKind::Binary
        };
        for (i, fragment) in fragments.iter().enumerate() {
            let which = match (i, i + 1 == fragments.len()) {
                (0, true) => None,
                (0, false) => Some(Fragment::First(kind)),
                (_, false) => Some(Fragment::Continue),
                (_, true) => Some(Fragment::Last),
            };
            match which {
                None if *is_text => pair
                    .client
                    .send_text(std::str::from_utf8(fragment).unwrap()),
                None => pair.client.send_binary(fragment),
                Some(which) => pair.client.send_fragment(which, fragment),
            }
            .expect("sent");
        }
    }
    drain_transmit(&mut pair.client)
}

/// A message's pieces joined: its kind, bytes, the offsets where its
/// frames end, and whether it ended.
type Joined = (DataKind, Vec<u8>, Vec<usize>, bool);

/// The server's pieces for `wire` fed at `cuts`, joined per message, with
/// the message offsets where frames end; and the close code, if any.
fn joined(
    size: usize,
    limit: u64,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Joined>, Option<CloseCode>) {
    let mut pair = deflate_pair(size, limit);
    let mut messages: Vec<Joined> = Vec::new();
    let mut close = None;
    for piece in pieces(wire, cuts) {
        let _ = pair.server.receive(Duration::ZERO, piece);
        while let Some(event) = pair.server.poll_event() {
            match event {
                Event::Piece(piece) => {
                    assert!(
                        piece.payload.len() <= size.max(4),
                        "{}",
                        piece.payload.len()
                    );
                    if piece.kind == DataKind::Text {
                        assert!(std::str::from_utf8(&piece.payload).is_ok());
                    }
                    if piece.message_start {
                        messages.push((piece.kind, Vec::new(), Vec::new(), false));
                    }
                    let message = messages.last_mut().expect("a message is open");
                    message.1.extend_from_slice(&piece.payload);
                    if piece.frame_end {
                        message.2.push(message.1.len());
                    }
                    message.3 = piece.message_end;
                }
                Event::Close(event) => close = Some(event.code),
                other => panic!("{other:?}"),
            }
        }
    }
    (messages, close)
}

fn text_fragment() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec!['a', 'é', '€', '😀']), 0..300)
        .prop_map(|chars| chars.into_iter().collect::<String>().into_bytes())
}

proptest! {
    #![proptest_config(saved_beside(ProptestConfig::with_cases(48)))]

    #[test]
    fn compressed_pieces_are_the_same_however_the_input_is_split(
        texts in prop::collection::vec(prop::collection::vec(text_fragment(), 1..4), 1..3),
        binary in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        size in prop::sample::select(vec![4usize, 7, 100, 1 << 16]),
    ) {
        let mut messages: Vec<(bool, Vec<Vec<u8>>)> =
            texts.into_iter().map(|fragments| (true, fragments)).collect();
        messages.push((false, vec![binary.clone(), binary]));
        let mut pair = deflate_pair(size, 64 << 20);
        let wire = client_wire(&mut pair, &messages);
        let whole = joined(size, 64 << 20, &wire, &[]);
        prop_assert_eq!(&joined(size, 64 << 20, &wire, &cuts), &whole);
        prop_assert_eq!(&joined(64, 64 << 20, &wire, &cuts).0.len(), &whole.0.len());
        // The messages are what was sent, whole.
        prop_assert_eq!(whole.0.len(), messages.len());
        for ((kind, bytes, _, ended), (is_text, fragments)) in whole.0.iter().zip(&messages) {
            prop_assert!(*ended);
            prop_assert_eq!(*kind == DataKind::Text, *is_text);
            prop_assert_eq!(bytes, &fragments.concat());
        }
    }
}

#[test]
fn a_deflate_bomb_fails_with_1009_at_the_limit_in_bounded_pieces() {
    // 1 MiB of zeros compresses to about 1 KiB; the limit is 100,000.
    let mut pair = deflate_pair(4096, 100_000);
    let wire = client_wire(&mut pair, &[(false, vec![vec![0; 1 << 20]])]);
    assert!(wire.len() < 4096, "{}", wire.len());
    let (messages, close) = joined(4096, 100_000, &wire, &[]);
    // Exactly the bytes up to the limit went out, then the 1009.
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1.len(), 100_000);
    assert!(!messages[0].3);
    assert_eq!(close, Some(CloseCode::MESSAGE_TOO_BIG));
    // A message of exactly the limit passes.
    let mut pair = deflate_pair(4096, 100_000);
    let wire = client_wire(&mut pair, &[(false, vec![vec![0; 100_000]])]);
    let (messages, close) = joined(4096, 100_000, &wire, &[]);
    assert_eq!(
        (messages[0].1.len(), messages[0].3, close),
        (100_000, true, None)
    );
}

#[test]
fn a_frame_of_known_length_goes_uncompressed_on_a_deflate_connection() {
    let mut pair = deflate_pair(1 << 16, 64 << 20);
    let payload = vec![b'z'; 10_000];
    pair.client
        .begin_frame(Fragment::Whole(DataKind::Binary), payload.len() as u64)
        .unwrap();
    for piece in payload.chunks(1000) {
        pair.client.write_frame_payload(piece).unwrap();
    }
    let wire = drain_transmit(&mut pair.client);
    assert_eq!(wire[0], 0x82, "FIN and binary, RSV1 clear: not compressed");
    assert_eq!(wire.len(), 4 + 4 + payload.len());
    // A message begun compressed cannot go on in such a frame.
    pair.client
        .send_fragment(Fragment::First(DataKind::Binary), &payload)
        .unwrap();
    assert_eq!(
        pair.client.begin_frame(Fragment::Last, 10),
        Err(wsmachine::SendError::CompressedMessage)
    );
    let (messages, close) = joined(1 << 16, 64 << 20, &wire, &[]);
    assert_eq!((messages.len(), close), (1, None));
    assert_eq!(messages[0].1, payload);
}
