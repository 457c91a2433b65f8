//! Property tests for the frame layer: round trips, split invariance and no
//! panics on arbitrary bytes.

use bytes::BytesMut;
use proptest::prelude::*;
use wsmachine::error::ProtocolError;
use wsmachine::frame::{Decoded, Frame, FrameDecoder, FrameHeader, Opcode};

fn opcode() -> impl Strategy<Value = Opcode> {
    prop_oneof![
        Just(Opcode::Continuation),
        Just(Opcode::Text),
        Just(Opcode::Binary),
        Just(Opcode::Close),
        Just(Opcode::Ping),
        Just(Opcode::Pong),
    ]
}

/// A frame the decoder accepts: control frames are final and short.
fn valid_frame(max_len: usize) -> impl Strategy<Value = Frame> {
    (opcode(), any::<bool>(), 0u8..8, 0..=max_len, any::<u8>()).prop_map(
        |(opcode, fin, rsv, len, fill)| {
            let (fin, len) = if opcode.is_control() {
                (true, len.min(125))
            } else {
                (fin, len)
            };
            let payload: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
            Frame {
                opcode,
                fin,
                rsv,
                payload: payload.into(),
            }
        },
    )
}

/// Feeds `wire` to a decoder in the given pieces and collects every frame,
/// or the first error.
fn decode_in_pieces(wire: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, ProtocolError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(wire.len());
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut start = 0;
    for cut in cuts {
        buf.extend_from_slice(&wire[start..cut]);
        start = cut;
        while let Some(decoded) = decoder.decode(&mut buf)? {
            if let Decoded::Frame(frame) = decoded {
                frames.push(frame);
            }
        }
    }
    Ok(frames)
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::default()))]
    #[test]
    fn header_round_trips(opcode in opcode(), fin in any::<bool>(), rsv in 0u8..8,
                          mask in proptest::option::of(any::<[u8; 4]>()),
                          payload_len in prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..(1 << 63)]) {
        let payload_len = if opcode.is_control() { payload_len % 126 } else { payload_len };
        let header = FrameHeader { fin: fin || opcode.is_control(), rsv, opcode, mask, payload_len };
        let encoded = header.encode();
        prop_assert_eq!(encoded.as_bytes().len(), header.encoded_len());
        let (decoded, len) = FrameHeader::decode(encoded.as_bytes()).unwrap().unwrap();
        prop_assert_eq!(decoded, header);
        prop_assert_eq!(len, header.encoded_len());
    }

    #[test]
    fn frames_round_trip_in_all_length_forms(frame in valid_frame(70_000),
                                             mask in proptest::option::of(any::<[u8; 4]>())) {
        let mut wire = BytesMut::new();
        frame.encode(mask, &mut wire);
        let decoded = decode_in_pieces(&wire, &[]).unwrap();
        prop_assert_eq!(decoded, vec![frame]);
    }

    #[test]
    fn any_split_gives_the_same_frames(frames in proptest::collection::vec(valid_frame(300), 1..8),
                                       mask in proptest::option::of(any::<[u8; 4]>()),
                                       cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
        let mut wire = BytesMut::new();
        for frame in &frames {
            frame.encode(mask, &mut wire);
        }
        prop_assert_eq!(decode_in_pieces(&wire, &cuts).unwrap(), frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_does_not_matter(wire in proptest::collection::vec(any::<u8>(), 0..600),
                                                             cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let whole = decode_in_pieces(&wire, &[]);
        let split = decode_in_pieces(&wire, &cuts);
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn byte_by_byte_equals_whole() {
    let mut wire = BytesMut::new();
    Frame::new(Opcode::Text, "Hello").encode(Some([0x37, 0xfa, 0x21, 0x3d]), &mut wire);
    Frame::new(Opcode::Ping, "").encode(None, &mut wire);
    Frame::new(Opcode::Binary, vec![7u8; 300]).encode(Some([1, 2, 3, 4]), &mut wire);
    let every_byte: Vec<usize> = (0..wire.len()).collect();
    let whole = decode_in_pieces(&wire, &[]).unwrap();
    assert_eq!(whole.len(), 3);
    assert_eq!(decode_in_pieces(&wire, &every_byte).unwrap(), whole);
}
