//! RFC 6455 §5.3 payload masking.
//!
//! A client masks every frame payload it sends with a 4-byte key: byte `i`
//! of the payload is XORed with `key[i % 4]`. Masking and unmasking are the
//! same operation. A payload usually arrives (or is produced) in several
//! pieces, so every function here takes a *phase* (the key index of the first
//! byte, i.e. how many payload bytes came before, modulo 4) and returns the
//! phase for the next piece.
//!
//! The functions work on 64- and 16-byte blocks against the key rotated to
//! the phase and repeated over the block, so the compiler turns the loops into
//! vector XORs; only the last `len % 16` bytes are done singly. On long
//! inputs the blocks start at a 64-byte boundary in memory, so that none
//! straddles two cache lines.
//!
//! ```
//! use wsmachine::mask::apply_mask;
//!
//! let key = [0x37, 0xfa, 0x21, 0x3d];
//! let mut payload = *b"Hello";
//! // Mask in two pieces, carrying the phase across.
//! let (head, tail) = payload.split_at_mut(2);
//! let phase = apply_mask(head, key, 0);
//! let phase = apply_mask(tail, key, phase);
//! assert_eq!(phase, 1);
//! assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! ```

use core::mem::MaybeUninit;

use crate::invariant::Kept;
use bytes::BytesMut;

/// Bytes per vector step: one SSE2/NEON register. A multiple of 4, so every
/// block starts at the same key index.
const BLOCK: usize = 16;

/// Bytes per unrolled step: four vector blocks per loop iteration, which
/// measured 2-3x faster than one block per iteration on 1-16 KiB payloads.
const WIDE_BLOCK: usize = 4 * BLOCK;

/// The key rotated to `phase` and repeated over a wide block: byte `i` is
/// `key[(phase + i) % 4]`. Its first `BLOCK` bytes serve the narrow steps.
fn key_pattern(key: [u8; 4], phase: usize) -> [u8; WIDE_BLOCK] {
    // `phase % 4 * 8` is at most 24, within the width of a u32.
    let rotated = u32::from_be_bytes(key)
        .rotate_left(((phase % 4) * 8) as u32)
        .to_be_bytes();
    let mut pattern = [0u8; WIDE_BLOCK];
    for part in pattern.chunks_exact_mut(rotated.len()) {
        part.copy_from_slice(&rotated);
    }
    pattern
}

/// XORs `bytes` with the start of `pattern`, in place.
#[inline(always)]
fn xor_in_place(bytes: &mut [u8], pattern: &[u8]) {
    for (byte, key_byte) in bytes.iter_mut().zip(pattern) {
        *byte ^= key_byte;
    }
}

/// A byte slot a masking copy can write: an initialised byte, or spare
/// capacity (`MaybeUninit`) that [`extend_masked`] writes before declaring
/// it initialised.
trait ByteSlot {
    fn put(&mut self, byte: u8);
}

impl ByteSlot for u8 {
    #[inline(always)]
    fn put(&mut self, byte: u8) {
        *self = byte;
    }
}

impl ByteSlot for MaybeUninit<u8> {
    #[inline(always)]
    fn put(&mut self, byte: u8) {
        self.write(byte);
    }
}

/// Writes `src` XOR the start of `pattern` into `dst`.
#[inline(always)]
fn xor_into<T: ByteSlot>(src: &[u8], dst: &mut [T], pattern: &[u8]) {
    for (out, (byte, key_byte)) in dst.iter_mut().zip(src.iter().zip(pattern)) {
        out.put(byte ^ key_byte);
    }
}

/// The phase after masking `len` bytes starting at `phase`.
fn next_phase(phase: usize, len: usize) -> usize {
    // Reduce both operands first so the sum cannot overflow.
    (phase % 4 + len % 4) % 4
}

