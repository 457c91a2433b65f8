//! The load generator: raw TCP sockets, one fixed upgrade request, frames
//! built and masked once, a window of messages in flight per connection,
//! and every echo checked: its header (final, unmasked, the opcode and
//! size sent) and its payload (every byte in a smoke run, the first and
//! last at least in a measured one, so that a server that did not unmask
//! fails).

use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// One load: how many connections, how big a message, how many in flight.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The key in the tables and the JSON.
    pub name: &'static str,
    /// Connections, all busy at once.
    pub connections: usize,
    /// Payload bytes per message.
    pub payload: usize,
    /// Messages sent ahead of their echoes, per connection. With 1, each
    /// round trip's latency is recorded.
    pub window: usize,
    /// Text messages of non-ASCII UTF-8 (every server validates them);
    /// binary otherwise.
    pub text: bool,
    /// Messages per connection before it is closed and a new one opened
    /// (connection churn); `None` keeps the connections.
    pub churn: Option<u64>,
    /// More rounds than the others (7 for the default 5): fewer messages per
    /// run, so more spread.
    pub heavy: bool,
}

impl Case {
    /// Whether each round trip's latency is recorded.
    pub fn latency(&self) -> bool {
        self.window == 1 && self.churn.is_none()
    }
}

const fn case(name: &'static str, connections: usize, payload: usize, window: usize) -> Case {
    Case {
        name,
        connections,
        payload,
        window,
        text: false,
        churn: None,
        heavy: false,
    }
}

/// The cases of the issue: the two charts that fastwebsockets and
/// tokio-websockets publish, one large message, and HttpArena's WebSocket
/// profiles scaled to a small machine (small messages one or sixteen in
/// flight, connection churn, validated text).
pub const CASES: [Case; 7] = [
    case("100 conns x 20 B", 100, 20, 64),
    case("100 conns x 16 KiB", 100, 16 * 1024, 4),
    Case {
        heavy: true,
        ..case("1 conn x 1 MiB", 1, 1 << 20, 4)
    },
    case("16 conns x 5 B, 1 in flight", 16, 5, 1),
    case("16 conns x 5 B, 16 in flight", 16, 5, 16),
    Case {
        churn: Some(10),
        ..case("churn: 16 conns x 5 B, 10 per conn", 16, 5, 1)
    },
    Case {
        text: true,
        ..case("100 conns x 16 KiB UTF-8 text", 100, 16 * 1024, 4)
    },
];

/// How much of each echo's payload is compared with what was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Every byte (the smoke run).
    Whole,
    /// The first and the last byte of every echo; a large payload's middle
    /// is dropped in the kernel unread (the measured runs).
    Ends,
}

/// The client's key is fixed (RFC 6455's sample nonce), so every answer must
/// carry the sample's accept value.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The masking key of every frame. Servers unmask whatever the key is.
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The largest handshake response read.
const MAX_HEAD: usize = 16 * 1024;

/// How long a connection may take to be upgraded: a server out of
/// descriptors leaves connections in its backlog unanswered.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads an HTTP response head (up to `MAX_HEAD` bytes); returns it and
/// whatever came after it in the same reads.
pub async fn read_head(stream: &mut TcpStream) -> Result<(String, Vec<u8>), String> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read response: {e}"))?;
        if n == 0 {
            return Err("closed before a response".into());
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = head.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&head).into_owned(), rest));
        }
        if head.len() > MAX_HEAD {
            return Err("response head too long".into());
        }
    }
}

/// Opens a connection and does the upgrade by hand: one fixed request,
/// a `101` with the right accept value.
pub async fn open(addr: SocketAddr) -> Result<TcpStream, String> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade(addr))
        .await
        .map_err(|_| format!("no 101 within {HANDSHAKE_TIMEOUT:?}"))?
}

async fn upgrade(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send upgrade: {e}"))?;
    // The server sends nothing after its 101 until it gets a frame, so the
    // head is all there is to read; anything more is a broken server.
    let (text, rest) = read_head(&mut stream).await?;
    if !rest.is_empty() {
        return Err("bytes after the 101 before any frame was sent".into());
    }
    if !text.starts_with("HTTP/1.1 101") {
        let line = text.lines().next().unwrap_or_default();
        return Err(format!("not upgraded: {line}"));
    }
    if !text.contains(ACCEPT) {
        return Err("101 without the expected Sec-WebSocket-Accept".into());
    }
    Ok(stream)
}

