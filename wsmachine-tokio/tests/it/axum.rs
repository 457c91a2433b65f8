//! The axum extractor under `axum::serve`, as axum's own is used: HTTP/2
//! extended CONNECT (RFC 8441) from the h2 crate's client, the core's head
//! limits on what hyper parsed, `on_failed_upgrade`, the offered
//! subprotocols, the same permessage-deflate answer as `accept`, and the
//! `msg?` echo loop ending on a peer's violation.

#![cfg(feature = "axum")]

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use bytes::Bytes;
use h2::client::SendRequest;
use support::h2_client::{H2Stream, h2_connection, send_connect};
use support::raw::{read_head, server_frames};
use support::{binary_of_len, bounded, loopback, masked_frame, text_of_len, upgrade_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::h2 as extended_connect;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::axum::{AxumWebSocket, WebSocketUpgrade};
use wsmachine_tokio::{CloseCode, Config, Error, Message, WebSocket};

/// Serves `router` with `axum::serve` (HTTP/1.1 and h2c) on a loopback
/// port.
async fn serve(router: Router) -> SocketAddr {
    let (listener, addr) = loopback().await;
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// The echo users write: a message or the error that ends the loop.
async fn echo(mut ws: AxumWebSocket) -> Result<(), Error> {
    while let Some(msg) = ws.recv().await {
        let msg = msg?;
        ws.send(msg).await?;
    }
    Ok(())
}

/// `/ws` echoes with permessage-deflate accepted, and reports how each
/// socket ended.
async fn start_echo() -> (SocketAddr, mpsc::UnboundedReceiver<Result<(), Error>>) {
    let (ended, endings) = mpsc::unbounded_channel();
    let handler = move |upgrade: WebSocketUpgrade| {
        let ended = ended.clone();
        async move {
            upgrade
                .config(Config::default().deflate(true))
                .protocols(["chat"])
                .on_upgrade(move |ws| async move {
                    // The socket is dropped as soon as the loop ends.
                    let _ = ended.send(echo(ws).await);
                })
        }
    };
    let addr = serve(Router::new().route("/ws", any(handler))).await;
    (addr, endings)
}

/// Sends a raw request and reads the response head and what follows, up
/// to the end of the connection.
async fn raw_response(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response);
        // A 101 ends at its head; error bodies are one line of text.
        let whole = text
            .split_once("\r\n\r\n")
            .is_some_and(|(head, body)| head.starts_with("HTTP/1.1 101") || body.ends_with('\n'));
        if n == 0 || whole {
            return text.into_owned();
        }
    }
}

/// An upgrade request with extra header lines, as a raw client sends it.
fn request_with(target: &str, extra: &str) -> Vec<u8> {
    let request = upgrade_request(target);
    let head = request.strip_suffix("\r\n").expect("a head");
    format!("{head}{extra}\r\n").into_bytes()
}

fn h2_config(addr: SocketAddr) -> ClientConfig {
    ClientConfig::new(&format!("ws://{addr}/ws")).expect("url")
}

