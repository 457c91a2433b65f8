//! The load generator: raw TCP sockets, one fixed upgrade request, frames
//! built and masked once, a window of messages in flight per connection,
//! and echoes counted from their frame headers alone.

use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Payload bytes per binary message.
    pub payload: usize,
    /// Messages sent ahead of their echoes, per connection.
    pub window: usize,
}

/// The cases of the issue: the two charts that fastwebsockets and
/// tokio-websockets publish, and one large message.
pub const CASES: [Case; 3] = [
    Case {
        name: "100 conns x 20 B",
        connections: 100,
        payload: 20,
        window: 64,
    },
    Case {
        name: "100 conns x 16 KiB",
        connections: 100,
        payload: 16 * 1024,
        window: 4,
    },
    Case {
        name: "1 conn x 1 MiB",
        connections: 1,
        payload: 1 << 20,
        window: 4,
    },
];

/// The client's key is fixed (RFC 6455's sample nonce), so every answer must
/// carry the sample's accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The masking key of every frame. Servers unmask whatever the key is.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The largest handshake response read.
const MAX_HEAD: usize = 16 * 1024;

/// How long a connection may take to be upgraded: a server out of
/// descriptors leaves connections in its backlog unanswered.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read 101: {e}"))?;
        if n == 0 {
            return Err("connection closed before the 101".into());
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if end + 4 != head.len() {
                return Err("bytes after the 101 before any frame was sent".into());
            }
            break;
        }
        if head.len() > MAX_HEAD {
            return Err("handshake response too long".into());
        }
    }
    let text = String::from_utf8_lossy(&head);
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