/// Opens `count` connections, `parallel` handshakes at a time.
pub async fn open_many(
    addr: SocketAddr,
    count: usize,
    parallel: usize,
) -> Result<Vec<TcpStream>, String> {
    let mut streams = Vec::with_capacity(count);
    let mut pending = JoinSet::new();
    let mut started = 0;
    while streams.len() < count {
        while started < count && pending.len() < parallel {
            pending.spawn(open(addr));
            started += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok(stream))) => streams.push(stream),
            Some(Ok(Err(error))) => return Err(format!("connection {}: {error}", streams.len())),
            Some(Err(error)) => return Err(format!("handshake task: {error}")),
            None => break,
        }
    }
    Ok(streams)
}

/// The payload every message of `case` carries: non-ASCII UTF-8 for a
/// text case, bytes of every value otherwise.
pub fn payload(case: &Case) -> Vec<u8> {
    if case.text {
        let sample = "wsmachine échoe → ✓ 😀 ";
        let mut text = String::with_capacity(case.payload);
        for c in sample.chars().cycle() {
            if text.len() + c.len_utf8() > case.payload {
                break;
            }
            text.push(c);
        }
        while text.len() < case.payload {
            text.push('.');
        }
        text.into_bytes()
    } else {
        (0..case.payload)
            .map(|i| (i.wrapping_mul(31) % 251) as u8 ^ 0x80)
            .collect()
    }
}

/// `window` copies of one masked frame of `payload`, back to back: a writer
/// sends any prefix of whole frames with one write. Returns the bytes and
/// one frame's length.
fn masked_frames(opcode: u8, payload: &[u8], window: usize) -> (Vec<u8>, usize) {
    let mut frame = vec![0x80 | opcode];
    let len = payload.len();
    match len {
        0..=125 => frame.push(0x80 | len as u8),
        126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    let frame_len = frame.len();
    (frame.repeat(window), frame_len)
}

/// Checks the echoes in the server's byte stream: every frame must be a
/// final, unmasked frame of the opcode and size that were sent, its
/// payload what was sent (every byte read is compared in `Check::Whole`;
/// the first and last in `Check::Ends`, where the middle of a large one
/// may be dropped unread).
pub struct EchoChecker {
    header: [u8; 14],
    have: usize,
    /// Payload bytes left in the frame under way.
    skip: u64,
    first_byte: u8,
    expected: Arc<[u8]>,
    check: Check,
}

impl EchoChecker {
    /// A checker for echoes of `expected` in frames of `opcode`.
    pub fn new(opcode: u8, expected: Arc<[u8]>, check: Check) -> Self {
        EchoChecker {
            header: [0; 14],
            have: 0,
            skip: 0,
            first_byte: 0x80 | opcode,
            expected,
            check,
        }
    }

    /// How long the header under way is, as far as its bytes tell.
    fn header_len(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        match self.header[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        }
    }

    /// Payload bytes that may be dropped unread now: none in
    /// `Check::Whole`; in `Check::Ends`, those between the first byte (once
    /// read) and the last.
    pub fn discardable(&self) -> u64 {
        let len = self.expected.len() as u64;
        if self.check == Check::Whole || self.skip < 2 || self.skip == len {
            return 0;
        }
        self.skip - 1
    }

    /// Takes `n` payload bytes (at most [`discardable`](Self::discardable))
    /// without their contents.
    pub fn discard(&mut self, n: u64) {
        self.skip -= n.min(self.discardable());
    }

    /// Compares the payload bytes `data`, which start at `offset`.
    fn compare(&self, offset: usize, data: &[u8]) -> Result<(), String> {
        let expected = self.expected.get(offset..offset + data.len());
        let ok = match self.check {
            Check::Whole => expected == Some(data),
            Check::Ends => {
                let last = self.expected.len() - 1;
                let at = |i: usize| expected.and_then(|e| e.get(i)) == data.get(i);
                (offset != 0 || at(0))
                    && (!(offset..offset + data.len()).contains(&last) || at(last - offset))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "echo payload differs from what was sent, in bytes {offset}..{} of {}",
                offset + data.len(),
                self.expected.len()
            ))
        }
    }

    /// Takes the next bytes; returns how many echoes they completed.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len() as u64) as usize;
                let (payload, rest) = data.split_at(n);
                let offset = self.expected.len() - self.skip as usize;
                self.compare(offset, payload)?;
                data = rest;
                self.skip -= n as u64;
                done += u64::from(self.skip == 0);
                continue;
            }
            let need = self.header_len();
            let take = (need - self.have).min(data.len());
            let (head, rest) = data.split_at(take);
            self.header[self.have..self.have + take].copy_from_slice(head);
            self.have += take;
            data = rest;
            if self.have < 2 || self.have < self.header_len() {
                continue;
            }
            let (b0, b1) = (self.header[0], self.header[1]);
            if b0 != self.first_byte || b1 & 0x80 != 0 {
                return Err(format!(
                    "unexpected frame header {b0:#04x} {b1:#04x}, expected {:#04x} unmasked",
                    self.first_byte
                ));
            }
            let len = match b1 & 0x7f {
                126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                127 => {
                    let mut bytes = [0u8; 8];
                    bytes.copy_from_slice(&self.header[2..10]);
                    u64::from_be_bytes(bytes)
                }
                short => u64::from(short),
            };
            if len != self.expected.len() as u64 {
                return Err(format!("echo of {len} bytes, sent {}", self.expected.len()));
            }
            self.have = 0;
            self.skip = len;
            if len == 0 {
                done += 1;
            }
        }
        Ok(done)
    }
}

