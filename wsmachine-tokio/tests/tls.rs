//! `wss://` with the `rustls` feature, against a TLS echo server whose
//! certificate the test makes itself (rcgen).

#![cfg(feature = "rustls")]

mod support;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::{bounded, loopback};
use tokio_rustls::TlsAcceptor;
use wsmachine::handshake::client::ClientConfig;
use wsmachine_tokio::{CloseCode, Error, MaybeTlsStream, Message};

/// A TLS echo server for `localhost`; returns its port and certificate.
async fn start_tls_echo() -> (u16, CertificateDer<'static>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = loopback().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut ws) = wsmachine_tokio::accept(tls).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_data() {
                        let _ = ws.send(message).await;
                    }
                }
            });
        }
    });
    (addr.port(), cert)
}

#[tokio::test]
async fn wss_echoes_with_a_trusted_certificate() {
    bounded(async {
        let (port, cert) = start_tls_echo().await;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("root");
        let tls = Arc::new(wsmachine_tokio::tls_client_config(roots));
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
        let (port, _) = start_tls_echo().await;
        // `connect` trusts the Mozilla roots, which do not know the test's
        // certificate: the TLS handshake fails as a transport error.
        match wsmachine_tokio::connect(&format!("wss://localhost:{port}/")).await {
            Err(Error::Io(error)) => {
                assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
            }
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    })
    .await;
}
