//! Messages in pieces: `recv_streaming` (`MessageReader`) and
//! `message_writer` / `send_streaming` / `send_stream` (`MessageWriter`),
//! against the `stream_echo` example, a raw peer and python-websockets.

#[allow(dead_code)]
#[path = "../../examples/stream_echo.rs"]
mod stream_echo;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine_tokio::{CloseCode, Config, DataKind, Error, Message, WebSocket};

use crate::support::raw::{read_head, server_frames};
use crate::support::{
    binary_of_len, bounded, loopback, masked_frame, text_of_len, upgrade_request,
};
use crate::system;

/// `stream_echo`'s server on a loopback port.
async fn start_stream_echo() -> SocketAddr {
    let (listener, addr) = loopback().await;
    let options = stream_echo::parse_args([]).expect("defaults");
    assert_eq!(options.addr, "127.0.0.1:9006");
    let config = Arc::new(stream_echo::server_config(&options));
    tokio::spawn(stream_echo::serve(listener, config, false, None));
    addr
}

/// A client of `stream_echo` whose pieces are `piece` bytes at most.
async fn client(
    addr: SocketAddr,
    piece: usize,
    deflate: bool,
) -> WebSocket<wsmachine_tokio::MaybeTlsStream<TcpStream>> {
    let mut config = Config::default()
        .max_message_size(u64::MAX)
        .piece_size(Some(piece));
    if deflate {
        config.deflate = Some(DeflateConfig::default());
    }
    let (ws, accepted) = wsmachine_tokio::connect_with_config(format!("ws://{addr}/"), config)
        .await
        .expect("connect");
    assert_eq!(
        accepted
            .extensions
            .iter()
            .any(|e| e.starts_with("permessage-deflate")),
        deflate
    );
    ws
}

/// `payload` in chunks of `size` bytes (splitting characters of a text).
fn chunks(payload: &[u8], size: usize) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> {
    let chunks: Vec<_> = payload
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks)
}

/// Sends each message with `send_stream` in chunks of 5 bytes while reading
/// its echo piece by piece; checks the kind, the payload, and that every
/// text piece is UTF-8.
async fn round_trips(deflate: bool) {
    let addr = start_stream_echo().await;
    // Pieces of 7 bytes at most: the characters of 2 and 3 bytes are split
    // across the frames' pieces on the wire.
    let ws = client(addr, 7, deflate).await;
    let (mut tx, mut rx) = ws.split();
    let messages: Vec<(DataKind, Vec<u8>)> = vec![
        (DataKind::Text, text_of_len(100_000, 1).into_bytes()),
        (DataKind::Binary, binary_of_len(300_000, 2)),
        (DataKind::Text, Vec::new()),
        (DataKind::Binary, Vec::new()),
        (DataKind::Text, "€".repeat(5).into_bytes()),
    ];
    for (kind, payload) in &messages {
        let send = tx.send_stream(*kind, chunks(payload, 5));
        let receive = async {
            let mut reader = rx.recv_streaming().await.expect("a message").expect("ok");
            assert_eq!(reader.kind(), *kind);
            let mut echoed = Vec::new();
            let mut pieces = 0;
            while let Some(piece) = reader.next().await {
                let piece = piece.expect("a piece");
                assert!(piece.len() <= 7, "a piece of {}", piece.len());
                if *kind == DataKind::Text {
                    std::str::from_utf8(&piece).expect("a text piece is UTF-8");
                }
                echoed.extend_from_slice(&piece);
                pieces += 1;
            }
            assert!(reader.is_complete());
            (echoed, pieces)
        };
        let (sent, (echoed, pieces)) = tokio::join!(send, receive);
        assert_eq!(sent.expect("sent"), payload.len() as u64);
        assert_eq!(&echoed, payload);
        assert!(pieces >= payload.len() / 7);
    }

    // From an AsyncRead, and read back as an AsyncRead.
    let payload = binary_of_len(200_000, 3);
    let send = tx.send_streaming(DataKind::Binary, &payload[..]);
    let receive = async {
        let mut reader = rx.recv_streaming().await.expect("a message").expect("ok");
        let mut echoed = Vec::new();
        reader.read_to_end(&mut echoed).await.expect("read");
        echoed
    };
    let (sent, echoed) = tokio::join!(send, receive);
    assert_eq!(sent.expect("sent"), payload.len() as u64);
    assert_eq!(echoed, payload);

    // A `MessageWriter` by hand (AsyncWrite), then whole messages on the
    // same socket.
    let mut writer = tx.message_writer(DataKind::Text);
    writer.write_all("h€".as_bytes()).await.expect("write");
    writer.write_all("llo".as_bytes()).await.expect("write");
    writer.shutdown().await.expect("end");
    let reader = rx.recv_streaming().await.expect("a message").expect("ok");
    assert_eq!(
        reader.collect_bytes().await.expect("read"),
        "h€llo".as_bytes()
    );
    tx.send(Message::text("whole")).await.expect("send");
    assert_eq!(
        rx.next().await.expect("a message").expect("ok"),
        Message::text("whole")
    );

    let mut ws = rx.reunite(tx).expect("halves");
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    assert!(ws.recv_streaming().await.is_none());
    assert_eq!(
        ws.peer_close().cloned().flatten().map(|f| f.code),
        Some(CloseCode::NORMAL)
    );
}

