//! Allocations of the driver's echo, the plainest user loop (`recv`, then
//! `send`), per message after a warm-up, counted on the server's thread by
//! a global allocator with a per-thread switch (a test binary has one
//! global allocator, so this one has its own).
//!
//! The client is a raw blocking socket on another thread: `in_flight`
//! masked frames out in one write, their echoes read back, and again.
//!
//! Between two such rounds the server's read finds nothing, and a
//! connection waiting on its transport holds no buffer
//! (`Config::kept_buffer_capacity` keeps buffers between reads that bring
//! bytes, not across a wait): each round then costs the buffers again, the
//! read room and the output buffer with, for what is split off each, one
//! shared header of the `bytes` crate, the socket's queue of writes and,
//! for a payload sent as it is, the core's queue of such payloads.
//! Messages that come together share them; the rest of the path allocates
//! nothing.
//!
//! The same allocator also keeps the bytes the counting thread holds, for
//! the memory of idle connections.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc;

struct CountingAllocator;

/// Allocations made by a counting thread.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Bytes allocated and not yet freed by a counting thread.
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

thread_local! {
    /// Whether this thread's allocations count now.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// Counts an allocation of `size` bytes that frees `freed`.
fn count(size: usize, freed: usize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(size as i64 - freed as i64, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed to `System` unchanged; the switch is a
// thread-local cell with a const initialiser and the count an atomic, which
// never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size, layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// One measurement at a time: the counts are the process's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

const WARM_UP: usize = 200;
const MEASURED: usize = 1000;

/// What the client tells the server's thread.
enum Command {
    /// Count this thread's allocations from now on, or stop.
    Count(bool),
}

/// Runs `serve` on `listener`, made a tokio listener, on a current-thread
/// runtime on this thread: the server's allocations are this thread's.
fn on_runtime<F, Fut>(listener: std::net::TcpListener, serve: F)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        listener.set_nonblocking(true).expect("nonblocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        serve(listener).await;
    });
}

/// The server: one connection on a current-thread runtime, echoed with the
/// plainest user loop. The switch is flipped between messages, by a
/// command the loop reads after each echo.
fn serve(listener: std::net::TcpListener, commands: mpsc::Receiver<Command>) {
    on_runtime(listener, |listener| async move {
        let (stream, _) = listener.accept().await.expect("accept");
        stream.set_nodelay(true).expect("nodelay");
        let mut ws = wsmachine_tokio::accept(stream).await.expect("handshake");
        while let Some(msg) = ws.recv().await {
            let msg = msg.expect("a valid message");
            if msg.is_text() || msg.is_binary() {
                ws.send(msg).await.expect("echo");
            }
            while let Ok(Command::Count(on)) = commands.try_recv() {
                COUNTING.with(|counting| counting.set(on));
            }
        }
    });
}

/// One masked final frame.
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// Sends `wire` (`count` frames) and reads back as many unmasked echoes of
/// `payload`.
fn echo(stream: &mut TcpStream, wire: &[u8], count: usize, opcode: u8, payload: &[u8]) {
    stream.write_all(wire).expect("send");
    let header_len = if payload.len() < 126 { 2 } else { 4 };
    let mut echo = vec![0u8; header_len + payload.len()];
    for _ in 0..count {
        stream.read_exact(&mut echo).expect("echo");
        assert_eq!(echo[0], 0x80 | opcode);
        assert_eq!(&echo[header_len..], payload);
    }
}

/// Allocations per message of the server's echo of `payload`, `in_flight`
/// at a time.
fn allocations_per_echo(opcode: u8, payload: &[u8], in_flight: usize) -> f64 {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (commands, received) = mpsc::channel();
    let server = std::thread::spawn(move || serve(listener, received));
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    let wire = masked(opcode, payload).repeat(in_flight);
    let rounds = MEASURED / in_flight;
    for _ in 0..WARM_UP {
        echo(&mut stream, &wire, in_flight, opcode, payload);
    }
    // Taken after the next round, so that every measured round counts whole.
    commands.send(Command::Count(true)).expect("server");
    echo(&mut stream, &wire, in_flight, opcode, payload);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..rounds {
        echo(&mut stream, &wire, in_flight, opcode, payload);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    commands.send(Command::Count(false)).expect("server");
    echo(&mut stream, &wire, in_flight, opcode, payload);
    // A Close 1000, answered, ends the server's loop without an error.
    stream
        .write_all(&masked(0x8, &1000u16.to_be_bytes()))
        .expect("close");
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).expect("the close reply");
    assert_eq!(reply, [0x88, 2, 0x03, 0xe8]);
    drop(stream);
    server.join().expect("server thread");
    let echoes = rounds * in_flight;
    println!(
        "opcode {opcode}, {} B, {in_flight} in flight: {} allocations in {echoes} echoes",
        payload.len(),
        after - before
    );
    (after - before) as f64 / echoes as f64
}

/// The small messages measured: binary and text, 5 B to 1 KiB.
fn small_messages() -> Vec<(u8, Vec<u8>)> {
    vec![
        (0x2, b"hello".to_vec()),
        (0x1, b"sixteen bytes ok".to_vec()),
        (0x2, vec![0xa5; 1024]),
        (0x1, "é".repeat(512).into_bytes()),
    ]
}

#[test]
fn one_message_in_flight_costs_the_buffers_after_each_wait_and_nothing_else() {
    for (opcode, payload) in small_messages() {
        let per_echo = allocations_per_echo(opcode, &payload, 1);
        // The read room and the output buffer with a shared header each,
        // the socket's queue of writes and, for a payload that goes out as
        // it is (1 KiB), the core's queue of such payloads.
        assert!(
            per_echo <= 6.0,
            "opcode {opcode}, {} B: {per_echo:.3} allocations per echo",
            payload.len()
        );
    }
}

#[test]
fn messages_that_come_together_share_the_read_room() {
    for (opcode, payload) in small_messages() {
        let per_echo = allocations_per_echo(opcode, &payload, 20);
        // Six per read at most, and a read takes several messages.
        assert!(
            per_echo <= 0.5,
            "opcode {opcode}, {} B: {per_echo:.3} allocations per echo",
            payload.len()
        );
    }
}

/// The handshake request of the idle connections.
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// Reads an HTTP response head, byte by byte.
fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response");
        head.push(byte[0]);
    }
    head
}

