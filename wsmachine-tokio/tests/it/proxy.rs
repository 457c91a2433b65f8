//! `connect` through an HTTP proxy: a real tinyproxy (started by the test,
//! as in the core's `tests/proxy_tinyproxy.rs`) in front of the driver's own
//! echo server. `ws://` runs the tunnel inside the core's client; `wss://`
//! tunnels first and runs TLS inside the tunnel. A refusal is
//! `Error::ProxyRejected`, never the server's `Error::Rejected`.
//!
//! tinyproxy is installed when missing (`tests/system` at the root: apt-get,
//! as root or with passwordless sudo), before each test's time bound
//! starts; when it cannot be, the tests fail saying what to run. They never
//! skip.

use crate::{support, tinyproxy};

use futures_util::StreamExt;
use support::bounded;
use tinyproxy::TinyProxy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::proxy::ProxyConfig;
use wsmachine_tokio::Error;

/// A plain WebSocket echo server; returns its port.
async fn start_echo() -> u16 {
    support::start_echo().await.port()
}

fn through(url: &str, proxy_url: &str) -> ClientConfig {
    ClientConfig::new(url)
        .expect("url")
        .with_proxy(ProxyConfig::from_url(proxy_url).expect("proxy url"))
}

/// [`support::echo_once`], then the end of the stream.
async fn echo_once(
    ws: &mut wsmachine_tokio::WebSocket<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>,
    text: &str,
) {
    support::echo_once(ws, text).await;
    assert!(ws.next().await.is_none(), "a clean end");
}

#[tokio::test]
async fn ws_goes_through_tinyproxy_with_and_without_credentials() {
    tinyproxy::binary();
    bounded(async {
        let port = start_echo().await;
        let open = TinyProxy::start(port, None);
        let url = format!("ws://127.0.0.1:{port}/via-proxy");
        let (mut ws, _) = wsmachine_tokio::connect(through(&url, &open.url("")))
            .await
            .expect("through the proxy");
        echo_once(&mut ws, "through tinyproxy").await;
        assert!(open.log().contains("CONNECT"), "{}", open.log());

        let guarded = TinyProxy::start(port, Some(("alice", "s3cret")));
        let (mut ws, _) = wsmachine_tokio::connect(through(&url, &guarded.url("alice:s3cret@")))
            .await
            .expect("with credentials");
        echo_once(&mut ws, "with Basic authentication").await;
    })
    .await;
}

#[tokio::test]
async fn a_refusal_is_the_proxys_with_its_status_and_body() {
    tinyproxy::binary();
    bounded(async {
        let port = start_echo().await;
        let guarded = TinyProxy::start(port, Some(("alice", "s3cret")));
        let url = format!("ws://127.0.0.1:{port}/");
        match wsmachine_tokio::connect(through(&url, &guarded.url(""))).await {
            Err(error @ Error::ProxyRejected { .. }) => {
                assert_eq!(error.kind_str(), "proxy_rejected");
                let Error::ProxyRejected {
                    status,
                    headers,
                    body,
                    body_error,
                } = error
                else {
                    unreachable!()
                };
                assert_eq!(status, 407);
                assert!(
                    headers.get_str("Proxy-Authenticate").is_some(),
                    "{headers:?}"
                );
                assert!(!body.is_empty(), "tinyproxy's page, read until it closed");
                assert_eq!(body_error, None);
            }
            other => panic!("expected the proxy's refusal, got {other:?}"),
        }
    })
    .await;
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn wss_runs_tls_inside_the_tunnel() {
    use std::sync::Arc;
    tinyproxy::binary();
    bounded(async {
        let (port, cert) = support::start_tls_echo("127.0.0.1").await;
        let proxy = TinyProxy::start(port, None);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("root");
        let tls = Arc::new(wsmachine_tokio::tls_client_config(roots).expect("a TLS config"));
        let config = through(&format!("wss://127.0.0.1:{port}/secure"), &proxy.url(""));
        let (mut ws, _) = wsmachine_tokio::connect_tls(config, tls)
            .await
            .expect("TLS through the tunnel");
        assert!(matches!(
            ws.get_ref(),
            wsmachine_tokio::MaybeTlsStream::Rustls(_)
        ));
        echo_once(&mut ws, "TLS inside CONNECT").await;
        assert!(proxy.log().contains("CONNECT"), "{}", proxy.log());
    })
    .await;
}
