//! End to end: echo servers on wsmachine-tokio, tokio-tungstenite,
//! fastwebsockets and yawc, each in its own process and each written the
//! way its library's examples or guide write one, under one load generator
//! over loopback TCP; and `minimal`, an echo written by hand for this
//! traffic alone (`minimal.rs`), to show how much is the kernel's.
//!
//! The servers are named `library-idiom` and come in two groups, which are
//! compared within themselves only (`servers.rs`):
//!
//! - per message, a write and flush per echo: `wsmachine-send`,
//!   `tokio-tungstenite-send`, `fastwebsockets-write_frame`, `yawc-send`;
//! - batched, echoes written when the read side would wait:
//!   `wsmachine-feed`, `tokio-tungstenite-forward`,
//!   `fastwebsockets-buffered` (over a `BufWriter` flushed before a read
//!   waits), `yawc-feed`.
//!
//! `minimal` is the floor, no peer. `tokio-tungstenite-tuned` (4 KiB read
//! buffer) and `yawc-tuned` (1 KiB buffers) run in the memory case only.
//!
//! Every echo is checked by the load generator: header, size, opcode, and
//! payload (every byte in the smoke run, the first and last of each echo in
//! a measured run), so a server that skipped unmasking fails.
//!
//! ```text
//! cargo bench -p wsmachine-tokio --bench e2e
//! E2E_SECONDS=1 E2E_WARMUP=0 E2E_ROUNDS=1 E2E_IDLE=200 cargo bench -p wsmachine-tokio --bench e2e
//! cargo test -p wsmachine-tokio --bench e2e     # the smoke run
//! ```
//!
//! Environment: `E2E_SECONDS` (measured seconds per run, default 3),
//! `E2E_WARMUP` (seconds before measuring, default 1), `E2E_ROUNDS`
//! (default 5; the 1 MiB case runs 7/5 as many, 7 by default; in each
//! round every server runs each case in turn, each round starting with a
//! different server), `E2E_IDLE` (idle connections for the memory case,
//! default 10000, 0 skips it), `E2E_SERVERS` (a comma-separated subset),
//! `E2E_CASES` (a comma-separated list; a case runs if its name contains
//! one, as in `E2E_CASES="1 MiB"`; `none` runs the memory case alone), `E2E_PIN` (default 1: on a machine with
//! two or more cores, the load generator runs on the first and each server
//! on the second, so that neither is moved between cores mid-run; 0 leaves
//! both to the scheduler), `E2E_ALLOCS` (default 0; 1: each server counts
//! its allocations with a counting global allocator, which costs an atomic
//! add per allocation, and the tables show its allocations per message over
//! the measured window; on in the smoke run).
//!
//! Cases: 100 conns x 20 B (64 in flight each), 100 conns x 16 KiB (4),
//! 1 conn x 1 MiB (4), 16 conns x 5 B with 1 in flight (round-trip
//! latency: p50, p99), 16 conns x 5 B with 16 in flight, churn (16
//! connections, each closed and replaced after 10 messages: handshakes per
//! second), 100 conns x 16 KiB of non-ASCII UTF-8 text (every server
//! validates it; yawc's validation is off by default and turned on).
//!
//! Per case and server: messages per second (median, min, max over rounds),
//! the server's CPU µs per message (its utime + stime from `/proc/PID/stat`
//! before and after the run), and the load generator's own CPU use; a run
//! where that is ≥ 0.8 cores is marked generator-bound (†). Ratios are the
//! median of the per-round ratios of a group's subject (`wsmachine-send`,
//! `wsmachine-feed`) over each peer of its group.
//!
//! Without `--bench` (`cargo test -p wsmachine-tokio --bench e2e`) it makes
//! one short run of each case and a 200-connection memory case, checks every
//! byte of every echo, and fails unless every server echoed correctly in
//! every case.
//!
//! Prints Markdown tables and writes `target/e2e.json` (not in the smoke
//! run):
//!
//! ```text
//! {"meta": {"commit", "dirty", "date", "rounds", "rounds_1_mib", "seconds", "warm_up",
//!           "idle_connections", "pinning", "cpu": {"model", "cores"},
//!           "versions": {crate: version}, "groups": {server: group},
//!           "payload_check", "allocation_counting"},
//!  "throughput": {case: {server: {"group", "median", "min", "max", "rounds",
//!                 "cpu_us_per_msg", "server_cores", "generator_cores",
//!                 "generator_bound", "allocs_per_msg" (null unless E2E_ALLOCS=1),
//!                 "handshakes_per_second" (churn)}}},
//!  "latency": {case: {server: {"p50_us": {"median", "min", "max"}, "p99_us": {...}}}},
//!  "ratios": {case: {group: {"SUBJECT / PEER": {"median", "min", "max"}}}},
//!  "memory": {server: bytes_per_idle_connection},
//!  "targets": [{"case", "what", "measured", "bound", "at_most", "status"}],
//!  "failures": [...]}
//! ```
//!
//! The targets, each within its group (`targets.rs`): batched
//! `wsmachine-feed` ≥ 1.2× the best batched peer at 5 B with 16 in flight,
//! 20 B and 16 KiB, ≥ 1.0× at 1 MiB; per message `wsmachine-send` ≥ 1.0×
//! every peer, with server CPU per message ≤ 0.85× the best peer's; churn
//! ≥ 1.3× tokio-tungstenite in handshakes per second; bytes per idle
//! connection ≤ 0.5× the best peer's (defaults or tuned). They are reported,
//! met or missed, never asserted. `null` for what failed.
//!
//! # Hostile peers
//!
//! ```text
//! cargo bench -p wsmachine-tokio --bench e2e -- hostile
//! ```
//!
//! runs `hostile.rs` instead: what hostile peers cost each library's
//! per-message server (Autobahn's 9.x cases, a deflate bomb, 1,000
//! slow-header connections, 1,000 connections that never read), measured
//! in the server process (CPU seconds, peak RSS), a fresh one per part.
//! It prints a Markdown table and writes `target/hostile.json`; its
//! settings are in `hostile.rs`. It needs wstest, which it installs with
//! `tests/autobahn/install.sh` (`E2E_HOSTILE_PARTS=bomb,slow,unread`
//! leaves Autobahn out). The smoke run (`cargo test`) runs it too, small
//! and without Autobahn.

