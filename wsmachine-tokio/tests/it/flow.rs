//! The socket's flow of data: many connections at once, cancelled reads,
//! backpressure from a peer that does not read, split halves in two
//! tasks, effects in order, replies to a burst in one write, and reads that
//! stop at the end of a large frame.

use crate::support;

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::raw::{next_message, raw_client_with};
use support::{bounded, loopback, masked_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use wsmachine::handshake::Negotiated;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::{CloseCode, Config, Message, WebSocket};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_each_exchange_messages() {
    const CONNECTIONS: usize = 1000;
    const MESSAGES: usize = 5;
    bounded(async {
        let addr = support::start_echo().await;
        // Every client connects first, so that all are open at once before
        // any exchanges a message.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(CONNECTIONS));
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|id| {
                let barrier = std::sync::Arc::clone(&barrier);
                tokio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.expect("connect");
                    let config = ClientConfig::new(&format!("ws://{addr}/{id}")).expect("url");
                    let (mut ws, _) = wsmachine_tokio::client(stream, config)
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
        let (ws, _) = wsmachine_tokio::client(stream, config)
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
        let (mut ws, _) = wsmachine_tokio::client(stream, config)
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

/// A transport that counts the writes made to it.
struct CountingWrites<S> {
    inner: S,
    counts: Arc<Counts>,
}

/// What a counted transport saw: the writes, the buffers each write
/// gathered, and the bytes each read brought.
#[derive(Default)]
struct Counts {
    writes: AtomicUsize,
    slices: Mutex<Vec<usize>>,
    reads: Mutex<Vec<usize>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingWrites<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let brought = buf.filled().len() - before;
        if brought > 0 {
            self.counts.reads.lock().expect("reads").push(brought);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingWrites<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if polled.is_ready() {
            self.counts.writes.fetch_add(1, Ordering::Relaxed);
            self.counts.slices.lock().expect("slices").push(1);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if polled.is_ready() {
            self.counts.writes.fetch_add(1, Ordering::Relaxed);
            let gathered = bufs.iter().filter(|buf| !buf.is_empty()).count();
            self.counts.slices.lock().expect("slices").push(gathered);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A server socket on a pipe whose writes are counted, and the pipe's
/// client end.
fn counted_server(
    pipe: usize,
) -> (
    tokio::io::DuplexStream,
    WebSocket<CountingWrites<tokio::io::DuplexStream>>,
    Arc<Counts>,
) {
    let (client, server) = tokio::io::duplex(pipe);
    let counts = Arc::new(Counts::default());
    let server = CountingWrites {
        inner: server,
        counts: Arc::clone(&counts),
    };
    let ws =
        WebSocket::from_upgraded_server(server, &ServerConfig::default(), &Negotiated::default());
    (client, ws, counts)
}

#[tokio::test]
async fn replies_fed_for_a_burst_go_out_in_one_write() {
    bounded(async {
        const COUNT: usize = 40;
        let (mut client, mut ws, counts) = counted_server(1 << 20);
        // The whole burst is in the pipe before the server reads.
        let burst: Vec<u8> = (0..COUNT)
            .flat_map(|n| masked_frame(0x1, true, format!("message {n}").as_bytes()))
            .collect();
        client.write_all(&burst).await.expect("burst");
        for n in 0..COUNT {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), format!("message {n}")),
                other => panic!("unexpected {other:?}"),
            }
            // Queued, not written: the reply waits for the rest of the read.
            ws.feed(Message::text(format!("echo {n}")))
                .await
                .expect("feed");
        }
        assert_eq!(
            counts.writes.load(Ordering::Relaxed),
            0,
            "a reply was written before the stream waited"
        );
        let mut expected = Vec::new();
        for n in 0..COUNT {
            let payload = format!("echo {n}");
            expected.extend_from_slice(&[0x81, payload.len() as u8]);
            expected.extend_from_slice(payload.as_bytes());
        }
        // Every queued reply counts against the high-water mark.
        assert_eq!(ws.unflushed(), expected.len());
        // The stream writes the queue before it waits for more bytes.
        let waited = tokio::time::timeout(Duration::from_millis(100), ws.next()).await;
        assert!(waited.is_err(), "a message that was never sent");
        assert_eq!(counts.writes.load(Ordering::Relaxed), 1);
        // And the replies are taken from the core as one buffer, not a
        // buffer each.
        assert_eq!(*counts.slices.lock().expect("slices"), [1]);
        assert_eq!(ws.unflushed(), 0);
        let mut echoes = vec![0u8; 4096];
        let n = client.read(&mut echoes).await.expect("echoes");
        assert_eq!(echoes.get(..n), Some(&expected[..]));
    })
    .await;
}

#[tokio::test]
async fn a_large_fed_reply_is_written_before_the_next_message_is_handed_out() {
    bounded(async {
        let (mut client, mut ws, counts) = counted_server(1 << 20);
        let mut burst = masked_frame(0x2, true, b"first");
        burst.extend(masked_frame(0x2, true, b"second"));
        client.write_all(&burst).await.expect("burst");
        let first = ws.next().await;
        assert!(matches!(first, Some(Ok(Message::Binary(ref data))) if &data[..] == b"first"));
        ws.feed(Message::binary(vec![1u8; 300 * 1024]))
            .await
            .expect("feed");
        assert_eq!(counts.writes.load(Ordering::Relaxed), 0, "written by feed");
        // Waiting for the rest of the read gains a large reply nothing: it
        // goes out before the next message, which was already buffered.
        let second = ws.next().await;
        assert!(matches!(second, Some(Ok(Message::Binary(ref data))) if &data[..] == b"second"));
        assert!(
            counts.writes.load(Ordering::Relaxed) >= 1,
            "the reply still waits"
        );
        assert_eq!(ws.unflushed(), 0);
    })
    .await;
}

#[tokio::test]
async fn reads_stop_at_the_end_of_a_large_frame_and_take_the_rest_in_place() {
    bounded(async {
        const FRAMES: usize = 3;
        let (mut client, mut ws, counts) = counted_server(4 << 20);
        let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let frame = masked_frame(0x2, true, &payload);
        // All of it is in the pipe before the server reads.
        client
            .write_all(&frame.repeat(FRAMES))
            .await
            .expect("frames");
        for _ in 0..FRAMES {
            match ws.next().await {
                Some(Ok(Message::Binary(data))) => assert!(data[..] == payload[..]),
                other => panic!("unexpected {other:?}"),
            }
        }
        let reads = counts.reads.lock().expect("reads").clone();
        // A read that crossed a frame's end would leave the next frame's
        // start to be copied when the buffer grows for it.
        let mut ends = Vec::new();
        let mut total = 0;
        for read in &reads {
            total += read;
            ends.push(total);
        }
        for k in 1..=FRAMES {
            assert!(
                ends.contains(&(k * frame.len())),
                "no read ended with frame {k}: reads {reads:?}"
            );
        }
        // After the first, a frame comes in the room the buffer kept for
        // it: a first read, the one that grows the buffer, and the rest.
        let second: Vec<_> = reads
            .iter()
            .zip(&ends)
            .filter(|(_, end)| (frame.len() + 1..=2 * frame.len()).contains(*end))
            .collect();
        assert!(second.len() <= 4, "the second frame took reads {second:?}");
    })
    .await;
}
