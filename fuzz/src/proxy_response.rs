//! A proxy's answer to CONNECT, arbitrary bytes, fed to a `ProxyTunnel`
//! and to a `Client` that tunnels through a proxy.
//!
//! The first input byte picks whether the stream ends with EOF and how
//! tight the limits are; the rest is the proxy's side of the stream. Each
//! is fed whole, in pieces derived from the input, and (for short inputs)
//! byte by byte. Checks:
//! - the runs give the same outcome, error and state;
//! - an established tunnel hands over exactly the bytes after the head, and
//!   the client then writes its handshake request once;
//! - a refusal's body is within its limit and its body error is the error;
//! - errors are sticky; a client's call fails only in the handshake (frame
//!   errors come from `poll_event`), and the client's error compared across
//!   splits is its sticky `error()`, not what the calls returned;
//! - a refused or failed client sends nothing after the CONNECT and is
//!   closed.

use std::time::Duration;

use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::HandshakeError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::http::{BodyLimits, HeadLimits};
use wsmachine::proxy::{ProxyConfig, ProxyError, ProxyTunnel, TunnelEvent};
use wsmachine::{Client, Error, Event, State};

/// RFC 6455 §1.3's sample nonce, then §5.7's masking key.
const ENTROPY: &[u8] = b"the sample nonce\x37\xfa\x21\x3d";

/// Inputs up to this length are also fed one byte per call.
const MAX_BYTE_BY_BYTE: usize = 512;

const CONNECT: &[u8] = b"CONNECT server.example.com:80 HTTP/1.1\r\nHost: server.example.com:80\r\n\
    Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n";

fn proxy(tight: bool) -> ProxyConfig {
    let mut config = ProxyConfig::from_url("http://user:pass@proxy.local:3128").expect("valid URL");
    if tight {
        config.head_limits = HeadLimits {
            max_line_len: 128,
            max_head_len: 512,
            max_headers: 8,
        };
        config.body_limits = BodyLimits {
            max_body: 64,
            ..BodyLimits::default()
        };
    }
    config
}

#[derive(Debug, PartialEq)]
struct TunnelOutcome {
    event: Option<TunnelEvent>,
    error: Option<ProxyError>,
    finished: bool,
}

fn pieces<'a>(stream: &'a [u8], cuts: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let ends = cuts
        .iter()
        .copied()
        .filter(|&cut| cut > 0 && cut < stream.len())
        .chain([stream.len()]);
    let mut start = 0;
    ends.map(move |end| {
        let piece = stream.get(start..end).unwrap_or_default();
        start = end;
        piece
    })
}

fn drive_tunnel(config: &ProxyConfig, stream: &[u8], cuts: &[usize], eof: bool) -> TunnelOutcome {
    let mut tunnel = ProxyTunnel::new(config, "server.example.com", 80).expect("valid tunnel");
    assert_eq!(tunnel.poll_transmit().as_deref(), Some(CONNECT));
    assert_eq!(tunnel.poll_transmit(), None);
    let mut error = None;
    for piece in pieces(stream, cuts) {
        let result = tunnel.receive(piece);
        check_sticky(&mut error, result);
    }
    if eof {
        let result = tunnel.receive_eof();
        check_sticky(&mut error, result);
    }
    assert_eq!(tunnel.error(), error.as_ref());
    let event = tunnel.poll_event();
    assert_eq!(tunnel.poll_event(), None);
    TunnelOutcome {
        event,
        error,
        finished: tunnel.is_finished(),
    }
}

fn check_sticky(first: &mut Option<ProxyError>, result: Result<(), ProxyError>) {
    match (first.as_ref(), result) {
        (Some(earlier), later) => assert_eq!(later.as_ref(), Err(earlier), "errors are sticky"),
        (None, Err(error)) => *first = Some(error),
        (None, Ok(())) => {}
    }
}

#[derive(Debug, PartialEq)]
struct ClientOutcome {
    events: Vec<Event>,
    transmitted: Vec<u8>,
    error: Option<Error>,
    state: State,
}

