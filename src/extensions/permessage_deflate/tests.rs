//! Unit tests of `extensions::permessage_deflate`, built only under `cargo test`. An `unwrap`,
//! `expect` or `panic!` here fails a test on a case the test itself built;
//! none of it is compiled into the library or meets a peer's input.

use super::*;
use alloc::format;
use alloc::vec;

fn params(element: &str) -> Result<DeflateParams, DeflateParamError> {
    DeflateParams::from_extension(&Extension::parse(element).unwrap())
}

#[test]
fn params_parse() {
    assert_eq!(params("permessage-deflate"), Ok(DeflateParams::default()));
    assert_eq!(
        params(
            "Permessage-Deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=\"15\""
        ),
        Ok(DeflateParams {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: Some(8),
            client_max_window_bits: Some(Some(15)),
        })
    );
    let invalid = |name: &str, value: Option<&str>| {
        Err(DeflateParamError::InvalidValue {
            name: name.into(),
            value: value.map(String::from),
        })
    };
    assert_eq!(
        params("permessage-deflate; server_max_window_bits"),
        invalid("server_max_window_bits", None)
    );
    for bad in ["7", "16", "08", "+9", "9.0", "a"] {
        assert_eq!(
            params(&format!("permessage-deflate; client_max_window_bits={bad}")),
            invalid("client_max_window_bits", Some(bad))
        );
    }
    assert_eq!(
        params("permessage-deflate; server_no_context_takeover=1"),
        invalid("server_no_context_takeover", Some("1"))
    );
    assert_eq!(
        params("permessage-deflate; x"),
        Err(DeflateParamError::UnknownParam { name: "x".into() })
    );
    assert_eq!(
        params("permessage-deflate; client_max_window_bits; client_max_window_bits=9"),
        Err(DeflateParamError::DuplicateParam {
            name: "client_max_window_bits".into()
        })
    );
    assert_eq!(
        params("x-webkit-deflate-frame"),
        Err(DeflateParamError::NotPermessageDeflate {
            name: "x-webkit-deflate-frame".into()
        })
    );
}

fn codec(config: &DeflateConfig, agreed: &DeflateParams, is_client: bool) -> DeflateCodec {
    DeflateCodec::new(config, agreed, is_client)
}

#[test]
fn window_bits_8_is_served_by_9() {
    let agreed = DeflateParams {
        server_max_window_bits: Some(8),
        client_max_window_bits: Some(Some(8)),
        ..DeflateParams::default()
    };
    let mut sender = codec(&DeflateConfig::default(), &agreed, false);
    let mut receiver = codec(&DeflateConfig::default(), &agreed, true);
    assert_eq!(
        (sender.compress_window_bits, receiver.inflate_window_bits),
        (9, 9)
    );
    // A pseudo-random block of 300 bytes, repeated: only a window over
    // 300 bytes can refer back to the previous copy.
    let block: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let message = block.repeat(60);
    let small_window = sender.compress(&message, true).unwrap().to_vec();
    let mut wide = codec(&DeflateConfig::default(), &DeflateParams::default(), false);
    let wide_window = wide.compress(&message, true).unwrap().to_vec();
    assert!(wide_window.len() < message.len() / 20);
    assert!(small_window.len() > message.len() / 2);
    receiver
        .inflate(&small_window, true, 1 << 20, 1 << 20, None)
        .unwrap();
    assert_eq!(receiver.take_inflated(), message);
}

#[test]
fn a_frame_the_size_of_the_last_inflates_into_one_buffer_of_its_size() {
    let mut sender = codec(&DeflateConfig::default(), &DeflateParams::default(), true);
    let mut receiver = codec(&DeflateConfig::default(), &DeflateParams::default(), false);
    let message: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    for round in 0..3 {
        let compressed = sender.compress(&message, true).unwrap().to_vec();
        receiver
            .inflate(&compressed, true, 1 << 20, 1 << 20, None)
            .unwrap();
        if round > 0 {
            // The room the last one took, plus the byte that showed it
            // was over: no growth on the way, so no copy.
            assert_eq!(receiver.inflated.capacity(), message.len() + 1);
        }
        assert_eq!(receiver.take_inflated(), message);
    }
}

#[test]
fn a_bomb_stops_one_byte_over_the_limit() {
    let mut sender = codec(&DeflateConfig::default(), &DeflateParams::default(), true);
    let bomb = vec![0u8; 10 << 20];
    let compressed = sender.compress(&bomb, true).unwrap().to_vec();
    assert!(compressed.len() < 16 << 10, "{}", compressed.len());
    let mut receiver = codec(&DeflateConfig::default(), &DeflateParams::default(), false);
    let limit = 100_000;
    assert_eq!(
        receiver.inflate(&compressed, true, limit, limit, None),
        Err(ProtocolError::MessageTooLarge { limit })
    );
    assert_eq!(receiver.inflated_len() as u64, limit + 1);
    assert!(receiver.inflated.capacity() as u64 <= limit + 1);
}

#[test]
fn a_message_with_nothing_new_since_the_last_flush_still_inflates() {
    let mut sender = codec(&DeflateConfig::default(), &DeflateParams::default(), false);
    let mut receiver = codec(&DeflateConfig::default(), &DeflateParams::default(), true);
    let mut sent = Vec::new();
    for (piece, end) in [
        (&b"ab"[..], false),
        (b"", true),
        (b"", true),
        (b"", false),
        (b"", true),
    ] {
        let compressed = sender.compress(piece, end).unwrap().to_vec();
        receiver
            .inflate(&compressed, end, 1 << 20, 1 << 20, None)
            .unwrap();
        sent.extend_from_slice(piece);
        if end {
            assert_eq!(receiver.take_inflated(), sent);
            sent.clear();
        }
    }
}

#[test]
fn garbage_does_not_inflate() {
    let mut receiver = codec(&DeflateConfig::default(), &DeflateParams::default(), false);
    // BTYPE 11 is reserved.
    assert_eq!(
        receiver.inflate(&[0xff, 0xff, 0xff], true, 100, 100, None),
        Err(ProtocolError::InvalidCompressedData)
    );
}
