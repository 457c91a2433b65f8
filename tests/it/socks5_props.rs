//! The SOCKS5 tunnel on its own: the bytes it writes, the replies it reads,
//! typed refusals and authentication failures, strict parsing, limits at
//! their boundary, split invariance, and no panic on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::support::ends;
use bytes::Bytes;
use proptest::prelude::*;
use wsmachine::proxy::{
    BoundAddress, ProxyConfigError, ReplyCode, Socks5Config, Socks5ConfigError, Socks5Credentials,
    Socks5Error, Socks5Event, Socks5Field, Socks5Target, Socks5Tunnel,
};

fn proxy(auth: bool) -> Socks5Config {
    let config = Socks5Config::new("proxy.local", 1080).expect("valid proxy");
    if auth {
        config.with_credentials(Socks5Credentials::new("alice", "s3cret").expect("valid"))
    } else {
        config
    }
}

fn domain() -> Socks5Target {
    Socks5Target::from_host("example.com").expect("valid host")
}

/// Everything a tunnel gives for one input.
#[derive(Debug, PartialEq)]
struct Outcome {
    event: Option<Socks5Event>,
    error: Option<Socks5Error>,
    written: Vec<u8>,
    finished: bool,
}

fn feed(auth: bool, input: &[u8], cuts: &[usize], eof: bool) -> Outcome {
    let mut tunnel = Socks5Tunnel::new(&proxy(auth), domain(), 443).expect("valid tunnel");
    let mut written = Vec::new();
    let mut error = None;
    let ends = ends(cuts, input.len());
    let mut start = 0;
    while let Some(bytes) = tunnel.poll_transmit() {
        written.extend_from_slice(&bytes);
    }
    for end in ends {
        if let Err(e) = tunnel.receive(&input[start..end]) {
            error.get_or_insert(e);
        }
        while let Some(bytes) = tunnel.poll_transmit() {
            written.extend_from_slice(&bytes);
        }
        start = end;
    }
    if eof && let Err(e) = tunnel.receive_eof() {
        error.get_or_insert(e);
    }
    Outcome {
        event: tunnel.poll_event(),
        error,
        written,
        finished: tunnel.is_finished(),
    }
}

const REQUEST: &[u8] = b"\x05\x01\x00\x03\x0bexample.com\x01\xbb";
const SUCCESS_V4: &[u8] = &[5, 0, 0, 1, 10, 1, 2, 3, 0x1f, 0x90];

#[test]
fn without_credentials_greets_then_requests_the_domain() {
    let input = [&[5, 0][..], SUCCESS_V4, b"hello"].concat();
    let outcome = feed(false, &input, &[], false);
    assert_eq!(outcome.written, [&[5, 1, 0][..], REQUEST].concat());
    assert_eq!(
        outcome.event,
        Some(Socks5Event::Established {
            bound: BoundAddress::Ip(SocketAddr::new(Ipv4Addr::new(10, 1, 2, 3).into(), 8080)),
            leftover: Bytes::from_static(b"hello"),
        })
    );
    assert_eq!(outcome.error, None);
}

#[test]
fn with_credentials_offers_both_methods_and_authenticates_first() {
    let input = [&[5, 2, 1, 0][..], SUCCESS_V4].concat();
    let outcome = feed(true, &input, &[], false);
    let auth = b"\x01\x05alice\x06s3cret";
    assert_eq!(outcome.written, [&[5, 2, 0, 2][..], auth, REQUEST].concat());
    assert!(matches!(
        outcome.event,
        Some(Socks5Event::Established { .. })
    ));
    // A proxy that needs no credentials is taken at its word.
    let outcome = feed(true, &[&[5, 0][..], SUCCESS_V4].concat(), &[], false);
    assert_eq!(outcome.written, [&[5, 2, 0, 2][..], REQUEST].concat());
    assert!(outcome.event.is_some());
}

#[test]
fn the_request_waits_for_the_method_and_the_verdict() {
    let mut tunnel = Socks5Tunnel::new(&proxy(true), domain(), 443).expect("tunnel");
    assert_eq!(tunnel.poll_transmit().as_deref(), Some(&[5, 2, 0, 2][..]));
    tunnel.receive(&[5]).expect("half a method");
    assert_eq!(tunnel.poll_transmit(), None);
    tunnel.receive(&[2]).expect("the method");
    assert_eq!(
        tunnel.poll_transmit().as_deref(),
        Some(&b"\x01\x05alice\x06s3cret"[..])
    );
    tunnel.receive(&[1]).expect("half a verdict");
    assert_eq!(
        tunnel.poll_transmit(),
        None,
        "no request before the verdict"
    );
    tunnel.receive(&[0]).expect("accepted");
    assert_eq!(tunnel.poll_transmit().as_deref(), Some(REQUEST));
}

