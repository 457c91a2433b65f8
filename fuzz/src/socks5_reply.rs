//! A SOCKS5 proxy's side of the stream, arbitrary bytes, fed to a
//! `Socks5Tunnel`.
//!
//! The first input byte picks whether the stream ends with EOF, whether
//! credentials are configured, and whether the target is a domain name or
//! an address; the rest is the proxy's bytes. Each is fed whole, in pieces
//! derived from the input, and (for short inputs) byte by byte. Checks:
//! - the runs give the same outcome, error, state and bytes written;
//! - the tunnel writes the greeting first, and the request only after the
//!   method (and the credentials' verdict) allowed it;
//! - an established tunnel hands over exactly the bytes after the reply;
//! - errors are sticky, and a refusal's code is never success.

use std::net::{IpAddr, Ipv6Addr};

use wsmachine::proxy::{
    Socks5Config, Socks5Credentials, Socks5Error, Socks5Event, Socks5Target, Socks5Tunnel,
};

/// Inputs up to this length are also fed one byte per call.
const MAX_BYTE_BY_BYTE: usize = 1024;

const GREETING: &[u8] = &[5, 1, 0];
const GREETING_AUTH: &[u8] = &[5, 2, 0, 2];
const AUTH: &[u8] = b"\x01\x04user\x04pass";
const REQUEST_DOMAIN: &[u8] = b"\x05\x01\x00\x03\x12server.example.com\x00\x50";
const REQUEST_IPV6: &[u8] = b"\x05\x01\x00\x04\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x50";

#[derive(Debug, PartialEq)]
struct Outcome {
    event: Option<Socks5Event>,
    error: Option<Socks5Error>,
    finished: bool,
    transmitted: Vec<u8>,
}

fn config(auth: bool) -> Socks5Config {
    let config = Socks5Config::new("proxy.local", 1080).expect("valid proxy");
    if auth {
        config.with_credentials(Socks5Credentials::new("user", "pass").expect("valid"))
    } else {
        config
    }
}

fn target(domain: bool) -> Socks5Target {
    if domain {
        Socks5Target::Domain("server.example.com".into())
    } else {
        Socks5Target::Ip(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))
    }
}

fn drive(control: u8, stream: &[u8], cuts: &[usize]) -> Outcome {
    let (eof, auth, domain) = (control & 1 == 1, control & 2 == 2, control & 4 == 4);
    let mut tunnel = Socks5Tunnel::new(&config(auth), target(domain), 80).expect("valid tunnel");
    let mut transmitted = Vec::new();
    let mut error: Option<Socks5Error> = None;
    drain(&mut tunnel, &mut transmitted);
    for piece in pieces(stream, cuts) {
        check(tunnel.receive(piece), &mut error);
        drain(&mut tunnel, &mut transmitted);
    }
    if eof {
        check(tunnel.receive_eof(), &mut error);
        drain(&mut tunnel, &mut transmitted);
    }
    assert_eq!(tunnel.error(), error.as_ref());
    let event = tunnel.poll_event();
    assert_eq!(tunnel.poll_event(), None);
    Outcome {
        event,
        error,
        finished: tunnel.is_finished(),
        transmitted,
    }
}

fn check(result: Result<(), Socks5Error>, error: &mut Option<Socks5Error>) {
    match (error.as_ref(), result) {
        (Some(earlier), later) => assert_eq!(later.as_ref(), Err(earlier), "errors are sticky"),
        (None, Err(e)) => *error = Some(e),
        (None, Ok(())) => {}
    }
}

fn drain(tunnel: &mut Socks5Tunnel, transmitted: &mut Vec<u8>) {
    while let Some(bytes) = tunnel.poll_transmit() {
        transmitted.extend_from_slice(&bytes);
    }
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

/// Runs the checks on one input.
pub fn run(data: &[u8]) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let cuts = super::split::cuts_for(stream);
    let every_byte: Vec<usize> = (1..stream.len()).collect();
    let whole = drive(control, stream, &[]);
    assert_eq!(drive(control, stream, &cuts), whole, "pieces differ");
    if stream.len() <= MAX_BYTE_BY_BYTE {
        assert_eq!(drive(control, stream, &every_byte), whole, "bytes differ");
    }

    let (eof, auth, domain) = (control & 1 == 1, control & 2 == 2, control & 4 == 4);
    let greeting = if auth { GREETING_AUTH } else { GREETING };
    let request = if domain { REQUEST_DOMAIN } else { REQUEST_IPV6 };
    assert!(whole.transmitted.starts_with(greeting));
    let after = whole.transmitted.get(greeting.len()..).unwrap_or_default();
    // Either nothing more, the request (no authentication chosen), the
    // credentials, or the credentials then the request.
    let auth_then_request = [AUTH, request].concat();
    assert!(
        after.is_empty()
            || after == request
            || (auth && (after == AUTH || after == auth_then_request.as_slice())),
        "unexpected bytes written: {after:?}"
    );
    match &whole.event {
        Some(Socks5Event::Established { leftover, .. }) => {
            assert!(whole.error.is_none());
            assert!(whole.finished);
            assert!(stream.ends_with(leftover));
            assert!(whole.transmitted.ends_with(request));
            // The shortest reply is 8 bytes (a one-byte name), the method
            // answer 2.
            assert!(stream.len() >= leftover.len() + 10);
        }
        None => {
            if let Some(Socks5Error::Refused(code)) = &whole.error {
                assert_ne!(code.code(), 0);
            }
            assert_eq!(whole.finished, whole.error.is_some());
            if eof {
                assert!(whole.error.is_some(), "EOF before the reply is an error");
            }
        }
    }
}
