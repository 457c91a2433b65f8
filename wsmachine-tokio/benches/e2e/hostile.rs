//! The hostile mode (`e2e hostile`): what a hostile peer costs each
//! library's per-message server, each part in a fresh server process, so
//! that a peak (`VmHWM`) is that part's own:
//!
//! 1. Autobahn|Testsuite's 9.x cases (large and heavily fragmented
//!    messages) from `wstest -m fuzzingclient`: the server's CPU seconds
//!    (utime + stime from `/proc/PID/stat`) over the run and per group
//!    (9.1 to 9.8, a wstest run each), the wall time, and the cases'
//!    grades. Every server takes messages of up to 16 MiB
//!    here (`E2E_MAX_MESSAGE`), as 9.1.6 and 9.2.6 send 16 MiB.
//! 2. A deflate bomb: one masked binary frame whose permessage-deflate
//!    payload inflates to 1 GiB of zeros (about 1 MiB on the wire), sent to
//!    the deflate variant of the server (`wsmachine-deflate`,
//!    `yawc-deflate`; tungstenite 0.30 and fastwebsockets 0.10 have no
//!    permessage-deflate) at the usual 4 MiB limit: the server's peak RSS
//!    growth, its CPU seconds, and what the client saw.
//! 3. 1,000 connections that each send an upgrade request one byte every
//!    100 ms, never finishing it (a 2 KiB cookie), for 15 s: the peak RSS
//!    growth, and which connections the server ended, when, and with what.
//! 4. 1,000 upgraded connections that each send 8 MiB of 64 KiB binary
//!    messages as fast as their sockets take them and never read, until
//!    the writes stall for 2 s or 20 s pass: the peak RSS growth, how much
//!    the clients got written, and the kernel's TCP memory then (all
//!    sockets' buffers, `/proc/net/sockstat`) beside its limit
//!    (`net.ipv4.tcp_mem`): with 1,000 such connections it is the kernel's
//!    limit that may stop the writes first.
//!
//! Baselines are the server's `VmHWM` with one connection open (and, for
//! the bomb, a compressed message echoed), so the runtime's and the
//! library's one-time allocations are not counted.
//!
//! Environment: `E2E_SERVERS` (a subset of the four), `E2E_HOSTILE_PARTS`
//! (a comma-separated subset of `autobahn,bomb,slow,unread`),
//! `E2E_HOSTILE_CONNECTIONS` (default 1000), `E2E_HOSTILE_HOLD` (seconds
//! of the slow-header part, default 15), `E2E_HOSTILE_BOMB_MIB` (default
//! 1024), `E2E_HOSTILE_AUTOBAHN_CASES` (space-separated case patterns,
//! each its own wstest run with its own CPU figure; default `9.1.*` to
//! `9.8.*`, which are all of 9.x). The smoke run
//! (without `--bench`) skips Autobahn and runs the rest small.
//!
//! Prints Markdown tables and writes `target/hostile.json` (not in the
//! smoke run).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ServerProcess;
use crate::hostile_load as attack;
use crate::load::{self, cpu_seconds, status_bytes};

/// The per-message server of each library, and its deflate variant or why
/// there is none.
const SERVERS: [(&str, Result<&str, &str>); 4] = [
    ("wsmachine-send", Ok("wsmachine-deflate")),
    (
        "tokio-tungstenite-send",
        Err("n/a: tungstenite 0.30 has no permessage-deflate"),
    ),
    (
        "fastwebsockets-write_frame",
        Err("n/a: no permessage-deflate"),
    ),
    ("yawc-send", Ok("yawc-deflate")),
];

const PARTS: [&str; 4] = ["autobahn", "bomb", "slow", "unread"];

/// Autobahn's largest messages (9.1.6, 9.2.6) are 16 MiB.
const AUTOBAHN_MAX_MESSAGE: usize = 16 << 20;

