//! Unit tests of `frame`, built only under `cargo test`. An `unwrap`,
//! `expect` or `panic!` here fails a test on a case the test itself built;
//! none of it is compiled into the library or meets a peer's input.

use super::*;
use alloc::vec::Vec;

/// A whole frame taken off `buf` in one step, as the engine takes one.
fn decode_whole(
    decoder: &FrameDecoder,
    buf: &mut BytesMut,
    accept: impl FnOnce(&FrameHeader) -> bool,
) -> Option<Frame> {
    let whole = decoder.unmask_whole(buf, accept)?;
    Some(whole.split_off(buf))
}

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, ProtocolError> {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    while let Some(decoded) = decoder.decode(&mut buf)? {
        if let Decoded::Frame(frame) = decoded {
            frames.push(frame);
        }
    }
    Ok(frames)
}

#[test]
fn rfc_examples_decode() {
    // RFC 6455 §5.7.
    let unmasked = decode_all(b"\x81\x05\x48\x65\x6c\x6c\x6f").unwrap();
    assert_eq!(unmasked, [Frame::new(Opcode::Text, "Hello")]);
    let masked = decode_all(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58").unwrap();
    assert_eq!(masked, [Frame::new(Opcode::Text, "Hello")]);
    let fragmented = decode_all(b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f").unwrap();
    assert_eq!(fragmented.len(), 2);
    assert_eq!(
        (fragmented[0].opcode, fragmented[0].fin),
        (Opcode::Text, false)
    );
    assert_eq!(&fragmented[0].payload[..], b"Hel");
    assert_eq!(
        (fragmented[1].opcode, fragmented[1].fin),
        (Opcode::Continuation, true)
    );
    let ping = decode_all(b"\x89\x05\x48\x65\x6c\x6c\x6f").unwrap();
    assert_eq!(ping, [Frame::new(Opcode::Ping, "Hello")]);
    let pong = decode_all(b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58").unwrap();
    assert_eq!(pong, [Frame::new(Opcode::Pong, "Hello")]);
}

#[test]
fn rfc_example_length_forms() {
    // RFC 6455 §5.7: 256 bytes and 64 KiB of binary data in one unmasked frame.
    let header_256 = FrameHeader::new(Opcode::Binary, true, None, 256);
    assert_eq!(header_256.encode().as_bytes(), [0x82, 0x7E, 0x01, 0x00]);
    let header_64k = FrameHeader::new(Opcode::Binary, true, None, 65536);
    assert_eq!(
        header_64k.encode().as_bytes(),
        [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
    );
    let mut wire = Vec::from(header_64k.encode().as_bytes());
    wire.extend(core::iter::repeat_n(0xAB, 65536));
    let frames = decode_all(&wire).unwrap();
    assert_eq!(frames[0].payload.len(), 65536);
}

#[test]
fn shortest_length_form_at_each_boundary() {
    for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
        let header = FrameHeader::new(Opcode::Binary, true, None, len);
        assert_eq!(header.encode().as_bytes().len(), header_len, "{len}");
        assert_eq!(header.encoded_len(), header_len);
        let masked = FrameHeader::new(Opcode::Binary, true, Some([1, 2, 3, 4]), len);
        assert_eq!(masked.encode().as_bytes().len(), header_len + 4);
    }
}

#[test]
fn non_minimal_lengths_are_accepted() {
    let (header, len) = FrameHeader::decode(b"\x82\x7e\x00\x05").unwrap().unwrap();
    assert_eq!((header.payload_len, len), (5, 4));
    let (header, len) = FrameHeader::decode(b"\x82\x7f\0\0\0\0\0\0\0\x05")
        .unwrap()
        .unwrap();
    assert_eq!((header.payload_len, len), (5, 10));
}

#[test]
fn header_violations_are_rejected() {
    for opcode in (3..=7).chain(11..=15) {
        assert_eq!(
            FrameHeader::decode(&[0x80 | opcode, 0]),
            Err(ProtocolError::ReservedOpcode(opcode))
        );
    }
    assert_eq!(
        FrameHeader::decode(b"\x82\x7f\x80\0\0\0\0\0\0\0"),
        Err(ProtocolError::LengthTopBitSet)
    );
    assert_eq!(
        FrameHeader::decode(b"\x89\x7e"),
        Ok(None),
        "needs the extended length before judging"
    );
    assert_eq!(
        FrameHeader::decode(b"\x89\x7e\x00\x7e"),
        Err(ProtocolError::ControlFrameTooLarge { len: 126 })
    );
    assert!(FrameHeader::decode(b"\x89\x7d").unwrap().is_some());
    assert_eq!(
        FrameHeader::decode(b"\x09\x00"),
        Err(ProtocolError::FragmentedControlFrame)
    );
    // RSV bits are decoded, not judged: whether they are allowed depends
    // on the extensions negotiated.
    let (header, _) = FrameHeader::decode(b"\xf1\x00").unwrap().unwrap();
    assert_eq!(header.rsv, 0b111);
}

#[test]
fn partial_headers_wait() {
    let full = b"\x82\xfe\x01\x00\x01\x02\x03\x04";
    for cut in 0..full.len() {
        assert_eq!(FrameHeader::decode(&full[..cut]), Ok(None), "{cut}");
    }
    assert!(FrameHeader::decode(full).unwrap().is_some());
}

#[test]
fn payload_is_unmasked_as_it_arrives() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut wire = BytesMut::new();
    Frame::new(Opcode::Binary, &b"abcdefghij"[..]).encode(Some(key), &mut wire);
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut frame = None;
    for byte in wire.iter() {
        buf.extend_from_slice(&[*byte]);
        while let Some(decoded) = decoder.decode(&mut buf).unwrap() {
            if let Decoded::Frame(f) = decoded {
                frame = Some(f);
            }
        }
        if decoder.current_header().is_some() {
            let partial = decoder.partial_payload(&buf);
            assert_eq!(partial, &b"abcdefghij"[..partial.len()]);
        }
    }
    assert_eq!(frame.unwrap().payload, &b"abcdefghij"[..]);
}

/// Payload bytes that differ at every position, so that a byte masked
/// with the wrong key index shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn short_payloads_mask_like_the_block_wise_mask() {
    for key in [[0x37, 0xfa, 0x21, 0x3d], [1, 2, 3, 4], [0xff; 4]] {
        for len in 0..=130 {
            let mut expected = pattern(len);
            mask::apply_mask(&mut expected, key, 0);
            let mut masked = pattern(len);
            mask_payload(&mut masked, key);
            assert_eq!(masked, expected, "{len} bytes, key {key:?}");
        }
    }
}

#[test]
fn short_frames_encode_like_long_ones() {
    // The general encoding: header, then the payload masked while copied.
    fn general(header: &FrameHeader, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::from(header.encode().as_bytes());
        match header.mask {
            Some(key) => {
                mask::extend_masked(&mut out, payload, key, 0);
            }
            None => out.extend_from_slice(payload),
        }
        out.to_vec()
    }
    for mask in [None, Some([0x37, 0xfa, 0x21, 0x3d])] {
        for len in 0..=SHORT_PAYLOAD + 2 {
            let header = FrameHeader::new(Opcode::Binary, len % 2 == 0, mask, len as u64);
            let payload = pattern(len);
            // Appended after earlier bytes, which must stay as they were.
            let mut out = BytesMut::from(&b"earlier"[..]);
            encode_frame(&header, &payload, &mut out);
            assert_eq!(&out[..7], b"earlier");
            assert_eq!(
                out[7..],
                general(&header, &payload),
                "{len} bytes, {mask:?}"
            );
        }
    }
}

/// Frames of every length form, masked, one after another.
fn mixed_frames() -> (Vec<Frame>, Vec<u8>) {
    let frames: Vec<Frame> = [0, 1, 16, 63, 64, 125, 126, 300, 70_000]
        .into_iter()
        .enumerate()
        .map(|(i, len)| {
            let opcode = if i % 2 == 0 {
                Opcode::Text
            } else {
                Opcode::Binary
            };
            Frame::new(opcode, pattern(len))
        })
        .collect();
    let mut wire = BytesMut::new();
    for (i, frame) in frames.iter().enumerate() {
        frame.encode(Some([i as u8, 0x5a, 0xc3, 0x81]), &mut wire);
    }
    (frames, wire.to_vec())
}

#[test]
fn whole_frames_decode_like_the_two_steps() {
    let (frames, wire) = mixed_frames();
    let decoder = FrameDecoder::new();
    let mut buf = BytesMut::from(&wire[..]);
    let mut taken = Vec::new();
    while let Some(frame) = decode_whole(&decoder, &mut buf, |_| true) {
        taken.push(frame);
    }
    assert_eq!(taken, frames);
    assert!(buf.is_empty());
}

#[test]
fn whole_frames_leave_everything_else_to_decode() {
    let (frames, wire) = mixed_frames();
    let mut decoder = FrameDecoder::new();
    // Refused by the caller: nothing is consumed.
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(decode_whole(&decoder, &mut buf, |_| false), None);
    assert_eq!(&buf[..], &wire[..]);
    // Incomplete: nothing is consumed.
    for cut in 0..frames[0].payload.len() + 6 {
        let mut buf = BytesMut::from(&wire[..cut]);
        assert_eq!(decode_whole(&decoder, &mut buf, |_| true), None, "{cut}");
        assert_eq!(buf.len(), cut);
    }
    // A frame in progress belongs to `decode`, even once it is whole.
    // (The first frame is empty: its 6 header bytes are all of it.)
    let mut buf = BytesMut::from(&wire[..6]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Decoded::Header(_)))
    ));
    assert_eq!(decode_whole(&decoder, &mut buf, |_| true), None);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Decoded::Frame(frames[0].clone())))
    );
    // An invalid header is not its to report.
    let mut buf = BytesMut::from(&b"\x83\x00"[..]);
    let mut decoder = FrameDecoder::new();
    assert_eq!(decode_whole(&decoder, &mut buf, |_| true), None);
    assert_eq!(
        decoder.decode(&mut buf),
        Err(ProtocolError::ReservedOpcode(3))
    );
}

