//! The CONNECT tunnel on its own: the request it writes, the outcomes it
//! reads, split invariance, limits at their boundary, typed failures,
//! refused injection, and no panic on any input. `proxy_client.rs` has the
//! tunnel inside a client.

use crate::support::ends;
use proptest::prelude::*;
use wsmachine::http::{BodyError, BodyLimits, HeadError, HeadLimits, HeaderError, MalformedKind};
use wsmachine::proxy::{
    ProxyConfig, ProxyConfigError, ProxyCredentials, ProxyError, ProxyErrorKind, ProxyRejection,
    ProxyTunnel, TunnelEvent,
};

/// Everything a tunnel gives for one input.
#[derive(Debug, PartialEq)]
struct TunnelOutcome {
    event: Option<TunnelEvent>,
    error: Option<ProxyError>,
    finished: bool,
}

fn proxy() -> ProxyConfig {
    ProxyConfig::new("proxy.local", 3128).expect("valid proxy")
}

fn tunnel_with(config: &ProxyConfig) -> ProxyTunnel {
    let mut tunnel = ProxyTunnel::new(config, "example.com", 443).expect("valid tunnel");
    assert!(tunnel.poll_transmit().is_some());
    tunnel
}

/// Feeds `input` in the pieces `cuts` makes, then EOF if `eof`; the first
/// error any call returns, and the one event.
fn feed_tunnel(config: &ProxyConfig, input: &[u8], cuts: &[usize], eof: bool) -> TunnelOutcome {
    let mut tunnel = tunnel_with(config);
    let mut error = None;
    let mut start = 0;
    let ends = ends(cuts, input.len());
    for end in ends {
        if let Err(e) = tunnel.receive(&input[start..end]) {
            error.get_or_insert(e);
        }
        start = end;
    }
    if eof && let Err(e) = tunnel.receive_eof() {
        error.get_or_insert(e);
    }
    let event = tunnel.poll_event();
    assert_eq!(tunnel.poll_event(), None, "one outcome only");
    TunnelOutcome {
        event,
        error,
        finished: tunnel.is_finished(),
    }
}

/// Feeds `input` whole, byte by byte and split in two at every position,
/// asserts that all agree, and returns the outcome.
fn tunnel_every_way(config: &ProxyConfig, input: &[u8], eof: bool) -> TunnelOutcome {
    let whole = feed_tunnel(config, input, &[], eof);
    let every_byte: Vec<usize> = (1..input.len()).collect();
    assert_eq!(
        feed_tunnel(config, input, &every_byte, eof),
        whole,
        "byte by byte"
    );
    for cut in 1..input.len() {
        assert_eq!(
            feed_tunnel(config, input, &[cut], eof),
            whole,
            "split at {cut}"
        );
    }
    whole
}

fn rejection(outcome: &TunnelOutcome) -> &ProxyRejection {
    match &outcome.event {
        Some(TunnelEvent::Rejected(rejection)) => rejection,
        other => panic!("not a rejection: {other:?}"),
    }
}

fn connect_request(config: &ProxyConfig, host: &str, port: u16) -> String {
    let mut tunnel = ProxyTunnel::new(config, host, port).expect("valid tunnel");
    let request = tunnel.poll_transmit().expect("a request");
    assert_eq!(tunnel.poll_transmit(), None, "the request goes out once");
    String::from_utf8(request.to_vec()).expect("ASCII request")
}

#[test]
fn the_request_names_the_target_in_authority_form() {
    assert_eq!(
        connect_request(&proxy(), "example.com", 443),
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    );
    assert_eq!(
        connect_request(&proxy(), "::1", 8080),
        "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"
    );
}