mod hostile;
mod hostile_load;
mod hostile_report;
mod load;
mod meta;
mod minimal;
mod report;
mod servers;
mod targets;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use report::Results;

/// Raises the soft descriptor limit to the hard one: the memory case holds
/// thousands of sockets on both sides.
/// The core each server is pinned to, chosen by `pin_load_generator`.
static SERVER_CORE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
/// The core the load generator is pinned to, if it is.
static LOAD_CORE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Pins this thread, the load generator's, to the first core the process
/// may use and keeps the second for the servers, unless `E2E_PIN=0` or
/// there are fewer than two.
fn pin_load_generator() {
    if std::env::var("E2E_PIN").is_ok_and(|pin| pin == "0") {
        return;
    }
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if let [load, server, ..] = cores[..] {
        if core_affinity::set_for_current(load) {
            let _ = SERVER_CORE.set(server.id);
            let _ = LOAD_CORE.set(load.id);
        } else {
            eprintln!("e2e: cannot pin to core {}", load.id);
        }
    }
}

/// Pins a server to the core its parent chose (`E2E_SERVER_CORE`), if any.
/// The parent's own pinning is inherited until then.
pub fn pin_server() {
    let Some(id) = std::env::var("E2E_SERVER_CORE")
        .ok()
        .and_then(|id| id.parse().ok())
    else {
        return;
    };
    if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
        eprintln!("e2e server: cannot pin to core {id}");
    }
}

pub fn raise_descriptor_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("e2e: cannot raise the descriptor limit: {error}");
    }
}

/// The system allocator, counting allocations and reallocations while
/// `COUNTING` is set: a server started with `E2E_ALLOCS=1` sets it, and
/// answers `allocs` on its stdin with the count so far. Otherwise each
/// allocation costs one relaxed load more.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn count_allocation() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed to `System` unchanged; the counter is an
// atomic, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Turns the count on in a server started with `E2E_ALLOCS=1`.
pub fn count_allocations_if_asked() {
    if std::env::var("E2E_ALLOCS").is_ok_and(|on| on == "1") {
        COUNTING.store(true, Ordering::Relaxed);
    }
}

/// The allocations counted so far in this process.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// A server in a child process, ended on drop.
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    addr: SocketAddr,
    /// Whether it counts its allocations.
    counting: bool,
}