/// Masks (or unmasks) `buf` in place with `key`, starting at key index
/// `phase % 4`, and returns the phase for the next piece of the same payload.
///
/// RFC 6455 §5.3: octet `i` of the transformed data is octet `i` of the
/// original data XOR octet `i % 4` of the masking key. Calling this on
/// consecutive pieces of a payload, passing each call's return value as the
/// next call's `phase`, gives the same bytes as one call on the whole payload.
///
/// ```
/// use wsmachine::mask::apply_mask;
///
/// let key = [1, 2, 3, 4];
/// let mut data = [0u8; 6];
/// let phase = apply_mask(&mut data, key, 3);
/// assert_eq!(data, [4, 1, 2, 3, 4, 1]);
/// assert_eq!(phase, 1);
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if buf.len() >= wide::FROM {
        return wide::apply_mask(buf, key, phase);
    }
    aligned_mask(buf, key, phase)
}

/// `apply_mask` in the vectors the code is compiled for.
#[inline(always)]
fn aligned_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    if let Some(head_len) = unaligned_head(buf) {
        let (head, rest) = buf.split_at_mut(head_len);
        let phase = mask_blocks(head, key, phase);
        return mask_blocks(rest, key, phase);
    }
    mask_blocks(buf, key, phase)
}

/// For a long input, the length of its head before the first
/// [`WIDE_BLOCK`] boundary in memory: masked apart, it leaves the rest's
/// blocks aligned. A payload starts after a header of 2 to 14 bytes (and a
/// large allocation 16 bytes past a page), so without this its blocks
/// would straddle cache lines. `None` below [`ALIGN_FROM`]. (Byte slots
/// only: `align_offset` counts in elements.)
fn unaligned_head<T: ByteSlot>(slots: &[T]) -> Option<usize> {
    (slots.len() >= ALIGN_FROM).then(|| slots.as_ptr().align_offset(WIDE_BLOCK).min(slots.len()))
}

/// From this length on, the masking functions align their blocks to
/// [`WIDE_BLOCK`] in memory. Unaligned, `apply_mask` measured 35% slower at
/// 16 KiB and 48% at 1 MiB (`cargo bench --bench mask -- _unaligned`); at
/// 1 KiB, aligning from 256 bytes on showed no gain.
const ALIGN_FROM: usize = 2048;

/// `apply_mask` without the alignment step.
#[inline(always)]
fn mask_blocks(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let pattern = key_pattern(key, phase);
    // Fixed-size XORs against the pattern: the compiler emits vector loads,
    // XORs and stores. Every block length is a multiple of 4, so each level
    // (and the final tail) starts at index 0 of the pattern.
    let mut wide_blocks = buf.chunks_exact_mut(WIDE_BLOCK);
    for block in &mut wide_blocks {
        xor_in_place(block, &pattern);
    }
    let mut blocks = wide_blocks.into_remainder().chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        xor_in_place(block, &pattern);
    }
    xor_in_place(blocks.into_remainder(), &pattern);
    next_phase(phase, buf.len())
}

/// Copies `src` into `dst`, masking with `key` from key index `phase % 4`, and
/// returns the phase for the next piece of the same payload.
///
/// Callers pass slices of equal length. If they differ, only the first
/// `min(src.len(), dst.len())` bytes are written and the returned phase
/// accounts for exactly those bytes; this function never panics.
///
/// ```
/// use wsmachine::mask::copy_masked;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut out = [0u8; 5];
/// let phase = copy_masked(b"Hello", &mut out, key, 0);
/// assert_eq!(out, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// assert_eq!(phase, 1);
/// ```
pub fn copy_masked(src: &[u8], dst: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    copy_masked_into(src, dst, key, phase)
}

/// `copy_masked` into initialised bytes or spare capacity: writes the first
/// `min(src.len(), dst.len())` slots of `dst`.
#[inline]
fn copy_masked_into<T: ByteSlot>(src: &[u8], dst: &mut [T], key: [u8; 4], phase: usize) -> usize {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if src.len().min(dst.len()) >= wide::FROM {
        return wide::copy_masked_into(src, dst, key, phase);
    }
    aligned_copy_masked(src, dst, key, phase)
}

