//! End to end: echo servers on wsmachine-tokio (as its guide writes one,
//! and with a write per message), tokio-tungstenite,
//! fastwebsockets and yawc, each in its own process, under one load
//! generator over loopback TCP; and `minimal`, an echo written by hand for
//! this traffic alone (`minimal.rs`), to show how much is the kernel's.
//!
//! ```text
//! cargo bench -p wsmachine-tokio --bench e2e
//! E2E_SECONDS=1 E2E_WARMUP=1 E2E_ROUNDS=1 cargo bench -p wsmachine-tokio --bench e2e
//! ```
//!
//! Environment: `E2E_SECONDS` (measured seconds per run, default 3),
//! `E2E_WARMUP` (seconds before measuring, default 1), `E2E_ROUNDS`
//! (default 3; servers and rounds are interleaved, medians reported),
//! `E2E_IDLE` (idle connections for the memory case, default 5000, 0 skips
//! it), `E2E_SERVERS` (a comma-separated subset), `E2E_CASES` (a
//! comma-separated list; a case runs if its name contains one, as in
//! `E2E_CASES="1 MiB"`), `E2E_PIN` (default 1: on a machine with two or
//! more cores, the load generator runs on the first and each server on the
//! second, so that neither is moved between cores mid-run; 0 leaves both to
//! the scheduler).
//!
//! Without `--bench` (`cargo test -p wsmachine-tokio --bench e2e`) it makes
//! one short run of each case and a 200-connection memory case, and fails
//! unless every server echoed in every case.
//!
//! Prints Markdown tables and writes `target/e2e.json`:
//! `{case: {server: messages_per_second}, "memory": {server:
//! bytes_per_idle_connection}, "ratios": {...}}`.

mod load;
mod minimal;
mod report;
mod servers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::time::Duration;

use report::Results;

/// Raises the soft descriptor limit to the hard one: the memory case holds
/// thousands of sockets on both sides.
/// The core each server is pinned to, chosen by `pin_load_generator`.
static SERVER_CORE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

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

/// A server in a child process, ended on drop.
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `e2e server NAME` and reads the port it listens on.
    fn start(name: &str) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut command = Command::new(exe);
        if let Some(core) = SERVER_CORE.get() {
            command.env("E2E_SERVER_CORE", core.to_string());
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
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let port = line.trim().parse::<u16>();
        let mut server = ServerProcess {
            child,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
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
    servers: Vec<&'static str>,
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
    let servers = match std::env::var("E2E_SERVERS") {
        Ok(list) => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            if let Some(unknown) = wanted.iter().find(|w| !servers::SERVERS.contains(w)) {
                return Err(format!("unknown server {unknown:?} in E2E_SERVERS"));
            }
            servers::SERVERS
                .into_iter()
                .filter(|s| wanted.contains(s))
                .collect()
        }
        Err(_) => servers::SERVERS.to_vec(),
    };
    let cases = match std::env::var("E2E_CASES") {
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
        rounds: (env_number("E2E_ROUNDS", 3.0)? as usize).max(1),
        idle: env_number("E2E_IDLE", 5000.0)? as usize,
        servers,
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
    match bench(smoke) {
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
    }
    raise_descriptor_limit();
    pin_load_generator();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let mut results = Results::new(settings.cases.clone());
    for round in 0..settings.rounds {
        for case in settings.cases.iter().copied() {
            // Each round starts with a different server, so drift over a
            // round does not always favour the same one.
            let count = settings.servers.len();
            for i in 0..count {
                let name = settings.servers[(i + round) % count];
                let server = ServerProcess::start(name)?;
                let pid = server.pid();
                let outcome = runtime.block_on(load::throughput(
                    server.addr,
                    server.pid(),
                    case,
                    settings.warm_up,
                    settings.measure,
                ));
                drop(server);
                match outcome {
                    Ok(run) => {
                        eprintln!(
                            "round {} {:<20} {:<18} {:>12.0} msg/s  server {:.2} cores, load {:.2} cores (server pid {pid})",
                            round + 1,
                            case.name,
                            name,
                            run.messages_per_second,
                            run.server_cpu,
                            run.client_cpu
                        );
                        results.add_run(case.name, name, run);
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
        for name in &settings.servers {
            let server = ServerProcess::start(name)?;
            let outcome =
                runtime.block_on(load::idle_memory(server.addr, server.pid(), settings.idle));
            drop(server);
            match outcome {
                Ok(bytes) => {
                    eprintln!(
                        "memory {name:<18} {bytes:>8.0} B per idle connection ({} connections)",
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
    println!("{}", results.markdown(&settings.servers, settings.idle));
    // A smoke run's figures are not worth keeping, nor worth overwriting
    // a real run's with.
    if !smoke {
        let path = report::json_path();
        std::fs::write(&path, results.json(&settings.servers))
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    results.check()
}