/// What the connections of a run share.
struct Shared {
    /// Echoes received and checked.
    echoes: AtomicU64,
    /// Connections opened (for churn).
    handshakes: AtomicU64,
    /// Whether round trips are being recorded.
    measuring: AtomicBool,
    /// Round-trip times in nanoseconds, while measuring.
    round_trips: Mutex<Vec<u32>>,
    /// The clock `sent_at` counts from.
    base: Instant,
}

/// The frames a connection sends and how to check their echoes.
struct Traffic {
    frames: Vec<u8>,
    frame_len: usize,
    opcode: u8,
    payload: Arc<[u8]>,
    check: Check,
}

/// Drives one connection: a writer keeps `window` messages in flight, a
/// reader checks the echoes, counts them and gives their credit back. With
/// `limit`, both stop after that many messages.
async fn drive(
    stream: TcpStream,
    traffic: &Traffic,
    case: Case,
    shared: &Shared,
    limit: Option<u64>,
) -> Result<(), String> {
    let (reader, writer) = stream.into_split();
    let credit = Semaphore::new(case.window);
    // When the message in flight was sent (window 1), in ns since `base`.
    let sent_at = AtomicU64::new(0);
    let limit = limit.unwrap_or(u64::MAX);
    tokio::try_join!(
        send(writer, traffic, &credit, &sent_at, shared, limit),
        count(reader, traffic, case, &credit, &sent_at, shared, limit)
    )
    .map(|_| ())
}

/// Sends a frame for every credit, all the credits there are in one write.
async fn send(
    mut writer: OwnedWriteHalf,
    traffic: &Traffic,
    credit: &Semaphore,
    sent_at: &AtomicU64,
    shared: &Shared,
    limit: u64,
) -> Result<OwnedWriteHalf, String> {
    let mut sent = 0u64;
    while sent < limit {
        let permit = credit.acquire().await.map_err(|e| format!("credit: {e}"))?;
        permit.forget();
        // Whatever else came back since goes in the same write.
        let extra = (credit.available_permits() as u64).min(limit - sent - 1);
        if let Ok(more) = credit.try_acquire_many(extra as u32) {
            more.forget();
        }
        let frames = 1 + extra as usize;
        let bytes = traffic
            .frames
            .get(..frames * traffic.frame_len)
            .unwrap_or(&traffic.frames);
        sent_at.store(shared.base.elapsed().as_nanos() as u64, Ordering::Relaxed);
        writer
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))?;
        sent += frames as u64;
    }
    // Kept open until the reader has every echo.
    Ok(writer)
}

/// Checks and counts echoes and turns each into a credit for the writer.
async fn count(
    mut reader: OwnedReadHalf,
    traffic: &Traffic,
    case: Case,
    credit: &Semaphore,
    sent_at: &AtomicU64,
    shared: &Shared,
    limit: u64,
) -> Result<(), String> {
    let mut checker = EchoChecker::new(traffic.opcode, Arc::clone(&traffic.payload), traffic.check);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut discard = Vec::new();
    let mut received = 0u64;
    while received < limit {
        let done = if checker.discardable() >= READ_CHUNK as u64 {
            let n = discard_payload(&reader, &mut discard, checker.discardable()).await?;
            checker.discard(n as u64);
            0
        } else {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_string());
            }
            checker.feed(buf.get(..n).unwrap_or_default())?
        };
        if done > 0 {
            if case.latency() && shared.measuring.load(Ordering::Relaxed) {
                let now = shared.base.elapsed().as_nanos() as u64;
                let rtt = now.saturating_sub(sent_at.load(Ordering::Relaxed));
                if let Ok(mut log) = shared.round_trips.lock() {
                    log.push(u32::try_from(rtt).unwrap_or(u32::MAX));
                }
            }
            received += done;
            shared.echoes.fetch_add(done, Ordering::Relaxed);
            credit.add_permits(done as usize);
        }
    }
    Ok(())
}