#[tokio::test]
async fn streaming_round_trips() {
    bounded(round_trips(false)).await;
}

#[tokio::test]
async fn streaming_round_trips_with_deflate() {
    bounded(round_trips(true)).await;
}

/// A text that turns out not to be UTF-8 in its second frame: the reader
/// has had the first piece, then gets the error; the peer gets a 1007.
#[tokio::test]
async fn invalid_utf8_mid_message_fails_the_reader_with_1007() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let server = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let config = Config::default().piece_size(Some(16));
            wsmachine_tokio::accept_with_config(stream, config)
                .await
                .expect("handshake")
        };
        let raw = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(upgrade_request("/").as_bytes())
                .await
                .expect("request");
            assert!(read_head(&mut stream).await.starts_with(b"HTTP/1.1 101"));
            stream
        };
        let (mut ws, mut raw) = tokio::join!(server, raw);
        raw.write_all(&masked_frame(0x1, false, "héllo".as_bytes()))
            .await
            .expect("first frame");
        let mut reader = ws.recv_streaming().await.expect("a message").expect("ok");
        assert_eq!(reader.kind(), DataKind::Text);
        let first = reader.next().await.expect("a piece").expect("valid");
        assert_eq!(&first[..], "héllo".as_bytes());
        raw.write_all(&masked_frame(0x0, true, b"ok \xff"))
            .await
            .expect("second frame");
        // The valid start of the frame may come first.
        let error = loop {
            match reader.next().await.expect("an item") {
                Ok(piece) => assert_eq!(&piece[..], b"ok "),
                Err(error) => break error,
            }
        };
        assert!(
            matches!(
                error,
                Error::Protocol(wsmachine::error::ProtocolError::InvalidUtf8 { .. })
            ),
            "{error:?}"
        );
        assert!(reader.next().await.is_none());
        drop(reader);
        // The Close went out before the error, and the transport was shut.
        let frames = server_frames(&mut raw).await;
        let close = frames.last().expect("a frame");
        assert_eq!(close.0, 0x8);
        assert_eq!(u16::from_be_bytes([close.1[0], close.1[1]]), 1007);
        assert!(ws.recv_streaming().await.is_none());
    })
    .await;
}

