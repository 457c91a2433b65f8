//! Properties of RFC 6455 §5.3 masking: the fast paths agree with the
//! byte-by-byte definition, pieces carry the phase, and masking is an
//! involution.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use wsmachine::mask::{apply_mask, copy_masked, extend_masked};

/// RFC 6455 §5.3, literally: octet i XOR key[(phase + i) mod 4].
fn reference_mask(data: &[u8], key: [u8; 4], phase: usize) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, byte)| byte ^ key[(phase % 4 + i % 4) % 4])
        .collect()
}

/// Payloads up to ~300 bytes (every tail length and block count that
/// matters) plus some larger ones that cross `extend_masked`'s 4 KiB steps.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..300),
        1 => vec(any::<u8>(), 300..10_000),
    ]
}

/// Sorted split points into a payload of length `len`.
fn split_points(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut points: Vec<usize> = cuts.iter().map(|cut| cut % (len + 1)).collect();
    points.sort_unstable();
    points
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(512)))]

    #[test]
    fn apply_mask_matches_definition(data in payload(), key in any::<[u8; 4]>(), phase in any::<usize>()) {
        let mut masked = data.clone();
        let next = apply_mask(&mut masked, key, phase);
        prop_assert_eq!(&masked, &reference_mask(&data, key, phase));
        prop_assert_eq!(next, (phase % 4 + data.len() % 4) % 4);
    }

    #[test]
    fn small_phases_match_definition(data in vec(any::<u8>(), 0..70), key in any::<[u8; 4]>(), phase in 0usize..8) {
        let mut masked = data.clone();
        let next = apply_mask(&mut masked, key, phase);
        prop_assert_eq!(&masked, &reference_mask(&data, key, phase));
        prop_assert_eq!(next, (phase + data.len()) % 4);
    }

    #[test]
    fn masking_in_pieces_equals_one_pass(
        data in payload(),
        key in any::<[u8; 4]>(),
        phase in 0usize..4,
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let mut whole = data.clone();
        let whole_phase = apply_mask(&mut whole, key, phase);

        let mut pieces = data.clone();
        let mut piece_phase = phase;
        let mut start = 0;
        for end in split_points(data.len(), &cuts).into_iter().chain([data.len()]) {
            piece_phase = apply_mask(&mut pieces[start..end], key, piece_phase);
            start = end;
        }
        prop_assert_eq!(&pieces, &whole);
        prop_assert_eq!(piece_phase, whole_phase);
    }

    #[test]
    fn masking_twice_restores_input(data in payload(), key in any::<[u8; 4]>(), phase in any::<usize>()) {
        let mut buf = data.clone();
        let first = apply_mask(&mut buf, key, phase);
        let second = apply_mask(&mut buf, key, phase);
        prop_assert_eq!(&buf, &data);
        prop_assert_eq!(first, second);
    }

    #[test]
    fn copy_masked_equals_apply_mask_on_copy(data in payload(), key in any::<[u8; 4]>(), phase in any::<usize>()) {
        let mut expected = data.clone();
        let expected_phase = apply_mask(&mut expected, key, phase);

        let mut out = vec![0x5a; data.len()];
        let next = copy_masked(&data, &mut out, key, phase);
        prop_assert_eq!(&out, &expected);
        prop_assert_eq!(next, expected_phase);
    }

    #[test]
    fn copy_masked_with_unequal_lengths_masks_the_common_prefix(
        data in payload(),
        dst_len in 0usize..400,
        key in any::<[u8; 4]>(),
        phase in any::<usize>(),
    ) {
        let len = data.len().min(dst_len);
        let mut out = vec![0x5a; dst_len];
        let next = copy_masked(&data, &mut out, key, phase);
        prop_assert_eq!(&out[..len], &reference_mask(&data[..len], key, phase)[..]);
        prop_assert!(out[len..].iter().all(|&byte| byte == 0x5a));
        prop_assert_eq!(next, (phase % 4 + len % 4) % 4);
    }

    #[test]
    fn extend_masked_equals_apply_mask_on_copy(
        prefix in vec(any::<u8>(), 0..20),
        data in payload(),
        key in any::<[u8; 4]>(),
        phase in any::<usize>(),
    ) {
        let mut expected = data.clone();
        let expected_phase = apply_mask(&mut expected, key, phase);

        let mut out = BytesMut::from(&prefix[..]);
        let next = extend_masked(&mut out, &data, key, phase);
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &expected[..]);
        prop_assert_eq!(next, expected_phase);
    }

    #[test]
    fn extend_masked_in_pieces_equals_one_pass(
        data in payload(),
        key in any::<[u8; 4]>(),
        cuts in vec(any::<usize>(), 0..8),
    ) {
        let mut whole = BytesMut::new();
        let whole_phase = extend_masked(&mut whole, &data, key, 0);

        let mut pieces = BytesMut::new();
        let mut phase = 0;
        let mut start = 0;
        for end in split_points(data.len(), &cuts).into_iter().chain([data.len()]) {
            phase = extend_masked(&mut pieces, &data[start..end], key, phase);
            start = end;
        }
        prop_assert_eq!(&pieces[..], &whole[..]);
        prop_assert_eq!(phase, whole_phase);
    }
}
