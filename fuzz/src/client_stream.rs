//! A whole client fed arbitrary bytes as the server's side of the stream,
//! then EOF. Nothing is put before the input: the fuzzer finds the 101 (the
//! seeds start with one).
//!
//! The input is fed whole, in pieces whose sizes are derived from the input,
//! and (for short inputs) byte by byte. Checks:
//! - the three runs give the same events, bytes out, error and state;
//! - errors are sticky, and a closed connection neither sends nor reports
//!   anything more;
//! - the first event, if any, is Accepted or HandshakeRejected; a rejection
//!   is the only event, sends nothing, and its body error is the error;
//! - frames come only after Accepted; exactly one Close for a connection
//!   that opened, and nothing after it;
//! - the client sends only whole, masked frames, none after a Close frame.

use std::time::Duration;

use wsmachine::entropy::FixedEntropy;
use wsmachine::frame::{FrameHeader, Opcode};
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::{Client, Error, Event, State};

const NOW: Duration = Duration::ZERO;

/// RFC 6455 §1.3's sample nonce (key `dGhlIHNhbXBsZSBub25jZQ==`, accept
/// `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`), then §5.7's masking key.
const ENTROPY: &[u8] = b"the sample nonce\x37\xfa\x21\x3d";

/// Long enough for any frame sequence worth trying.
const MAX_INPUT: usize = 64 * 1024;

/// Inputs up to this length are also fed one byte per call.
const MAX_BYTE_BY_BYTE: usize = 512;

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    transmitted: Vec<u8>,
    error: Option<Error>,
    state: State,
}

fn client() -> Client<FixedEntropy> {
    let mut config = ClientConfig::new("ws://server.example.com/chat")
        .expect("a valid URL")
        .with_protocol("chat")
        .with_protocol("superchat");
    config.extensions.push("permessage-deflate".into());
    let mut client = Client::new(config, FixedEntropy::new(ENTROPY)).expect("a valid client");
    let request = client.poll_transmit().expect("the request is queued");
    assert!(request.starts_with(b"GET /chat HTTP/1.1\r\n"));
    assert_eq!(client.poll_transmit(), None);
    client
}

/// Feeds `stream` cut at `cuts` (increasing positions), then EOF, and
/// checks the per-call properties on the way.
fn drive(stream: &[u8], cuts: &[usize]) -> Outcome {
    let mut client = client();
    let mut outcome = Outcome {
        events: Vec::new(),
        transmitted: Vec::new(),
        error: None,
        state: State::Connecting,
    };
    let mut start = 0;
    let ends = cuts
        .iter()
        .copied()
        .filter(|&cut| cut > 0 && cut < stream.len())
        .chain([stream.len()]);
    for end in ends {
        let piece = stream.get(start..end).unwrap_or_default();
        start = end;
        let closed = client.state() == State::Closed;
        let result = client.receive(NOW, piece);
        settle(&mut client, result, closed, &mut outcome);
    }
    let closed = client.state() == State::Closed;
    let result = client.receive_eof(NOW);
    settle(&mut client, result, closed, &mut outcome);
    outcome.state = client.state();
    outcome
}

fn settle(
    client: &mut Client<FixedEntropy>,
    result: Result<(), Error>,
    closed: bool,
    outcome: &mut Outcome,
) {
    if let Some(sticky) = &outcome.error {
        assert_eq!(result.as_ref(), Err(sticky), "errors are sticky");
    }
    if let Err(error) = &result {
        assert_eq!(
            client.error(),
            Some(error),
            "the returned error is recorded"
        );
    }
    let events_before = outcome.events.len();
    let transmitted_before = outcome.transmitted.len();
    outcome
        .events
        .extend(std::iter::from_fn(|| client.poll_event()));
    while let Some(bytes) = client.poll_transmit() {
        outcome.transmitted.extend_from_slice(&bytes);
    }
    if closed {
        assert_eq!(outcome.events.len(), events_before, "no event once closed");
        assert_eq!(
            outcome.transmitted.len(),
            transmitted_before,
            "nothing sent once closed"
        );
    }
    outcome.error = client.error().cloned();
}