struct Settings {
    servers: Vec<(&'static str, Result<&'static str, &'static str>)>,
    parts: Vec<&'static str>,
    connections: usize,
    hold: Duration,
    bomb: u64,
    unread_per_connection: u64,
    unread_deadline: Duration,
    autobahn_cases: Vec<String>,
}

fn settings(smoke: bool) -> Result<Settings, String> {
    let env = |name: &str| std::env::var(name).ok();
    let servers = match env("E2E_SERVERS") {
        Some(list) => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            if let Some(unknown) = wanted
                .iter()
                .find(|w| !SERVERS.iter().any(|(name, _)| name == *w))
            {
                return Err(format!(
                    "{unknown:?}: the hostile mode runs only {SERVERS:?}"
                ));
            }
            SERVERS
                .into_iter()
                .filter(|(name, _)| wanted.contains(name))
                .collect()
        }
        None => SERVERS.to_vec(),
    };
    let parts = match env("E2E_HOSTILE_PARTS") {
        Some(list) => PARTS
            .into_iter()
            .filter(|part| list.split(',').any(|w| w.trim() == *part))
            .collect(),
        None => PARTS.to_vec(),
    };
    let number = |name: &str, default: f64| crate::env_number(name, default);
    let mut settings = Settings {
        servers,
        parts,
        connections: number("E2E_HOSTILE_CONNECTIONS", 1000.0)? as usize,
        hold: Duration::from_secs_f64(number("E2E_HOSTILE_HOLD", 15.0)?),
        bomb: number("E2E_HOSTILE_BOMB_MIB", 1024.0)? as u64 * (1 << 20),
        unread_per_connection: 8 << 20,
        unread_deadline: Duration::from_secs(20),
        autobahn_cases: env("E2E_HOSTILE_AUTOBAHN_CASES")
            .unwrap_or_else(|| "9.1.* 9.2.* 9.3.* 9.4.* 9.5.* 9.6.* 9.7.* 9.8.*".into())
            .split_whitespace()
            .map(String::from)
            .collect(),
    };
    if smoke {
        // Small enough for `cargo test`, large enough that the bomb is
        // over the limit and every peer runs every path once.
        settings.parts.retain(|part| *part != "autobahn");
        settings.connections = settings.connections.min(20);
        settings.hold = settings.hold.min(Duration::from_secs(1));
        settings.bomb = settings.bomb.min(16 << 20);
        settings.unread_per_connection = 1 << 20;
        settings.unread_deadline = Duration::from_secs(2);
    }
    Ok(settings)
}

fn mib(bytes: f64) -> f64 {
    bytes / f64::from(1 << 20)
}

/// A fresh server's resident high-water mark.
fn peak(server: &ServerProcess) -> Result<u64, String> {
    status_bytes(server.pid(), "VmHWM")
}

