//! The hostile peers of the hostile mode (`hostile.rs`): a deflate bomb,
//! connections that send their upgrade request a byte at a time, and
//! connections that send and never read. Each returns what it saw; the
//! server's memory and CPU are read by the caller.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::load::{ACCEPT, KEY, MASK};

/// A frame header: `first` (FIN, RSV and opcode bits), the payload length,
/// masked with [`MASK`].
fn masked_header(first: u8, len: u64) -> Vec<u8> {
    let mut header = vec![first];
    match len {
        0..=125 => header.push(0x80 | len as u8),
        126..=0xffff => {
            header.push(0x80 | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(0x80 | 127);
            header.extend_from_slice(&len.to_be_bytes());
        }
    }
    header.extend_from_slice(&MASK);
    header
}

/// Masks `payload` in place with [`MASK`], from its first byte.
fn mask(payload: &mut [u8]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= MASK[i % 4];
    }
}

/// `inflated` zero bytes as one permessage-deflate message body: raw
/// deflate, sync-flushed, without the final `00 00 ff ff` (RFC 7692
/// 7.2.1). Zeros compress about 1000 to 1, so 1 GiB is about 1 MiB.
pub fn deflate_bomb(inflated: u64) -> Result<Vec<u8>, String> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity((inflated / 900) as usize + 1024);
    let mut left = inflated;
    while left > 0 {
        let chunk = zeros
            .get(..left.min(zeros.len() as u64) as usize)
            .unwrap_or_default();
        let before = compress.total_in();
        // `compress_vec` writes into the spare capacity only.
        out.reserve(chunk.len() / 500 + 64);
        compress
            .compress_vec(chunk, &mut out, flate2::FlushCompress::None)
            .map_err(|e| format!("deflate: {e}"))?;
        left -= compress.total_in() - before;
    }
    loop {
        out.reserve(4096);
        let before = out.len();
        compress
            .compress_vec(&[], &mut out, flate2::FlushCompress::Sync)
            .map_err(|e| format!("deflate: {e}"))?;
        if out.len() == before || out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    } else {
        return Err("the sync flush did not end in 00 00 ff ff".into());
    }
    Ok(out)
}

