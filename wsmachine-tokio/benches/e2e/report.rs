//! The bench's results: medians over rounds, the Markdown tables, and
//! `target/e2e.json`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use crate::load::{Case, Throughput};

/// The library the targets are about, and the ones it is measured against.
const SUBJECT: &str = "wsmachine";
/// The same library with a write per message (`send`), shown beside it.
const PER_MESSAGE: &str = "wsmachine-send";
/// (server, the least wsmachine's messages per second over theirs).
const THROUGHPUT_TARGETS: [(&str, f64); 2] = [("tokio-tungstenite", 1.3), ("fastwebsockets", 1.0)];
/// The hand-written echo every library is shown as a share of.
const MINIMAL: &str = "minimal";
/// tokio-tungstenite's bytes per idle connection over wsmachine's, at least.
const MEMORY_TARGET: f64 = 4.0;

/// Every run and failure so far.
pub struct Results {
    /// The cases this run measures, in the order the tables show them.
    cases: Vec<Case>,
    runs: BTreeMap<(&'static str, &'static str), Vec<Throughput>>,
    memory: BTreeMap<&'static str, f64>,
    failures: Vec<String>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn json_number(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "null".into(),
    }
}

fn cell(value: Option<f64>, unit: &str) -> String {
    value.map_or("failed".into(), |v| format!("{v:.0}{unit}"))
}

fn ratio_cells(ratio: Option<f64>, target: f64) -> (String, &'static str) {
    match ratio {
        Some(r) => (
            format!("{r:.2}×"),
            if r >= target { "met" } else { "not met" },
        ),
        None => ("–".into(), "no result"),
    }
}

impl Results {
    /// No results yet, for a run of `cases`.
    pub fn new(cases: Vec<Case>) -> Self {
        Results {
            cases,
            runs: BTreeMap::new(),
            memory: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// Records one measurement.
    pub fn add_run(&mut self, case: &'static str, server: &'static str, run: Throughput) {
        self.runs.entry((case, server)).or_default().push(run);
    }

    /// Records one server's bytes per idle connection.
    pub fn add_memory(&mut self, server: &'static str, bytes: f64) {
        self.memory.insert(server, bytes);
    }

    /// Records a run that failed.
    pub fn add_failure(&mut self, case: &str, server: &str, error: String) {
        self.failures.push(format!("{case}, {server}: {error}"));
    }

    /// An error unless every run succeeded and echoed something.
    pub fn check(&self) -> Result<(), String> {
        if let Some(failure) = self.failures.first() {
            return Err(format!(
                "{} failed runs, the first: {failure}",
                self.failures.len()
            ));
        }
        let silent: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, runs)| runs.iter().any(|run| run.messages_per_second <= 0.0))
            .map(|((case, server), _)| format!("{case}, {server}"))
            .collect();
        if !silent.is_empty() {
            return Err(format!("no echoes in: {}", silent.join("; ")));
        }
        Ok(())
    }

    fn rate(&self, case: &str, server: &str) -> Option<f64> {
        self.field(case, server, |run| run.messages_per_second)
    }

    fn field(&self, case: &str, server: &str, get: fn(&Throughput) -> f64) -> Option<f64> {
        let runs = self
            .runs
            .iter()
            .find(|((c, s), _)| *c == case && *s == server)?;
        median(runs.1.iter().map(get).collect())
    }

    fn ratio(&self, case: &str, ours: &str, other: &str) -> Option<f64> {
        Some(self.rate(case, ours)? / self.rate(case, other)?).filter(|r| r.is_finite())
    }

    fn memory_ratio(&self) -> Option<f64> {
        let ours = *self.memory.get(SUBJECT)?;
        let theirs = *self.memory.get("tokio-tungstenite")?;
        Some(theirs / ours).filter(|r| r.is_finite())
    }

