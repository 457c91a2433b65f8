//! Random sequences of API calls on a client/server pair: sends of every
//! kind from either side, closes, time, partial deliveries, transport ends
//! and garbage. The invariants (states only move forward, at most one Close
//! event per side, nothing sent after a side's own Close, every message sent
//! before a clean close arrives intact, and more) are asserted by the
//! `pair_ops` check shared with the fuzz target; see its module docs.

use crate::fuzz_corpus::pair_ops;

use pair_ops::{Op, Setup, Side};
use proptest::collection::vec;
use proptest::prelude::*;
use wsmachine::{DataKind, Fragment};

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

fn fragment() -> impl Strategy<Value = Fragment> {
    prop_oneof![
        Just(Fragment::First(DataKind::Text)),
        Just(Fragment::First(DataKind::Binary)),
        Just(Fragment::Continue),
        Just(Fragment::Last),
    ]
}

/// Bytes that are text most of the time, so text fragments get through and
/// split characters; sometimes anything.
fn fragment_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => "\\PC{0,12}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..12),
    ]
}

fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => prop_oneof![Just(1000u16), Just(1001), Just(1011), Just(3000), Just(4999)],
        1 => any::<u16>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (side(), "\\PC{0,24}").prop_map(|(side, text)| Op::Text(side, text)),
        3 => (side(), vec(any::<u8>(), 0..32)).prop_map(|(side, data)| Op::Binary(side, data)),
        1 => (side(), proptest::option::of(fragment()), any::<u8>())
            .prop_map(|(side, fragment, index)| Op::Large(side, fragment, index)),
        5 => (side(), fragment(), fragment_bytes())
            .prop_map(|(side, fragment, data)| Op::Fragment(side, fragment, data)),
        2 => (side(), vec(any::<u8>(), 0..130)).prop_map(|(side, data)| Op::Ping(side, data)),
        1 => (side(), vec(any::<u8>(), 0..130)).prop_map(|(side, data)| Op::Pong(side, data)),
        2 => (side(), close_code(), "\\PC{0,8}|r{120,125}")
            .prop_map(|(side, code, reason)| Op::Close(side, code, reason)),
        2 => prop_oneof![0u16..100, 400u16..1200, any::<u16>()].prop_map(Op::Advance),
        6 => Just(Op::Drive),
        4 => (side(), prop_oneof![Just(0u16), 1u16..16, 16u16..2048])
            .prop_map(|(side, max)| Op::Deliver(side, max)),
        1 => side().prop_map(Op::Eof),
        1 => (side(), vec(any::<u8>(), 1..16)).prop_map(|(side, data)| Op::Garbage(side, data)),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    any::<u8>().prop_map(Setup::from_byte)
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(512)))]

    #[test]
    fn random_operations_keep_the_invariants(setup in setup(), ops in vec(op(), 0..48)) {
        pair_ops::run_ops(setup, &ops);
    }

    /// Without garbage, EOFs or timeouts: every message arrives, in order.
    #[test]
    fn a_well_behaved_pair_delivers_everything(
        ops in vec(
            op().prop_filter("no garbage, EOF or time", |op| {
                !matches!(op, Op::Garbage(..) | Op::Eof(_) | Op::Advance(_))
            }),
            0..48,
        ),
    ) {
        pair_ops::run_ops(Setup::from_byte(0), &ops);
    }

    /// Arbitrary bytes, decoded as the fuzz target decodes them.
    #[test]
    fn arbitrary_bytes_as_operations(data in vec(any::<u8>(), 0..256)) {
        pair_ops::run(&data);
    }
}

#[test]
fn decoding_covers_every_kind_of_op() {
    let ops = pair_ops::decode_ops(&[
        0x00, 2, b'h', b'i', // text "hi" from the client
        0x11, 1, 0xff, // binary from the server
        0x02, 4, 3, // a large binary message
        0x03, 0, 1, b'a', // a first text fragment
        0x04, 0, 0x05, 0, // ping, pong
        0x06, 0, 0, // close 1000 ""
        0x07, 0, 10,   // advance 10 ms
        0x08, // drive
        0x09, 0x82, // deliver 2 * 512
        0x0a, // EOF
        0x1b, 1, 0x83, // garbage toward the server
    ]);
    assert_eq!(
        ops,
        vec![
            Op::Text(Side::Client, "hi".into()),
            Op::Binary(Side::Server, vec![0xff]),
            Op::Large(Side::Client, None, 3),
            Op::Fragment(Side::Client, Fragment::First(DataKind::Text), b"a".to_vec()),
            Op::Ping(Side::Client, vec![]),
            Op::Pong(Side::Client, vec![]),
            Op::Close(Side::Client, 1000, String::new()),
            Op::Advance(10),
            Op::Drive,
            Op::Deliver(Side::Client, 1024),
            Op::Eof(Side::Client),
            Op::Garbage(Side::Server, vec![0x83]),
        ]
    );
}