#[test]
fn an_idle_connection_holds_no_buffer_and_under_two_kib() {
    const CONNECTIONS: usize = 100;
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (ready, started) = mpsc::channel();
    // Each connection a task running the plainest loop, as an app's server.
    std::thread::spawn(move || {
        on_runtime(listener, |listener| async move {
            COUNTING.with(|counting| counting.set(true));
            ready.send(()).expect("started");
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                tokio::spawn(async move {
                    let mut ws = wsmachine_tokio::accept(stream).await.expect("handshake");
                    while let Some(Ok(msg)) = ws.recv().await {
                        if msg.is_data() && ws.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    started.recv().expect("server");
    let settle = || std::thread::sleep(std::time::Duration::from_millis(300));
    settle();
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    // Each connection is upgraded and echoes a 1 KiB message before it
    // waits: its buffers were used, and let go of.
    let payload = vec![0x5a; 1024];
    let clients: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream.write_all(UPGRADE).expect("request");
            assert!(read_head(&mut stream).starts_with(b"HTTP/1.1 101 "));
            echo(&mut stream, &masked(0x2, &payload), 1, 0x2, &payload);
            stream
        })
        .collect();
    settle();
    let per_connection = (LIVE_BYTES.load(Ordering::Relaxed) - before) / CONNECTIONS as i64;
    println!("{per_connection} B held per idle connection");
    // The task with its socket, the core's connection, the runtime's
    // registration of the TCP stream and the wakers; no buffer.
    assert!(
        (0..2048).contains(&per_connection),
        "{per_connection} B per idle connection"
    );
    drop(clients);
}