impl ServerProcess {
    /// Starts `e2e server NAME` and reads the port it listens on.
    fn start(name: &str, count_allocations: bool) -> Result<Self, String> {
        Self::start_with(name, count_allocations, &[])
    }

    /// As [`start`](Self::start), with more environment for the server
    /// (`E2E_MAX_MESSAGE`).
    fn start_with(
        name: &str,
        count_allocations: bool,
        env: &[(&str, String)],
    ) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut command = Command::new(exe);
        command.envs(env.iter().map(|(key, value)| (key, value)));
        if let Some(core) = SERVER_CORE.get() {
            command.env("E2E_SERVER_CORE", core.to_string());
        }
        if count_allocations {
            command.env("E2E_ALLOCS", "1");
        }
        let mut child = command
            .args(["server", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn server {name}: {e}"))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let mut stdout = child.stdout.take().map(BufReader::new);
        if let Some(stdout) = &mut stdout {
            let _ = stdout.read_line(&mut line);
        }
        let port = line.trim().parse::<u16>();
        let mut server = ServerProcess {
            child,
            stdin,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            counting: count_allocations,
        };
        match port {
            Ok(port) => server.addr.set_port(port),
            Err(_) => return Err(format!("server {name} did not start: {line:?}")),
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The allocations the server has made so far, if it counts them.
    fn allocations(&mut self) -> Option<u64> {
        if !self.counting {
            return None;
        }
        let stdin = self.stdin.as_mut()?;
        stdin.write_all(b"allocs\n").ok()?;
        stdin.flush().ok()?;
        let mut line = String::new();
        self.stdout.as_mut()?.read_line(&mut line).ok()?;
        line.trim().parse().ok()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Closing its stdin ends it; the kill is for one that hangs.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The run's settings, from the environment.
struct Settings {
    measure: Duration,
    warm_up: Duration,
    rounds: usize,
    idle: usize,
    /// The servers of the throughput cases.
    servers: Vec<&'static str>,
    /// The servers of the memory case (the tuned ones too).
    memory_servers: Vec<&'static str>,
    /// Whether the servers count their allocations.
    allocs: bool,
    cases: Vec<load::Case>,
}

fn env_number(name: &str, default: f64) -> Result<f64, String> {
    match std::env::var(name) {
        Ok(value) => value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("{name}={value:?} is not a number")),
        Err(_) => Ok(default),
    }
}

fn settings() -> Result<Settings, String> {
    let all: Vec<&'static str> = servers::SERVERS.iter().map(|(name, _)| *name).collect();
    let memory_servers: Vec<&'static str> = match std::env::var("E2E_SERVERS") {
        Ok(list) if list.trim() == "none" => Vec::new(),
        Ok(list) => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            if let Some(unknown) = wanted.iter().find(|w| !all.contains(w)) {
                return Err(format!("unknown server {unknown:?} in E2E_SERVERS"));
            }
            all.into_iter().filter(|s| wanted.contains(s)).collect()
        }
        Err(_) => all,
    };
    let servers = memory_servers
        .iter()
        .copied()
        .filter(|s| servers::group(s) != Some(servers::Group::Tuned))
        .collect();
    let cases = match std::env::var("E2E_CASES") {
        Ok(list) if list.trim() == "none" => Vec::new(),
        Ok(list) => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            let cases: Vec<load::Case> = load::CASES
                .into_iter()
                .filter(|case| wanted.iter().any(|w| case.name.contains(w)))
                .collect();
            if cases.is_empty() {
                return Err(format!("E2E_CASES={list:?} names no case"));
            }
            cases
        }
        Err(_) => load::CASES.to_vec(),
    };
    Ok(Settings {
        measure: Duration::from_secs_f64(env_number("E2E_SECONDS", 3.0)?.max(0.1)),
        warm_up: Duration::from_secs_f64(env_number("E2E_WARMUP", 1.0)?),
        rounds: (env_number("E2E_ROUNDS", 5.0)? as usize).max(1),
        idle: env_number("E2E_IDLE", 10_000.0)? as usize,
        servers,
        memory_servers,
        allocs: env_number("E2E_ALLOCS", 0.0)? > 0.0,
        cases,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        let name = args.get(1).map_or("", String::as_str);
        return match servers::run(name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("e2e server {name}: {error}");
                ExitCode::FAILURE
            }
        };
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // gets a short run that checks every server echoes, as criterion's
    // benches do in test mode.
    let smoke = !args.iter().any(|arg| arg == "--bench");
    let result = if args.iter().any(|arg| arg == "hostile") {
        hostile::run(smoke)
    } else if smoke {
        // The smoke run covers the hostile mode's peers too, small.
        bench(true).and_then(|()| hostile::run(true))
    } else {
        bench(false)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("e2e: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench(smoke: bool) -> Result<(), String> {
    load::check_counter()?;
    let mut settings = settings()?;
    if smoke {
        settings.measure = Duration::from_millis(300);
        settings.warm_up = Duration::from_millis(100);
        settings.rounds = 1;
        settings.idle = settings.idle.min(200);
        settings.allocs = true;
    }
    raise_descriptor_limit();
    pin_load_generator();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let check = if smoke {
        load::Check::Whole
    } else {
        load::Check::Ends
    };
    let mut results = Results::new(settings.cases.clone());
    let rounds_of = |case: &load::Case| {
        if case.heavy {
            (settings.rounds * 7 + 2) / 5
        } else {
            settings.rounds
        }
    };
    let most_rounds = settings.cases.iter().map(rounds_of).max().unwrap_or(1);
    for round in 0..most_rounds {
        for case in settings.cases.iter().copied() {
            if round >= rounds_of(&case) {
                continue;
            }
            // Each round starts with a different server, so drift over a
            // round does not always favour the same one.
            let count = settings.servers.len();
            for i in 0..count {
                let name = settings.servers[(i + round) % count];
                let mut server = ServerProcess::start(name, settings.allocs)?;
                let (addr, pid) = (server.addr, server.pid());
                let mut allocations = || server.allocations();
                let outcome = runtime.block_on(load::throughput(
                    addr,
                    pid,
                    case,
                    check,
                    settings.warm_up,
                    settings.measure,
                    &mut allocations,
                ));
                drop(server);
                match outcome {
                    Ok(run) => {
                        eprintln!(
                            "round {} {:<36} {:<27} {:>9.0} msg/s  server {:>6.2} µs/msg {:.2} cores, load {:.2} cores{}{}{}",
                            round + 1,
                            case.name,
                            name,
                            run.messages_per_second,
                            run.server_us_per_message,
                            run.server_cores,
                            run.generator_cores,
                            run.latency_us
                                .map(|(p50, p99)| format!(", p50 {p50:.0} µs p99 {p99:.0} µs"))
                                .unwrap_or_default(),
                            run.handshakes_per_second
                                .map(|h| format!(", {h:.0} handshakes/s"))
                                .unwrap_or_default(),
                            run.allocations_per_message
                                .map(|a| format!(", {a:.2} allocs/msg"))
                                .unwrap_or_default(),
                        );
                        results.add_run(case.name, name, round, run);
                    }
                    Err(error) => {
                        eprintln!("round {} {} {name}: failed: {error}", round + 1, case.name);
                        results.add_failure(case.name, name, error);
                    }
                }
            }
        }
    }
    if settings.idle > 0 {
        for name in &settings.memory_servers {
            let server = ServerProcess::start(name, false)?;
            let outcome =
                runtime.block_on(load::idle_memory(server.addr, server.pid(), settings.idle));
            drop(server);
            match outcome {
                Ok(bytes) => {
                    eprintln!(
                        "memory {name:<27} {bytes:>8.0} B per idle connection ({} connections)",
                        settings.idle
                    );
                    results.add_memory(name, bytes);
                }
                Err(error) => {
                    eprintln!("memory {name}: failed: {error}");
                    results.add_failure("memory", name, error);
                }
            }
        }
    }
    println!(
        "{}",
        results.markdown(&settings.servers, &settings.memory_servers, settings.idle)
    );
    // A smoke run's figures are not worth keeping, nor worth overwriting
    // a real run's with.
    if !smoke {
        let heavy = load::CASES.iter().find(|case| case.heavy).map(rounds_of);
        let meta = meta::meta(&settings, heavy.unwrap_or(settings.rounds));
        let json = results.json(meta, &settings.servers, &settings.memory_servers);
        let text = serde_json::to_string_pretty(&json).map_err(|e| format!("json: {e}"))?;
        let path = report::json_path("e2e.json");
        std::fs::write(&path, text + "\n").map_err(|e| format!("write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    results.check()
}
