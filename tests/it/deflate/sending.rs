//! Sending: thresholds, RSV1 placement, takeover and small windows, a
//! compressed stream split anywhere, after a close, and owned payloads.

use super::*;

fn json_like(seed: u32) -> String {
    format!(
        r#"{{"id":{seed},"type":"update","user":{{"name":"user-{seed}","roles":["reader","writer"]}},"payload":"{}"}}"#,
        "lorem ipsum dolor sit amet ".repeat(8)
    )
}

#[test]
fn tiny_messages_are_not_compressed_and_control_frames_never_are() {
    let mut pair = pair(DeflateConfig::default(), DeflateConfig::default());
    let (headers, _, events) = exchange(&mut pair.client, &mut pair.server, |c| {
        c.send_text("short").unwrap();
        c.send_text(&"x".repeat(31)).unwrap();
        c.send_text(&"x".repeat(32)).unwrap();
        c.send_ping(&[b'p'; 100]).unwrap();
        c.send_binary(&[7u8; 64]).unwrap();
    });
    let rsv: Vec<u8> = headers.iter().map(|h| h.rsv).collect();
    assert_eq!(rsv, [0, 0, RSV1, 0, RSV1]);
    assert_eq!(
        messages(&events),
        [
            text("short"),
            text(&"x".repeat(31)),
            text(&"x".repeat(32)),
            (Opcode::Binary, vec![7u8; 64])
        ]
    );
    assert!(headers[2].payload_len < 32);
}

#[test]
fn fragmented_messages_set_rsv1_on_the_first_frame_only() {
    let mut pair = pair(DeflateConfig::default(), DeflateConfig::default());
    let part = json_like(1);
    let (headers, _, events) = exchange(&mut pair.server, &mut pair.client, |s| {
        s.send_fragment(Fragment::First(DataKind::Text), part.as_bytes())
            .unwrap();
        s.send_ping(b"between").unwrap();
        s.send_fragment(Fragment::Continue, part.as_bytes())
            .unwrap();
        s.send_fragment(Fragment::Continue, b"").unwrap();
        s.send_fragment(Fragment::Last, part.as_bytes()).unwrap();
        // A first fragment under the threshold: the message goes uncompressed.
        s.send_fragment(Fragment::First(DataKind::Binary), b"tiny")
            .unwrap();
        s.send_fragment(Fragment::Last, part.as_bytes()).unwrap();
    });
    let shape: Vec<(Opcode, bool, u8)> = headers.iter().map(|h| (h.opcode, h.fin, h.rsv)).collect();
    assert_eq!(
        shape,
        [
            (Opcode::Text, false, RSV1),
            (Opcode::Ping, true, 0),
            (Opcode::Continuation, false, 0),
            (Opcode::Continuation, false, 0),
            (Opcode::Continuation, true, 0),
            (Opcode::Binary, false, 0),
            (Opcode::Continuation, true, 0),
        ]
    );
    assert_eq!(
        messages(&events),
        [
            text(&part.repeat(3)),
            (
                Opcode::Binary,
                [b"tiny".as_slice(), part.as_bytes()].concat()
            )
        ]
    );
    // The repeated fragments referred back to the first.
    assert!(headers[2].payload_len < part.len() as u64 / 4);
}

/// The wire sizes of the same message sent twice each way.
fn repeat_sizes(client: DeflateConfig, server: DeflateConfig) -> [(u64, u64); 2] {
    let mut pair = pair(client, server);
    let message = json_like(7);
    let mut sizes = [(0, 0); 2];
    for size in &mut sizes {
        let (headers, _, events) = exchange(&mut pair.client, &mut pair.server, |c| {
            c.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)]);
        size.0 = headers[0].payload_len;
        let (headers, _, events) = exchange(&mut pair.server, &mut pair.client, |s| {
            s.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)]);
        size.1 = headers[0].payload_len;
    }
    sizes
}