/// Runs every part against every server; prints the tables and writes
/// `target/hostile.json`.
pub fn run(smoke: bool) -> Result<(), String> {
    let settings = settings(smoke)?;
    crate::raise_descriptor_limit();
    crate::pin_load_generator();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let mut results: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
    let mut failures = Vec::new();
    let wstest = if settings.parts.contains(&"autobahn") {
        Some(install_wstest()?)
    } else {
        None
    };
    let bomb = if settings.parts.contains(&"bomb") {
        let started = Instant::now();
        let body = attack::deflate_bomb(settings.bomb)?;
        eprintln!(
            "hostile: a bomb of {:.0} MiB inflated is {} bytes deflated ({:.1} s to make)",
            mib(settings.bomb as f64),
            body.len(),
            started.elapsed().as_secs_f64()
        );
        Some(Arc::new(body))
    } else {
        None
    };
    for part in &settings.parts {
        for (name, deflate) in &settings.servers {
            let outcome = match *part {
                "autobahn" => match &wstest {
                    Some(wstest) => autobahn(name, wstest, &settings.autobahn_cases),
                    None => Err("wstest is not installed".into()),
                },
                "bomb" => match (deflate, &bomb) {
                    (Ok(server), Some(body)) => {
                        runtime.block_on(deflate_bomb(server, Arc::clone(body), settings.bomb))
                    }
                    (Err(reason), _) => Ok(json!({ "n/a": reason })),
                    (_, None) => Err("no bomb".into()),
                },
                "slow" => runtime.block_on(slow_headers(name, &settings)),
                "unread" => runtime.block_on(never_read(name, &settings)),
                _ => unreachable!("parts are from PARTS"),
            };
            match outcome {
                Ok(value) => {
                    eprintln!("hostile {part} {name}: {value}");
                    results
                        .entry(part)
                        .or_default()
                        .insert(name.to_string(), value);
                }
                Err(error) => {
                    eprintln!("hostile {part} {name}: failed: {error}");
                    failures.push(json!({ "part": part, "server": name, "error": error }));
                }
            }
        }
    }
    println!(
        "{}",
        crate::hostile_report::markdown(&settings.servers, &results)
    );
    println!(
        "{}",
        crate::hostile_report::autobahn_groups(
            &settings.servers,
            &results,
            &settings.autobahn_cases
        )
    );
    if !smoke {
        let (commit, dirty) = crate::meta::commit();
        let json = json!({
            "meta": {
                "commit": commit,
                "dirty": dirty,
                "date": crate::meta::utc_now(),
                "cpu": crate::meta::cpu(),
                "versions": crate::meta::versions(),
                "pinning": crate::SERVER_CORE.get().map_or("none".to_string(), |core| {
                    format!("servers on core {core}, the bench and wstest on the other")
                }),
                "connections": settings.connections,
                "slow_header_hold_s": settings.hold.as_secs_f64(),
                "slow_header_interval_ms": SLOW_INTERVAL.as_millis() as u64,
                "bomb_inflated_bytes": settings.bomb,
                "max_message": crate::servers::MAX_MESSAGE,
                "autobahn_max_message": AUTOBAHN_MAX_MESSAGE,
                "autobahn_cases": settings.autobahn_cases,
                "never_read_bytes_per_connection": settings.unread_per_connection,
            },
            "autobahn": results.get("autobahn"),
            "deflate_bomb": results.get("bomb"),
            "slow_headers": results.get("slow"),
            "never_read": results.get("unread"),
            "failures": failures,
        });
        let text = serde_json::to_string_pretty(&json).map_err(|e| format!("json: {e}"))?;
        let path = crate::report::json_path("hostile.json");
        std::fs::write(&path, text + "\n").map_err(|e| format!("write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} part(s) failed", failures.len()))
    }
}

/// The workspace root, where `tests/autobahn/install.sh` puts wstest under
/// `target/autobahn/`.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs wstest with the Autobahn script's installer (sourced, as
/// `tests/autobahn/run.sh` does) and returns the command that runs it.
fn install_wstest() -> Result<Vec<String>, String> {
    let output = Command::new("bash")
        .args([
            "-c",
            "set -euo pipefail; source tests/autobahn/install.sh; ab_install >&2; \
             printf '%s\\n' \"${WSTEST[@]}\"",
        ])
        .current_dir(workspace())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if !output.status.success() {
        return Err("tests/autobahn/install.sh failed".into());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect())
}

/// The grades in the order of the suite's own reports, worst last.
const GRADES: [&str; 5] = [
    "OK",
    "INFORMATIONAL",
    "NON-STRICT",
    "UNIMPLEMENTED",
    "FAILED",
];