#[test]
fn ip_targets_are_sent_as_addresses() {
    let v4 = Socks5Target::from_host("127.0.0.1").expect("v4");
    assert_eq!(v4, Socks5Target::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let mut tunnel = Socks5Tunnel::new(&proxy(false), v4, 80).expect("tunnel");
    tunnel.poll_transmit();
    tunnel.receive(&[5, 0]).expect("method");
    assert_eq!(
        tunnel.poll_transmit().as_deref(),
        Some(&[5, 1, 0, 1, 127, 0, 0, 1, 0, 80][..])
    );
    let v6 = Socks5Target::from_host("[::1]").expect("v6");
    assert_eq!(v6, Socks5Target::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    let mut tunnel = Socks5Tunnel::new(&proxy(false), v6, 80).expect("tunnel");
    tunnel.poll_transmit();
    tunnel.receive(&[5, 0]).expect("method");
    let mut expected = vec![5, 1, 0, 4];
    expected.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    expected.extend_from_slice(&[0, 80]);
    assert_eq!(tunnel.poll_transmit().as_deref(), Some(&expected[..]));
}

#[test]
fn every_reply_code_is_a_typed_refusal() {
    let codes = [
        (1, ReplyCode::GeneralFailure),
        (2, ReplyCode::NotAllowed),
        (3, ReplyCode::NetworkUnreachable),
        (4, ReplyCode::HostUnreachable),
        (5, ReplyCode::ConnectionRefused),
        (6, ReplyCode::TtlExpired),
        (7, ReplyCode::CommandNotSupported),
        (8, ReplyCode::AddressTypeNotSupported),
        (9, ReplyCode::Other(9)),
        (0xff, ReplyCode::Other(0xff)),
    ];
    for (code, expected) in codes {
        let input = [5, 0, 5, code, 0, 1, 0, 0, 0, 0, 0, 0];
        let outcome = feed(false, &input, &[], false);
        assert_eq!(
            outcome.error,
            Some(Socks5Error::Refused(expected)),
            "{code}"
        );
        assert_eq!(expected.code(), code);
        assert_eq!(outcome.event, None);
        assert!(outcome.finished);
    }
    assert_eq!(ReplyCode::from_u8(0), None);
}

#[test]
fn authentication_refusals_are_typed() {
    let refused = feed(false, &[5, 0xff], &[], false);
    assert_eq!(refused.error, Some(Socks5Error::NoAcceptableMethod));
    assert_eq!(refused.written, [5, 1, 0], "nothing after the refusal");
    let wrong = feed(true, &[5, 2, 1, 1], &[], false);
    assert_eq!(wrong.error, Some(Socks5Error::AuthFailed { status: 1 }));
    assert!(
        !wrong.written.ends_with(REQUEST),
        "no request after a failure"
    );
    // Username/password chosen though no credentials were offered.
    let unoffered = feed(false, &[5, 2], &[], false);
    assert_eq!(
        unoffered.error,
        Some(Socks5Error::UnexpectedMethod { method: 2 })
    );
}

#[test]
fn malformed_replies_are_typed() {
    let cases: [(&[u8], Socks5Error); 7] = [
        (&[4, 0], Socks5Error::InvalidVersion { got: 4 }),
        (b"HTTP/1.1 400", Socks5Error::InvalidVersion { got: b'H' }),
        (&[5, 0, 4, 0], Socks5Error::InvalidVersion { got: 4 }),
        (&[5, 0, 5, 0, 1], Socks5Error::InvalidReserved { got: 1 }),
        (
            &[5, 0, 5, 0, 0, 2],
            Socks5Error::InvalidAddressType { got: 2 },
        ),
        (&[5, 0, 5, 0, 0, 3, 0], Socks5Error::EmptyDomain),
        (&[5, 0, 5, 0, 0, 1, 1, 2], Socks5Error::UnexpectedEof),
    ];
    for (input, expected) in cases {
        assert_eq!(feed(false, input, &[], true).error, Some(expected.clone()));
    }
    let bad_auth_version = feed(true, &[5, 2, 5, 0], &[], false);
    assert_eq!(
        bad_auth_version.error,
        Some(Socks5Error::InvalidVersion { got: 5 })
    );
}

#[test]
fn errors_are_sticky_and_eof_before_a_reply_is_one() {
    let mut tunnel = Socks5Tunnel::new(&proxy(false), domain(), 443).expect("tunnel");
    assert_eq!(tunnel.receive_eof(), Err(Socks5Error::UnexpectedEof));
    assert_eq!(tunnel.receive(&[5, 0]), Err(Socks5Error::UnexpectedEof));
    assert_eq!(tunnel.error(), Some(&Socks5Error::UnexpectedEof));
    assert!(tunnel.is_finished());
    assert_eq!(tunnel.poll_event(), None);
}

#[test]
fn domain_replies_and_leftover_after_the_event() {
    let mut tunnel = Socks5Tunnel::new(&proxy(false), domain(), 443).expect("tunnel");
    let name = "b".repeat(255);
    let mut reply = vec![5, 0, 5, 0, 0, 3, 255];
    reply.extend_from_slice(name.as_bytes());
    reply.extend_from_slice(&[0, 1]);
    tunnel.receive(&reply).expect("a 255-byte bound name");
    tunnel.receive(b"early").expect("bytes after the reply");
    assert_eq!(
        tunnel.poll_event(),
        Some(Socks5Event::Established {
            bound: BoundAddress::Domain {
                name: Bytes::from(name),
                port: 1
            },
            leftover: Bytes::from_static(b"early"),
        })
    );
    tunnel.receive(b"later").expect("the next layer's");
    assert_eq!(tunnel.poll_event(), None);
    assert_eq!(
        tunnel.receive_eof(),
        Ok(()),
        "EOF after the reply is no error"
    );
}

#[test]
fn lengths_are_held_to_one_to_255_bytes() {
    let at = "a".repeat(255);
    let over = "a".repeat(256);
    assert!(Socks5Credentials::new(at.clone(), at.clone()).is_ok());
    for (user, password, field, len) in [
        (over.as_str(), "p", Socks5Field::User, 256),
        ("u", over.as_str(), Socks5Field::Password, 256),
        ("", "p", Socks5Field::User, 0),
        ("u", "", Socks5Field::Password, 0),
    ] {
        assert_eq!(
            Socks5Credentials::new(user, password),
            Err(Socks5ConfigError::InvalidLength { field, len })
        );
    }
    let host_at = format!("{}.com", "a".repeat(251));
    assert_eq!(host_at.len(), 255);
    let target = Socks5Target::from_host(&host_at).expect("255 bytes");
    let mut tunnel = Socks5Tunnel::new(&proxy(false), target, 80).expect("tunnel");
    tunnel.poll_transmit();
    tunnel.receive(&[5, 0]).expect("method");
    let request = tunnel.poll_transmit().expect("request");
    assert_eq!(request.len(), 4 + 1 + 255 + 2);
    assert_eq!(request[4], 255);
    let host_over = format!("{}.com", "a".repeat(252));
    let refused = Err(Socks5ConfigError::InvalidLength {
        field: Socks5Field::Host,
        len: 256,
    });
    assert_eq!(Socks5Target::from_host(&host_over), refused);
    // A target built directly is checked again by the tunnel.
    let direct = Socks5Target::Domain(host_over);
    assert_eq!(
        Socks5Tunnel::new(&proxy(false), direct, 80).map(|_| ()),
        refused.map(|_: Socks5Target| ())
    );
    assert_eq!(
        Socks5Tunnel::new(&proxy(false), Socks5Target::Domain(String::new()), 80).map(|_| ()),
        Err(Socks5ConfigError::InvalidLength {
            field: Socks5Field::Host,
            len: 0
        })
    );
    assert_eq!(
        Socks5Tunnel::new(&proxy(false), domain(), 0).map(|_| ()),
        Err(Socks5ConfigError::InvalidPort)
    );
}

#[test]
fn hosts_are_length_prefixed_whatever_their_bytes() {
    // A name holding CR, LF, NUL or a colon cannot end its field early:
    // the length byte says where it ends.
    let odd = "a\r\n\0:b";
    let mut tunnel =
        Socks5Tunnel::new(&proxy(false), Socks5Target::Domain(odd.into()), 80).expect("tunnel");
    tunnel.poll_transmit();
    tunnel.receive(&[5, 0]).expect("method");
    let request = tunnel.poll_transmit().expect("request");
    assert_eq!(&request[..5], &[5, 1, 0, 3, 6]);
    assert_eq!(&request[5..11], odd.as_bytes());
    assert_eq!(&request[11..], &[0, 80]);
}

#[test]
fn urls_parse_as_curl_reads_them() {
    let plain = Socks5Config::from_url("socks5://127.0.0.1:9050").expect("socks5");
    assert_eq!(
        (plain.host(), plain.port(), plain.remote_dns),
        ("127.0.0.1", 9050, false)
    );
    let remote = Socks5Config::from_url("SOCKS5H://[::1]/").expect("socks5h");
    assert_eq!(
        (remote.host(), remote.port(), remote.remote_dns),
        ("::1", 1080, true)
    );
    let auth = Socks5Config::from_url("socks5://al%40ice:p%3Ass@proxy").expect("auth");
    let credentials = auth.credentials().expect("credentials");
    assert_eq!(credentials.user(), "al@ice");
    assert!(!format!("{credentials:?}").contains("p:ss"), "redacted");
    assert_eq!(
        Socks5Config::from_url("http://proxy"),
        Err(Socks5ConfigError::UnsupportedScheme)
    );
    assert_eq!(
        Socks5Config::from_url("socks5://proxy/path"),
        Err(Socks5ConfigError::Url(ProxyConfigError::UnexpectedPath))
    );
    assert_eq!(
        Socks5Config::from_url("socks5://user@proxy"),
        Err(Socks5ConfigError::InvalidLength {
            field: Socks5Field::Password,
            len: 0
        })
    );
    assert_eq!(
        Socks5Config::from_url("socks5://proxy:0"),
        Err(Socks5ConfigError::Url(ProxyConfigError::InvalidPort))
    );
}

/// Replies a proxy may send, some of them wrong, to split.
fn reply_stream() -> impl Strategy<Value = (bool, Vec<u8>)> {
    let method = prop_oneof![
        Just(vec![5, 0]),
        Just(vec![5, 2, 1, 0]),
        Just(vec![5, 2, 1, 1])
    ];
    let reply = prop_oneof![
        Just(SUCCESS_V4.to_vec()),
        Just([&[5, 0, 0, 4][..], &[7; 16], &[0, 1]].concat()),
        proptest::collection::vec(any::<u8>(), 1..=255)
            .prop_map(|name| { [&[5, 0, 0, 3, name.len() as u8][..], &name, &[1, 2]].concat() }),
        (1u8..=255).prop_map(|code| vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0]),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    let tail = proptest::collection::vec(any::<u8>(), 0..8);
    (any::<bool>(), method, reply, tail)
        .prop_map(|(auth, method, reply, tail)| (auth, [method, reply, tail].concat()))
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::default()))]
    #[test]
    fn split_invariance(
        (auth, input) in reply_stream(),
        cuts in proptest::collection::vec(0usize..300, 0..12),
        eof in any::<bool>(),
    ) {
        let whole = feed(auth, &input, &[], eof);
        let every_byte: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&feed(auth, &input, &every_byte, eof), &whole);
        prop_assert_eq!(&feed(auth, &input, &cuts, eof), &whole);
        if let Some(Socks5Event::Established { leftover, .. }) = &whole.event {
            prop_assert!(input.ends_with(leftover));
        }
    }

    #[test]
    fn no_panic_on_arbitrary_bytes(
        auth in any::<bool>(),
        input in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(0usize..600, 0..16),
        eof in any::<bool>(),
    ) {
        let outcome = feed(auth, &input, &cuts, eof);
        prop_assert_eq!(outcome, feed(auth, &input, &[], eof));
    }
}

#[test]
fn the_core_client_leaves_socks5_to_its_caller() {
    use wsmachine::Client;
    use wsmachine::entropy::FixedEntropy;
    use wsmachine::handshake::client::{ClientConfig, ClientConfigError};
    let config = ClientConfig::new("ws://example.com/")
        .expect("url")
        .with_socks5_proxy(proxy(false));
    assert!(config.proxy.is_none());
    let refused = Client::new(config, FixedEntropy::new(&[7; 16])).map(|_| ());
    assert_eq!(refused, Err(ClientConfigError::Socks5ByCaller));
}