/// `copy_masked_into` in the vectors the code is compiled for.
#[inline(always)]
fn aligned_copy_masked<T: ByteSlot>(
    src: &[u8],
    dst: &mut [T],
    key: [u8; 4],
    phase: usize,
) -> usize {
    let len = src.len().min(dst.len());
    let src = src.get(..len).kept();
    let dst = dst.get_mut(..len).kept();
    // The stores are what a cache-line split slows most, so the blocks
    // align with `dst`.
    if let Some(head_len) = unaligned_head(dst) {
        let (src_head, src_rest) = src.split_at(head_len);
        let (dst_head, dst_rest) = dst.split_at_mut(head_len);
        let phase = copy_masked_blocks(src_head, dst_head, key, phase);
        return copy_masked_blocks(src_rest, dst_rest, key, phase);
    }
    copy_masked_blocks(src, dst, key, phase)
}

/// `copy_masked_into` on slices of equal length, without the alignment step.
#[inline(always)]
fn copy_masked_blocks<T: ByteSlot>(src: &[u8], dst: &mut [T], key: [u8; 4], phase: usize) -> usize {
    let len = src.len().min(dst.len());
    let pattern = key_pattern(key, phase);
    // Same levels as `apply_mask`; both sides have `len` bytes, so their
    // blocks and remainders line up.
    let mut src_wide = src.chunks_exact(WIDE_BLOCK);
    let mut dst_wide = dst.chunks_exact_mut(WIDE_BLOCK);
    for (src_block, dst_block) in (&mut src_wide).zip(&mut dst_wide) {
        xor_into(src_block, dst_block, &pattern);
    }
    let mut src_blocks = src_wide.remainder().chunks_exact(BLOCK);
    let mut dst_blocks = dst_wide.into_remainder().chunks_exact_mut(BLOCK);
    for (src_block, dst_block) in (&mut src_blocks).zip(&mut dst_blocks) {
        xor_into(src_block, dst_block, &pattern);
    }
    xor_into(
        src_blocks.remainder(),
        dst_blocks.into_remainder(),
        &pattern,
    );
    next_phase(phase, len)
}

/// Appends `src`, masked with `key` from key index `phase % 4`, to `dst`, and
/// returns the phase for the next piece of the same payload.
///
/// This is how a client writes a frame payload into its output buffer, and
/// how a server copies in payload it reads: the caller's data is never
/// modified, and each byte is read and written once. `dst` grows by exactly
/// `src.len()` bytes; the space is reserved once up front.
///
/// ```
/// use bytes::BytesMut;
/// use wsmachine::mask::extend_masked;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut out = BytesMut::from(&[0x81, 0x85][..]);
/// out.extend_from_slice(&key);
/// let phase = extend_masked(&mut out, b"Hello", key, 0);
/// assert_eq!(phase, 1);
/// assert_eq!(&out[6..], &[0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
// `unsafe` declares the bytes written into the spare capacity initialised.
// The safe alternatives cost a pass over the data: a copy then an in-place
// mask, or a zero fill then a masking copy. `cargo bench --bench mask --
// extend` compares this with the first.
#[allow(unsafe_code)]
pub fn extend_masked(dst: &mut BytesMut, src: &[u8], key: [u8; 4], phase: usize) -> usize {
    dst.reserve(src.len());
    let Some(spare) = dst.spare_capacity_mut().get_mut(..src.len()) else {
        // Unreachable: `reserve` made room for `src.len()` bytes.
        return phase % 4;
    };
    let next = copy_masked_into(src, spare, key, phase);
    let new_len = dst.len() + src.len();
    // SAFETY: `copy_masked_into` wrote every slot of `spare`, which is the
    // `src.len()` bytes of spare capacity right after `dst.len()`, so the
    // first `new_len` bytes are initialised, and `new_len` is within the
    // capacity that `reserve` guaranteed.
    unsafe { dst.set_len(new_len) };
    next
}