#[test]
fn context_takeover_is_kept_or_reset_per_direction() {
    let [first, second] = repeat_sizes(DeflateConfig::default(), DeflateConfig::default());
    assert!(
        second.0 < first.0 / 4 && second.1 < first.1 / 4,
        "{first:?} {second:?}"
    );
    // The client asks the server not to keep its context.
    let [first, second] = repeat_sizes(
        config_with(|c| c.server_no_context_takeover = true),
        DeflateConfig::default(),
    );
    assert!(second.0 < first.0 / 4, "{first:?} {second:?}");
    assert_eq!(second.1, first.1);
    // The server requires the client not to keep its context.
    let [first, second] = repeat_sizes(
        DeflateConfig::default(),
        config_with(|c| c.client_no_context_takeover = true),
    );
    assert_eq!(second.0, first.0);
    assert!(second.1 < first.1 / 4, "{first:?} {second:?}");
    // The client resets its own context without being asked.
    let [first, second] = repeat_sizes(
        config_with(|c| c.client_no_context_takeover = true),
        DeflateConfig::default(),
    );
    assert_eq!(second.0, first.0);
    // The server resets its own context, and says so.
    let [first, second] = repeat_sizes(
        DeflateConfig::default(),
        config_with(|c| c.server_no_context_takeover = true),
    );
    assert_eq!(second.1, first.1);
    assert!(second.0 < first.0 / 4);
}

#[test]
fn small_windows_on_both_sides() {
    for bits in 8..=15 {
        let mut pair = pair(
            config_with(|c| {
                c.server_max_window_bits = bits;
                c.client_max_window_bits = bits;
            }),
            DeflateConfig::default(),
        );
        let message = json_like(bits.into()).repeat(20);
        let (_, _, events) = exchange(&mut pair.client, &mut pair.server, |c| {
            c.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)], "{bits}");
        let (_, _, events) = exchange(&mut pair.server, &mut pair.client, |s| {
            s.send_text(&message).unwrap();
        });
        assert_eq!(messages(&events), [text(&message)], "{bits}");
    }
}

#[test]
fn a_compressed_stream_is_split_invariant() {
    // A server's compressed output: messages with a shared window, a
    // fragmented one with a ping inside, and a close.
    let mut config = DeflateConfig::default();
    config.min_message_size = 8;
    let (mut server, _) = server_offered(Some(config), "permessage-deflate");
    server.send_text(&json_like(1)).unwrap();
    server.send_text(&json_like(2)).unwrap();
    server.send_binary(b"tiny").unwrap();
    server
        .send_fragment(
            Fragment::First(DataKind::Text),
            "h\u{e9}llo w\u{f6}rld, ".as_bytes(),
        )
        .unwrap();
    server.send_ping(b"mid").unwrap();
    server
        .send_fragment(Fragment::Last, "h\u{e9}llo again".as_bytes())
        .unwrap();
    server
        .close(Duration::ZERO, CloseCode::NORMAL, "done")
        .unwrap();
    let stream = drain_transmit(&mut server);
    let outcome = feed_every_way(deflate_client, &stream, false);
    assert_eq!(outcome.error, None);
    assert_eq!(
        messages(&outcome.events),
        [
            text(&json_like(1)),
            text(&json_like(2)),
            (Opcode::Binary, b"tiny".to_vec()),
            text("h\u{e9}llo w\u{f6}rld, h\u{e9}llo again"),
        ]
    );
    assert!(
        outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::Close(close) if close.code == CloseCode::NORMAL))
    );
}

#[test]
fn a_closed_connection_sends_nothing_compressed() {
    let mut pair = pair(DeflateConfig::default(), DeflateConfig::default());
    pair.client.close(pair.now, CloseCode::NORMAL, "").unwrap();
    pair.drive();
    assert_eq!(pair.client.state(), State::Closed);
    assert!(pair.client.send_text(&json_like(3)).is_err());
}

#[test]
fn owned_payloads_are_compressed_like_borrowed_ones() {
    let payload: Vec<u8> = b"compressible text, over and over; ".repeat(200);
    let mut borrowed = deflate_server();
    borrowed.send_binary(&payload).unwrap();
    let mut owned = deflate_server();
    owned.send_binary_owned(payload.clone()).unwrap();
    let wire = drain_transmit(&mut owned);
    assert_eq!(wire, drain_transmit(&mut borrowed));
    // RSV1 marks a compressed message, and it is far smaller than the text.
    assert_eq!(wire[0], 0x80 | 0x40 | 0x02);
    assert!(wire.len() < payload.len() / 4, "{} bytes", wire.len());
}