/// Opens connection after connection: `per_connection` messages on each,
/// then an abortive close (no TIME_WAIT left on this side, so the
/// ephemeral ports last), until the task is ended.
async fn churn(
    addr: SocketAddr,
    traffic: &Traffic,
    case: Case,
    shared: &Shared,
    per_connection: u64,
) -> Result<(), String> {
    loop {
        let stream = open(addr).await?;
        shared.handshakes.fetch_add(1, Ordering::Relaxed);
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .map_err(|e| format!("linger: {e}"))?;
        drive(stream, traffic, case, shared, Some(per_connection)).await?;
    }
}

/// The load generator's read size. A larger payload remainder than this is
/// dropped by the kernel unread.
const READ_CHUNK: usize = 64 * 1024;

/// Drops up to `len` received bytes in the kernel, uncopied (`recv` with
/// `MSG_TRUNC`, which TCP on Linux takes as "discard"): a large echo's payload then
/// costs the load generator no copy, so that at 1 MiB it is not the
/// bottleneck, and the servers' own cost is what the case measures. The
/// buffer only gives the length; the kernel writes nothing into it.
async fn discard_payload(
    reader: &OwnedReadHalf,
    discard: &mut Vec<MaybeUninit<u8>>,
    len: u64,
) -> Result<usize, String> {
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(MAX_DISCARD);
    if discard.len() < len {
        discard.resize(len, MaybeUninit::uninit());
    }
    let room = discard.get_mut(..len).unwrap_or_default();
    let stream: &TcpStream = reader.as_ref();
    let n = loop {
        stream.readable().await.map_err(|e| format!("read: {e}"))?;
        match stream.try_io(Interest::READABLE, || {
            socket2::SockRef::from(stream).recv_with_flags(room, libc::MSG_TRUNC)
        }) {
            Ok(n) => break n,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(error) => return Err(format!("read: {error}")),
        }
    };
    if n == 0 {
        return Err("the server closed the connection".to_string());
    }
    Ok(n)
}

/// The most one discard takes: the largest message.
const MAX_DISCARD: usize = crate::servers::MAX_MESSAGE;

/// One measurement: echoes per second over `measure`, after `warm_up`.
#[derive(Clone, Debug)]
pub struct Throughput {
    /// Echoed messages per second.
    pub messages_per_second: f64,
    /// The server's CPU time per echo, in microseconds.
    pub server_us_per_message: f64,
    /// The server's CPU use over the measurement, in cores.
    pub server_cores: f64,
    /// The load generator's CPU use over the measurement, in cores.
    pub generator_cores: f64,
    /// New connections per second (churn cases).
    pub handshakes_per_second: Option<f64>,
    /// The round trips' median and 99th percentile, in microseconds
    /// (cases with one message in flight).
    pub latency_us: Option<(f64, f64)>,
    /// The server's allocations per echo (`E2E_ALLOCS=1`).
    pub allocations_per_message: Option<f64>,
}

/// How long a measuring window may be stretched for its first echo.
const FIRST_ECHO_PATIENCE: Duration = Duration::from_secs(20);

