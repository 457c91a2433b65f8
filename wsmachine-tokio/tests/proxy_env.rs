//! Proxies from the environment. The parsing tests call the pure
//! `proxy_from_env` with a map, never touching the process environment; one
//! test, alone in this binary in setting variables, runs `connect` with the
//! real environment against microsocks and tinyproxy (started by the test)
//! and a proxy port nothing listens on.

#[path = "it/microsocks/mod.rs"]
mod microsocks;
#[path = "it/support/mod.rs"]
mod support;
#[path = "../../tests/system/mod.rs"]
mod system;
#[path = "../../tests/tinyproxy/mod.rs"]
mod tinyproxy;

use std::collections::HashMap;

use futures_util::StreamExt;
use microsocks::MicroSocks;
use support::bounded;
use tinyproxy::TinyProxy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::proxy::{ProxyConfigError, Socks5Config, Socks5ConfigError, Socks5Error};
use wsmachine_tokio::proxy_env::{
    EnvProxy, EnvProxyError, EnvProxyReason, no_proxy_matches, proxy_from_env,
};
use wsmachine_tokio::{Error, Message};

fn pick(
    env: &[(&str, &str)],
    secure: bool,
    host: &str,
    port: u16,
) -> Result<Option<EnvProxy>, EnvProxyError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    proxy_from_env(|name| env.get(name).cloned(), secure, host, port)
}

/// The proxy's host and port, and whether it is SOCKS5.
fn summary(picked: Option<EnvProxy>) -> Option<(String, u16, &'static str)> {
    picked.map(|proxy| match proxy {
        EnvProxy::Http(p) => (p.host().to_string(), p.port(), "http"),
        EnvProxy::Socks5(p) if p.remote_dns => (p.host().to_string(), p.port(), "socks5h"),
        EnvProxy::Socks5(p) => (p.host().to_string(), p.port(), "socks5"),
        _ => unreachable!("no other kind"),
    })
}

fn proxy_of(env: &[(&str, &str)], secure: bool) -> Option<(String, u16, &'static str)> {
    summary(pick(env, secure, "example.com", 443).expect("usable"))
}

#[test]
fn the_urls_scheme_picks_the_variable_and_all_proxy_is_the_fallback() {
    let env = [
        ("http_proxy", "http://plain:3128"),
        ("https_proxy", "http://secure:3129"),
        ("all_proxy", "socks5h://fallback"),
    ];
    assert_eq!(proxy_of(&env, false), Some(("plain".into(), 3128, "http")));
    assert_eq!(proxy_of(&env, true), Some(("secure".into(), 3129, "http")));
    let only_all = [("ALL_PROXY", "socks5://fallback:9050")];
    assert_eq!(
        proxy_of(&only_all, false),
        Some(("fallback".into(), 9050, "socks5"))
    );
    assert_eq!(
        proxy_of(&only_all, true),
        Some(("fallback".into(), 9050, "socks5"))
    );
    assert_eq!(
        proxy_of(&[("http_proxy", "http://plain")], true),
        None,
        "not for wss"
    );
    assert_eq!(proxy_of(&[], false), None);
}

#[test]
fn lower_case_wins_and_empty_counts_as_unset() {
    let both = [
        ("HTTPS_PROXY", "http://upper:1"),
        ("https_proxy", "http://lower:2"),
    ];
    assert_eq!(proxy_of(&both, true), Some(("lower".into(), 2, "http")));
    let upper = [("HTTPS_PROXY", "http://upper:1")];
    assert_eq!(proxy_of(&upper, true), Some(("upper".into(), 1, "http")));
    let empty = [("https_proxy", ""), ("HTTPS_PROXY", "http://upper:1")];
    assert_eq!(proxy_of(&empty, true), Some(("upper".into(), 1, "http")));
    let no_proxy = [
        ("https_proxy", "http://p:1"),
        ("no_proxy", "other.org"),
        ("NO_PROXY", "example.com"),
    ];
    assert!(
        proxy_of(&no_proxy, true).is_some(),
        "no_proxy wins over NO_PROXY"
    );
}

#[test]
fn values_are_read_as_curl_reads_them() {
    // No scheme: an HTTP proxy.
    assert_eq!(
        proxy_of(&[("https_proxy", "bare.host:8080")], true),
        Some(("bare.host".into(), 8080, "http"))
    );
    let picked = pick(
        &[("all_proxy", "socks5h://al%40ice:s%3Acret@[::1]:1081/")],
        true,
        "example.com",
        443,
    )
    .expect("usable");
    let expected = Socks5Config::from_url("socks5h://al%40ice:s%3Acret@[::1]:1081").expect("valid");
    assert_eq!(picked, Some(EnvProxy::Socks5(expected.clone())));
    assert_eq!(expected.credentials().map(|c| c.user()), Some("al@ice"));
    let http = pick(
        &[("http_proxy", "HTTP://bob:pw@proxy:3128")],
        false,
        "h",
        80,
    )
    .expect("usable");
    assert!(
        matches!(http, Some(EnvProxy::Http(p)) if p.credentials().map(|c| c.user()) == Some("bob"))
    );
}