/// Opens a connection that offers permessage-deflate; fails unless the
/// server accepts it (a bomb the server may not inflate proves nothing).
pub async fn open_deflate(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send upgrade: {e}"))?;
    let (head, rest) = crate::load::read_head(&mut stream).await?;
    if !head.starts_with("HTTP/1.1 101") || !head.contains(ACCEPT) {
        return Err(format!(
            "not upgraded: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let lower = head.to_ascii_lowercase();
    if !lower.contains("sec-websocket-extensions: permessage-deflate") {
        return Err("permessage-deflate not accepted".into());
    }
    if !rest.is_empty() {
        return Err("bytes after the 101".into());
    }
    Ok(stream)
}

/// Reads one frame's header and payload (up to `keep` bytes of it kept).
/// Returns (first byte, payload length, the kept payload).
async fn read_frame(stream: &mut TcpStream, keep: usize) -> std::io::Result<(u8, u64, Vec<u8>)> {
    let mut two = [0u8; 2];
    stream.read_exact(&mut two).await?;
    let len = match two[1] & 0x7f {
        126 => u64::from(stream.read_u16().await?),
        127 => stream.read_u64().await?,
        n => u64::from(n),
    };
    if two[1] & 0x80 != 0 {
        let mut key = [0u8; 4];
        stream.read_exact(&mut key).await?;
    }
    let mut kept = Vec::new();
    let mut left = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = left.min(chunk.len() as u64) as usize;
        let n = stream
            .read(chunk.get_mut(..want).unwrap_or_default())
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let room = keep.saturating_sub(kept.len()).min(n);
        kept.extend_from_slice(chunk.get(..room).unwrap_or_default());
        left -= n as u64;
    }
    Ok((two[0], len, kept))
}

/// A deflate-compressed text message of a few bytes, and its echo read
/// back: the server's inflater and deflater exist after it, so they are in
/// the baseline and not in the bomb's figure.
pub async fn deflate_warm_up(stream: &mut TcpStream) -> Result<(), String> {
    let mut compress = flate2::Compress::new(flate2::Compression::default(), false);
    let mut body = Vec::with_capacity(256);
    compress
        .compress_vec(
            b"hello, hello, hello, hello",
            &mut body,
            flate2::FlushCompress::Sync,
        )
        .map_err(|e| format!("deflate: {e}"))?;
    body.truncate(body.len().saturating_sub(4));
    let mut frame = masked_header(0x80 | 0x40 | 0x1, body.len() as u64);
    mask(&mut body);
    frame.extend_from_slice(&body);
    stream
        .write_all(&frame)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (first, _, _) = tokio::time::timeout(Duration::from_secs(5), read_frame(stream, 0))
        .await
        .map_err(|_| "no echo of the warm-up message within 5 s".to_string())?
        .map_err(|e| format!("read the warm-up echo: {e}"))?;
    if first & 0x0f != 0x1 {
        return Err(format!("warm-up answered with opcode {:#x}", first & 0x0f));
    }
    Ok(())
}

/// What the client of the bomb saw.
pub struct BombOutcome {
    /// "close 1009", "connection reset", "echo of 1073741824 bytes", ...
    pub answer: String,
    /// From the first byte of the bomb to the answer.
    pub seconds: f64,
    /// Bytes of the bomb the server took before it answered or stopped
    /// reading (as far as the client's writes tell).
    pub wire_bytes_sent: u64,
}

/// Sends `body` (a [`deflate_bomb`]) as one masked binary frame with RSV1,
/// reading concurrently, and returns the server's first answer: a Close
/// (its code), a data frame (an echo: the bomb went through), the end of
/// the connection, or nothing within `wait`.
pub async fn send_bomb(
    stream: TcpStream,
    body: Arc<Vec<u8>>,
    wait: Duration,
) -> Result<BombOutcome, String> {
    let (mut read, mut write) = stream.into_split();
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let writer = {
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut frame = masked_header(0x80 | 0x40 | 0x2, body.len() as u64);
            let header_len = frame.len();
            frame.extend_from_slice(&body);
            if let Some(payload) = frame.get_mut(header_len..) {
                mask(payload);
            }
            for piece in frame.chunks(16 * 1024) {
                if write.write_all(piece).await.is_err() {
                    break;
                }
                sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
            }
            // Keep the write half (and so the connection) open until the
            // reader has its answer.
            std::future::pending::<()>().await;
            drop(write);
        })
    };
    let answer = async {
        let mut two = [0u8; 2];
        match read.read_exact(&mut two).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return "connection closed, no Close frame".to_string();
            }
            Err(e) => return format!("connection error: {}", e.kind()),
        }
        let len = match two[1] & 0x7f {
            126 => read.read_u16().await.map(u64::from).unwrap_or(0),
            127 => read.read_u64().await.unwrap_or(0),
            n => u64::from(n),
        };
        match two[0] & 0x0f {
            0x8 => {
                let mut code = [0u8; 2];
                if len >= 2 && read.read_exact(&mut code).await.is_ok() {
                    format!("close {}", u16::from_be_bytes(code))
                } else {
                    "close without a code".to_string()
                }
            }
            0x1 | 0x2 => format!("echo: a data frame of {len} bytes on the wire"),
            opcode => format!("a frame of opcode {opcode:#x}"),
        }
    };
    let answer = tokio::time::timeout(wait, answer)
        .await
        .unwrap_or_else(|_| format!("nothing within {} s", wait.as_secs()));
    let seconds = start.elapsed().as_secs_f64();
    writer.abort();
    Ok(BombOutcome {
        answer,
        seconds,
        wire_bytes_sent: sent.load(Ordering::Relaxed),
    })
}

/// What the slow-header connections saw.
#[derive(Default)]
pub struct SlowOutcome {
    /// Connections opened.
    pub opened: usize,
    /// Connections the server ended within the hold, and when (seconds
    /// after the connection opened).
    pub closed_after: Vec<f64>,
    /// The first line of each answer before an end ("HTTP/1.1 408 ...",
    /// or "" for none), one per ended connection.
    pub answers: Vec<String>,
    /// Connect failures.
    pub failed: usize,
}

/// An upgrade request whose head is longer than a byte per `interval` can
/// send within any hold of this bench, so that it never completes: a
/// `Cookie` header of 2 KiB.
fn slow_request() -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\nCookie: {}\r\n\r\n",
        "a".repeat(2048)
    )
    .into_bytes()
}