#[test]
fn credentials_go_in_basic_proxy_authorization() {
    // RFC 7617 §2: base64 of "user:pass".
    let config = ProxyConfig::from_url("http://user:pass@proxy.local:3128").unwrap();
    assert_eq!(
        connect_request(&config, "example.com", 80),
        "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\
         Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
    );
    // Percent-escapes are decoded before encoding: "Aladdin:open sesame"
    // is RFC 7617's own example.
    let config = ProxyConfig::from_url("http://Aladdin:open%20sesame@p:1").unwrap();
    assert!(
        connect_request(&config, "h", 1)
            .contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n")
    );
    let config = proxy().with_credentials(ProxyCredentials::new("Aladdin", "open sesame").unwrap());
    assert!(
        connect_request(&config, "h", 1)
            .contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n")
    );
    assert!(
        !format!("{config:?}").contains("sesame"),
        "the password stays out of Debug"
    );
}

#[test]
fn extra_headers_follow_the_tunnels_own() {
    let config = proxy()
        .with_header("User-Agent", "wsmachine-test")
        .with_header("X-Trace", "7");
    assert_eq!(
        connect_request(&config, "example.com", 443),
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
         User-Agent: wsmachine-test\r\nX-Trace: 7\r\n\r\n"
    );
    // Without credentials of its own, the tunnel lets the caller send
    // another authorization scheme.
    let config = proxy().with_header("Proxy-Authorization", "Bearer abc");
    assert!(connect_request(&config, "h", 1).contains("Proxy-Authorization: Bearer abc\r\n"));
}

#[test]
fn proxy_urls_parse() {
    let config = ProxyConfig::from_url("http://proxy.local:3128").unwrap();
    assert_eq!((config.host(), config.port()), ("proxy.local", 3128));
    assert!(config.credentials().is_none());
    let config = ProxyConfig::from_url("HTTP://[::1]/").unwrap();
    assert_eq!((config.host(), config.port()), ("::1", 80));
    // The password may hold a colon, the user may not (RFC 7617 §2).
    let config = ProxyConfig::from_url("http://a%40b:p%3Aw@h:1").unwrap();
    assert_eq!(
        config.credentials().map(ProxyCredentials::user),
        Some("a@b")
    );
    assert!(
        connect_request(&config, "t", 1).contains("Proxy-Authorization: Basic YUBiOnA6dw==\r\n")
    );
    assert!(matches!(
        ProxyConfig::from_url("http://a%3Ab:p@h:1"),
        Err(ProxyConfigError::InvalidCredentials { .. })
    ));
}

