//! The `meta` object of `target/e2e.json`: what a run was, on what.

use serde_json::{Value, json};

use crate::{LOAD_CORE, SERVER_CORE, Settings, servers};

/// The lock file the bench was built with, for the peers' versions.
const LOCK: &str = include_str!("../../../Cargo.lock");

/// (crate, the version prefix the bench depends on): the lock file may hold
/// other versions of a crate for other dependents.
const CRATES: [(&str, &str); 8] = [
    ("wsmachine", "0."),
    ("tokio", "1."),
    ("tokio-tungstenite", "0.30."),
    ("tungstenite", "0.30."),
    ("fastwebsockets", "0.10."),
    ("yawc", "0.5."),
    ("hyper", "1."),
    ("rustc", ""),
];

/// The version of `name` in the lock file that starts with `prefix`.
fn locked_version(name: &str, prefix: &str) -> Option<String> {
    let entry = format!("name = \"{name}\"\nversion = \"");
    LOCK.match_indices(&entry).find_map(|(at, _)| {
        let rest = LOCK.get(at + entry.len()..)?;
        let version = rest.split('"').next()?;
        version.starts_with(prefix).then(|| version.to_string())
    })
}

pub fn command(program: &str, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for now.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

pub fn cpu() -> Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        });
    json!({
        "model": model,
        // Counted from /proc/cpuinfo: this thread is pinned to one by now.
        "cores": std::fs::read_to_string("/proc/cpuinfo")
            .map_or(0, |info| info.lines().filter(|l| l.starts_with("processor")).count()),
    })
}

/// The libraries' versions in the lock file, and rustc's.
pub fn versions() -> Value {
    let mut versions = serde_json::Map::new();
    for (name, prefix) in CRATES {
        let version = if name == "rustc" {
            command("rustc", &["--version"])
        } else {
            locked_version(name, prefix)
        };
        versions.insert(name.into(), json!(version));
    }
    Value::Object(versions)
}

/// The commit checked out, and whether tracked files differ from it.
pub fn commit() -> (Option<String>, Option<bool>) {
    let commit = command("git", &["rev-parse", "HEAD"]);
    let dirty = command("git", &["status", "--porcelain", "--untracked-files=no"])
        .map(|status| !status.is_empty());
    (commit, dirty)
}

/// The run's description.
pub fn meta(settings: &Settings, heavy_rounds: usize) -> Value {
    let (commit, dirty) = commit();
    let versions = versions();
    let pinning = match (LOAD_CORE.get(), SERVER_CORE.get()) {
        (Some(load), Some(server)) => {
            format!("load generator on core {load}, servers on core {server}")
        }
        _ => "none".to_string(),
    };
    let groups: serde_json::Map<String, Value> = servers::SERVERS
        .iter()
        .map(|(name, group)| (name.to_string(), json!(group.name())))
        .collect();
    json!({
        "commit": commit,
        "dirty": dirty,
        "date": utc_now(),
        "rounds": settings.rounds,
        "rounds_1_mib": heavy_rounds,
        "seconds": settings.measure.as_secs_f64(),
        "warm_up": settings.warm_up.as_secs_f64(),
        "idle_connections": settings.idle,
        "pinning": pinning,
        "cpu": cpu(),
        "versions": versions,
        "groups": groups,
        "payload_check": "first and last byte of every echo",
        "allocation_counting": settings.allocs,
    })
}