/// A WebSocket over one extended CONNECT stream to `config`'s URL.
async fn open_h2(
    send_request: &SendRequest<Bytes>,
    config: &ClientConfig,
) -> (WebSocket<H2Stream>, http::Response<()>) {
    let request = extended_connect::build_request(config).expect("request");
    let (response, send) =
        send_connect(send_request, request, Some(extended_connect::PROTOCOL)).await;
    assert_eq!(response.status(), http::StatusCode::OK);
    let negotiated = extended_connect::check_response(&response, config).expect("accepted");
    let (parts, body) = response.into_parts();
    let socket = WebSocket::from_upgraded_client(H2Stream::new(send, body), config, &negotiated);
    (socket, http::Response::from_parts(parts, ()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_extended_connect_echoes_with_deflate() {
    bounded(async {
        let (addr, mut endings) = start_echo().await;
        let send_request = h2_connection(addr).await;
        let config = h2_config(addr)
            .with_deflate(DeflateConfig::default())
            .with_protocol("chat");
        let (mut ws, response) = open_h2(&send_request, &config).await;
        // RFC 8441 §5: no Sec-WebSocket-Accept, no Upgrade.
        assert!(response.headers().get("sec-websocket-accept").is_none());
        assert!(response.headers().get("upgrade").is_none());
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        let extensions = response.headers()["sec-websocket-extensions"]
            .to_str()
            .expect("text");
        assert!(extensions.starts_with("permessage-deflate"), "{extensions}");
        // Every frame-length encoding, and several DATA frames and windows.
        for (seed, size) in [0, 125, 126, 65_536, 300_000].into_iter().enumerate() {
            let text = Message::text(text_of_len(size, seed));
            ws.send(text.clone()).await.expect("send text");
            assert_eq!(ws.recv().await.expect("an echo").expect("text"), text);
            let binary = Message::binary(binary_of_len(size, seed));
            ws.send(binary.clone()).await.expect("send binary");
            assert_eq!(ws.recv().await.expect("an echo").expect("binary"), binary);
        }
        // A second socket on the same connection, without deflate.
        let (mut plain, response) = open_h2(&send_request, &h2_config(addr)).await;
        assert!(response.headers().get("sec-websocket-extensions").is_none());
        plain.send(Message::text("two")).await.expect("send");
        assert_eq!(
            plain.recv().await.expect("echo").expect("text"),
            Message::text("two")
        );
        ws.close(CloseCode::NORMAL, "done").await.expect("close");
        let answer = ws.recv().await.expect("the answer").expect("a Close");
        assert!(
            matches!(answer, Message::Close(Some(ref frame)) if frame.code == CloseCode::NORMAL),
            "{answer:?}"
        );
        assert!(ws.recv().await.is_none(), "the stream ends after the Close");
        assert!(endings.recv().await.expect("an ending").is_ok());
    })
    .await;
}

/// The status (and one field) the extractor answers an HTTP/2 request.
async fn h2_status(
    send_request: &SendRequest<Bytes>,
    request: http::Request<()>,
    protocol: Option<&str>,
) -> http::Response<()> {
    let (response, _send) = send_connect(send_request, request, protocol).await;
    response.map(|_| ())
}

/// The first byte of the response's header block for one HTTP/2 request
/// written by hand (the h2 crate's client insists on an `:authority`):
/// h2c with prior knowledge, fields as HPACK literals without Huffman.
async fn raw_h2_header_block(addr: SocketAddr, fields: &[(&str, &str)]) -> u8 {
    let mut block = Vec::new();
    for (name, value) in fields {
        // Literal field without indexing, new name; lengths under 127.
        block.push(0x00);
        block.push(u8::try_from(name.len()).expect("short"));
        block.extend_from_slice(name.as_bytes());
        block.push(u8::try_from(value.len()).expect("short"));
        block.extend_from_slice(value.as_bytes());
    }
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let mut frame = u32::try_from(payload.len()).expect("small").to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags]);
        frame.extend(stream.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    };
    let mut wire = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    wire.extend(frame(0x4, 0, 0, &[])); // SETTINGS
    wire.extend(frame(0x1, 0x4, 1, &block)); // HEADERS, END_HEADERS
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&wire).await.expect("write");
    loop {
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).await.expect("a frame");
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.expect("a payload");
        let stream_id = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        match (header[3], stream_id) {
            (0x1, 1) => {
                // PADDED and PRIORITY come before the block.
                let mut block = &payload[..];
                if header[4] & 0x8 != 0 {
                    block = &block[1..];
                }
                if header[4] & 0x20 != 0 {
                    block = &block[5..];
                }
                return block[0];
            }
            (0x3, 1) => panic!("stream reset: {payload:?}"),
            (0x7, _) => panic!("GOAWAY: {payload:?}"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http2_requests_get_the_cores_statuses() {
    bounded(async {
        let (addr, _endings) = start_echo().await;
        let send_request = h2_connection(addr).await;
        let good = || extended_connect::build_request(&h2_config(addr)).expect("request");
        let websocket = Some(extended_connect::PROTOCOL);

        // RFC 9220 §3, taken for HTTP/2 too: an unknown :protocol is 501.
        let response = h2_status(&send_request, good(), Some("chat")).await;
        assert_eq!(response.status(), 501);

        // RFC 6455 §4.4 without HTTP/2's forbidden Upgrade: 400 naming 13.
        let mut request = good();
        request
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().expect("value"));
        let response = h2_status(&send_request, request, websocket).await;
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(response.headers().get("upgrade").is_none());

        // RFC 8441 §4: :authority names the target; the h2 crate's server
        // takes a request without it, the core's rules answer 400.
        let first = raw_h2_header_block(
            addr,
            &[
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", "/ws"),
                ("sec-websocket-version", "13"),
            ],
        )
        .await;
        // HPACK's static table entry 12 is `:status: 400`.
        assert_eq!(first, 0x80 | 12, "the response's :status");

        // A GET over HTTP/2 is not a WebSocket: 405, allowing CONNECT.
        let mut request = good();
        *request.method_mut() = http::Method::GET;
        let response = h2_status(&send_request, request, None).await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "CONNECT");

        // A header line over the core's 8 KiB but within hyper's HTTP/2
        // header list: the core's 431.
        let mut request = good();
        let cookie = "c".repeat(9000);
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("value"));
        let response = h2_status(&send_request, request, websocket).await;
        assert_eq!(response.status(), 431);

        // An extension offer the server cannot honour is declined, not
        // refused, as accept() declines it: 200 without the extension.
        let mut request = good();
        request.headers_mut().insert(
            "sec-websocket-extensions",
            "permessage-deflate; server_max_window_bits=99"
                .parse()
                .expect("value"),
        );
        let response = h2_status(&send_request, request, websocket).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("sec-websocket-extensions").is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_heads_over_the_cores_limits_get_its_statuses() {
    bounded(async {
        let (addr, _endings) = start_echo().await;
        // Within the limits: upgraded.
        let response = raw_response(addr, &request_with("/ws", "X-Fits: ok\r\n")).await;
        assert!(response.starts_with("HTTP/1.1 101"), "{response}");

        // One 64 KiB header line, which hyper takes: the core's 431.
        let line = format!("Cookie: {}\r\n", "c".repeat(64 * 1024));
        let response = raw_response(addr, &request_with("/ws", &line)).await;
        assert!(response.starts_with("HTTP/1.1 431"), "{response}");
        assert!(
            response.contains("header line longer than 8192 bytes"),
            "{response}"
        );

        // Short lines, but a head over 32 KiB: 431.
        let lines: String = (0..5)
            .map(|i| format!("X-Big-{i}: {}\r\n", "b".repeat(7000)))
            .collect();
        let response = raw_response(addr, &request_with("/ws", &lines)).await;
        assert!(response.starts_with("HTTP/1.1 431"), "{response}");
        assert!(response.contains("head longer than 32768"), "{response}");

        // A request line over 8 KiB: 414.
        let target = format!("/ws?{}", "q".repeat(9000));
        let response = raw_response(addr, upgrade_request(&target).as_bytes()).await;
        assert!(response.starts_with("HTTP/1.1 414"), "{response}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_config_head_limits_apply_in_on_upgrade() {
    bounded(async {
        let handler = |upgrade: WebSocketUpgrade| async move {
            let mut config = ServerConfig::default();
            config.head_limits.max_line_len = 100;
            upgrade
                .server_config(config)
                .on_upgrade(|ws| async move { drop(ws) })
        };
        let addr = serve(Router::new().route("/ws", any(handler))).await;
        let line = format!("X-Long: {}\r\n", "x".repeat(200));
        let response = raw_response(addr, &request_with("/ws", &line)).await;
        assert!(response.starts_with("HTTP/1.1 431"), "{response}");
        assert!(
            response.contains("header line longer than 100 bytes"),
            "{response}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failed_upgrade_runs_when_the_client_goes_before_the_101() {
    bounded(async {
        let (armed, mut arming) = mpsc::unbounded_channel();
        let (failed, mut failures) = mpsc::unbounded_channel();
        let gone = Arc::new(Notify::new());
        let client_gone = Arc::clone(&gone);
        let handler = move |upgrade: WebSocketUpgrade| {
            let (armed, failed, gone) = (armed.clone(), failed.clone(), Arc::clone(&gone));
            async move {
                let response = upgrade
                    .on_failed_upgrade(move |error: axum::Error| {
                        let _ = failed.send(error.to_string());
                    })
                    .on_upgrade(|_ws| async { panic!("no socket after a failed upgrade") });
                // The 101 is returned only once the client has reset the
                // connection, so hyper cannot write it and hand over.
                let _ = armed.send(());
                gone.notified().await;
                response
            }
        };
        let addr = serve(Router::new().route("/ws", any(handler))).await;
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut stream = stream;
        stream
            .write_all(upgrade_request("/ws").as_bytes())
            .await
            .expect("request");
        arming.recv().await.expect("the handler ran");
        // SO_LINGER 0: the close is a reset, so writing the 101 fails.
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .expect("linger");
        drop(stream);
        client_gone.notify_one();
        let error = failures.recv().await.expect("the callback ran");
        assert!(!error.is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requested_protocols_path_and_version_are_the_requests() {
    bounded(async {
        let handler = |upgrade: WebSocketUpgrade| async move {
            let offered = upgrade.requested_protocols().join("|");
            let path = upgrade.path().to_owned();
            let h2 = upgrade.is_extended_connect().to_string();
            let upgrade = upgrade.protocols(["mqtt", "b", "a"]);
            assert_eq!(upgrade.selected_protocol(), Some("b"));
            upgrade
                .header("x-offered", offered)
                .header("x-path", path)
                .header("x-h2", h2)
                .on_upgrade(|ws| async move { drop(ws) })
        };
        let addr = serve(Router::new().route("/ws", any(handler))).await;
        let request = request_with(
            "/ws?room=1",
            "Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n",
        );
        let response = raw_response(addr, &request).await.to_ascii_lowercase();
        assert!(response.starts_with("http/1.1 101"), "{response}");
        assert!(response.contains("x-offered: a|b|c\r\n"), "{response}");
        assert!(response.contains("x-path: /ws?room=1\r\n"), "{response}");
        assert!(response.contains("x-h2: false\r\n"), "{response}");
        assert!(
            response.contains("sec-websocket-protocol: b\r\n"),
            "{response}"
        );

        // The same over HTTP/2.
        let send_request = h2_connection(addr).await;
        let config = ClientConfig::new(&format!("ws://{addr}/ws?room=2"))
            .expect("url")
            .with_protocol("a")
            .with_protocol("b");
        let (_ws, response) = open_h2(&send_request, &config).await;
        assert_eq!(response.headers()["x-offered"], "a|b");
        assert_eq!(response.headers()["x-path"], "/ws?room=2");
        assert_eq!(response.headers()["x-h2"], "true");
        assert_eq!(response.headers()["sec-websocket-protocol"], "b");
    })
    .await;
}

/// The `Sec-WebSocket-Extensions` answer to `offer`: from `accept_with_config`
/// on a plain listener, and from the extractor given the same `Config` with
/// `config` and inside a `ServerConfig`.
async fn extension_answers(config: Config, offer: &str) -> [Option<String>; 3] {
    let (listener, plain) = loopback().await;
    let accepted = config.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let config = accepted.clone();
            tokio::spawn(async move {
                let _ = wsmachine_tokio::accept_with_config(stream, config).await;
            });
        }
    });
    let settings = config.clone();
    let with_config = move |upgrade: WebSocketUpgrade| {
        let config = settings.clone();
        async move {
            upgrade
                .config(config)
                .on_upgrade(|ws| async move { drop(ws) })
        }
    };
    let with_server_config = move |upgrade: WebSocketUpgrade| {
        let mut server = ServerConfig::default();
        server.config = config.clone();
        async move {
            upgrade
                .server_config(server)
                .on_upgrade(|ws| async move { drop(ws) })
        }
    };
    let extractor = serve(
        Router::new()
            .route("/config", any(with_config))
            .route("/server", any(with_server_config)),
    )
    .await;
    let line = format!("Sec-WebSocket-Extensions: {offer}\r\n");
    let mut answers = Vec::new();
    for (addr, target) in [(plain, "/"), (extractor, "/config"), (extractor, "/server")] {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(&request_with(target, &line))
            .await
            .expect("request");
        let head = String::from_utf8(read_head(&mut stream).await).expect("text");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        answers.push(head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| value.trim().to_owned())
        }));
    }
    answers.try_into().expect("three answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extractor_negotiates_deflate_as_accept_does() {
    bounded(async {
        let offer = "permessage-deflate; client_max_window_bits, permessage-deflate";
        let [accepted, config, server] = extension_answers(Config::default(), offer).await;
        assert_eq!(accepted, None, "off by default");
        assert_eq!((&config, &server), (&accepted, &accepted));

        let on = Config::default().deflate(true);
        let [accepted, config, server] = extension_answers(on, offer).await;
        assert!(
            accepted
                .as_deref()
                .is_some_and(|answer| answer.starts_with("permessage-deflate"))
        );
        assert_eq!((&config, &server), (&accepted, &accepted));

        let mut deflate = DeflateConfig::default();
        deflate.server_no_context_takeover = true;
        let tuned = Config::default().deflate_with(deflate);
        let [accepted, config, server] = extension_answers(tuned, offer).await;
        assert!(
            accepted
                .as_deref()
                .is_some_and(|answer| answer.contains("server_no_context_takeover"))
        );
        assert_eq!((&config, &server), (&accepted, &accepted));

        // An offer no server may accept is declined by both, not refused.
        let bad = "permessage-deflate; server_max_window_bits=99";
        let [accepted, config, server] =
            extension_answers(Config::default().deflate(true), bad).await;
        assert_eq!(accepted, None);
        assert_eq!((&config, &server), (&accepted, &accepted));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserved_opcode_ends_the_msg_loop_after_the_echo_and_a_1002() {
    bounded(async {
        let (addr, mut endings) = start_echo().await;
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(upgrade_request("/ws").as_bytes())
            .await
            .expect("request");
        let head = read_head(&mut stream).await;
        assert!(head.starts_with(b"HTTP/1.1 101"));
        // A text, then a frame with reserved opcode 0x3, in one write.
        let mut bytes = masked_frame(0x1, true, b"hello");
        bytes.extend(masked_frame(0x3, true, b"?"));
        stream.write_all(&bytes).await.expect("frames");
        // The echo, then the Close with 1002, then the end of the
        // connection: the socket was dropped right after the error.
        let frames = server_frames(&mut stream).await;
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0], (0x1, b"hello".to_vec()));
        assert_eq!(frames[1].0, 0x8);
        assert_eq!(frames[1].1[..2], 1002u16.to_be_bytes());
        let ending = endings.recv().await.expect("an ending");
        assert!(matches!(ending, Err(Error::Protocol(_))), "{ending:?}");
    })
    .await;
}
