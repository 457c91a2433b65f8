//! `wss://` with the `rustls` feature, against a TLS echo server whose
//! certificate the test makes itself (rcgen).

#![cfg(feature = "rustls")]

use crate::support;

use std::sync::Arc;

use futures_util::StreamExt;
use support::{bounded, start_tls_echo};
use wsmachine::handshake::client::ClientConfig;
use wsmachine_tokio::{CloseCode, Error, MaybeTlsStream, Message};

#[tokio::test]
async fn wss_echoes_with_a_trusted_certificate() {
    bounded(async {
        let (port, cert) = start_tls_echo("localhost").await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("root");
        let tls = Arc::new(wsmachine_tokio::tls_client_config(roots).expect("a TLS config"));
        let config = ClientConfig::new(&format!("wss://localhost:{port}/secure")).expect("url");
        let (mut ws, _) = wsmachine_tokio::connect_tls(config, tls)
            .await
            .expect("connect");
        assert!(matches!(ws.get_ref(), MaybeTlsStream::Rustls(_)));
        ws.send(Message::text("over TLS")).await.expect("send");
        assert_eq!(
            ws.next().await.expect("echo").expect("ok").as_text(),
            Some("over TLS")
        );
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
        assert!(ws.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn wss_refuses_a_certificate_no_root_vouches_for() {
    bounded(async {
        let (port, _) = start_tls_echo("localhost").await;
        // `connect` trusts the Mozilla roots, which do not know the test's
        // certificate: the TLS handshake fails with rustls' own error.
        match wsmachine_tokio::connect(&format!("wss://localhost:{port}/")).await {
            Err(Error::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))) => {}
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    })
    .await;
}
