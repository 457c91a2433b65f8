//! Memory held and allocations made by a connection, counted by a global
//! allocator that keeps per-thread tallies (each test runs on its own
//! thread, so tests running in parallel do not disturb each other).
//!
//! - An open connection that has carried traffic, with every event and
//!   transmit taken and dropped, holds at most 1 KiB of heap.
//! - A connection waiting on its transport (a read found nothing) holds no
//!   heap at all.
//! - Receiving a small message costs at most one allocation amortised,
//!   whether many come in one read or one comes per read, and none when it
//!   is borrowed (`poll_event_ref`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use bytes::BytesMut;
use wsmachine::config::Config;
use wsmachine::entropy::FixedEntropy;
use wsmachine::frame::Frame;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, Connection, Event, EventRef, Opcode, Role, Server, State};

struct CountingAllocator;

thread_local! {
    /// Allocations and reallocations made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes allocated minus bytes freed by this thread.
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
    /// Bytes asked for by this thread's allocations and reallocations.
    static ALLOCATED_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn add_live(delta: i64) {
    // `try_with`: the allocator also runs while a thread's locals are torn
    // down.
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

fn count_allocation(size: usize) {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    let _ = ALLOCATED_BYTES.try_with(|total| total.set(total.get() + size as u64));
}

// SAFETY: every call is passed to `System` unchanged; the counters are
// thread-local cells with const initialisers, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        add_live(layout.size() as i64);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        add_live(layout.size() as i64);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_live(-(layout.size() as i64));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation(new_size);
        add_live(new_size as i64 - layout.size() as i64);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn allocated_bytes() -> u64 {
    ALLOCATED_BYTES.with(Cell::get)
}

fn live_bytes() -> i64 {
    LIVE_BYTES.with(Cell::get)
}

const NOW: Duration = Duration::ZERO;
const READ: usize = 64 << 10;

/// The heap an idle connection may hold.
const IDLE_LIMIT: i64 = 1024;

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

fn config() -> Config {
    let mut config = Config::default();
    config.max_message_size = 2 << 20;
    config
}

/// Frames as a peer sends them: masked by a client, plain by a server.
fn frames(opcode: Opcode, payload: &[u8], count: usize, masked: bool) -> Vec<u8> {
    let mut wire = BytesMut::new();
    for i in 0..count {
        let mask = masked.then(|| (i as u32).wrapping_mul(0x9E37_79B9).to_be_bytes());
        Frame::new(opcode, payload.to_vec()).encode(mask, &mut wire);
    }
    wire.to_vec()
}

/// Takes and drops every event and transmit; returns the number of frames.
fn drain<R: Role>(conn: &mut Connection<R>) -> usize {
    let mut frames = 0;
    while let Some(event) = conn.poll_event() {
        if let Event::Frame(frame) = event {
            assert!(!frame.payload.is_empty());
            frames += 1;
        }
    }
    while conn.poll_transmit().is_some() {}
    frames
}

/// Feeds `wire` in 64 KiB reads, draining after each; returns the frames.
fn feed<R: Role>(conn: &mut Connection<R>, wire: &[u8]) -> usize {
    let mut frames = 0;
    for read in wire.chunks(READ) {
        conn.receive(NOW, read).expect("valid frames");
        frames += drain(conn);
    }
    frames
}

/// Traffic both ways: small text, a 1 MiB binary message in 64 KiB reads and
/// in one owned buffer, a ping (answered), and sends of every size, borrowed
/// and owned.
fn exchange<R: Role>(conn: &mut Connection<R>, peer_masks: bool) {
    let small = frames(
        Opcode::Text,
        "sixteen bytes ok".as_bytes(),
        1000,
        peer_masks,
    );
    assert_eq!(feed(conn, &small), 1000);
    let large = frames(Opcode::Binary, &vec![0x5a; 1 << 20], 1, peer_masks);
    assert_eq!(feed(conn, &large), 1);
    conn.receive(NOW, &large).expect("valid frame");
    assert_eq!(drain(conn), 1);
    // The same through the room the connection lends, in 64 KiB reads
    // (`read_from` needs the `std` feature).
    #[cfg(feature = "std")]
    {
        let mut reader = &large[..];
        let mut received = 0;
        while conn.read_from(NOW, &mut reader).expect("valid frame") > 0 {
            received += drain(conn);
            if reader.is_empty() {
                break;
            }
        }
        assert_eq!(received, 1);
    }
    let ping = frames(Opcode::Ping, b"are you there", 1, peer_masks);
    assert_eq!(feed(conn, &ping), 1);
    for _ in 0..100 {
        conn.send_text("a short reply").expect("open");
    }
    drain(conn);
    conn.send_binary(&vec![0xa5; 1 << 20]).expect("open");
    conn.send_text("one more").expect("open");
    for _ in 0..10 {
        conn.send_binary_owned(vec![0xa5; 64 << 10]).expect("open");
        conn.send_text("in between").expect("open");
    }
    drain(conn);
    assert_eq!(conn.state(), State::Open);
}

/// A server that read `REQUEST`, accepted it and handed out its 101.
fn accepted_server() -> Server {
    let mut server_config = ServerConfig::default();
    server_config.config = config();
    let mut server = Server::new(server_config);
    server.receive(NOW, REQUEST).expect("valid request");
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.accept(NOW, Accept::default()).expect("pending");
    drain(&mut server);
    server
}

/// Heap held by a server after its handshake and after traffic, and what
/// is left once it is dropped, all relative to before it was made.
fn server_heap() -> (i64, i64, i64) {
    let before = live_bytes();
    let mut server = accepted_server();
    let after_handshake = live_bytes() - before;
    exchange(&mut server, true);
    let after_traffic = live_bytes() - before;
    drop(server);
    (after_handshake, after_traffic, live_bytes() - before)
}

/// Asserts that a connection held at most `IDLE_LIMIT` bytes once idle,
/// after its handshake and after traffic.
fn assert_idle(side: &str, after_handshake: i64, after_traffic: i64) {
    println!(
        "{side} heap: {after_handshake} B after the handshake, {after_traffic} B after traffic"
    );
    assert!(
        after_handshake <= IDLE_LIMIT,
        "{side}: {after_handshake} B after the handshake"
    );
    assert!(
        after_traffic <= IDLE_LIMIT,
        "{side}: {after_traffic} B after traffic"
    );
}

#[test]
fn idle_server_holds_at_most_1_kib() {
    // A first run sets up whatever the process initialises once.
    server_heap();
    let (after_handshake, after_traffic, after_drop) = server_heap();
    assert_idle("server", after_handshake, after_traffic);
    assert_eq!(after_drop, 0, "everything is freed with the server");
}

#[test]
fn idle_client_holds_at_most_1_kib() {
    let before = live_bytes();
    let mut client_config = ClientConfig::new("ws://server.example.com/chat").expect("valid url");
    client_config.config = config();
    let mut client =
        Client::new(client_config, FixedEntropy::new(b"the sample nonce")).expect("valid config");
    drain(&mut client);
    client.receive(NOW, RESPONSE).expect("valid response");
    assert!(matches!(client.poll_event(), Some(Event::Accepted(_))));
    drain(&mut client);
    let after_handshake = live_bytes() - before;
    exchange(&mut client, false);
    let after_traffic = live_bytes() - before;
    assert_idle("client", after_handshake, after_traffic);
}

/// Asserts that `receive_all` takes 1000 small text messages with at most
/// one allocation each (and a little set-up).
fn assert_one_allocation_per_message(how: &str, receive_all: impl FnOnce(&mut Server, &[u8])) {
    let wire = frames(Opcode::Text, "sixteen bytes ok".as_bytes(), 1000, true);
    let mut server = Server::new_open(config(), NOW);
    // Warm up: the first message may set up what the rest reuse.
    let first = frames(Opcode::Text, b"hello", 1, true);
    assert_eq!(feed(&mut server, &first), 1);
    let before = allocations();
    receive_all(&mut server, &wire);
    let count = allocations() - before;
    println!("1000 messages, {how}: {count} allocations");
    assert!(count <= 1000 + 16, "{how}: {count} allocations");
}

#[test]
fn small_messages_in_one_read_cost_at_most_one_allocation_each() {
    assert_one_allocation_per_message("in one read", |server, wire| {
        server.receive(NOW, wire).expect("valid frames");
        assert_eq!(drain(server), 1000);
    });
}

#[test]
fn small_messages_one_per_read_cost_at_most_one_allocation_each() {
    assert_one_allocation_per_message("one per read", |server, wire| {
        let frame_len = wire.len() / 1000;
        for frame in wire.chunks(frame_len) {
            server.receive(NOW, frame).expect("valid frame");
            assert_eq!(drain(server), 1);
        }
    });
}

#[test]
fn borrowed_small_messages_cost_no_allocation() {
    let wire = frames(Opcode::Text, "sixteen bytes ok".as_bytes(), 1000, true);
    let mut server = Server::new_open(config(), NOW);
    assert_eq!(
        feed(&mut server, &frames(Opcode::Text, b"hello", 1, true)),
        1
    );
    let before = allocations();
    let mut received = 0;
    // Reads of whole frames: a frame split between reads comes owned.
    let frame_len = wire.len() / 1000;
    let read_len = READ / 4 / frame_len * frame_len;
    for read in wire.chunks(read_len) {
        server.receive(NOW, read).expect("valid frames");
        while let Some(event) = server.poll_event_ref() {
            match event {
                EventRef::Frame(frame) => {
                    assert_eq!(frame.payload, b"sixteen bytes ok");
                    received += 1;
                }
                EventRef::Event(other) => panic!("unexpected {other:?}"),
            }
        }
    }
    let count = allocations() - before;
    println!("1000 borrowed messages in 16 KiB reads: {count} allocations");
    assert_eq!(received, 1000);
    // The receive buffer, at most once per read.
    let reads = wire.len().div_ceil(read_len) as u64;
    assert!(count <= reads, "{count} allocations for {reads} reads");
}

/// Allocations for a server's whole opening handshake: parsing the
/// request, the event, and the 101.
fn server_handshake_allocations(request: &[u8], fields: usize) -> u64 {
    let before = allocations();
    let mut server = Server::new(ServerConfig::default());
    server.receive(NOW, request).expect("valid request");
    let Some(Event::Request(request)) = server.poll_event() else {
        panic!("no request");
    };
    assert_eq!(request.headers().len(), fields);
    server.accept(NOW, Accept::default()).expect("pending");
    let response = server.poll_transmit().expect("a 101");
    assert!(response.starts_with(b"HTTP/1.1 101 "));
    allocations() - before
}

const BROWSER_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
    Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    Origin: https://example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\
    Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9\r\n\
    Cache-Control: no-cache\r\nPragma: no-cache\r\n\r\n";

#[test]
fn handshake_allocations_do_not_grow_with_the_number_of_headers() {
    server_handshake_allocations(REQUEST, 5);
    let minimal = server_handshake_allocations(REQUEST, 5);
    let browser = server_handshake_allocations(BROWSER_REQUEST, 11);
    println!("a server handshake: {minimal} allocations with 5 headers, {browser} with 11");
    // A header list is three buffers however many fields it holds (and the
    // request is kept once more for `accept`).
    assert_eq!(browser, minimal);
}

#[test]
fn a_read_of_small_messages_builds_no_queue_of_events() {
    // A 64 KiB read of 16-byte messages: about 2,900 frames. Nothing is
    // decoded before the app asks, so the connection holds the bytes it was
    // given and a fixed amount more, however many messages they carry.
    let payload = "sixteen bytes ok".as_bytes();
    let frame_len = frames(Opcode::Text, payload, 1, true).len();
    let count = READ / frame_len;
    let wire = frames(Opcode::Text, payload, count, true);
    let mut server = Server::new_open(config(), NOW);
    assert_eq!(
        feed(&mut server, &frames(Opcode::Text, b"warm", 1, true)),
        1
    );

    let before = live_bytes();
    let allocations_before = allocations();
    server.receive(NOW, &wire).expect("valid frames");
    let fixed = 1024;
    let after_receive = live_bytes() - before;
    assert!(
        after_receive <= wire.len() as i64 + fixed,
        "receive holds {after_receive} bytes for a {}-byte read",
        wire.len()
    );
    let mut most = after_receive;
    let mut taken = 0;
    while let Some(event) = server.poll_event() {
        assert!(matches!(event, Event::Frame(_)));
        taken += 1;
        most = most.max(live_bytes() - before);
    }
    assert_eq!(taken, count);
    println!(
        "{count} messages in one {}-byte read: {after_receive} bytes held after receive, at most {most} while draining, {} allocations",
        wire.len(),
        allocations() - allocations_before
    );
    assert!(
        most <= wire.len() as i64 + fixed,
        "{most} bytes held while draining"
    );
    assert!(allocations() - allocations_before <= count as u64 + 16);
}

#[test]
fn lent_room_grows_by_what_the_caller_asks_never_by_a_declared_length() {
    let mut server = Server::new_open(config(), NOW);
    // A header that declares 2 MiB, the limit, and a few bytes of it.
    let mut wire = BytesMut::new();
    wsmachine::frame::encode_frame(
        &wsmachine::frame::FrameHeader::new(Opcode::Binary, true, Some([1, 2, 3, 4]), 2 << 20),
        &[],
        &mut wire,
    );
    wire.extend_from_slice(&[0; 100]);
    let before = live_bytes();
    let mut room = server.receive_room(wire.len());
    room.copy_from_slice(&wire);
    room.commit(NOW, wire.len()).expect("valid so far");
    assert_eq!(drain(&mut server), 0, "the frame is not whole");
    // The hint for the next read is no larger for the declared length.
    assert!(server.receive_size_hint(READ) <= READ);
    let held = live_bytes() - before;
    println!("a 2 MiB header and 100 bytes through lent room: {held} B held");
    assert!(
        held <= 1024,
        "{held} B held for {} bytes received",
        wire.len()
    );
}

#[test]
fn a_connection_waiting_on_its_transport_holds_no_heap() {
    // After its handshake and traffic both ways, a read that finds nothing:
    // the connection waits, and holds no buffer, queue or handshake state.
    for traffic in [false, true] {
        let before = live_bytes();
        let mut server = accepted_server();
        if traffic {
            exchange(&mut server, true);
        }
        server.receive_room(READ).commit(NOW, 0).expect("open");
        assert_eq!(live_bytes() - before, 0, "traffic {traffic}: heap held");
        // The next message is read as before.
        let wire = frames(Opcode::Text, b"after the wait", 1, true);
        assert_eq!(feed(&mut server, &wire), 1);
        server.send_text("and answered").expect("open");
        assert!(server.poll_transmit().is_some());
    }
}

#[test]
fn room_given_back_unused_holds_no_memory() {
    // A read that finds nothing yet gives its room back: an idle connection
    // waiting on its transport holds no read buffer.
    let mut server = Server::new_open(config(), NOW);
    assert_eq!(
        feed(&mut server, &frames(Opcode::Text, b"warm", 1, true)),
        1
    );
    let before = live_bytes();
    server.receive_room(READ).commit(NOW, 0).expect("open");
    assert!(
        live_bytes() - before <= 0,
        "{} B kept",
        live_bytes() - before
    );
    // The same when the room is simply dropped.
    drop(server.receive_room(READ));
    assert_eq!(server.poll_event(), None);
    assert!(
        live_bytes() - before <= 0,
        "{} B kept",
        live_bytes() - before
    );
    // And for uninitialised room.
    let room = server.receive_room_uninit(READ);
    // SAFETY: nothing is committed, so nothing needs to be initialised.
    unsafe { room.commit(NOW, 0) }.expect("open");
    assert!(
        live_bytes() - before <= 0,
        "{} B kept",
        live_bytes() - before
    );
    // And when the read found the end of the transport.
    drop(server.receive_room(READ));
    server.receive_eof(NOW).expect("open");
    assert!(
        live_bytes() - before <= 0,
        "{} B kept",
        live_bytes() - before
    );
}

#[test]
fn a_large_message_through_uninitialised_room_grows_the_buffer_at_once() {
    let mut server = Server::new_open(config(), NOW);
    let message = frames(Opcode::Binary, &vec![7u8; 1 << 20], 1, true);
    let feed_uninit = |server: &mut Server| {
        let mut frames = 0;
        for read in message.chunks(READ) {
            let mut room = server.receive_room_uninit(read.len());
            for (slot, byte) in room.as_uninit_mut().iter_mut().zip(read) {
                slot.write(*byte);
            }
            // SAFETY: the loop wrote the whole room.
            unsafe { room.commit(NOW, read.len()) }.expect("valid");
            frames += drain(server);
        }
        frames
    };
    assert_eq!(feed_uninit(&mut server), 1);
    let before = allocated_bytes();
    assert_eq!(feed_uninit(&mut server), 1);
    let allocated = allocated_bytes() - before;
    println!("a second 1 MiB message in 64 KiB uninitialised reads: {allocated} B allocated");
    let limit = message.len() as u64 + 4 * READ as u64;
    assert!(allocated <= limit, "{allocated} B allocated, limit {limit}");
}

/// Feeds `wire` through lent room in 64 KiB reads, draining after each;
/// returns the frames.
fn feed_lent(server: &mut Server, wire: &[u8]) -> usize {
    let mut frames = 0;
    for read in wire.chunks(READ) {
        let mut room = server.receive_room(read.len());
        room.copy_from_slice(read);
        room.commit(NOW, read.len()).expect("valid frames");
        frames += drain(server);
    }
    frames
}

#[test]
fn a_large_message_after_one_of_its_size_grows_the_buffer_at_once() {
    let mut server = Server::new_open(config(), NOW);
    let message = frames(Opcode::Binary, &vec![7u8; 1 << 20], 1, true);
    assert_eq!(feed_lent(&mut server, &message), 1);
    // The second takes the size the first needed as soon as it is large,
    // instead of doubling through every size on the way (and copying what
    // it holds at each step).
    let before = allocated_bytes();
    assert_eq!(feed_lent(&mut server, &message), 1);
    let allocated = allocated_bytes() - before;
    println!("a second 1 MiB message in 64 KiB lent reads: {allocated} B allocated");
    // The buffer for the message's first read, then one of the size the
    // first message took; doubling allocates (and copies into) every
    // power of two up to twice the message.
    let limit = message.len() as u64 + 4 * READ as u64;
    assert!(allocated <= limit, "{allocated} B allocated, limit {limit}");
}

/// A transport holding every byte at once, recording the size of each read.
#[cfg(feature = "std")]
struct RecordingReader<'a> {
    rest: &'a [u8],
    reads: Vec<usize>,
}

#[cfg(feature = "std")]
impl std::io::Read for RecordingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::Read::read(&mut self.rest, buf)?;
        self.reads.push(n);
        Ok(n)
    }
}

