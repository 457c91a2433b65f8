//! The socket's own behaviour: many connections at once, cancelled reads,
//! backpressure, half-closed and reset transports, violations in order,
//! and split halves in two tasks.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{bounded, loopback, masked_frame, upgrade_request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use wsmachine::error::ProtocolError;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::{CloseCode, CloseFrame, Config, Decision, Error, Message, WebSocket};

/// Reads a raw peer's view up to the end of the 101's head.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("read the head");
        assert_eq!(
            n,
            1,
            "ended inside the head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    head
}

/// A raw client through the handshake with a server socket on the other
/// end of `stream`.
async fn raw_client_with<S>(
    mut client: S,
    server: DuplexStream,
    config: Config,
) -> (S, WebSocket<DuplexStream>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let accept =
        wsmachine_tokio::accept_with_config(server, ServerConfig::default(), config, |_| {
            Decision::accept()
        });
    let raw = async {
        client
            .write_all(upgrade_request("/").as_bytes())
            .await
            .expect("request");
        let head = read_head(&mut client).await;
        assert!(head.starts_with(b"HTTP/1.1 101"));
        client
    };
    let (ws, client) = tokio::join!(accept, raw);
    (client, ws.expect("handshake"))
}

/// A raw client over TCP and our server socket.
async fn raw_tcp_pair() -> (TcpStream, WebSocket<TcpStream>) {
    let (listener, addr) = loopback().await;
    let accept = async {
        let (stream, _) = listener.accept().await.expect("accept");
        wsmachine_tokio::accept(stream).await.expect("handshake")
    };
    let raw = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(upgrade_request("/").as_bytes())
            .await
            .expect("request");
        let head = read_head(&mut stream).await;
        assert!(head.starts_with(b"HTTP/1.1 101"));
        stream
    };
    let (ws, stream) = tokio::join!(accept, raw);
    (stream, ws)
}

/// The server frames a raw client got: (opcode, payload), up to the end.
async fn server_frames<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<(u8, Vec<u8>)> {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 2 {
        let opcode = rest[0] & 0x0f;
        let (len, header) = match rest[1] & 0x7f {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(rest[2..10].try_into().expect("8")) as usize,
                10,
            ),
            len => (len as usize, 2),
        };
        frames.push((opcode, rest[header..header + len].to_vec()));
        rest = &rest[header + len..];
    }
    frames
}

