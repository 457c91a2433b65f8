//! Random round trips: any configs, any messages, any fragmentation.

use super::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Send {
    from_client: bool,
    kind: DataKind,
    data: Vec<u8>,
    /// Fragment sizes; empty for one frame.
    fragments: Vec<usize>,
}

fn deflate_config() -> impl Strategy<Value = DeflateConfig> {
    (
        0u32..=9,
        prop_oneof![Just(0usize), Just(32), 0usize..200],
        any::<bool>(),
        any::<bool>(),
        8u8..=15,
        8u8..=15,
    )
        .prop_map(|(level, min, snct, cnct, sbits, cbits)| {
            config_with(|c| {
                c.level = level;
                c.min_message_size = min;
                c.server_no_context_takeover = snct;
                c.client_no_context_takeover = cnct;
                c.server_max_window_bits = sbits;
                c.client_max_window_bits = cbits;
            })
        })
}

fn message_data() -> impl Strategy<Value = (DataKind, Vec<u8>)> {
    prop_oneof![
        "(ab|\u{e9}|json|\\PC){0,400}".prop_map(|s| (DataKind::Text, s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(|d| (DataKind::Binary, d)),
        (0usize..3000).prop_map(|n| (DataKind::Binary, vec![b'z'; n])),
    ]
}

fn send() -> impl Strategy<Value = Send> {
    (
        any::<bool>(),
        message_data(),
        proptest::collection::vec(0usize..300, 0..4),
    )
        .prop_map(|(from_client, (kind, data), fragments)| Send {
            from_client,
            kind,
            data,
            fragments,
        })
}

/// Sends a message, fragmented at the given sizes (texts at character
/// boundaries are not needed: fragments are checked across).
fn send_on<R: Role>(conn: &mut Connection<R>, send: &Send) {
    if send.fragments.is_empty() {
        match send.kind {
            DataKind::Text => conn
                .send_text(std::str::from_utf8(&send.data).unwrap())
                .unwrap(),
            DataKind::Binary => conn.send_binary(&send.data).unwrap(),
        }
        return;
    }
    let mut rest = &send.data[..];
    let mut first = true;
    for &size in &send.fragments {
        let (piece, after) = rest.split_at(size.min(rest.len()));
        let fragment = if first {
            Fragment::First(send.kind)
        } else {
            Fragment::Continue
        };
        conn.send_fragment(fragment, piece).unwrap();
        first = false;
        rest = after;
    }
    conn.send_fragment(Fragment::Last, rest).unwrap();
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(256)))]

    #[test]
    fn messages_round_trip_under_any_negotiation(
        client in deflate_config(),
        server in deflate_config(),
        sends in proptest::collection::vec(send(), 1..8),
    ) {
        let mut pair = pair(client, server);
        for send in &sends {
            let (from_client, events) = if send.from_client {
                let (_, _, events) = exchange(&mut pair.client, &mut pair.server, |c| send_on(c, send));
                (true, events)
            } else {
                let (_, _, events) = exchange(&mut pair.server, &mut pair.client, |s| send_on(s, send));
                (false, events)
            };
            let opcode = match send.kind {
                DataKind::Text => Opcode::Text,
                DataKind::Binary => Opcode::Binary,
            };
            prop_assert_eq!(messages(&events), vec![(opcode, send.data.clone())], "from client: {}", from_client);
        }
        prop_assert_eq!(pair.client.error(), None);
        prop_assert_eq!(pair.server.error(), None);
    }

    #[test]
    fn arbitrary_compressed_payloads_never_panic(
        payloads in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut stream = Vec::new();
        let count = payloads.len();
        for (index, (binary, payload)) in payloads.iter().enumerate() {
            let opcode = match (index, binary) {
                (0, true) => Opcode::Binary,
                (0, false) => Opcode::Text,
                _ => Opcode::Continuation,
            };
            let rsv = if index == 0 { RSV1 } else { 0 };
            stream.extend(frame(opcode, index + 1 == count, rsv, None, payload));
        }
        let cut = cut.index(stream.len() + 1);
        let whole = feed(deflate_client(), &stream, &[], false);
        let split = feed(deflate_client(), &stream, &[cut], false);
        prop_assert_eq!(&whole, &split);
        match whole.error {
            None => {}
            Some(Error::Protocol(
                ProtocolError::InvalidCompressedData | ProtocolError::InvalidUtf8 { .. },
            )) => {
                prop_assert_eq!(sent_close_code(&whole.transmitted), Some(1007));
            }
            Some(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