#[cfg(feature = "std")]
#[test]
fn reads_that_follow_the_size_hint_stop_at_large_frames_and_cost_no_memory() {
    const MESSAGES: usize = 3;
    let mut server = Server::new_open(config(), NOW);
    let message = frames(Opcode::Binary, &vec![7u8; 1 << 20], 1, true);
    let wire = message.repeat(MESSAGES);
    let mut reader = RecordingReader {
        rest: &wire,
        reads: Vec::new(),
    };
    let mut received = 0;
    let mut allocated_for = Vec::new();
    while received < MESSAGES {
        let before = allocated_bytes();
        // `read_from` reads as much as the hint says.
        assert_ne!(server.read_from(NOW, &mut reader).expect("valid"), 0);
        allocated_for.push((received, allocated_bytes() - before));
        received += drain(&mut server);
    }
    let ends: Vec<usize> = reader
        .reads
        .iter()
        .scan(0, |total, read| {
            *total += read;
            Some(*total)
        })
        .collect();
    for k in 1..=MESSAGES {
        assert!(
            ends.contains(&(k * message.len())),
            "no read ended with message {k}: reads {:?}",
            reader.reads
        );
    }
    // A later message comes in the room the buffer kept: a first read, the
    // one that grows the buffer, and the rest at once.
    let later = ends.iter().filter(|end| **end > message.len()).count();
    assert!(
        later <= 4 * (MESSAGES - 1),
        "{later} reads for {} messages",
        MESSAGES - 1
    );
    // And memory still grows only with what arrived: each later message
    // allocates about its own size.
    let later_allocated: u64 = allocated_for
        .iter()
        .filter(|(received, _)| *received >= 1)
        .map(|(_, bytes)| bytes)
        .sum();
    let limit = (MESSAGES as u64 - 1) * (message.len() as u64 + 4 * READ as u64);
    assert!(
        later_allocated <= limit,
        "{later_allocated} B allocated, limit {limit}"
    );
}