#[test]
fn unusable_values_are_errors_naming_the_variable() {
    let https = pick(&[("HTTPS_PROXY", "https://proxy:443")], true, "h", 443);
    assert_eq!(
        https,
        Err(EnvProxyError {
            var: "HTTPS_PROXY",
            reason: EnvProxyReason::UnsupportedScheme("https".into())
        })
    );
    let socks4 = pick(&[("all_proxy", "socks4://proxy")], false, "h", 80);
    assert!(matches!(
        socks4,
        Err(EnvProxyError {
            var: "all_proxy",
            ..
        })
    ));
    let bad_port = pick(&[("http_proxy", "http://proxy:99999")], false, "h", 80);
    assert_eq!(
        bad_port.map_err(|e| e.reason),
        Err(EnvProxyReason::Http(ProxyConfigError::InvalidPort))
    );
    let long_user = format!("socks5://{}:pw@proxy", "u".repeat(256));
    let long = pick(&[("all_proxy", &long_user)], false, "h", 80);
    assert!(matches!(
        long.map_err(|e| e.reason),
        Err(EnvProxyReason::Socks5(Socks5ConfigError::InvalidLength {
            len: 256,
            ..
        }))
    ));
    // A NO_PROXY match never reads the proxy variable.
    let skipped = pick(
        &[("all_proxy", "socks4://proxy"), ("no_proxy", "h")],
        false,
        "h",
        80,
    );
    assert_eq!(skipped, Ok(None));
}

#[test]
fn no_proxy_host_names_and_domain_suffixes() {
    assert!(no_proxy_matches("example.com", "example.com", 80));
    assert!(no_proxy_matches("example.com", "api.example.com", 80));
    assert!(!no_proxy_matches("example.com", "badexample.com", 80));
    assert!(no_proxy_matches(".example.com", "example.com", 80));
    assert!(no_proxy_matches(".example.com", "a.b.example.com", 80));
    assert!(!no_proxy_matches(".example.com", "example.org", 80));
    assert!(!no_proxy_matches("api.example.com", "example.com", 80));
    // Case, whitespace, a trailing dot, empty entries.
    assert!(no_proxy_matches(" Example.COM ", "API.example.com", 80));
    assert!(no_proxy_matches("example.com.", "example.com", 80));
    assert!(no_proxy_matches("localhost,,  internal", "db.internal", 80));
    assert!(!no_proxy_matches("", "example.com", 80));
    assert!(!no_proxy_matches(",", "example.com", 80));
    assert!(!no_proxy_matches(".", "example.com", 80));
}

#[test]
fn no_proxy_star_and_ports() {
    assert!(no_proxy_matches("*", "anything.at.all", 1));
    assert!(no_proxy_matches("other, *", "[::1]", 1));
    assert!(!no_proxy_matches("*.example.com", "example.org", 1));
    assert!(no_proxy_matches("example.com:8080", "example.com", 8080));
    assert!(!no_proxy_matches("example.com:8080", "example.com", 443));
    assert!(no_proxy_matches(".example.com:443", "a.example.com", 443));
}

#[test]
fn no_proxy_ip_literals_and_networks() {
    assert!(no_proxy_matches("127.0.0.1", "127.0.0.1", 80));
    assert!(!no_proxy_matches("127.0.0.1", "127.0.0.2", 80));
    assert!(no_proxy_matches("127.0.0.1:9001", "127.0.0.1", 9001));
    assert!(!no_proxy_matches("127.0.0.1:9001", "127.0.0.1", 9002));
    // An IP is not a domain suffix.
    assert!(!no_proxy_matches("0.0.1", "127.0.0.1", 80));
    // IPv6: bare, bracketed, with a port, written differently.
    assert!(no_proxy_matches("::1", "[::1]", 80));
    assert!(no_proxy_matches("[::1]", "::1", 80));
    assert!(no_proxy_matches("[0:0::1]:443", "[::1]", 443));
    assert!(!no_proxy_matches("[::1]:443", "[::1]", 80));
    assert!(no_proxy_matches("[FE80::1]", "[fe80::1]", 80));
    // CIDR networks.
    assert!(no_proxy_matches("10.0.0.0/8", "10.20.30.40", 80));
    assert!(!no_proxy_matches("10.0.0.0/8", "11.0.0.1", 80));
    assert!(no_proxy_matches("fd00::/8", "[fd12::1]", 80));
    assert!(no_proxy_matches("0.0.0.0/0", "8.8.8.8", 80));
    assert!(!no_proxy_matches("10.0.0.0/33", "10.0.0.1", 80));
    assert!(!no_proxy_matches("10.0.0.0/8", "ten.example", 80));
}

/// Sets or removes every proxy variable, in both cases.
fn set_env(vars: &[(&str, &str)]) {
    for name in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        // SAFETY: this test is the only one in this binary that touches the
        // environment or calls `connect`, which reads it; the others only
        // call the pure function with maps.
        unsafe {
            std::env::remove_var(name);
            std::env::remove_var(name.to_ascii_uppercase());
        }
    }
    for (name, value) in vars {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
}