/// wstest's fuzzing client against a fresh `name` that takes messages up
/// to [`AUTOBAHN_MAX_MESSAGE`]: a run of wstest per pattern of `groups`
/// (`9.1.*`, ...), one after the other against the same process, so that
/// the server's CPU seconds are known per group as well as in all.
fn autobahn(name: &str, wstest: &[String], groups: &[String]) -> Result<Value, String> {
    let dir = workspace().join("target/autobahn/hostile").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let limit = [("E2E_MAX_MESSAGE", AUTOBAHN_MAX_MESSAGE.to_string())];
    let server = ServerProcess::start_with(name, false, &limit)?;
    let (mut cpu, mut wall) = (0.0, 0.0);
    let mut per_group = serde_json::Map::new();
    let mut grades: BTreeMap<String, u64> = BTreeMap::new();
    let mut slowest = (String::new(), 0u64);
    let mut count = 0;
    for (i, group) in groups.iter().enumerate() {
        let group_dir = dir.join(format!("{i}"));
        let (group_cpu, group_wall, cases) = wstest_run(&group_dir, name, &server, wstest, group)?;
        (cpu, wall) = (cpu + group_cpu, wall + group_wall);
        per_group.insert(
            group.clone(),
            json!({"cases": cases.len(), "server_cpu_s": group_cpu, "wall_s": group_wall}),
        );
        for (case, result) in &cases {
            let grade = |key: &str| result.get(key).and_then(Value::as_str).unwrap_or("?");
            // A case's grade is the worse of its behaviour and its closing.
            let rank = |g: &str| GRADES.iter().position(|x| *x == g).unwrap_or(GRADES.len());
            let worse = if rank(grade("behaviorClose")) > rank(grade("behavior")) {
                grade("behaviorClose")
            } else {
                grade("behavior")
            };
            *grades.entry(worse.to_string()).or_default() += 1;
            let duration = result.get("duration").and_then(Value::as_u64).unwrap_or(0);
            if duration > slowest.1 {
                slowest = (case.clone(), duration);
            }
        }
        count += cases.len();
    }
    let peak_rss = peak(&server)?;
    Ok(json!({
        "cases": count,
        "grades": grades,
        "server_cpu_s": cpu,
        "wall_s": wall,
        "groups": per_group,
        "server_peak_rss_bytes": peak_rss,
        "slowest_case": slowest.0,
        "slowest_case_ms": slowest.1,
        "max_message": AUTOBAHN_MAX_MESSAGE,
    }))
}

/// One run of wstest's fuzzing client, the cases of `pattern` against
/// `server`, in `dir`: the server's CPU seconds over it, its wall time,
/// and the cases' results from wstest's `index.json`.
fn wstest_run(
    dir: &std::path::Path,
    name: &str,
    server: &ServerProcess,
    wstest: &[String],
    pattern: &str,
) -> Result<(f64, f64, serde_json::Map<String, Value>), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let spec = json!({
        "options": {"failByDrop": false},
        "outdir": dir.join("reports"),
        "servers": [{"agent": name, "url": format!("ws://{}/", server.addr)}],
        "cases": [pattern],
        "exclude-cases": [],
        "exclude-agent-cases": {},
    });
    let spec_path = dir.join("fuzzingclient.json");
    std::fs::write(&spec_path, spec.to_string()).map_err(|e| format!("spec: {e}"))?;
    let log = std::fs::File::create(dir.join("fuzzingclient.log")).map_err(|e| e.to_string())?;
    let (program, args) = wstest.split_first().ok_or("no wstest command")?;
    let (cpu_before, started) = (cpu_seconds(server.pid()), Instant::now());
    let status = Command::new("timeout")
        .args(["--kill-after=10", "1200", program])
        .args(args)
        .args(["-m", "fuzzingclient", "-s"])
        .arg(&spec_path)
        .current_dir(dir)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("wstest: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.pid()) - cpu_before;
    if !status.success() {
        return Err(format!("wstest: {status} (see {})", dir.display()));
    }
    let index = std::fs::read_to_string(dir.join("reports/index.json"))
        .map_err(|e| format!("index.json: {e}"))?;
    let mut index: Value = serde_json::from_str(&index).map_err(|e| format!("index.json: {e}"))?;
    match index.get_mut(name).map(Value::take) {
        Some(Value::Object(cases)) => Ok((cpu, wall, cases)),
        _ => Err(format!("{pattern}: index.json has no entry for the server")),
    }
}

/// The bomb against `server` (a deflate variant), fresh.
async fn deflate_bomb(server: &str, body: Arc<Vec<u8>>, inflated: u64) -> Result<Value, String> {
    let process = ServerProcess::start(server, false)?;
    let mut stream = attack::open_deflate(process.addr).await?;
    attack::deflate_warm_up(&mut stream).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (baseline, cpu_before) = (peak(&process)?, cpu_seconds(process.pid()));
    let wire = body.len();
    let outcome = attack::send_bomb(stream, body, Duration::from_secs(30)).await?;
    // Whatever the server still does with what it read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (top, cpu) = (peak(&process)?, cpu_seconds(process.pid()) - cpu_before);
    Ok(json!({
        "server": server,
        "limit": crate::servers::MAX_MESSAGE,
        "inflated_bytes": inflated,
        "wire_bytes": wire,
        "client_saw": outcome.answer,
        "answer_after_s": outcome.seconds,
        "client_wrote_bytes": outcome.wire_bytes_sent,
        "server_cpu_s": cpu,
        "peak_rss_growth_bytes": top.saturating_sub(baseline),
    }))
}