fn drive_client(stream: &[u8], cuts: &[usize], eof: bool, tight: bool) -> ClientOutcome {
    let config = ClientConfig::new("ws://server.example.com/chat")
        .expect("valid URL")
        .with_proxy(proxy(tight));
    let mut client = Client::new(config, FixedEntropy::new(ENTROPY)).expect("valid client");
    let mut outcome = ClientOutcome {
        events: Vec::new(),
        transmitted: Vec::new(),
        error: None,
        state: State::Connecting,
    };
    for piece in pieces(stream, cuts) {
        let before = client.error().cloned();
        let connecting = client.state() == State::Connecting;
        let result = client.receive(Duration::ZERO, piece);
        settle(&mut client, result, before, connecting, &mut outcome);
    }
    if eof {
        let before = client.error().cloned();
        let connecting = client.state() == State::Connecting;
        let result = client.receive_eof(Duration::ZERO);
        settle(&mut client, result, before, connecting, &mut outcome);
    }
    outcome.state = client.state();
    outcome
}

/// Checks one call's result, drains the client, and records its sticky
/// error. The outcome compares `Connection::error()`, not the results: a
/// violation in the frames after the 101 is found by `poll_event`, after
/// the call that brought it, so whether some call returns it depends on
/// whether another call follows, that is on the split.
fn settle(
    client: &mut Client<FixedEntropy>,
    result: Result<(), Error>,
    before: Option<Error>,
    connecting: bool,
    outcome: &mut ClientOutcome,
) {
    match (&before, &result) {
        (Some(earlier), _) => assert_eq!(result.as_ref(), Err(earlier), "errors are sticky"),
        (None, Err(error)) => {
            assert!(
                connecting && matches!(error, Error::Handshake(_)),
                "only the handshake fails in a call; frames fail in poll_event: {error:?}"
            );
            assert_eq!(
                client.error(),
                Some(error),
                "the returned error is recorded"
            );
        }
        (None, Ok(())) => {}
    }
    outcome
        .events
        .extend(std::iter::from_fn(|| client.poll_event()));
    while let Some(bytes) = client.poll_transmit() {
        outcome.transmitted.extend_from_slice(&bytes);
    }
    outcome.error = client.error().cloned();
}

/// Runs the checks on one input.
pub fn run(data: &[u8]) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let (eof, tight) = (control & 1 == 1, control & 2 == 2);
    let config = proxy(tight);
    let cuts = super::split::cuts_for(stream);
    let every_byte: Vec<usize> = (1..stream.len()).collect();

    let whole = drive_tunnel(&config, stream, &[], eof);
    assert_eq!(
        drive_tunnel(&config, stream, &cuts, eof),
        whole,
        "pieces differ"
    );
    if stream.len() <= MAX_BYTE_BY_BYTE {
        assert_eq!(
            drive_tunnel(&config, stream, &every_byte, eof),
            whole,
            "bytes differ"
        );
    }
    match &whole.event {
        Some(TunnelEvent::Established { response, leftover }) => {
            assert!((200..300).contains(&response.status));
            assert!(stream.ends_with(leftover));
            assert_eq!(whole.error, None);
        }
        Some(TunnelEvent::Rejected(rejection)) => {
            assert!(!(100..300).contains(&rejection.status));
            assert!(rejection.body.len() <= config.body_limits.max_body);
            let body_error = rejection.body_error.clone().map(ProxyError::RejectionBody);
            assert_eq!(whole.error, body_error);
        }
        None => assert!(whole.error.is_some() || !eof || !whole.finished),
    }

    let client = drive_client(stream, &[], eof, tight);
    assert_eq!(
        drive_client(stream, &cuts, eof, tight),
        client,
        "client pieces differ"
    );
    if stream.len() <= MAX_BYTE_BY_BYTE {
        assert_eq!(
            drive_client(stream, &every_byte, eof, tight),
            client,
            "client bytes differ"
        );
    }
    assert!(client.transmitted.starts_with(CONNECT));
    let after_connect = client.transmitted.get(CONNECT.len()..).unwrap_or_default();
    match &whole.event {
        Some(TunnelEvent::Established { .. }) => {
            assert!(after_connect.starts_with(b"GET /chat HTTP/1.1\r\n"));
        }
        Some(TunnelEvent::Rejected(rejection)) => {
            assert_eq!(after_connect, b"", "nothing is sent after a refusal");
            assert!(
                matches!(client.events.as_slice(), [Event::ProxyRejected(r)] if **r == *rejection)
            );
            assert_eq!(client.state, State::Closed);
            let body_error = rejection.body_error.clone().map(|error| {
                Error::Handshake(HandshakeError::Proxy(ProxyError::RejectionBody(error)))
            });
            assert_eq!(client.error, body_error);
        }
        None => {
            assert_eq!(after_connect, b"");
            assert!(client.events.is_empty());
            let expected = whole
                .error
                .clone()
                .map(|e| Error::Handshake(HandshakeError::Proxy(e)));
            assert_eq!(client.error, expected);
        }
    }
}
