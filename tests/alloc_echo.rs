//! Allocations of a server's steady-state echo, counted by a global
//! allocator with per-thread tallies (the pattern of `tests/alloc.rs`; a
//! test binary has one global allocator, so this one has its own).
//!
//! The echo: receive one masked text or binary frame (16 B or 1 KiB), take
//! it with `poll_event` (owned) or `poll_event_ref` (borrowed), send it
//! back (owned, or copied from the lent payload), take the output with
//! `poll_transmit` and drop it; 1000 echoes after 100 of warm-up.
//!
//! After the warm-up, an echo allocates nothing: the receive buffer and
//! the output buffer are each kept for reuse once empty while their
//! allocation is at most `Config::kept_buffer_capacity` (4 KiB by default),
//! and the `bytes` crate's shared header is made once per kept buffer, not
//! once per split. With the setting at 0 each buffer is let go of whenever
//! it is empty, and the echo allocates again (the second test), which is
//! how the first one can fail.
//!
//! `WSM_ALLOC_BACKTRACE=1` prints a backtrace for every allocation made
//! while measuring (the first `WSM_ALLOC_BACKTRACE_MAX`, default 8), to find
//! where one comes from:
//!
//! ```text
//! WSM_ALLOC_BACKTRACE=1 cargo test --test alloc_echo -- --nocapture --test-threads=1
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use bytes::BytesMut;
use wsmachine::config::Config;
use wsmachine::frame::Frame;
use wsmachine::{Event, EventRef, Opcode, Server, Utf8Bytes};

struct CountingAllocator;

thread_local! {
    /// Allocations and reallocations made by this thread.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Whether this thread's allocations get a backtrace now.
    static TRACING: Cell<bool> = const { Cell::new(false) };
    /// Set while a backtrace is taken, whose own allocations are not traced.
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
    /// Backtraces left to print.
    static TRACES_LEFT: Cell<u32> = const { Cell::new(0) };
}

fn count_allocation(size: usize) {
    // `try_with`: the allocator also runs while a thread's locals are torn
    // down.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    let tracing = TRACING.try_with(Cell::get).unwrap_or(false);
    if !tracing || IN_TRACE.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    let left = TRACES_LEFT.try_with(Cell::get).unwrap_or(0);
    if left == 0 {
        return;
    }
    let _ = TRACES_LEFT.try_with(|l| l.set(left - 1));
    let _ = IN_TRACE.try_with(|t| t.set(true));
    let trace = std::backtrace::Backtrace::force_capture();
    eprintln!("allocation of {size} B at:\n{trace}");
    let _ = IN_TRACE.try_with(|t| t.set(false));
}

// SAFETY: every call is passed to `System` unchanged; the counters are
// thread-local cells with const initialisers, which never allocate (the
// backtrace, taken only on request, allocates with the count disarmed).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Arms the backtraces if `WSM_ALLOC_BACKTRACE` is set.
fn trace_allocations(on: bool) {
    let wanted = on && std::env::var_os("WSM_ALLOC_BACKTRACE").is_some();
    if wanted {
        let max = std::env::var("WSM_ALLOC_BACKTRACE_MAX")
            .ok()
            .and_then(|m| m.parse().ok())
            .unwrap_or(8);
        TRACES_LEFT.with(|l| l.set(max));
    }
    TRACING.with(|t| t.set(wanted));
}

const NOW: Duration = Duration::ZERO;
const WARM_UP: usize = 100;
const MEASURED: usize = 1000;

fn config() -> Config {
    let mut config = Config::default();
    config.max_message_size = 2 << 20;
    config
}

/// One masked frame as a client sends it.
fn masked(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut wire = BytesMut::new();
    Frame::new(opcode, payload.to_vec()).encode(Some([0x37, 0xfa, 0x21, 0x3d]), &mut wire);
    wire.to_vec()
}

/// A payload of `len` bytes: non-ASCII UTF-8 for text, so that validation
/// has work to do.
fn payload(opcode: Opcode, len: usize) -> Vec<u8> {
    if opcode == Opcode::Text {
        // "é" is two bytes, "a" one: fill, then pad with ASCII.
        let mut text = "é".repeat(len / 2);
        while text.len() < len {
            text.push('a');
        }
        text.into_bytes()
    } else {
        (0..len).map(|i| (i % 251) as u8).collect()
    }
}