/// Runs `case` against the server at `addr` (process `pid`).
pub async fn throughput(
    addr: SocketAddr,
    pid: u32,
    case: Case,
    check: Check,
    warm_up: Duration,
    measure: Duration,
    allocations: &mut dyn FnMut() -> Option<u64>,
) -> Result<Throughput, String> {
    let payload = payload(&case);
    let opcode = if case.text { 0x1 } else { 0x2 };
    let (frames, frame_len) = masked_frames(opcode, &payload, case.window);
    let traffic = Arc::new(Traffic {
        frames,
        frame_len,
        opcode,
        payload: payload.into(),
        check,
    });
    let shared = Arc::new(Shared {
        echoes: AtomicU64::new(0),
        handshakes: AtomicU64::new(0),
        measuring: AtomicBool::new(false),
        round_trips: Mutex::new(Vec::new()),
        base: Instant::now(),
    });
    let failure = Arc::new(Mutex::new(None::<String>));
    let mut tasks = JoinSet::new();
    let report = move |failure: &Mutex<Option<String>>, outcome: Result<(), String>| {
        if let Err(error) = outcome
            && let Ok(mut slot) = failure.lock()
        {
            slot.get_or_insert(error);
        }
    };
    if let Some(per_connection) = case.churn {
        for _ in 0..case.connections {
            let (traffic, shared, failure) = (
                Arc::clone(&traffic),
                Arc::clone(&shared),
                Arc::clone(&failure),
            );
            tasks.spawn(async move {
                let outcome = churn(addr, &traffic, case, &shared, per_connection).await;
                report(&failure, outcome);
            });
        }
    } else {
        for stream in open_many(addr, case.connections, 50).await? {
            let (traffic, shared, failure) = (
                Arc::clone(&traffic),
                Arc::clone(&shared),
                Arc::clone(&failure),
            );
            tasks.spawn(async move {
                let outcome = drive(stream, &traffic, case, &shared, None).await;
                report(&failure, outcome);
            });
        }
    }
    tokio::time::sleep(warm_up).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let start_count = shared.echoes.load(Ordering::Relaxed);
    let start_handshakes = shared.handshakes.load(Ordering::Relaxed);
    let (server_start, client_start) = (cpu_seconds(pid), cpu_seconds(std::process::id()));
    let allocations_start = allocations();
    tokio::time::sleep(measure).await;
    // A window shorter than one echo (the short run's 300 ms, 1 MiB messages
    // in a debug build on a busy machine) is stretched until the first echo
    // in it, up to a bound, rather than report a working server silent.
    let patience = start + FIRST_ECHO_PATIENCE;
    while shared.echoes.load(Ordering::Relaxed) == start_count && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let end_count = shared.echoes.load(Ordering::Relaxed);
    let end_handshakes = shared.handshakes.load(Ordering::Relaxed);
    let elapsed = start.elapsed();
    let (server_end, client_end) = (cpu_seconds(pid), cpu_seconds(std::process::id()));
    let allocations_end = allocations();
    shared.measuring.store(false, Ordering::Relaxed);
    tasks.shutdown().await;
    if let Some(error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(error);
    }
    let seconds = elapsed.as_secs_f64();
    let messages = (end_count - start_count) as f64;
    let latency_us = if case.latency() {
        let mut samples = shared
            .round_trips
            .lock()
            .map(|mut log| std::mem::take(&mut *log))
            .unwrap_or_default();
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples.get(i).map(|ns| f64::from(*ns) / 1000.0)
        };
        at(0.5).zip(at(0.99))
    } else {
        None
    };
    Ok(Throughput {
        messages_per_second: messages / seconds,
        server_us_per_message: (server_end - server_start) / messages * 1e6,
        server_cores: (server_end - server_start) / seconds,
        generator_cores: (client_end - client_start) / seconds,
        handshakes_per_second: case
            .churn
            .map(|_| (end_handshakes - start_handshakes) as f64 / seconds),
        latency_us,
        allocations_per_message: allocations_start
            .zip(allocations_end)
            .map(|(start, end)| end.saturating_sub(start) as f64 / messages),
    })
}

/// A process's user + system CPU time, from `/proc/PID/stat` (in the
/// kernel's USER_HZ ticks, 100 per second on Linux).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // The command name may hold spaces; the fields after its ')' do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; field 3 is the first after ')'.
    let ticks = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
    match (ticks(14), ticks(15)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// A process's resident memory in bytes (`VmRSS` of `/proc/PID/status`).
pub fn resident_bytes(pid: u32) -> Result<u64, String> {
    status_bytes(pid, "VmRSS")
}

/// A memory figure of `/proc/PID/status` in bytes: `VmRSS`, or `VmHWM`,
/// the resident high-water mark since the process started.
pub fn status_bytes(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("no {field}"))
}

/// Resident bytes per idle connection: the server's RSS before and after
/// `count` upgraded connections that send nothing, over `count`.
pub async fn idle_memory(addr: SocketAddr, pid: u32, count: usize) -> Result<f64, String> {
    // One connection first, so the runtime's and the library's one-time
    // allocations are in the baseline and not in the per-connection figure.
    let first = open(addr).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = resident_bytes(pid)?;
    let streams = open_many(addr, count, 100).await?;
    // Every server task has read its request and written its 101 by now
    // (each client saw the 101); give the tasks a moment to reach their
    // first idle read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = resident_bytes(pid)?;
    drop(streams);
    drop(first);
    Ok(after.saturating_sub(before) as f64 / count as f64)
}