/// A reader that is not polled stops the reads: the peer's send of a large
/// message does not complete until the reader goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_reader_stops_the_peer() {
    bounded(async {
        const TOTAL: usize = 32 << 20;
        let (listener, addr) = loopback().await;
        let server = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let config = Config::default()
                .max_message_size(u64::MAX)
                .piece_size(Some(16 * 1024));
            wsmachine_tokio::accept_with_config(stream, config)
                .await
                .expect("handshake")
        };
        let client = async {
            let (ws, _) = wsmachine_tokio::connect(format!("ws://{addr}/"))
                .await
                .expect("connect");
            ws
        };
        let (mut ws, mut client) = tokio::join!(server, client);
        let sender = tokio::spawn(async move {
            let chunk = Bytes::from(binary_of_len(1 << 20, 5));
            let chunks = stream::iter((0..TOTAL >> 20).map(move |_| Ok(chunk.clone())));
            let sent = client.send_stream(DataKind::Binary, chunks).await;
            (sent, client)
        });
        let mut reader = ws.recv_streaming().await.expect("a message").expect("ok");
        let mut received = reader.next().await.expect("a piece").expect("ok").len();
        // Paused: the sender fills the buffers, then waits.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(
            !sender.is_finished(),
            "the peer sent {TOTAL} bytes while the reader was paused"
        );
        while let Some(piece) = reader.next().await {
            let piece = piece.expect("ok");
            assert!(piece.len() <= 16 * 1024);
            received += piece.len();
        }
        assert_eq!(received, TOTAL);
        let (sent, mut client) = sender.await.expect("the sender");
        assert_eq!(sent.expect("sent"), TOTAL as u64);
        // The connection goes on.
        client.send(Message::text("after")).await.expect("send");
        assert_eq!(
            ws.next().await.expect("a message").expect("ok"),
            Message::text("after")
        );
    })
    .await;
}

