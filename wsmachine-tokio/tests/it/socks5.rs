//! `connect` through a SOCKS5 proxy: a real microsocks (started by each
//! test, `tests/it/microsocks/mod.rs`) in front of the driver's echo servers,
//! `ws://` and `wss://`, `socks5://` (the driver resolves) and `socks5h://`
//! (the proxy resolves), with and without username/password; a wrong
//! password and a refused target as typed errors. Raw stubs show what
//! microsocks never does: the exact request bytes, garbage, an answer cut
//! off, and silence, which the connect timeout ends.
//!
//! microsocks must be installed (`.ci/run` installs it when missing);
//! without it these tests fail, they do not skip.

use crate::{microsocks, support};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use microsocks::MicroSocks;
use support::{bounded, echo_once};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::proxy::{ReplyCode, Socks5Config, Socks5Error};
use wsmachine_tokio::{Error, Timeout};

/// A listener on the address `localhost` resolves to first, where both the
/// driver (for `socks5://`) and microsocks (for `socks5h://`) connect.
async fn localhost_listener() -> (TcpListener, SocketAddr) {
    let first = tokio::net::lookup_host(("localhost", 0))
        .await
        .expect("resolve localhost")
        .next()
        .expect("an address for localhost");
    let listener = TcpListener::bind((first.ip(), 0)).await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A plain echo server on `localhost`; returns its port.
async fn start_echo() -> u16 {
    let (listener, addr) = localhost_listener().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(ws) = wsmachine_tokio::accept(stream).await {
                    support::echo(ws).await;
                }
            });
        }
    });
    addr.port()
}

fn through(url: &str, proxy_url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("url")
        .with_proxy_from_env(false)
        .with_socks5_proxy(Socks5Config::from_url(proxy_url).expect("proxy url"))
}