async fn next_message<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Message {
    match ws.next().await {
        Some(Ok(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_each_exchange_messages() {
    const CONNECTIONS: usize = 1000;
    const MESSAGES: usize = 5;
    bounded(async {
        let (listener, addr) = loopback().await;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(mut ws) = wsmachine_tokio::accept(stream).await else {
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
        // Every client connects first, so that all are open at once before
        // any exchanges a message.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|id| {
                let barrier = std::sync::Arc::clone(&barrier);
                tokio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.expect("connect");
                    let config = ClientConfig::new(&format!("ws://{addr}/{id}")).expect("url");
                    let (mut ws, _) = wsmachine_tokio::connect_with(stream, config)
                        .await
                        .expect("handshake");
                    barrier.wait().await;
                    for n in 0..MESSAGES {
                        let text = format!("client {id} message {n}");
                        ws.send(Message::text(text.clone())).await.expect("send");
                        assert_eq!(next_message(&mut ws).await.as_text(), Some(text.as_str()));
                    }
                    ws.close(CloseCode::NORMAL, "").await.expect("close");
                    assert!(matches!(next_message(&mut ws).await, Message::Close(_)));
                    assert!(ws.next().await.is_none());
                    MESSAGES
                })
            })
            .collect();
        let mut echoed = 0;
        for client in clients {
            echoed += client.await.expect("client task");
        }
        assert_eq!(echoed, CONNECTIONS * MESSAGES);
    })
    .await;
}

#[tokio::test]
async fn dropping_a_pending_next_loses_no_message() {
    bounded(async {
        let (client, server) = tokio::io::duplex(1024);
        let (mut client, mut ws) = raw_client_with(client, server, Config::default()).await;
        const COUNT: usize = 50;
        let writer = tokio::spawn(async move {
            for n in 0..COUNT {
                // A fragmented message, written a few bytes at a time with
                // pauses, so that many `next()` calls are pending mid-way.
                let text = format!("message number {n}");
                let (head, tail) = text.as_bytes().split_at(7);
                let mut bytes = masked_frame(0x1, false, head);
                bytes.extend(masked_frame(0x0, true, tail));
                for chunk in bytes.chunks(3) {
                    client.write_all(chunk).await.expect("write");
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            client
        });
        let mut received = Vec::new();
        let mut cancelled = 0;
        while received.len() < COUNT {
            tokio::select! {
                item = ws.next() => match item {
                    Some(Ok(message)) => received.push(message.as_text().expect("text").to_owned()),
                    other => panic!("expected a message, got {other:?}"),
                },
                // Cancels the pending `next()` as soon as it waits.
                () = tokio::task::yield_now() => cancelled += 1,
            }
        }
        let expected: Vec<_> = (0..COUNT).map(|n| format!("message number {n}")).collect();
        assert_eq!(received, expected);
        assert!(cancelled > COUNT, "only {cancelled} reads were cancelled");
        drop(writer.await.expect("writer"));
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_never_reads_makes_send_wait_with_bounded_memory() {
    bounded(async {
        const PIPE: usize = 16 * 1024;
        const MARK: usize = 64 * 1024;
        const MESSAGE: usize = 8 * 1024;
        let (client, server) = tokio::io::duplex(PIPE);
        let mut config = Config::default();
        config.high_water_mark = MARK;
        let (_never_read, mut ws) = raw_client_with(client, server, config).await;
        let message = Message::binary(vec![0u8; MESSAGE]);
        let mut sent = 0;
        // `feed` queues without flushing: only the mark makes it wait.
        loop {
            match tokio::time::timeout(Duration::from_millis(200), ws.feed(message.clone())).await {
                Ok(Ok(())) => sent += 1,
                Ok(Err(error)) => panic!("send failed: {error}"),
                Err(_) => break,
            }
            assert!(sent < 1000, "send never waited");
        }
        // What waits is at most the mark plus the message being sent.
        assert!(
            ws.unflushed() <= MARK + MESSAGE + 16,
            "{} bytes held",
            ws.unflushed()
        );
        assert!(
            ws.unflushed() > MARK,
            "the mark was not reached: {}",
            ws.unflushed()
        );
        // Everything not yet written fits in the pipe and the queue.
        assert!(
            sent * MESSAGE <= PIPE + MARK + 2 * MESSAGE,
            "{sent} messages went out"
        );
        // `send` flushes, so it waits as well.
        let flushed = tokio::time::timeout(Duration::from_millis(200), ws.flush()).await;
        assert!(flushed.is_err(), "the flush finished without a reader");
    })
    .await;
}

#[tokio::test]
async fn a_waiting_send_goes_on_once_the_peer_reads() {
    bounded(async {
        let (client, server) = tokio::io::duplex(4096);
        let mut config = Config::default();
        config.high_water_mark = 8 * 1024;
        let (mut client, mut ws) = raw_client_with(client, server, config).await;
        let sender = tokio::spawn(async move {
            for _ in 0..64 {
                ws.send(Message::binary(vec![5u8; 4096]))
                    .await
                    .expect("send");
            }
            ws
        });
        // 64 messages of 4 KiB through a 4 KiB pipe and an 8 KiB mark:
        // only reading lets them through.
        let mut total = 0;
        let mut buf = vec![0u8; 8192];
        while total < 64 * (4096 + 4) {
            let n = client.read(&mut buf).await.expect("read");
            assert!(n > 0);
            total += n;
        }
        let ws = sender.await.expect("sender");
        assert_eq!(ws.unflushed(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_half_closed_peer_gets_our_close_after_its_own() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        let mut bytes = masked_frame(0x1, true, b"last words");
        bytes.extend(masked_frame(0x8, true, &[0x03, 0xe8]));
        stream.write_all(&bytes).await.expect("write");
        // Its write side ends; it still reads.
        stream.shutdown().await.expect("half-close");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("last words"));
        assert_eq!(
            next_message(&mut ws).await,
            Message::Close(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: String::new()
            }))
        );
        assert!(ws.next().await.is_none());
        assert_eq!(server_frames(&mut stream).await, [(0x8, vec![0x03, 0xe8])]);
    })
    .await;
}

#[tokio::test]
async fn an_end_without_a_close_comes_after_the_messages_as_1006() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        let mut bytes = masked_frame(0x1, true, b"one");
        bytes.extend(masked_frame(0x2, true, b"two"));
        stream.write_all(&bytes).await.expect("write");
        stream.shutdown().await.expect("half-close");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("one"));
        assert_eq!(
            next_message(&mut ws).await,
            Message::Binary(Bytes::from_static(b"two"))
        );
        match ws.next().await {
            Some(Err(Error::Protocol(wsmachine::Error::UnexpectedEof))) => {}
            other => panic!("expected the unexpected end, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    })
    .await;
}

/// Resets the connection: SO_LINGER 0 makes the close send RST.
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    stream.set_linger(Some(Duration::ZERO)).expect("linger");
    drop(stream);
}

#[tokio::test]
async fn a_reset_after_the_peers_close_is_a_clean_end() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        stream
            .write_all(&masked_frame(0x8, true, &[0x03, 0xe9, b'o', b'k']))
            .await
            .expect("write");
        reset(stream);
        assert_eq!(
            next_message(&mut ws).await,
            Message::Close(Some(CloseFrame {
                code: CloseCode::GOING_AWAY,
                reason: "ok".into()
            }))
        );
        assert!(
            ws.next().await.is_none(),
            "a reset after the Close is no error"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_while_we_are_closing_is_a_clean_end() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        ws.close(CloseCode::NORMAL, "bye").await.expect("close");
        // The peer reads our Close and resets instead of answering.
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.expect("read our close");
        assert_eq!(buf[0], 0x88, "{:?}", &buf[..n]);
        reset(stream);
        assert!(
            ws.next().await.is_none(),
            "a reset after our Close is no error"
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_before_any_close_is_an_unexpected_end() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        stream
            .write_all(&masked_frame(0x1, true, b"hi"))
            .await
            .expect("write");
        stream.flush().await.expect("flush");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("hi"));
        reset(stream);
        match ws.next().await {
            Some(Err(Error::Protocol(wsmachine::Error::UnexpectedEof))) => {}
            other => panic!("expected the unexpected end, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn a_violation_ends_the_stream_after_the_messages_before_it() {
    bounded(async {
        let (mut stream, mut ws) = raw_tcp_pair().await;
        let mut bytes = masked_frame(0x1, true, b"a");
        bytes.extend(masked_frame(0x1, true, b"b"));
        // Unmasked: a client must mask (RFC 6455 §5.1).
        bytes.extend([0x81, 0x01, b'c']);
        bytes.extend(masked_frame(0x1, true, b"never"));
        stream.write_all(&bytes).await.expect("write");
        assert_eq!(next_message(&mut ws).await.as_text(), Some("a"));
        assert_eq!(next_message(&mut ws).await.as_text(), Some("b"));
        match ws.next().await {
            Some(Err(Error::Protocol(wsmachine::Error::Protocol(
                ProtocolError::UnmaskedFrame,
            )))) => {}
            other => panic!("expected the violation, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
        let sent = ws.send(Message::text("after")).await;
        assert!(matches!(sent, Err(Error::Closed)), "{sent:?}");
        let frames = server_frames(&mut stream).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].0, 0x8);
        assert_eq!(&frames[0].1[..2], &1002u16.to_be_bytes());
    })
    .await;
}

#[tokio::test]
async fn split_halves_work_from_two_tasks() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = wsmachine_tokio::accept(stream).await.expect("handshake");
            while let Some(Ok(message)) = ws.next().await {
                if message.is_data() {
                    let _ = ws.send(message).await;
                }
            }
        });
        let stream = TcpStream::connect(addr).await.expect("connect");
        let config = ClientConfig::new(&format!("ws://{addr}/")).expect("url");
        let (ws, _) = wsmachine_tokio::connect_with(stream, config)
            .await
            .expect("handshake");
        let (mut sink, mut stream) = ws.split();
        const COUNT: usize = 200;
        let (all_in, all_received) = tokio::sync::oneshot::channel();
        let mut all_in = Some(all_in);
        let reader = tokio::spawn(async move {
            let mut received = 0;
            while let Some(item) = stream.next().await {
                match item.expect("message") {
                    Message::Binary(data) => {
                        assert_eq!(data.len(), 10_000);
                        received += 1;
                        if received == COUNT {
                            let _ = all_in.take().map(|all_in| all_in.send(()));
                        }
                    }
                    Message::Close(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
            received
        });
        for _ in 0..COUNT {
            sink.send(Message::binary(vec![3u8; 10_000]))
                .await
                .expect("send");
        }
        // While the reader task takes the echoes.
        all_received.await.expect("every echo");
        sink.close().await.expect("close");
        assert_eq!(reader.await.expect("reader"), COUNT);
        server.await.expect("server");
    })
    .await;
}

#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn wss_without_the_rustls_feature_is_a_typed_error() {
    bounded(async {
        let (_listener, addr) = loopback().await;
        let result = wsmachine_tokio::connect(&format!("wss://{addr}/")).await;
        assert!(matches!(result, Err(Error::TlsNotEnabled)), "{result:?}");
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_floods_pings_and_never_reads_is_not_read_from() {
    bounded(async {
        const PIPE: usize = 8 * 1024;
        const MARK: usize = 32 * 1024;
        let (client, server) = tokio::io::duplex(PIPE);
        let mut config = Config::default();
        config.high_water_mark = MARK;
        let (client, mut ws) = raw_client_with(client, server, config).await;
        let (_never_read, mut writer) = tokio::io::split(client);
        // 125-byte pings, each answered with a 127-byte pong that nobody
        // reads: 4 MiB of them would be 4 MiB of pongs held if the socket
        // went on reading.
        let ping = masked_frame(0x9, true, &[b'p'; 125]);
        let flood = async {
            for _ in 0..(4 << 20) / ping.len() {
                writer.write_all(&ping).await.expect("write");
            }
        };
        let reader = async {
            while let Some(item) = ws.next().await {
                assert!(matches!(item, Ok(Message::Ping(_))), "{item:?}");
            }
        };
        tokio::select! {
            () = flood => panic!("the socket read every ping"),
            () = reader => panic!("the stream ended"),
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        assert!(
            ws.unflushed() > MARK,
            "the mark was not reached: {}",
            ws.unflushed()
        );
        // The mark, plus the answers to the last read (at most a pipe's
        // worth of pings).
        assert!(
            ws.unflushed() <= MARK + PIPE + 256,
            "{} bytes of pongs held",
            ws.unflushed()
        );
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_never_answers_our_close_ends_at_the_close_timeout() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let accept = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut config = ServerConfig::default();
            config.config.close_timeout = Duration::from_millis(200);
            wsmachine_tokio::accept_with(stream, config, |_| Decision::accept())
                .await
                .expect("handshake")
        };
        let raw = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(upgrade_request("/").as_bytes())
                .await
                .expect("request");
            read_head(&mut stream).await;
            stream
        };
        let (mut ws, _silent) = tokio::join!(accept, raw);
        let started = tokio::time::Instant::now();
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        match ws.next().await {
            Some(Err(Error::Protocol(wsmachine::Error::CloseTimeout))) => {}
            other => panic!("expected the close timeout, got {other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(ws.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn what_the_app_sends_for_a_message_goes_out_before_the_close_that_follows_it() {
    bounded(async {
        let (listener, addr) = loopback().await;
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut ws = wsmachine_tokio::accept(stream).await.expect("handshake");
            while let Some(Ok(message)) = ws.next().await {
                if message.is_data() {
                    ws.send(message)
                        .await
                        .expect("an echo before the Close is sent");
                }
            }
        });
        let stream = TcpStream::connect(addr).await.expect("connect");
        let config = ClientConfig::new(&format!("ws://{addr}/")).expect("url");
        let (mut ws, _) = wsmachine_tokio::connect_with(stream, config)
            .await
            .expect("handshake");
        const COUNT: usize = 100;
        for n in 0..COUNT {
            ws.feed(Message::text(format!("{n}"))).await.expect("feed");
        }
        // The Close right behind the messages, in the same writes.
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        let mut echoes = Vec::new();
        while let Some(item) = ws.next().await {
            match item.expect("no error") {
                Message::Text(text) => echoes.push(text.to_string()),
                Message::Close(_) => assert_eq!(echoes.len(), COUNT, "the Close came early"),
                other => panic!("unexpected {other:?}"),
            }
        }
        let expected: Vec<_> = (0..COUNT).map(|n| n.to_string()).collect();
        assert_eq!(echoes, expected);
    })
    .await;
}