/// The example, as its client runs it: a file sent as one message and its
/// echo saved, both streamed; with and without deflate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_echo_example_streams_a_file() {
    bounded(async {
        let addr = start_stream_echo().await;
        let dir = std::env::temp_dir().join(format!("stream_echo_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let input = dir.join("in.bin");
        let output = dir.join("out.bin");
        let payload = binary_of_len(3 << 20, 9);
        std::fs::write(&input, &payload).expect("write");
        for deflate in [false, true] {
            let mut args = vec![
                "--client".to_string(),
                addr.to_string(),
                "--stream-file".into(),
                input.display().to_string(),
                "--save".into(),
                output.display().to_string(),
                "--fragment".into(),
                "100000".into(),
            ];
            if deflate {
                args.push("--deflate".into());
            }
            let options = stream_echo::parse_args(args).expect("options");
            let report = stream_echo::run_client(&options).await.expect("client");
            assert_eq!(report.sent, payload.len() as u64);
            assert_eq!(report.received, payload.len() as u64);
            assert_eq!(report.deflate, deflate);
            assert!(report.to_string().contains("throughput="));
            assert!(std::fs::read(&output).expect("read") == payload);
        }
        // Far more than the buffers between the two: the client's task
        // sends and reads at once, and must go on reading while its send
        // waits on the high-water mark, or both sides wait on each other.
        let options = stream_echo::parse_args(
            [
                "--client",
                &addr.to_string(),
                "--bytes",
                "33554432",
                "--fragment",
                "4096",
            ]
            .map(String::from),
        )
        .expect("options");
        let report = stream_echo::run_client(&options).await.expect("client");
        assert_eq!(report.received, 32 << 20);
        // Generated bytes, as whole messages (the path to compare with).
        let options = stream_echo::parse_args(
            [
                "--client",
                &addr.to_string(),
                "--bytes",
                "3000000",
                "--messages-of",
                "65536",
            ]
            .map(String::from),
        )
        .expect("options");
        let report = stream_echo::run_client(&options).await.expect("client");
        assert_eq!(report.received, 3_000_000);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/stream_interop")
        .join(name)
}

/// python-websockets against `stream_echo`: it sends messages as
/// fragments (iterables) and reads the echoes with `recv_streaming`, with
/// and without permessage-deflate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_streams_through_stream_echo() {
    let python = tokio::task::spawn_blocking(|| {
        system::interop_python("the streaming interop test runs python-websockets")
    })
    .await
    .expect("venv");
    bounded(async {
        let addr = start_stream_echo().await;
        let output = tokio::process::Command::new(python)
            .arg(script("stream_client.py"))
            .arg(format!("ws://{addr}/"))
            .kill_on_drop(true)
            .output()
            .await
            .expect("run stream_client.py");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("{stdout}{stderr}");
        assert!(
            output.status.success(),
            "stream_client.py failed: {stdout}{stderr}"
        );
        assert!(
            stdout.contains("stream client: 10 passed, 0 failed"),
            "{stdout}"
        );
    })
    .await;
}

/// A reader dropped before its message's end: the rest of the message is
/// dropped, by `recv_streaming` and by the message stream alike; pings in
/// the middle are answered.
#[tokio::test]
async fn a_dropped_reader_drops_the_rest_of_its_message() {
    bounded(async {
        let (listener, addr) = loopback().await;
        let server = async {
            let (stream, _) = listener.accept().await.expect("accept");
            let config = Config::default().piece_size(Some(4));
            wsmachine_tokio::accept_with_config(stream, config)
                .await
                .expect("handshake")
        };
        let raw = async {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            stream
                .write_all(upgrade_request("/").as_bytes())
                .await
                .expect("request");
            assert!(read_head(&mut stream).await.starts_with(b"HTTP/1.1 101"));
            stream
        };
        let (mut ws, mut raw) = tokio::join!(server, raw);
        let mut bytes = Vec::new();
        for _ in 0..2 {
            bytes.extend(masked_frame(0x1, false, b"abcdefgh"));
            bytes.extend(masked_frame(0x9, true, b"mid"));
            bytes.extend(masked_frame(0x0, true, b"ijkl"));
            bytes.extend(masked_frame(0x2, true, b"next"));
        }
        bytes.extend(masked_frame(0x8, true, &1000u16.to_be_bytes()));
        raw.write_all(&bytes).await.expect("frames");

        let mut reader = ws.recv_streaming().await.expect("a message").expect("ok");
        assert_eq!(
            &reader.next().await.expect("a piece").expect("ok")[..],
            b"abcd"
        );
        drop(reader);
        let reader = ws.recv_streaming().await.expect("a message").expect("ok");
        assert_eq!(reader.kind(), DataKind::Binary);
        assert_eq!(reader.collect_bytes().await.expect("read"), b"next");

        let mut reader = ws.recv_streaming().await.expect("a message").expect("ok");
        assert_eq!(
            &reader.next().await.expect("a piece").expect("ok")[..],
            b"abcd"
        );
        drop(reader);
        // The message stream skips the rest too (the ping is its own).
        assert_eq!(
            ws.next().await.expect("a message").expect("ok"),
            Message::Ping(Bytes::from_static(b"mid"))
        );
        assert_eq!(
            ws.next().await.expect("a message").expect("ok"),
            Message::binary(b"next".to_vec())
        );
        assert!(matches!(ws.next().await, Some(Ok(Message::Close(Some(_))))));
        assert!(ws.next().await.is_none());
        // Both pings were answered, and the Close.
        let frames = server_frames(&mut raw).await;
        let opcodes: Vec<u8> = frames.iter().map(|f| f.0).collect();
        assert_eq!(opcodes, [0xA, 0xA, 0x8]);
    })
    .await;
}

#[tokio::test]
async fn a_sized_message_goes_out_as_one_frame() {
    let (mut raw, mut ws) = crate::support::raw::raw_tcp_pair().await;
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let sent = bounded(ws.send_stream_sized(
        DataKind::Binary,
        payload.len() as u64,
        chunks(&payload, 4099),
    ))
    .await
    .expect("sent");
    assert_eq!(sent, payload.len() as u64);
    // Text split between writes, a character across them.
    let text = "h€llo wörld".as_bytes();
    let mut writer = ws.message_writer_sized(DataKind::Text, text.len() as u64);
    for piece in text.chunks(2) {
        bounded(writer.send(piece)).await.expect("a piece");
    }
    bounded(writer.finish()).await.expect("finished");
    // A writer that ends short of its length is refused.
    let mut short = ws.message_writer_sized(DataKind::Binary, 10);
    bounded(short.send(b"12345")).await.expect("a piece");
    assert!(matches!(
        bounded(short.finish()).await,
        Err(Error::Send(wsmachine::SendError::FrameInProgress))
    ));
    drop(ws);
    let frames = bounded(server_frames(&mut raw)).await;
    assert_eq!(frames[0], (0x2, payload));
    assert_eq!(frames[1], (0x1, text.to_vec()));
}