/// `count` connections, each sending its upgrade request one byte every
/// `interval` for `hold`, never finishing it; records which the server ends
/// and what it says when it does.
pub async fn slow_headers(
    addr: SocketAddr,
    count: usize,
    interval: Duration,
    hold: Duration,
) -> SlowOutcome {
    let request: Arc<[u8]> = slow_request().into();
    let deadline = tokio::time::Instant::now() + hold;
    let mut tasks: JoinSet<Result<Option<(f64, String)>, ()>> = JoinSet::new();
    for _ in 0..count {
        let request = Arc::clone(&request);
        tasks.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.map_err(|_| ())?;
            let opened = Instant::now();
            let mut next = 0;
            let mut answer = Vec::new();
            let mut buf = [0u8; 512];
            let mut tick = tokio::time::interval(interval);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return Ok(None),
                    _ = tick.tick() => {
                        let Some(byte) = request.get(next) else { continue };
                        if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
                            break;
                        }
                        next += 1;
                    }
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    },
                }
            }
            let first_line = String::from_utf8_lossy(&answer)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            Ok(Some((opened.elapsed().as_secs_f64(), first_line)))
        });
        // A connection set up at a time, so the listener's backlog is not
        // what is measured.
        tokio::task::yield_now().await;
    }
    let mut outcome = SlowOutcome::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(ended)) => {
                outcome.opened += 1;
                if let Some((seconds, line)) = ended {
                    outcome.closed_after.push(seconds);
                    outcome.answers.push(line);
                }
            }
            _ => outcome.failed += 1,
        }
    }
    outcome
}

/// What the never-reading connections did.
pub struct UnreadOutcome {
    /// Bytes written by all of them together.
    pub written: u64,
    /// Whether the writes stopped progressing before the deadline (the
    /// server stopped reading) rather than running to their end.
    pub stalled: bool,
    /// Connections that wrote everything they had.
    pub finished: usize,
    /// Connections the server ended.
    pub ended: usize,
    /// Seconds from the first write to the stall, the end, or the deadline.
    pub seconds: f64,
}

/// Each of `streams` sends `per_connection` bytes of 64 KiB binary
/// messages as fast as its socket takes them and never reads. Returns when
/// all are done, when the total has not grown for `stall`, or at
/// `deadline`, with the tasks that hold the connections.
pub async fn never_read(
    streams: Vec<TcpStream>,
    per_connection: u64,
    stall: Duration,
    deadline: Duration,
) -> (UnreadOutcome, JoinSet<()>) {
    let payload: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let mut frame = masked_header(0x80 | 0x2, payload.len() as u64);
    let header_len = frame.len();
    frame.extend_from_slice(&payload);
    if let Some(body) = frame.get_mut(header_len..) {
        mask(body);
    }
    let frame: Arc<[u8]> = frame.into();
    let written = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    let total = per_connection * streams.len() as u64;
    for mut stream in streams {
        let frame = Arc::clone(&frame);
        let (written, finished, ended) = (
            Arc::clone(&written),
            Arc::clone(&finished),
            Arc::clone(&ended),
        );
        tasks.spawn(async move {
            let mut left = per_connection;
            while left > 0 {
                // Whole frames: a write the socket takes in part is
                // finished before the next frame starts.
                if stream.write_all(&frame).await.is_err() {
                    ended.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                written.fetch_add(frame.len() as u64, Ordering::Relaxed);
                left = left.saturating_sub(frame.len() as u64);
            }
            finished.fetch_add(1, Ordering::Relaxed);
            // Done writing; still never reads, and keeps the connection.
            std::future::pending::<()>().await;
            drop(stream);
        });
    }
    let (mut last, mut last_change, mut stalled) = (0, Instant::now(), false);
    while start.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = written.load(Ordering::Relaxed);
        if now >= total {
            break;
        }
        if now != last {
            (last, last_change) = (now, Instant::now());
        } else if last_change.elapsed() >= stall {
            stalled = true;
            break;
        }
    }
    let seconds = if stalled {
        (last_change - start).as_secs_f64()
    } else {
        start.elapsed().as_secs_f64()
    };
    let outcome = UnreadOutcome {
        written: written.load(Ordering::Relaxed),
        stalled,
        finished: finished.load(Ordering::Relaxed) as usize,
        ended: ended.load(Ordering::Relaxed) as usize,
        seconds,
    };
    // The connections stay open until the caller has read the server's
    // memory: the tasks are handed back, to be dropped then.
    (outcome, tasks)
}
