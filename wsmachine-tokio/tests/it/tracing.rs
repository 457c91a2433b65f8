//! The `tracing` feature: one DEBUG event per failure, its kind as a
//! field, and nothing for a connection that goes well.

#![cfg(feature = "tracing")]

use crate::support;

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use support::{bounded, loopback, masked_frame, upgrade_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use wsmachine_tokio::{CloseCode, Message};

/// Each event's level and `kind` field.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<(Level, String)>>>);

struct KindVisitor(Option<String>);

impl Visit for KindVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "kind" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "kind" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl Subscriber for Events {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut visitor = KindVisitor(None);
        event.record(&mut visitor);
        let kind = visitor.0.unwrap_or_else(|| "<none>".into());
        self.0
            .lock()
            .expect("lock")
            .push((*event.metadata().level(), kind));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Runs `body` on this thread with `events` as the subscriber.
fn with_events<F: std::future::Future>(events: &Events, body: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tracing::subscriber::with_default(events.clone(), || runtime.block_on(bounded(body)))
}

#[test]
fn a_failed_handshake_is_one_debug_event_with_its_kind() {
    let events = Events::default();
    with_events(&events, async {
        let (listener, addr) = loopback().await;
        let server = async {
            let (stream, _) = listener.accept().await.expect("accept");
            assert!(wsmachine_tokio::accept(stream).await.is_err());
        };
        let client = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .expect("write");
            let mut response = Vec::new();
            let _ = stream.read_to_end(&mut response).await;
        };
        tokio::join!(server, client);
    });
    assert_eq!(
        *events.0.lock().expect("lock"),
        [(Level::DEBUG, "not_websocket".to_string())]
    );
}

#[test]
fn a_violation_is_one_debug_event_and_a_clean_connection_none() {
    let events = Events::default();
    with_events(&events, async {
        let (listener, addr) = loopback().await;
        let server = async {
            for _ in 0..2 {
                let (stream, _) = listener.accept().await.expect("accept");
                let mut ws = wsmachine_tokio::accept(stream).await.expect("handshake");
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_data() {
                        let _ = ws.send(message).await;
                    }
                }
            }
        };
        let clients = async {
            // A clean connection: no event.
            let (mut ws, _) = wsmachine_tokio::connect(&format!("ws://{addr}/"))
                .await
                .expect("connect");
            ws.send(Message::text("fine")).await.expect("send");
            let _ = ws.next().await;
            ws.close(CloseCode::NORMAL, "").await.expect("close");
            while ws.next().await.is_some() {}
            // A violation: a reserved opcode.
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            let mut bytes = upgrade_request("/").into_bytes();
            bytes.extend(masked_frame(0x3, true, b""));
            stream.write_all(&bytes).await.expect("write");
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
        };
        tokio::join!(server, clients);
    });
    assert_eq!(
        *events.0.lock().expect("lock"),
        [(Level::DEBUG, "protocol".to_string())]
    );
}
