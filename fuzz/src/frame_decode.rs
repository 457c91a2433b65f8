//! Decodes arbitrary bytes as a frame stream, whole and in pieces chosen by
//! the input, and checks that the results agree and that every frame decoded
//! re-encodes to the bytes it came from (up to the length form).

use bytes::BytesMut;
use wsmachine::error::ProtocolError;
use wsmachine::frame::{Decoded, Frame, FrameDecoder};

fn decode(wire: &[u8], piece_len: usize) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut decoder = FrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in wire.chunks(piece_len.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Decoded::Frame(frame))) => frames.push(frame),
                Ok(Some(Decoded::Header(header))) => {
                    assert!(
                        !header.opcode.is_control() || (header.fin && header.payload_len <= 125)
                    );
                }
                Ok(None) => break,
                Err(error) => return (frames, Some(error)),
            }
        }
    }
    (frames, None)
}

/// The fuzz check: `data[0]` picks the piece length for the split run.
pub fn run(data: &[u8]) {
    let Some((&piece_len, wire)) = data.split_first() else {
        return;
    };
    let whole = decode(wire, wire.len());
    let split = decode(wire, usize::from(piece_len));
    assert_eq!(whole, split, "splitting changed the result");
    for frame in &whole.0 {
        let mut encoded = BytesMut::new();
        frame.encode(None, &mut encoded);
        let (again, error) = decode(&encoded, encoded.len());
        assert_eq!(error, None);
        assert_eq!(again.as_slice(), core::slice::from_ref(frame));
    }
}