#[derive(Clone, Copy, Debug)]
enum Take {
    /// `poll_event`, then `send_text_owned` / `send_binary_owned`.
    Owned,
    /// `poll_event_ref`, the payload copied into a reused buffer, then
    /// `send_text` / `send_binary`.
    Borrowed,
}

/// One echo: the frame in, the event out, the reply sent, the output
/// taken and dropped. Returns the bytes the output held.
fn echo_once(server: &mut Server, wire: &[u8], take: Take, scratch: &mut Vec<u8>) -> usize {
    server.receive(NOW, wire).expect("a valid frame");
    let mut echoed = 0;
    match take {
        Take::Owned => {
            while let Some(event) = server.poll_event() {
                let Event::Frame(frame) = event else {
                    panic!("unexpected {event:?}");
                };
                match frame.opcode {
                    Opcode::Text => {
                        let text = Utf8Bytes::try_from(frame.payload).expect("valid UTF-8");
                        server.send_text_owned(text).expect("open");
                    }
                    Opcode::Binary => server.send_binary_owned(frame.payload).expect("open"),
                    other => panic!("unexpected {other:?}"),
                }
                echoed += 1;
            }
        }
        Take::Borrowed => loop {
            let opcode = match server.poll_event_ref() {
                Some(EventRef::Frame(frame)) => {
                    scratch.clear();
                    scratch.extend_from_slice(frame.payload);
                    frame.opcode
                }
                Some(EventRef::Event(event)) => panic!("unexpected {event:?}"),
                None => break,
            };
            match opcode {
                Opcode::Text => {
                    let text = std::str::from_utf8(scratch).expect("valid UTF-8");
                    server.send_text(text).expect("open");
                }
                _ => server.send_binary(scratch).expect("open"),
            }
            echoed += 1;
        },
    }
    assert_eq!(echoed, 1, "one echo per frame");
    let mut out = 0;
    while let Some(bytes) = server.poll_transmit() {
        out += bytes.len();
    }
    out
}

/// Allocations per echo after a warm-up, over `MEASURED` echoes.
fn allocations_per_echo(opcode: Opcode, len: usize, take: Take, config: Config) -> f64 {
    let body = payload(opcode, len);
    let wire = masked(opcode, &body);
    let mut server = Server::new_open(config, NOW);
    let mut scratch = Vec::with_capacity(len);
    for _ in 0..WARM_UP {
        let out = echo_once(&mut server, &wire, take, &mut scratch);
        // The header (no mask) and the payload.
        assert_eq!(out, wire.len() - 4);
    }
    trace_allocations(true);
    let before = allocations();
    for _ in 0..MEASURED {
        echo_once(&mut server, &wire, take, &mut scratch);
    }
    let count = allocations() - before;
    trace_allocations(false);
    let per_echo = count as f64 / MEASURED as f64;
    println!(
        "{opcode:?} {len} B, {take:?}: {count} allocations in {MEASURED} echoes ({per_echo:.2} each)"
    );
    per_echo
}

/// Every (opcode, payload length, how the event is taken) measured.
const ECHOES: [(Opcode, usize, Take); 8] = [
    (Opcode::Binary, 16, Take::Borrowed),
    (Opcode::Binary, 16, Take::Owned),
    (Opcode::Text, 16, Take::Borrowed),
    (Opcode::Text, 16, Take::Owned),
    (Opcode::Binary, 1024, Take::Borrowed),
    (Opcode::Binary, 1024, Take::Owned),
    (Opcode::Text, 1024, Take::Borrowed),
    (Opcode::Text, 1024, Take::Owned),
];

#[test]
fn steady_state_echo_allocates_nothing() {
    let failures: Vec<String> = ECHOES
        .iter()
        .filter_map(|&(opcode, len, take)| {
            let per_echo = allocations_per_echo(opcode, len, take, config());
            (per_echo > 0.0).then(|| format!("{opcode:?} {len} B {take:?}: {per_echo:.3} each"))
        })
        .collect();
    assert!(failures.is_empty(), "echoes that allocate: {failures:?}");
}

#[test]
fn without_kept_buffers_every_echo_allocates() {
    let mut config = config();
    config.kept_buffer_capacity = 0;
    for (opcode, len, take) in ECHOES {
        let per_echo = allocations_per_echo(opcode, len, take, config.clone());
        // A new receive buffer and a new output buffer for each echo.
        assert!(
            per_echo >= 2.0,
            "{opcode:?} {len} B {take:?}: {per_echo:.3} each"
        );
    }
}