/// One byte of the request per this.
const SLOW_INTERVAL: Duration = Duration::from_millis(100);

/// The slow-header connections against a fresh `name`.
async fn slow_headers(name: &str, settings: &Settings) -> Result<Value, String> {
    let process = ServerProcess::start(name, false)?;
    let first = load::open(process.addr).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (baseline, cpu_before) = (peak(&process)?, cpu_seconds(process.pid()));
    let outcome = attack::slow_headers(
        process.addr,
        settings.connections,
        SLOW_INTERVAL,
        settings.hold,
    )
    .await;
    let (top, cpu) = (peak(&process)?, cpu_seconds(process.pid()) - cpu_before);
    drop(first);
    let growth = top.saturating_sub(baseline);
    let mut answers: BTreeMap<String, u64> = BTreeMap::new();
    for answer in &outcome.answers {
        let key = if answer.is_empty() {
            "nothing".to_string()
        } else {
            answer.clone()
        };
        *answers.entry(key).or_default() += 1;
    }
    let mut closed = outcome.closed_after.clone();
    closed.sort_by(f64::total_cmp);
    let at = |q: f64| {
        closed
            .get(((closed.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    Ok(json!({
        "connections": outcome.opened,
        "connect_failures": outcome.failed,
        "hold_s": settings.hold.as_secs_f64(),
        "peak_rss_growth_bytes": growth,
        "per_connection_bytes": growth as f64 / outcome.opened.max(1) as f64,
        "ended_by_server": closed.len(),
        "ended_after_s": {"min": at(0.0), "median": at(0.5), "max": at(1.0)},
        "answers": answers,
        "server_cpu_s": cpu,
    }))
}

/// The never-reading connections against a fresh `name`.
async fn never_read(name: &str, settings: &Settings) -> Result<Value, String> {
    let process = ServerProcess::start(name, false)?;
    let first = load::open(process.addr).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = peak(&process)?;
    let streams = load::open_many(process.addr, settings.connections, 100).await?;
    let count = streams.len();
    let cpu_before = cpu_seconds(process.pid());
    let (outcome, tasks) = attack::never_read(
        streams,
        settings.unread_per_connection,
        Duration::from_secs(2),
        settings.unread_deadline,
    )
    .await;
    // A moment for what the server has read to be echoed or dropped.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let top = peak(&process)?;
    let now = status_bytes(process.pid(), "VmRSS")?;
    let (kernel, kernel_limit) = (tcp_memory_pages(), tcp_memory_limit_pages());
    let cpu = cpu_seconds(process.pid()) - cpu_before;
    drop(tasks);
    drop(first);
    let growth = top.saturating_sub(baseline);
    Ok(json!({
        "connections": count,
        "bytes_per_connection": settings.unread_per_connection,
        "client_wrote_bytes": outcome.written,
        "client_wrote_per_connection_bytes": outcome.written as f64 / count.max(1) as f64,
        "writes_stalled": outcome.stalled,
        "connections_that_wrote_all": outcome.finished,
        "connections_ended_by_server": outcome.ended,
        "seconds": outcome.seconds,
        "peak_rss_growth_bytes": growth,
        "per_connection_bytes": growth as f64 / count.max(1) as f64,
        "rss_growth_at_end_bytes": now.saturating_sub(baseline),
        "kernel_tcp_memory_pages": kernel,
        "kernel_tcp_memory_limit_pages": kernel_limit,
        "server_cpu_s": cpu,
    }))
}

/// The pages all TCP sockets' buffers hold now (`mem` of the `TCP:` line
/// of `/proc/net/sockstat`).
fn tcp_memory_pages() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|word| *word == "mem")?;
    words.next()?.parse().ok()
}

/// The kernel's hard limit on those pages (the third of
/// `net.ipv4.tcp_mem`), past which sockets get no more buffer memory.
fn tcp_memory_limit_pages() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_mem")
        .ok()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}