/// Decodes everything `decode` can from `buf`.
fn decode_available(decoder: &mut FrameDecoder, buf: &mut BytesMut, frames: &mut Vec<Frame>) {
    while let Some(decoded) = decoder.decode(buf).unwrap() {
        if let Decoded::Frame(frame) = decoded {
            frames.push(frame);
        }
    }
}

#[test]
fn extend_unmasks_like_decode_at_every_split() {
    let (frames, wire) = mixed_frames();
    let piece_lengths = [1, 2, 3, 5, 7, 64, 1000, 4096, 65_536];
    for piece_len in piece_lengths {
        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        for piece in wire.chunks(piece_len) {
            decoder.extend(&mut buf, piece);
            decode_available(&mut decoder, &mut buf, &mut decoded);
            // The unmasked prefix is what `decode` alone would show.
            if let Some(header) = decoder.current_header() {
                let index = decoded.len();
                let partial = decoder.partial_payload(&buf);
                assert_eq!(partial, &frames[index].payload[..partial.len()]);
                assert_eq!(header.payload_len, frames[index].payload.len() as u64);
            }
        }
        assert_eq!(decoded, frames, "pieces of {piece_len}");
    }
}

#[test]
fn extend_appends_after_masked_bytes_it_has_not_seen() {
    // Bytes appended without `extend` are still masked; `extend` must
    // not unmask past them.
    let (frames, wire) = mixed_frames();
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut decoded = Vec::new();
    for (i, piece) in wire.chunks(333).enumerate() {
        if i % 3 == 0 {
            buf.extend_from_slice(piece);
        } else {
            decoder.extend(&mut buf, piece);
        }
        if i % 2 == 0 {
            decode_available(&mut decoder, &mut buf, &mut decoded);
        }
    }
    decode_available(&mut decoder, &mut buf, &mut decoded);
    assert_eq!(decoded, frames);
}