#[test]
fn bad_proxy_urls_are_typed() {
    use ProxyConfigError as E;
    let cases: &[(&str, ProxyConfigError)] = &[
        ("https://p:1", E::UnsupportedScheme),
        ("p:1", E::UnsupportedScheme),
        ("http://", E::MissingHost),
        ("http://:1", E::MissingHost),
        ("http://p:0", E::InvalidPort),
        ("http://p:65536", E::InvalidPort),
        ("http://p:+1", E::InvalidPort),
        ("http://p:", E::InvalidPort),
        ("http://p:1/path", E::UnexpectedPath),
        ("http://p:1?q", E::UnexpectedPath),
        ("http://p:1#f", E::UnexpectedPath),
        ("http://a@b@p:1", E::InvalidUserInfo),
        ("http://u:%zz@p:1", E::InvalidUserInfo),
        ("http://u:%ff@p:1", E::InvalidUserInfo),
        (
            "http://u:%0d%0aX:%20y@p:1",
            E::InvalidCredentials {
                reason: "control character",
            },
        ),
        (
            "http://[::1:1",
            E::InvalidHost {
                host: "[::1:1".into(),
            },
        ),
        ("http://p q:1", E::InvalidHost { host: "p q".into() }),
        (
            "http://p\r\nX: y:1",
            E::InvalidHost {
                host: "p\r\nX: y".into(),
            },
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(
            ProxyConfig::from_url(url).as_ref(),
            Err(expected),
            "{url:?}"
        );
    }
}

#[test]
fn injection_through_host_port_or_credentials_is_refused() {
    let refused_hosts = [
        "evil\r\nX-Injected: 1",
        "evil\n",
        "a b",
        "user@host",
        "host/path",
        "host:1",
        "[h]",
        "",
        "\0",
    ];
    for host in refused_hosts {
        let error = ProxyTunnel::new(&proxy(), host, 443).expect_err(host);
        assert!(
            matches!(
                error,
                ProxyConfigError::InvalidHost { .. } | ProxyConfigError::MissingHost
            ),
            "{host:?}: {error:?}"
        );
    }
    assert_eq!(
        ProxyTunnel::new(&proxy(), "h", 0).err(),
        Some(ProxyConfigError::InvalidPort)
    );
    assert!(matches!(
        ProxyCredentials::new("us:er", "p"),
        Err(ProxyConfigError::InvalidCredentials { .. })
    ));
    for (user, password) in [("u\r\nX: y", "p"), ("u", "p\r\nX: y"), ("u", "p\0")] {
        assert!(matches!(
            ProxyCredentials::new(user, password),
            Err(ProxyConfigError::InvalidCredentials {
                reason: "control character"
            })
        ));
    }
    let injected = proxy().with_header("X", "a\r\nInjected: yes");
    assert_eq!(
        ProxyTunnel::new(&injected, "h", 1).err(),
        Some(ProxyConfigError::Header(HeaderError::InvalidValue {
            name: "X".into()
        }))
    );
    for name in ["Host", "content-length", "Transfer-Encoding"] {
        let config = proxy().with_header(name, "1");
        assert_eq!(
            ProxyTunnel::new(&config, "h", 1).err(),
            Some(ProxyConfigError::ReservedHeader { name: name.into() })
        );
    }
    let config = ProxyConfig::from_url("http://u:p@p:1")
        .unwrap()
        .with_header("Proxy-Authorization", "Basic other");
    assert!(matches!(
        ProxyTunnel::new(&config, "h", 1),
        Err(ProxyConfigError::ReservedHeader { .. })
    ));
}

#[test]
fn a_2xx_establishes_and_hands_over_what_follows() {
    let input = b"HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\n\r\n\x16\x03\x01tls";
    let outcome = tunnel_every_way(&proxy(), input, false);
    let Some(TunnelEvent::Established { response, leftover }) = outcome.event else {
        panic!("not established: {outcome:?}");
    };
    assert_eq!(response.status, 200);
    // RFC 9110 §9.3.6: a 2xx to CONNECT has no body, so Content-Length is
    // ignored and every byte after the head is the target's.
    assert_eq!(&leftover[..], b"\x16\x03\x01tls");
    assert_eq!(outcome.error, None);
    assert!(outcome.finished);
}

#[test]
fn bytes_after_establishment_wait_for_the_outcome_to_be_taken() {
    let mut tunnel = tunnel_with(&proxy());
    tunnel.receive(b"HTTP/1.0 200 OK\r\n\r\nab").unwrap();
    tunnel.receive(b"cd").unwrap();
    let Some(TunnelEvent::Established { leftover, .. }) = tunnel.poll_event() else {
        panic!("not established");
    };
    assert_eq!(&leftover[..], b"abcd");
}

#[test]
fn interim_responses_are_skipped_and_101_is_refused() {
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nrest";
    let outcome = tunnel_every_way(&proxy(), input, false);
    assert!(matches!(
        outcome.event,
        Some(TunnelEvent::Established { ref response, ref leftover })
            if response.status == 204 && leftover == &b"rest"[..]
    ));
    let outcome = tunnel_every_way(&proxy(), b"HTTP/1.1 101 Switching\r\n\r\n", false);
    assert_eq!(outcome.error, Some(ProxyError::UnexpectedSwitch));
    assert_eq!(
        outcome.error.map(|e| e.kind()),
        Some(ProxyErrorKind::InvalidResponse)
    );
    assert_eq!(outcome.event, None);
}

#[test]
fn a_refusal_with_content_length_is_whole_however_split() {
    let input = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
        Proxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 12\r\n\r\nlog in first";
    let outcome = tunnel_every_way(&proxy(), input, false);
    let rejection = rejection(&outcome);
    assert_eq!(
        (rejection.status, rejection.reason.as_str()),
        (407, "Proxy Authentication Required")
    );
    assert_eq!(
        rejection.headers.get_str("proxy-authenticate"),
        Some("Basic realm=\"corp\"")
    );
    assert_eq!(&rejection.body[..], b"log in first");
    assert_eq!(
        (rejection.body_error.as_ref(), outcome.error.as_ref()),
        (None, None)
    );
}

#[test]
fn a_chunked_refusal_keeps_its_trailers() {
    let input = b"HTTP/1.1 407 Auth\r\nTransfer-Encoding: chunked\r\n\r\n\
        4\r\nlog \r\n8\r\nin first\r\n0\r\nX-Reason: expired\r\n\r\ntrailing junk";
    let outcome = tunnel_every_way(&proxy(), input, false);
    let rejection = rejection(&outcome);
    assert_eq!(&rejection.body[..], b"log in first");
    assert_eq!(rejection.trailers.get_str("x-reason"), Some("expired"));
    assert_eq!(outcome.error, None);
}

#[test]
fn an_http10_refusal_runs_until_eof() {
    let input = b"HTTP/1.0 403 Filtered\r\nContent-Type: text/html\r\n\r\n<p>no</p>\n";
    let outcome = tunnel_every_way(&proxy(), input, true);
    assert_eq!(&rejection(&outcome).body[..], b"<p>no</p>\n");
    assert_eq!(outcome.error, None);
    // Without the end of the stream the body is not known to be whole.
    assert_eq!(feed_tunnel(&proxy(), input, &[], false).event, None);
}

#[test]
fn a_truncated_refusal_is_reported_with_its_body_error() {
    let input = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 10\r\n\r\nupst";
    let outcome = tunnel_every_way(&proxy(), input, true);
    let truncated = BodyError::Truncated {
        received: 4,
        expected: Some(10),
    };
    assert_eq!(rejection(&outcome).body_error.as_ref(), Some(&truncated));
    assert_eq!(&rejection(&outcome).body[..], b"upst");
    assert_eq!(outcome.error, Some(ProxyError::RejectionBody(truncated)));
    assert_eq!(
        outcome.error.map(|e| e.kind()),
        Some(ProxyErrorKind::RejectionBody)
    );
}

#[test]
fn the_head_limit_holds_at_its_boundary() {
    let head = b"HTTP/1.1 200 OK\r\nX-Pad: aaaaaaaaaa\r\n\r\n";
    let limits = |max_head_len| HeadLimits {
        max_head_len,
        ..HeadLimits::default()
    };
    let mut config = proxy();
    config.head_limits = limits(head.len());
    assert!(matches!(
        tunnel_every_way(&config, head, false).event,
        Some(TunnelEvent::Established { .. })
    ));
    config.head_limits = limits(head.len() - 1);
    let outcome = tunnel_every_way(&config, head, false);
    assert_eq!(
        outcome.error,
        Some(ProxyError::InvalidResponseHead(HeadError::HeadTooLarge {
            limit: head.len() - 1
        }))
    );
    assert_eq!(
        outcome.error.map(|e| e.kind()),
        Some(ProxyErrorKind::HeadTooLarge)
    );
}

#[test]
fn the_body_limit_holds_at_its_boundary() {
    let chunked = b"HTTP/1.1 407 A\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let until_eof = b"HTTP/1.0 407 A\r\n\r\nhello";
    for (input, eof) in [(&chunked[..], false), (&until_eof[..], true)] {
        let mut config = proxy();
        config.body_limits = BodyLimits {
            max_body: 5,
            ..BodyLimits::default()
        };
        let outcome = tunnel_every_way(&config, input, eof);
        assert_eq!(
            (&rejection(&outcome).body[..], outcome.error.clone()),
            (&b"hello"[..], None)
        );
        config.body_limits.max_body = 4;
        let outcome = tunnel_every_way(&config, input, eof);
        let too_large = BodyError::BodyTooLarge { limit: 4 };
        assert_eq!(rejection(&outcome).body_error, Some(too_large.clone()));
        assert_eq!(outcome.error, Some(ProxyError::RejectionBody(too_large)));
    }
}

#[test]
fn malformed_answers_are_typed() {
    let cases: &[(&[u8], ProxyError, ProxyErrorKind)] = &[
        (
            b"HTTP/1.1 200 OK\nX: y\r\n\r\n",
            ProxyError::InvalidResponseHead(HeadError::Malformed(MalformedKind::BareLf)),
            ProxyErrorKind::MalformedHttp,
        ),
        (
            b"HTTP/2.0 200 OK\r\n\r\n",
            ProxyError::InvalidResponseHead(HeadError::UnsupportedVersion { major: 2, minor: 0 }),
            ProxyErrorKind::HttpVersion,
        ),
        (
            b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
            ProxyError::InvalidResponseHead(HeadError::Malformed(MalformedKind::InvalidVersion)),
            ProxyErrorKind::MalformedHttp,
        ),
        (
            b"HTTP/1.1 200 Conn",
            ProxyError::UnexpectedEof,
            ProxyErrorKind::Eof,
        ),
        (b"", ProxyError::UnexpectedEof, ProxyErrorKind::Eof),
    ];
    for (input, error, kind) in cases {
        let outcome = tunnel_every_way(&proxy(), input, true);
        assert_eq!(outcome.error.as_ref(), Some(error), "{input:?}");
        assert_eq!(error.kind(), *kind);
        assert_eq!(outcome.event, None);
    }
}

#[test]
fn an_error_is_sticky() {
    let mut tunnel = tunnel_with(&proxy());
    let error = tunnel.receive(b"HTTP/1.1 200 OK\n").unwrap_err();
    assert_eq!(tunnel.receive(b"\r\n"), Err(error.clone()));
    assert_eq!(tunnel.receive_eof(), Err(error.clone()));
    assert_eq!(tunnel.error(), Some(&error));
    assert_eq!(tunnel.poll_event(), None);
}

proptest! {
    #![proptest_config(crate::support::saved_beside(ProptestConfig::with_cases(512)))]

    #[test]
    fn arbitrary_answers_never_panic_and_split_the_same(
        input in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            (prop::sample::select(vec![
                &b"HTTP/1.1 200 OK\r\n"[..],
                b"HTTP/1.0 407 Auth\r\n",
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 502 X\r\nTransfer-Encoding: chunked\r\n",
                b"HTTP/1.1 403 F\r\nContent-Length: 3\r\n",
            ]), prop::collection::vec(any::<u8>(), 0..120))
                .prop_map(|(head, tail)| [head, b"\r\n", &tail].concat()),
        ],
        cuts in prop::collection::vec(0usize..220, 0..8),
        eof in any::<bool>(),
    ) {
        let mut config = proxy();
        config.head_limits = HeadLimits { max_line_len: 64, max_head_len: 160, max_headers: 6 };
        config.body_limits.max_body = 40;
        let whole = feed_tunnel(&config, &input, &[], eof);
        prop_assert_eq!(&feed_tunnel(&config, &input, &cuts, eof), &whole);
        let every_byte: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&feed_tunnel(&config, &input, &every_byte, eof), &whole);
        match &whole.event {
            Some(TunnelEvent::Established { leftover, .. }) => {
                prop_assert!(input.ends_with(leftover));
                prop_assert!(whole.error.is_none());
            }
            Some(TunnelEvent::Rejected(rejection)) => {
                prop_assert!(rejection.body.len() <= 40);
                prop_assert_eq!(
                    whole.error.clone(),
                    rejection.body_error.clone().map(ProxyError::RejectionBody)
                );
            }
            None => prop_assert!(whole.error.is_some() || !eof),
        }
    }
}