/// Checks the checker on frames split at every position, and that it
/// refuses what no echo may be: a wrong size, a wrong opcode, a Close, a
/// payload left masked. The bench runs it first, since `harness = false`
/// targets run no `#[test]`s.
pub fn check_counter() -> Result<(), String> {
    let sent: Arc<[u8]> = (0..256u32)
        .map(|i| (i * 7) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut frame = vec![0x82, 126, 0x01, 0x00];
    frame.extend_from_slice(&sent);
    let stream = frame.repeat(3);
    for check in [Check::Whole, Check::Ends] {
        for split in 0..=stream.len() {
            let mut checker = EchoChecker::new(0x2, Arc::clone(&sent), check);
            let (a, b) = stream.split_at(split);
            let total = checker.feed(a)? + checker.feed(b)?;
            if total != 3 {
                return Err(format!("checker: {total} frames when split at {split}"));
            }
        }
        let mut one_by_one = EchoChecker::new(0x2, Arc::clone(&sent), check);
        let mut total = 0;
        for byte in &stream {
            total += one_by_one.feed(std::slice::from_ref(byte))?;
        }
        if total != 3 {
            return Err(format!("checker: {total} frames fed byte by byte"));
        }
        // The frame a server that skipped unmasking would send back.
        let (masked, len) = masked_frames(0x2, &sent, 1);
        let mut unmasked_header = vec![0x82, 126, 0x01, 0x00];
        unmasked_header.extend_from_slice(masked.get(len - 256..).unwrap_or_default());
        if EchoChecker::new(0x2, Arc::clone(&sent), check)
            .feed(&unmasked_header)
            .is_ok()
        {
            return Err(format!("checker ({check:?}): took a payload left masked"));
        }
        if EchoChecker::new(0x1, Arc::clone(&sent), check)
            .feed(&stream)
            .is_ok()
        {
            return Err("checker: took a binary echo of a text message".into());
        }
    }
    let big: Arc<[u8]> = payload(&CASES[2]).into();
    let mut echo = vec![0x82, 127];
    echo.extend_from_slice(&(1u64 << 20).to_be_bytes());
    echo.extend_from_slice(&big);
    if EchoChecker::new(0x2, Arc::clone(&big), Check::Whole).feed(&echo)? != 1 {
        return Err("checker: a 1 MiB echo not counted".into());
    }
    // The reader's way with a large echo: the header and a first piece
    // read, the middle dropped unread, the last byte read and checked.
    let mut skipping = EchoChecker::new(0x2, Arc::clone(&big), Check::Ends);
    let first = skipping.feed(echo.get(..READ_CHUNK).unwrap_or_default())?;
    let left = skipping.discardable();
    if first != 0 || left != (echo.len() - READ_CHUNK - 1) as u64 {
        return Err(format!(
            "checker: {left} payload bytes discardable after the first read"
        ));
    }
    skipping.discard(left);
    let mut wrong_last = skipping.feed(echo.get(echo.len() - 1..).unwrap_or_default())?;
    if wrong_last != 1 || skipping.discardable() != 0 {
        return Err("checker: the last byte did not end the echo".into());
    }
    skipping.feed(echo.get(..READ_CHUNK).unwrap_or_default())?;
    skipping.discard(skipping.discardable());
    wrong_last = u64::from(skipping.feed(&[big[big.len() - 1] ^ 0x5a]).is_ok());
    if wrong_last != 0 {
        return Err("checker: took a wrong last byte".into());
    }
    if EchoChecker::new(0x2, Arc::clone(&big), Check::Whole).discardable() != 0 {
        return Err("checker: a whole check drops bytes".into());
    }
    let short: Arc<[u8]> = vec![7u8; 255].into();
    if EchoChecker::new(0x2, short, Check::Whole)
        .feed(&stream)
        .is_ok()
    {
        return Err("checker: took an echo of the wrong size".into());
    }
    let two: Arc<[u8]> = vec![3, 0xe8].into();
    if EchoChecker::new(0x2, two, Check::Whole)
        .feed(&[0x88, 0x02, 0x03, 0xe8])
        .is_ok()
    {
        return Err("checker: took a Close as an echo".into());
    }
    let text = payload(&CASES[6]);
    if std::str::from_utf8(&text).map(|t| t.is_ascii()) != Ok(false) || text.len() != 16 * 1024 {
        return Err("the text payload is not 16 KiB of non-ASCII UTF-8".into());
    }
    Ok(())
}