#[test]
fn payload_taken_in_pieces_is_the_payload_however_split() {
    let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let mut wire = BytesMut::new();
    Frame::new(Opcode::Binary, payload.clone()).encode(Some([9, 8, 7, 6]), &mut wire);
    Frame::new(Opcode::Text, &b"next"[..]).encode(Some([1, 2, 3, 4]), &mut wire);
    for read in [1, 3, 7, 64, 999, wire.len()] {
        for max in [1, 5, 100, usize::MAX] {
            let mut decoder = FrameDecoder::new();
            let mut buf = BytesMut::new();
            let mut taken = Vec::new();
            let mut ended = false;
            for chunk in wire.chunks(read) {
                // Half the chunks through the masking copy, half appended.
                if chunk.len() % 2 == 0 {
                    decoder.extend(&mut buf, chunk);
                } else {
                    buf.extend_from_slice(chunk);
                }
                if decoder.current_header().is_none() && !ended {
                    match decoder.decode(&mut buf) {
                        Ok(Some(Decoded::Header(header))) => assert_eq!(header.payload_len, 1000),
                        Ok(None) => continue,
                        other => panic!("{other:?}"),
                    }
                }
                while !ended {
                    decoder.unmask_available(&mut buf);
                    let Some((piece, ends)) = decoder.take_payload(&mut buf, max) else {
                        break;
                    };
                    assert!(piece.len() <= max);
                    assert!(
                        !piece.is_empty(),
                        "a piece of a non-empty frame holds bytes"
                    );
                    taken.extend_from_slice(&piece);
                    ended = ends;
                }
            }
            assert!(ended, "read {read} max {max}");
            assert_eq!(taken, payload, "read {read} max {max}");
            // The next frame decodes as usual after the pieces.
            assert!(matches!(
                decoder.decode(&mut buf),
                Ok(Some(Decoded::Header(_)))
            ));
            let Ok(Some(Decoded::Frame(next))) = decoder.decode(&mut buf) else {
                panic!("read {read} max {max}");
            };
            assert_eq!(&next.payload[..], b"next");
        }
    }
}

#[test]
fn an_empty_frame_is_one_empty_piece_that_ends_it() {
    let mut wire = BytesMut::new();
    Frame::new(Opcode::Binary, Bytes::new()).encode(Some([9, 8, 7, 6]), &mut wire);
    let mut decoder = FrameDecoder::new();
    assert!(matches!(
        decoder.decode(&mut wire),
        Ok(Some(Decoded::Header(_)))
    ));
    decoder.unmask_available(&mut wire);
    assert_eq!(
        decoder.take_payload(&mut wire, 10),
        Some((Bytes::new(), true))
    );
    assert_eq!(decoder.take_payload(&mut wire, 10), None);
}
