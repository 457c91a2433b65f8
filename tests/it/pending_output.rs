//! `pending_output` counts exactly what `poll_transmit` has yet to hand
//! out, whatever was sent, in whatever order, taken at whatever points:
//! a driver's high-water mark rests on it.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use wsmachine::config::Config;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::Negotiated;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::{Client, CloseCode, Connection, Role, Server};

/// One step of the app: a send of some kind, or a take of some output.
#[derive(Clone, Debug)]
enum Step {
    Text(usize),
    Binary(usize),
    Owned(usize),
    Ping(usize),
    Close,
    /// Takes up to this many buffers from `poll_transmit`.
    Take(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..300).prop_map(Step::Text),
        (0usize..70_000).prop_map(Step::Binary),
        // Both sides of the size above which an owned payload is queued
        // as its own buffer.
        prop_oneof![0usize..2048, 60_000usize..70_000].prop_map(Step::Owned),
        (0usize..126).prop_map(Step::Ping),
        Just(Step::Close),
        (0usize..4).prop_map(Step::Take),
    ]
}

/// Runs `steps`, checking the count after each against the bytes still to
/// come; returns every byte taken.
fn run<R: Role>(conn: &mut Connection<R>, steps: &[Step]) -> Result<(), TestCaseError> {
    // Whatever the handshake left is taken first.
    while conn.poll_transmit().is_some() {}
    prop_assert_eq!(conn.pending_output(), 0);
    let mut queued = 0usize;
    for step in steps {
        let before = conn.pending_output();
        let sent = match step {
            Step::Text(n) => conn.send_text(&"é".repeat(n / 2)).is_ok(),
            Step::Binary(n) => conn.send_binary(&vec![7u8; *n]).is_ok(),
            Step::Owned(n) => conn.send_binary_owned(Bytes::from(vec![9u8; *n])).is_ok(),
            Step::Ping(n) => conn.send_ping(&vec![1u8; *n]).is_ok(),
            Step::Close => conn.close(Duration::ZERO, CloseCode::NORMAL, "bye").is_ok(),
            Step::Take(count) => {
                for _ in 0..*count {
                    let Some(bytes) = conn.poll_transmit() else {
                        break;
                    };
                    queued -= bytes.len();
                }
                false
            }
        };
        if sent {
            // A send only adds, and never less than a frame header.
            prop_assert!(conn.pending_output() >= before + 2);
            queued += conn.pending_output() - before;
        }
        prop_assert_eq!(conn.pending_output(), queued);
    }
    let mut rest = 0;
    while let Some(bytes) = conn.poll_transmit() {
        rest += bytes.len();
    }
    prop_assert_eq!(rest, queued);
    prop_assert_eq!(conn.pending_output(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::default()))]
    #[test]
    fn counts_what_is_left_to_transmit_on_a_server(steps in prop::collection::vec(step(), 0..40)) {
        let mut server = Server::new_open(Config::default(), Duration::ZERO);
        run(&mut server, &steps)?;
    }

    #[test]
    fn counts_what_is_left_to_transmit_on_a_client(steps in prop::collection::vec(step(), 0..40)) {
        let mut client = Client::new_upgraded(
            &ClientConfig::new("ws://example.com/").expect("a valid URL"),
            &Negotiated::default(),
            FixedEntropy::new(&[3, 1, 4, 1]),
            Duration::ZERO,
        );
        run(&mut client, &steps)?;
    }
}