/// `window` copies of one masked binary frame, back to back: a writer
/// sends any prefix of whole frames with one write.
fn masked_frames(payload: usize, window: usize) -> (Vec<u8>, usize) {
    let mut frame = vec![0x82];
    match payload {
        0..=125 => frame.push(0x80 | payload as u8),
        126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(payload as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend((0..payload).map(|i| (b'a' + (i % 26) as u8) ^ MASK[i % 4]));
    let len = frame.len();
    (frame.repeat(window), len)
}

/// Counts whole frames in the server's byte stream, reading only headers
/// and skipping payloads. Every frame must be a final, unmasked binary
/// frame of the size that was sent.
pub struct EchoCounter {
    header: [u8; 14],
    have: usize,
    skip: u64,
    expected: u64,
}

impl EchoCounter {
    /// A counter for echoes of `payload` bytes.
    pub fn new(payload: usize) -> Self {
        EchoCounter {
            header: [0; 14],
            have: 0,
            skip: 0,
            expected: payload as u64,
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

    /// Payload bytes left in the frame under way: bytes the reader may
    /// discard unread.
    pub fn payload_left(&self) -> u64 {
        self.skip
    }

    /// Takes `n` payload bytes (at most [`payload_left`](Self::payload_left))
    /// without their contents; returns whether they ended the frame.
    pub fn skip_payload(&mut self, n: u64) -> bool {
        let n = n.min(self.skip);
        self.skip -= n;
        n > 0 && self.skip == 0
    }

    /// Takes the next bytes; returns how many frames they completed.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len() as u64);
                data = data.get(n as usize..).unwrap_or_default();
                done += u64::from(self.skip_payload(n));
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
            if b0 != 0x82 || b1 & 0x80 != 0 {
                return Err(format!("unexpected frame header {b0:#04x} {b1:#04x}"));
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
            if len != self.expected {
                return Err(format!("echo of {len} bytes, sent {}", self.expected));
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

/// Drives one connection: a writer keeps `window` messages in flight, a
/// reader counts echoes into `echoes` and gives their credit back.
async fn drive(
    stream: TcpStream,
    frames: Arc<(Vec<u8>, usize)>,
    case: Case,
    echoes: Arc<AtomicU64>,
) -> Result<(), String> {
    let (reader, writer) = stream.into_split();
    let credit = Semaphore::new(case.window);
    tokio::try_join!(
        send(writer, &frames, &credit),
        count(reader, case.payload, &credit, &echoes)
    )
    .map(|_| ())
}

/// Sends a frame for every credit, all the credits there are in one write.
async fn send(
    mut writer: OwnedWriteHalf,
    frames: &(Vec<u8>, usize),
    credit: &Semaphore,
) -> Result<(), String> {
    let (batch, frame_len) = frames;
    loop {
        let permit = credit.acquire().await.map_err(|e| format!("credit: {e}"))?;
        permit.forget();
        // Whatever else came back since goes in the same write.
        let extra = credit.available_permits();
        if let Ok(more) = credit.try_acquire_many(extra as u32) {
            more.forget();
        }
        let bytes = batch.get(..(1 + extra) * frame_len).unwrap_or(batch);
        writer
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))?;
    }
}

/// Counts echoes and turns each into a credit for the writer.
async fn count(
    mut reader: OwnedReadHalf,
    payload: usize,
    credit: &Semaphore,
    echoes: &AtomicU64,
) -> Result<(), String> {
    let mut counter = EchoCounter::new(payload);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut discard = Vec::new();
    loop {
        let done = if counter.payload_left() >= READ_CHUNK as u64 {
            let n = discard_payload(&reader, &mut discard, counter.payload_left()).await?;
            u64::from(counter.skip_payload(n as u64))
        } else {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".to_string());
            }
            counter.feed(buf.get(..n).unwrap_or_default())?
        };
        if done > 0 {
            echoes.fetch_add(done, Ordering::Relaxed);
            credit.add_permits(done as usize);
        }
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
pub struct Throughput {
    /// Echoed messages per second.
    pub messages_per_second: f64,
    /// The server's CPU use over the measurement, in cores.
    pub server_cpu: f64,
    /// The load generator's CPU use over the measurement, in cores.
    pub client_cpu: f64,
}

/// Runs `case` against the server at `addr` (process `pid`).
/// How long a measuring window may be stretched for its first echo.
const FIRST_ECHO_PATIENCE: Duration = Duration::from_secs(20);

pub async fn throughput(
    addr: SocketAddr,
    pid: u32,
    case: Case,
    warm_up: Duration,
    measure: Duration,
) -> Result<Throughput, String> {
    let streams = open_many(addr, case.connections, 50).await?;
    let frames = Arc::new(masked_frames(case.payload, case.window));
    let echoes = Arc::new(AtomicU64::new(0));
    let failure = Arc::new(Mutex::new(None::<String>));
    let mut tasks = JoinSet::new();
    for stream in streams {
        let (frames, echoes, failure) = (
            Arc::clone(&frames),
            Arc::clone(&echoes),
            Arc::clone(&failure),
        );
        tasks.spawn(async move {
            if let Err(error) = drive(stream, frames, case, echoes).await
                && let Ok(mut slot) = failure.lock()
            {
                slot.get_or_insert(error);
            }
        });
    }
    tokio::time::sleep(warm_up).await;
    let (start_count, start) = (echoes.load(Ordering::Relaxed), Instant::now());
    let (server_start, client_start) = (cpu_seconds(pid), cpu_seconds(std::process::id()));
    tokio::time::sleep(measure).await;
    // A window shorter than one echo (the short run's 300 ms, 1 MiB messages
    // in a debug build on a busy machine) is stretched until the first echo
    // in it, up to a bound, rather than report a working server silent.
    let patience = start + FIRST_ECHO_PATIENCE;
    while echoes.load(Ordering::Relaxed) == start_count && Instant::now() < patience {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (end_count, elapsed) = (echoes.load(Ordering::Relaxed), start.elapsed());
    let (server_end, client_end) = (cpu_seconds(pid), cpu_seconds(std::process::id()));
    tasks.shutdown().await;
    if let Some(error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(error);
    }
    let seconds = elapsed.as_secs_f64();
    Ok(Throughput {
        messages_per_second: (end_count - start_count) as f64 / seconds,
        server_cpu: (server_end - server_start) / seconds,
        client_cpu: (client_end - client_start) / seconds,
    })
}

/// A process's user + system CPU time, from `/proc/PID/stat` (in the
/// kernel's USER_HZ ticks, 100 per second on Linux).
fn cpu_seconds(pid: u32) -> f64 {
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmRSS".to_string())
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

/// Checks the counter on frames split at every position, and that it
/// refuses what no echo may be: a wrong size, a Close. The bench runs it
/// first, since `harness = false` targets run no `#[test]`s.
pub fn check_counter() -> Result<(), String> {
    let mut frame = vec![0x82, 126, 0x01, 0x00];
    frame.extend(std::iter::repeat_n(7u8, 256));
    let stream = frame.repeat(3);
    for split in 0..=stream.len() {
        let mut counter = EchoCounter::new(256);
        let (a, b) = stream.split_at(split);
        let total = counter.feed(a)? + counter.feed(b)?;
        if total != 3 {
            return Err(format!("counter: {total} frames when split at {split}"));
        }
    }
    let mut one_by_one = EchoCounter::new(256);
    let mut total = 0;
    for byte in &stream {
        total += one_by_one.feed(std::slice::from_ref(byte))?;
    }
    if total != 3 {
        return Err(format!("counter: {total} frames fed byte by byte"));
    }
    let (big, len) = masked_frames(1 << 20, 1);
    // The unmasked form of a client frame: the header without mask bit or
    // key, then the payload.
    let mut echo = vec![0x82, 127];
    echo.extend_from_slice(&(1u64 << 20).to_be_bytes());
    echo.extend_from_slice(big.get(len - (1 << 20)..).unwrap_or_default());
    if EchoCounter::new(1 << 20).feed(&echo)? != 1 {
        return Err("counter: a 1 MiB echo not counted".into());
    }
    // The reader's way with a large echo: the header and a first piece
    // read, the rest dropped unread, then the next header read again.
    let mut skipping = EchoCounter::new(1 << 20);
    let first = skipping.feed(echo.get(..READ_CHUNK).unwrap_or_default())?;
    let left = skipping.payload_left();
    if first != 0 || left != (echo.len() - READ_CHUNK) as u64 {
        return Err(format!(
            "counter: {left} payload bytes left after the first read"
        ));
    }
    let ended = [skipping.skip_payload(left - 1), skipping.skip_payload(2)];
    if ended != [false, true] || skipping.payload_left() != 0 {
        return Err(format!(
            "counter: dropping the payload ended the frame at {ended:?}"
        ));
    }
    if skipping.feed(echo.get(..10).unwrap_or_default())? != 0 || skipping.payload_left() != 1 << 20
    {
        return Err("counter: the header after a dropped payload not read".into());
    }
    if EchoCounter::new(255).feed(&stream).is_ok() {
        return Err("counter: took an echo of the wrong size".into());
    }
    if EchoCounter::new(2).feed(&[0x88, 0x02, 0x03, 0xe8]).is_ok() {
        return Err("counter: took a Close as an echo".into());
    }
    Ok(())
}