/// The masking loops compiled for wider vectors than the x86-64 baseline
/// (SSE2, 16 bytes), and picked at run time from what the CPU reports: with
/// AVX-512 a 64-byte block is one register. Without `std` (no run-time
/// detection) or on other targets, the features the crate is compiled with
/// decide alone.
///
/// `cargo bench --bench mask -- _unaligned` on this project's machine
/// (Sapphire Rapids), baseline → AVX-512: `apply_mask` 35-42 → 17 ns at
/// 1 KiB and 450 → 145 ns at 16 KiB; `extend_masked` 520-585 → 134-204 ns
/// at 16 KiB. At 1 MiB both are bound by the L2 cache and gain little.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod wide {
    use super::{ByteSlot, aligned_copy_masked, aligned_mask};

    /// Inputs shorter than this, two wide blocks or less, stay on the
    /// baseline loops: there the call and the feature checks weigh about
    /// as much as the loop. (Not measured finer than the mask bench's
    /// 125-byte and 1 KiB cases.)
    pub(super) const FROM: usize = 128;

    /// The vector widths, narrowest first.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) enum Width {
        Baseline,
        Avx2,
        Avx512,
    }

    /// The widest width up to `widest` that the CPU has. AVX-512 counts
    /// only with VBMI2, that is on Ice Lake, Zen 4 or later: older AVX-512
    /// parts (Skylake server) lower their clock for 512-bit code, which
    /// would slow what runs after the masking, so they take AVX2.
    fn available(widest: Width) -> Width {
        if widest >= Width::Avx512
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi2")
        {
            Width::Avx512
        } else if widest >= Width::Avx2 && std::is_x86_feature_detected!("avx2") {
            Width::Avx2
        } else {
            Width::Baseline
        }
    }

    pub(super) fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
        apply_mask_upto(Width::Avx512, buf, key, phase)
    }

    pub(super) fn copy_masked_into<T: ByteSlot>(
        src: &[u8],
        dst: &mut [T],
        key: [u8; 4],
        phase: usize,
    ) -> usize {
        copy_masked_upto(Width::Avx512, src, dst, key, phase)
    }

    // The calls below are the crate's only calls into code compiled for
    // features the target does not promise, each after `available` found
    // the CPU has them.
    //
    // One wrapper per operation and width, each taking the slices as its
    // own arguments: passed inside a struct to one generic wrapper, they
    // lose the no-alias promise of reference arguments, and the masking
    // copy measured twice as slow at 16 KiB.

    /// `apply_mask` in the widest vectors up to `widest` that the CPU has.
    #[allow(unsafe_code)]
    pub(super) fn apply_mask_upto(
        widest: Width,
        buf: &mut [u8],
        key: [u8; 4],
        phase: usize,
    ) -> usize {
        match available(widest) {
            // SAFETY: `available` found AVX-512BW (implying AVX-512F).
            Width::Avx512 => unsafe { apply_mask_avx512(buf, key, phase) },
            // SAFETY: `available` found AVX2.
            Width::Avx2 => unsafe { apply_mask_avx2(buf, key, phase) },
            Width::Baseline => aligned_mask(buf, key, phase),
        }
    }

    /// `copy_masked_into` in the widest vectors up to `widest` that the CPU
    /// has.
    #[allow(unsafe_code)]
    pub(super) fn copy_masked_upto<T: ByteSlot>(
        widest: Width,
        src: &[u8],
        dst: &mut [T],
        key: [u8; 4],
        phase: usize,
    ) -> usize {
        match available(widest) {
            // SAFETY: `available` found AVX-512BW (implying AVX-512F).
            Width::Avx512 => unsafe { copy_masked_avx512(src, dst, key, phase) },
            // SAFETY: `available` found AVX2.
            Width::Avx2 => unsafe { copy_masked_avx2(src, dst, key, phase) },
            Width::Baseline => aligned_copy_masked(src, dst, key, phase),
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    fn apply_mask_avx512(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
        aligned_mask(buf, key, phase)
    }

    #[target_feature(enable = "avx2")]
    fn apply_mask_avx2(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
        aligned_mask(buf, key, phase)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    fn copy_masked_avx512<T: ByteSlot>(
        src: &[u8],
        dst: &mut [T],
        key: [u8; 4],
        phase: usize,
    ) -> usize {
        aligned_copy_masked(src, dst, key, phase)
    }

    #[target_feature(enable = "avx2")]
    fn copy_masked_avx2<T: ByteSlot>(
        src: &[u8],
        dst: &mut [T],
        key: [u8; 4],
        phase: usize,
    ) -> usize {
        aligned_copy_masked(src, dst, key, phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7: a single-frame masked text message "Hello".
    const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    const RFC_MASKED_HELLO: [u8; 5] = [0x7f, 0x9f, 0x4d, 0x51, 0x58];

    #[test]
    fn rfc_6455_hello_apply_mask() {
        let mut payload = *b"Hello";
        assert_eq!(apply_mask(&mut payload, RFC_KEY, 0), 1);
        assert_eq!(payload, RFC_MASKED_HELLO);
        // Unmasking is the same operation.
        assert_eq!(apply_mask(&mut payload, RFC_KEY, 0), 1);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn rfc_6455_hello_copy_and_extend() {
        let mut copied = [0u8; 5];
        assert_eq!(copy_masked(b"Hello", &mut copied, RFC_KEY, 0), 1);
        assert_eq!(copied, RFC_MASKED_HELLO);

        let mut out = BytesMut::new();
        assert_eq!(extend_masked(&mut out, b"Hello", RFC_KEY, 0), 1);
        assert_eq!(&out[..], &RFC_MASKED_HELLO);
    }

    #[test]
    fn rfc_6455_hello_byte_by_byte() {
        let mut payload = *b"Hello";
        let mut phase = 0;
        for byte in payload.chunks_mut(1) {
            phase = apply_mask(byte, RFC_KEY, phase);
        }
        assert_eq!(payload, RFC_MASKED_HELLO);
        assert_eq!(phase, 1);
    }

    #[test]
    fn phase_is_taken_modulo_four() {
        let mut low = [0u8; 37];
        let mut high = [0u8; 37];
        assert_eq!(apply_mask(&mut low, RFC_KEY, 2), 3);
        assert_eq!(apply_mask(&mut high, RFC_KEY, 4 * 1000 + 2), 3);
        assert_eq!(low, high);
        assert_eq!(low[0], RFC_KEY[2]);
        assert_eq!(low[36], RFC_KEY[2]);
    }

    #[test]
    fn huge_phase_and_length_do_not_overflow() {
        assert_eq!(next_phase(usize::MAX, usize::MAX), (3 + 3) % 4);
        let mut empty = [0u8; 0];
        assert_eq!(apply_mask(&mut empty, RFC_KEY, usize::MAX), 3);
    }

    #[test]
    fn empty_input_reduces_the_phase() {
        let mut out = BytesMut::new();
        assert_eq!(extend_masked(&mut out, &[], RFC_KEY, 6), 2);
        assert!(out.is_empty());
        assert_eq!(copy_masked(&[], &mut [], RFC_KEY, 7), 3);
        assert_eq!(apply_mask(&mut [], RFC_KEY, 5), 1);
    }

    #[test]
    fn copy_masked_with_unequal_lengths_masks_the_shorter() {
        let src = [0u8; 20];
        let mut dst = [0xaau8; 7];
        assert_eq!(copy_masked(&src, &mut dst, RFC_KEY, 1), 0);
        assert_eq!(dst, [0xfa, 0x21, 0x3d, 0x37, 0xfa, 0x21, 0x3d]);

        let mut long_dst = [0xaau8; 9];
        assert_eq!(copy_masked(&src[..3], &mut long_dst, RFC_KEY, 0), 3);
        assert_eq!(
            long_dst,
            [0x37, 0xfa, 0x21, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa]
        );
    }

    /// RFC 6455 §5.3 spelled out, a byte at a time.
    fn mask_by_definition(bytes: &mut [u8], key: [u8; 4], phase: usize) {
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte ^= key[(phase + i) % 4];
        }
    }

    #[test]
    fn aligned_blocks_mask_like_the_definition_at_every_offset() {
        // Long enough to take the alignment step, starting at every offset
        // within a wide block, so the head before the boundary has every
        // length from 0 to WIDE_BLOCK - 1.
        let src: alloc::vec::Vec<u8> = (0..ALIGN_FROM + 3 * WIDE_BLOCK)
            .map(|i| (i * 13 + 5) as u8)
            .collect();
        let mut room = alloc::vec![0u8; src.len() + WIDE_BLOCK];
        for offset in 0..WIDE_BLOCK {
            for len in [ALIGN_FROM - 1, ALIGN_FROM, ALIGN_FROM + 1, src.len()] {
                for phase in 0..4 {
                    let src = &src[..len];
                    let mut expected = src.to_vec();
                    mask_by_definition(&mut expected, RFC_KEY, phase);
                    let next = (phase + len) % 4;

                    let in_place = &mut room[offset..offset + len];
                    in_place.copy_from_slice(src);
                    assert_eq!(apply_mask(in_place, RFC_KEY, phase), next);
                    assert_eq!(in_place, &expected[..], "offset {offset} len {len}");

                    let copied = &mut room[offset..offset + len];
                    copied.fill(0);
                    assert_eq!(copy_masked(src, copied, RFC_KEY, phase), next);
                    assert_eq!(copied, &expected[..], "offset {offset} len {len}");
                }
            }
        }
    }

    #[test]
    fn extend_masked_writes_every_length_and_phase() {
        // Every remainder below a wide block, around block edges, and long
        // inputs; into an empty buffer and after a prefix.
        let src: alloc::vec::Vec<u8> = (0..3 * 4096 + 7).map(|i| (i * 7) as u8).collect();
        let lengths = (0..=2 * WIDE_BLOCK + 1).chain([4095, 4096, 4097, src.len()]);
        for len in lengths {
            for phase in 0..4 {
                let src = &src[..len];
                let mut expected = src.to_vec();
                apply_mask(&mut expected, RFC_KEY, phase);
                for prefix in [&b""[..], b"prefix"] {
                    let mut out = BytesMut::from(prefix);
                    assert_eq!(
                        extend_masked(&mut out, src, RFC_KEY, phase),
                        (phase + len) % 4
                    );
                    assert_eq!(&out[..prefix.len()], prefix);
                    assert_eq!(
                        &out[prefix.len()..],
                        &expected[..],
                        "len {len} phase {phase}"
                    );
                }
            }
        }
    }

    /// Every vector width the CPU has, at lengths around the dispatch and
    /// alignment thresholds and block edges, every start offset within a
    /// wide block and every phase, in place and copying: the same bytes as
    /// the definition. (Spare capacity goes through the same generic code;
    /// `extend_masked_writes_every_length_and_phase` covers it.)
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn every_vector_width_masks_like_the_definition() {
        use wide::Width;
        let src: alloc::vec::Vec<u8> = (0..ALIGN_FROM + 3 * WIDE_BLOCK + 5)
            .map(|i| (i * 29 + 3) as u8)
            .collect();
        let lengths = [
            wide::FROM - 1,
            wide::FROM,
            wide::FROM + 1,
            wide::FROM + WIDE_BLOCK + BLOCK + 3,
            ALIGN_FROM - 1,
            ALIGN_FROM,
            src.len(),
        ];
        let mut room = alloc::vec![0u8; src.len() + WIDE_BLOCK];
        for width in [Width::Baseline, Width::Avx2, Width::Avx512] {
            for offset in 0..WIDE_BLOCK {
                for len in lengths {
                    for phase in 0..4 {
                        let src = &src[..len];
                        let mut expected = src.to_vec();
                        mask_by_definition(&mut expected, RFC_KEY, phase);
                        let next = (phase + len) % 4;
                        let at =
                            alloc::format!("{width:?} offset {offset} len {len} phase {phase}");

                        let in_place = &mut room[offset..offset + len];
                        in_place.copy_from_slice(src);
                        assert_eq!(wide::apply_mask_upto(width, in_place, RFC_KEY, phase), next);
                        assert_eq!(in_place, &expected[..], "{at}");

                        let copied = &mut room[offset..offset + len];
                        copied.fill(0);
                        assert_eq!(
                            wide::copy_masked_upto(width, src, copied, RFC_KEY, phase),
                            next
                        );
                        assert_eq!(copied, &expected[..], "{at}");
                    }
                }
            }
        }
    }
}