#[tokio::test]
async fn ws_goes_through_microsocks_socks5_and_socks5h_with_and_without_credentials() {
    bounded(async {
        let port = start_echo().await;
        let url = format!("ws://localhost:{port}/via-socks");
        let open = MicroSocks::start(None);
        let guarded = MicroSocks::start(Some(("alice", "s3cret")));
        for scheme in ["socks5", "socks5h"] {
            let (mut ws, _) = wsmachine_tokio::connect(through(&url, &open.url(scheme, "")))
                .await
                .unwrap_or_else(|e| panic!("{scheme} without credentials: {e}"));
            echo_once(&mut ws, scheme).await;
            let proxy = guarded.url(scheme, "alice:s3cret@");
            let (mut ws, _) = wsmachine_tokio::connect(through(&url, &proxy))
                .await
                .unwrap_or_else(|e| panic!("{scheme} with credentials: {e}"));
            echo_once(&mut ws, "authenticated").await;
        }
    })
    .await;
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn wss_runs_tls_inside_the_socks_tunnel() {
    bounded(async {
        let (listener, addr) = localhost_listener().await;
        let cert = support::start_tls_echo_on("localhost", listener);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("root");
        let tls = std::sync::Arc::new(wsmachine_tokio::tls_client_config(roots).expect("tls"));
        let url = format!("wss://localhost:{}/secure", addr.port());
        let guarded = MicroSocks::start(Some(("alice", "s3cret")));
        for scheme in ["socks5", "socks5h"] {
            let proxy = guarded.url(scheme, "alice:s3cret@");
            let (mut ws, _) = wsmachine_tokio::connect_tls(through(&url, &proxy), tls.clone())
                .await
                .unwrap_or_else(|e| panic!("wss through {scheme}: {e}"));
            echo_once(&mut ws, "TLS in SOCKS").await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_and_missing_credentials_are_typed() {
    bounded(async {
        let port = start_echo().await;
        let url = format!("ws://localhost:{port}/");
        let guarded = MicroSocks::start(Some(("alice", "s3cret")));
        let wrong = wsmachine_tokio::connect(through(&url, &guarded.url("socks5h", "alice:nope@")))
            .await
            .map(|_| ())
            .expect_err("a wrong password");
        assert!(
            matches!(wrong, Error::Socks5(Socks5Error::AuthFailed { status }) if status != 0),
            "{wrong:?}"
        );
        assert_eq!(wrong.kind_str(), "socks5");
        let none = wsmachine_tokio::connect(through(&url, &guarded.url("socks5h", "")))
            .await
            .map(|_| ())
            .expect_err("no credentials");
        assert!(
            matches!(none, Error::Socks5(Socks5Error::NoAcceptableMethod)),
            "{none:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refused_target_is_the_proxys_reply_code() {
    bounded(async {
        // A port nothing listens on: microsocks answers "connection refused".
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let proxy = MicroSocks::start(None);
        let url = format!("ws://127.0.0.1:{closed}/");
        let refused = wsmachine_tokio::connect(through(&url, &proxy.url("socks5", "")))
            .await
            .map(|_| ())
            .expect_err("refused");
        assert!(
            matches!(
                refused,
                Error::Socks5(Socks5Error::Refused(ReplyCode::ConnectionRefused))
            ),
            "{refused:?}"
        );
    })
    .await;
}

/// A stub SOCKS5 proxy for one connection: reads the greeting, answers
/// "no authentication", reads the request and hands it back, then does
/// what `then` says.
async fn stub(then: &'static [u8], close: bool) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let (listener, addr) = support::loopback().await;
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut greeting = [0u8; 3];
        stream.read_exact(&mut greeting).await.expect("greeting");
        assert_eq!(greeting, [5, 1, 0]);
        stream.write_all(&[5, 0]).await.expect("method");
        let mut request = vec![0u8; 512];
        let n = stream.read(&mut request).await.expect("request");
        request.truncate(n);
        stream.write_all(then).await.expect("answer");
        if close {
            drop(stream);
        } else {
            // Silent, holding the connection open.
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        request
    });
    (addr.port(), task)
}

#[tokio::test]
async fn socks5h_sends_the_name_and_socks5_an_address() {
    bounded(async {
        for (scheme, expect_name) in [("socks5h", true), ("socks5", false)] {
            let (port, task) = stub(&[5, 1, 0, 1, 0, 0, 0, 0, 0, 0], true).await;
            let proxy = format!("{scheme}://127.0.0.1:{port}");
            let result = wsmachine_tokio::connect(through("ws://localhost:4242/", &proxy)).await;
            assert!(matches!(
                result.map(|_| ()),
                Err(Error::Socks5(Socks5Error::Refused(
                    ReplyCode::GeneralFailure
                )))
            ));
            let request = task.await.expect("stub");
            assert_eq!(&request[..3], &[5, 1, 0]);
            assert_eq!(&request[request.len() - 2..], &4242u16.to_be_bytes());
            if expect_name {
                assert_eq!(&request[3..5], &[3, 9], "{request:?}");
                assert_eq!(&request[5..14], b"localhost");
            } else {
                assert!(matches!(request[3], 1 | 4), "an address: {request:?}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn garbage_and_cut_off_answers_are_typed_errors() {
    bounded(async {
        let (port, _task) = stub(b"HTTP/1.1 400 Bad Request\r\n\r\n", true).await;
        let proxy = format!("socks5h://127.0.0.1:{port}");
        let garbage = wsmachine_tokio::connect(through("ws://example.test/", &proxy))
            .await
            .map(|_| ())
            .expect_err("garbage");
        assert!(
            matches!(
                garbage,
                Error::Socks5(Socks5Error::InvalidVersion { got: b'H' })
            ),
            "{garbage:?}"
        );
        let (port, _task) = stub(&[5, 0, 0, 1, 127], true).await;
        let proxy = format!("socks5h://127.0.0.1:{port}");
        let cut = wsmachine_tokio::connect(through("ws://example.test/", &proxy))
            .await
            .map(|_| ())
            .expect_err("cut off");
        assert!(
            matches!(cut, Error::Socks5(Socks5Error::UnexpectedEof)),
            "{cut:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_silent_proxy_meets_the_connect_timeout() {
    bounded(async {
        let (port, _task) = stub(&[5, 0, 0], false).await;
        let proxy = format!("socks5h://127.0.0.1:{port}");
        let config =
            through("ws://example.test/", &proxy).with_connect_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let silent = wsmachine_tokio::connect(config)
            .await
            .map(|_| ())
            .expect_err("silence");
        assert!(
            matches!(silent, Error::Timeout(Timeout::Connect)),
            "{silent:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await;
}