/// Checks that `wire` is a sequence of whole frames that a client may send.
fn check_client_frames(mut wire: &[u8]) {
    let mut closed = false;
    while !wire.is_empty() {
        assert!(!closed, "a frame after the Close frame");
        let (header, header_len) = FrameHeader::decode(wire)
            .expect("the client sends valid frame headers")
            .expect("the client sends whole frames");
        assert!(header.mask.is_some(), "a client frame is always masked");
        assert_eq!(header.rsv, 0);
        if header.opcode.is_control() {
            assert!(header.fin && header.payload_len <= 125);
        }
        closed = header.opcode == Opcode::Close;
        let frame_len = usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| len.checked_add(header_len))
            .expect("a frame length that fits in memory");
        wire = wire
            .get(frame_len..)
            .expect("the client sends whole frames");
    }
}

/// The properties of one complete run.
fn check(outcome: &Outcome) {
    assert_eq!(
        outcome.state,
        State::Closed,
        "EOF always ends the connection"
    );
    match outcome.events.first() {
        None => {
            assert_eq!(outcome.transmitted, b"", "nothing is sent before the 101");
            let Some(Error::Handshake(error)) = &outcome.error else {
                panic!("a connection that never opened failed its handshake: {outcome:?}")
            };
            assert_eq!(error.status(), None, "a client answers nothing");
            assert!(
                !matches!(error, HandshakeError::RejectionBody(_)),
                "a rejection body error comes with the rejection"
            );
        }
        Some(Event::HandshakeRejected(rejection)) => {
            assert_eq!(outcome.events.len(), 1, "a rejection ends the connection");
            assert_eq!(outcome.transmitted, b"");
            assert!(rejection.status >= 200, "interim responses are skipped");
            assert_eq!(
                outcome.error,
                rejection
                    .body_error
                    .clone()
                    .map(|error| Error::Handshake(HandshakeError::RejectionBody(error)))
            );
        }
        Some(Event::Accepted(accepted)) => {
            assert_eq!(accepted.response.status, 101);
            if let Some(protocol) = &accepted.protocol {
                assert!(protocol == "chat" || protocol == "superchat");
            }
            check_client_frames(&outcome.transmitted);
            let closes: Vec<usize> = outcome
                .events
                .iter()
                .enumerate()
                .filter(|(_, event)| matches!(event, Event::Close(_)))
                .map(|(index, _)| index)
                .collect();
            let [close_index] = closes.as_slice() else {
                panic!("exactly one Close for a connection that opened: {outcome:?}")
            };
            assert_eq!(
                *close_index,
                outcome.events.len() - 1,
                "nothing after Close"
            );
            let Some(Event::Close(close)) = outcome.events.last() else {
                unreachable!("found above")
            };
            assert_eq!(close.error, outcome.error, "the Close reports the failure");
            for event in outcome.events.get(1..*close_index).unwrap_or_default() {
                assert!(matches!(event, Event::Frame(_)), "{event:?}");
            }
            if let Some(error) = &outcome.error {
                assert!(
                    matches!(error, Error::Protocol(_) | Error::UnexpectedEof),
                    "{error:?}"
                );
            }
        }
        Some(other) => panic!("the first event is the handshake's: {other:?}"),
    }
}

/// The fuzz check.
pub fn run(data: &[u8]) {
    let stream = data.get(..MAX_INPUT).unwrap_or(data);
    let whole = drive(stream, &[]);
    check(&whole);
    let cuts = super::split::cuts_for(stream);
    assert_eq!(drive(stream, &cuts), whole, "split at {cuts:?}");
    if stream.len() <= MAX_BYTE_BY_BYTE {
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(drive(stream, &every_byte), whole, "byte by byte");
    }
}
