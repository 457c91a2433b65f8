//! Placeholder: being written. A byte loop with the final API's shape.

/// Placeholder.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let mut phase = phase % 4;
    for byte in buf.iter_mut() {
        *byte ^= key[phase];
        phase = (phase + 1) % 4;
    }
    phase
}

/// Placeholder.
pub fn extend_masked(dst: &mut bytes::BytesMut, src: &[u8], key: [u8; 4], phase: usize) -> usize {
    let start = dst.len();
    dst.extend_from_slice(src);
    apply_mask(&mut dst[start..], key, phase)
}