    /// The tables: messages per second, ratios with targets, CPU use,
    /// memory, failures.
    pub fn markdown(&self, servers: &[&str], idle: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n## Messages per second (medians)\n");
        let _ = writeln!(out, "| case | {} |", servers.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(servers.len()));
        for case in &self.cases {
            let cells: Vec<String> = servers
                .iter()
                .map(|s| cell(self.rate(case.name, s), ""))
                .collect();
            let _ = writeln!(out, "| {} | {} |", case.name, cells.join(" | "));
        }
        let _ = writeln!(out, "\n## Ratios (wsmachine over the other)\n");
        let _ = writeln!(out, "| case | ours | against | ratio | target | result |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for case in &self.cases {
            for (other, target) in THROUGHPUT_TARGETS {
                for ours in [SUBJECT, PER_MESSAGE] {
                    if !servers.contains(&other) || !servers.contains(&ours) {
                        continue;
                    }
                    let (ratio, met) = ratio_cells(self.ratio(case.name, ours, other), target);
                    // The targets are the idiomatic server's; the other
                    // row shows what a write per message costs.
                    let (target, met) = if ours == SUBJECT {
                        (format!("≥ {target:.1}×"), met)
                    } else {
                        ("–".to_string(), "–")
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {ours} | {other} | {ratio} | {target} | {met} |",
                        case.name
                    );
                }
            }
        }
        if servers.contains(&MINIMAL) {
            let libraries: Vec<&str> = servers.iter().copied().filter(|s| *s != MINIMAL).collect();
            let _ = writeln!(
                out,
                "\n## Over the minimal echo (by hand, for this traffic alone: one buffer, one unmask pass, a vectored write per read)\n"
            );
            let _ = writeln!(out, "| case | {} |", libraries.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(libraries.len()));
            for case in &self.cases {
                let cells: Vec<String> = libraries
                    .iter()
                    .map(|s| {
                        self.ratio(case.name, s, MINIMAL)
                            .map_or("–".into(), |r| format!("{:.0}%", r * 100.0))
                    })
                    .collect();
                let _ = writeln!(out, "| {} | {} |", case.name, cells.join(" | "));
            }
        }
        let _ = writeln!(out, "\n## CPU use during measurement (cores, medians)\n");
        let _ = writeln!(out, "| case | server | server process | load generator |");
        let _ = writeln!(out, "|---|---|---|---|");
        for case in &self.cases {
            for server in servers {
                let ours = self.field(case.name, server, |run| run.server_cpu);
                let load = self.field(case.name, server, |run| run.client_cpu);
                let show = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2}"));
                let _ = writeln!(
                    out,
                    "| {} | {server} | {} | {} |",
                    case.name,
                    show(ours),
                    show(load)
                );
            }
        }
        if idle > 0 {
            let _ = writeln!(
                out,
                "\n## Resident memory per idle connection ({idle} open)\n"
            );
            let _ = writeln!(out, "| server | bytes |");
            let _ = writeln!(out, "|---|---|");
            for server in servers {
                let bytes = cell(self.memory.get(server).copied(), " B");
                let _ = writeln!(out, "| {server} | {bytes} |");
            }
            let (ratio, met) = ratio_cells(self.memory_ratio(), MEMORY_TARGET);
            let _ = writeln!(
                out,
                "\ntokio-tungstenite over wsmachine: {ratio} (target ≥ {MEMORY_TARGET:.0}×): {met}"
            );
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\n## Failures\n");
            for failure in &self.failures {
                let _ = writeln!(out, "- {failure}");
            }
        }
        out
    }

    /// `{case: {server: messages_per_second}, "memory": {server: bytes},
    /// "ratios": {case: {"vs SERVER": ratio}, "memory vs tokio-tungstenite":
    /// ratio}}`; `null` for what failed.
    pub fn json(&self, servers: &[&str]) -> String {
        let object = |pairs: Vec<(String, String)>| {
            let body: Vec<String> = pairs
                .into_iter()
                .map(|(k, v)| format!("{k:?}: {v}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        };
        let mut top = Vec::new();
        let mut ratios = Vec::new();
        for case in &self.cases {
            let rates = servers
                .iter()
                .map(|s| (s.to_string(), json_number(self.rate(case.name, s), 1)))
                .collect();
            top.push((case.name.to_string(), object(rates)));
            let vs = THROUGHPUT_TARGETS
                .iter()
                .map(|(other, _)| {
                    (
                        format!("vs {other}"),
                        json_number(self.ratio(case.name, SUBJECT, other), 3),
                    )
                })
                .collect();
            ratios.push((case.name.to_string(), object(vs)));
        }
        ratios.push((
            "memory: tokio-tungstenite over wsmachine".into(),
            json_number(self.memory_ratio(), 3),
        ));
        let memory = servers
            .iter()
            .map(|s| (s.to_string(), json_number(self.memory.get(s).copied(), 1)))
            .collect();
        top.push(("memory".into(), object(memory)));
        top.push(("ratios".into(), object(ratios)));
        let body: Vec<String> = top
            .into_iter()
            .map(|(k, v)| format!("  {k:?}: {v}"))
            .collect();
        format!("{{\n{}\n}}\n", body.join(",\n"))
    }
}

/// `target/e2e.json` in the target directory this bench was built in
/// (`target/release/deps/e2e-HASH`), so `CARGO_TARGET_DIR` is honoured.
pub fn json_path() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let target = exe.parent()?.parent()?.parent()?;
        Some(target.join("e2e.json"))
    });
    from_exe.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("e2e.json")
    })
}