async fn round_trip(config: impl wsmachine_tokio::IntoClientConfig) -> Result<(), Error> {
    let (mut ws, _) = wsmachine_tokio::connect(config).await?;
    ws.send(Message::text("via the environment")).await?;
    let echo = ws.next().await.expect("an echo")?;
    assert_eq!(echo.as_text(), Some("via the environment"));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn connect_reads_the_environment_end_to_end() {
    bounded(async {
        let echo = support::start_echo().await.port();
        let url = format!("ws://127.0.0.1:{echo}/");
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dead_socks = format!("socks5h://127.0.0.1:{dead}");
        let socks = MicroSocks::start(Some(("alice", "s3cret")));

        // ALL_PROXY, SOCKS5 with credentials: works, and a wrong password
        // is microsocks' refusal, so the variable was used.
        set_env(&[("ALL_PROXY", &socks.url("socks5h", "alice:s3cret@"))]);
        round_trip(url.as_str()).await.expect("through ALL_PROXY");
        set_env(&[("ALL_PROXY", &socks.url("socks5", "alice:wrong@"))]);
        let wrong = round_trip(url.as_str()).await.expect_err("wrong password");
        assert!(
            matches!(wrong, Error::Socks5(Socks5Error::AuthFailed { .. })),
            "{wrong:?}"
        );

        // A proxy nothing listens on fails, unless NO_PROXY, the config's
        // switch or an explicit proxy says otherwise.
        set_env(&[("all_proxy", &dead_socks)]);
        let refused = round_trip(url.as_str()).await.expect_err("dead proxy");
        assert!(matches!(refused, Error::Io(_)), "{refused:?}");
        set_env(&[
            ("all_proxy", &dead_socks),
            ("NO_PROXY", "localhost, 127.0.0.1"),
        ]);
        round_trip(url.as_str())
            .await
            .expect("NO_PROXY goes direct");
        set_env(&[("all_proxy", &dead_socks)]);
        let off = ClientConfig::new(&url)
            .expect("url")
            .with_proxy_from_env(false);
        round_trip(off).await.expect("environment lookup off");
        let explicit = ClientConfig::new(&url).expect("url").with_socks5_proxy(
            Socks5Config::from_url(&socks.url("socks5", "alice:s3cret@")).expect("proxy"),
        );
        round_trip(explicit).await.expect("an explicit proxy wins");

        // HTTP_PROXY for ws://, through tinyproxy; lower case wins.
        let tiny = TinyProxy::start(echo, None);
        set_env(&[("HTTP_PROXY", &tiny.url("")), ("all_proxy", &dead_socks)]);
        round_trip(url.as_str()).await.expect("through HTTP_PROXY");
        assert!(tiny.log().contains("CONNECT"), "{}", tiny.log());
        set_env(&[("HTTP_PROXY", &tiny.url("")), ("http_proxy", &dead_socks)]);
        let lower = round_trip(url.as_str()).await.expect_err("lower case wins");
        assert!(matches!(lower, Error::Io(_)), "{lower:?}");

        // An unusable value is an error, not a direct connection.
        set_env(&[("ALL_PROXY", "socks4://127.0.0.1:1080")]);
        let unusable = round_trip(url.as_str()).await.expect_err("socks4");
        assert!(matches!(
            unusable,
            Error::ProxyEnv(EnvProxyError {
                var: "ALL_PROXY",
                ..
            })
        ));
        assert_eq!(unusable.kind_str(), "proxy_env");

        // wss:// reads HTTPS_PROXY, not HTTP_PROXY: TLS inside the tunnel.
        #[cfg(feature = "rustls")]
        {
            let (tls_port, cert) = support::start_tls_echo("127.0.0.1").await;
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert).expect("root");
            let tls =
                std::sync::Arc::new(wsmachine_tokio::tls_client_config(roots).expect("tls config"));
            let wss = format!("wss://127.0.0.1:{tls_port}/");
            set_env(&[
                ("HTTPS_PROXY", &socks.url("socks5h", "alice:s3cret@")),
                ("HTTP_PROXY", &dead_socks),
            ]);
            let (mut ws, _) = wsmachine_tokio::connect_tls(wss.as_str(), tls.clone())
                .await
                .expect("wss through HTTPS_PROXY");
            ws.send(Message::text("secure")).await.expect("send");
            let echo = ws.next().await.expect("an echo").expect("no error");
            assert_eq!(echo.as_text(), Some("secure"));
            set_env(&[("HTTPS_PROXY", &dead_socks)]);
            let dead = wsmachine_tokio::connect_tls(wss.as_str(), tls)
                .await
                .map(|_| ())
                .expect_err("HTTPS_PROXY is used for wss://");
            assert!(matches!(dead, Error::Io(_)), "{dead:?}");
        }
        set_env(&[]);
    })
    .await;
}
