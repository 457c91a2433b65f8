//! The bench's results: every round's run, the Markdown tables and
//! `target/e2e.json`.
//!
//! Figures per case and server: the median over rounds with the min and
//! max; ratios are taken within a group only (`servers::Group`), as the
//! median of the paired ratios of each round (the subject's run and the
//! peer's in the same round, one after the other), with their min and max.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::load::{Case, Throughput};
use crate::servers::{self, Group};

/// The hand-written echo every library is shown as a share of.
const MINIMAL: &str = "minimal";
/// The load generator's CPU use from which a case is marked as limited by
/// it rather than by the server.
pub const GENERATOR_BOUND: f64 = 0.8;

/// Every run and failure so far.
pub struct Results {
    /// The cases this run measures, in the order the tables show them.
    cases: Vec<Case>,
    /// (case, server) → (round, run).
    runs: BTreeMap<(&'static str, &'static str), Vec<(usize, Throughput)>>,
    memory: BTreeMap<&'static str, f64>,
    failures: Vec<String>,
}

/// Median, min and max of the finite values, if any.
fn spread(mut values: Vec<f64>) -> Option<(f64, f64, f64)> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let median = if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    };
    Some((median, values[0], values[values.len() - 1]))
}

fn number(value: Option<f64>, decimals: i32) -> Value {
    match value {
        Some(v) if v.is_finite() => {
            let scale = 10f64.powi(decimals);
            json!((v * scale).round() / scale)
        }
        _ => Value::Null,
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
    pub fn add_run(
        &mut self,
        case: &'static str,
        server: &'static str,
        round: usize,
        run: Throughput,
    ) {
        self.runs
            .entry((case, server))
            .or_default()
            .push((round, run));
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
            .filter(|(_, runs)| runs.iter().any(|(_, run)| run.messages_per_second <= 0.0))
            .map(|((case, server), _)| format!("{case}, {server}"))
            .collect();
        if !silent.is_empty() {
            return Err(format!("no echoes in: {}", silent.join("; ")));
        }
        Ok(())
    }

    fn runs(&self, case: &str, server: &str) -> &[(usize, Throughput)] {
        self.runs
            .iter()
            .find(|((c, s), _)| *c == case && *s == server)
            .map_or(&[], |(_, runs)| runs.as_slice())
    }

    fn field(
        &self,
        case: &str,
        server: &str,
        get: impl Fn(&Throughput) -> Option<f64>,
    ) -> Option<(f64, f64, f64)> {
        spread(
            self.runs(case, server)
                .iter()
                .filter_map(|(_, run)| get(run))
                .collect(),
        )
    }

    /// Messages per second of `server` in `case`: median, min, max.
    pub fn rate(&self, case: &str, server: &str) -> Option<(f64, f64, f64)> {
        self.field(case, server, |run| Some(run.messages_per_second))
    }

    /// The median, min and max of `ours / other` over the rounds both ran.
    pub fn paired_ratio(&self, case: &str, ours: &str, other: &str) -> Option<(f64, f64, f64)> {
        let theirs = self.runs(case, other);
        spread(
            self.runs(case, ours)
                .iter()
                .filter_map(|(round, run)| {
                    let peer = theirs.iter().find(|(r, _)| r == round)?;
                    Some(run.messages_per_second / peer.1.messages_per_second)
                })
                .collect(),
        )
    }

    /// The median of `server`'s CPU µs per message in `case`.
    pub fn cpu_us_per_message(&self, case: &str, server: &str) -> Option<f64> {
        self.field(case, server, |run| Some(run.server_us_per_message))
            .map(|(median, _, _)| median)
    }

    /// `server`'s bytes per idle connection, if measured.
    pub fn memory_of(&self, server: &str) -> Option<f64> {
        self.memory.get(server).copied()
    }

    /// Every server's bytes per idle connection.
    pub fn memory_servers(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.memory.iter().map(|(server, bytes)| (*server, *bytes))
    }

    fn generator_bound(&self, case: &str, server: &str) -> bool {
        self.field(case, server, |run| Some(run.generator_cores))
            .is_some_and(|(median, _, _)| median >= GENERATOR_BOUND)
    }

    /// (group, subject, peers) for the groups with a subject among `servers`.
    fn groups<'a>(&self, servers: &[&'a str]) -> Vec<(Group, &'a str, Vec<&'a str>)> {
        servers::SUBJECTS
            .iter()
            .filter_map(|(group, subject)| {
                let subject = *servers.iter().find(|s| *s == subject)?;
                let peers = servers
                    .iter()
                    .copied()
                    .filter(|s| *s != subject && servers::group(s) == Some(*group))
                    .collect();
                Some((*group, subject, peers))
            })
            .collect()
    }

    /// The tables: messages per second per group, paired ratios within each
    /// group, over the minimal echo, latency, connection churn, CPU, memory,
    /// failures.
    pub fn markdown(&self, servers: &[&str], memory_servers: &[&str], idle: usize) -> String {
        let mut out = String::new();
        for group in [Group::PerMessage, Group::Batched, Group::Floor] {
            let members: Vec<&str> = servers
                .iter()
                .copied()
                .filter(|s| servers::group(s) == Some(group))
                .collect();
            if members.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n## Messages per second, {} (median, min–max; † load generator ≥ {GENERATOR_BOUND} cores)\n",
                group.name()
            );
            let _ = writeln!(out, "| case | {} |", members.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(members.len()));
            for case in &self.cases {
                let cells: Vec<String> = members
                    .iter()
                    .map(|s| match self.rate(case.name, s) {
                        Some((median, min, max)) => format!(
                            "{median:.0} ({min:.0}–{max:.0}){}",
                            if self.generator_bound(case.name, s) {
                                " †"
                            } else {
                                ""
                            }
                        ),
                        None => "failed".into(),
                    })
                    .collect();
                let _ = writeln!(out, "| {} | {} |", case.name, cells.join(" | "));
            }
        }
        let _ = writeln!(
            out,
            "\n## Ratios within each group (median of per-round ratios, min–max)\n"
        );
        let _ = writeln!(out, "| case | group | ours | against | ratio |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for case in &self.cases {
            for (group, subject, peers) in self.groups(servers) {
                for peer in peers {
                    let ratio = self
                        .paired_ratio(case.name, subject, peer)
                        .map_or("–".to_string(), |(median, min, max)| {
                            format!("{median:.2}× ({min:.2}–{max:.2})")
                        });
                    let _ = writeln!(
                        out,
                        "| {} | {} | {subject} | {peer} | {ratio} |",
                        case.name,
                        group.name()
                    );
                }
            }
        }
        if servers.contains(&MINIMAL) {
            let libraries: Vec<&str> = servers.iter().copied().filter(|s| *s != MINIMAL).collect();
            let _ = writeln!(
                out,
                "\n## Share of the minimal echo (by hand, no checks, no UTF-8 validation; median of per-round ratios)\n"
            );
            let _ = writeln!(out, "| case | {} |", libraries.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(libraries.len()));
            for case in &self.cases {
                let cells: Vec<String> = libraries
                    .iter()
                    .map(|s| {
                        self.paired_ratio(case.name, s, MINIMAL)
                            .map_or("–".into(), |(r, _, _)| format!("{:.0}%", r * 100.0))
                    })
                    .collect();
                let _ = writeln!(out, "| {} | {} |", case.name, cells.join(" | "));
            }
        }
        for case in self.cases.iter().filter(|c| c.latency()) {
            let _ = writeln!(
                out,
                "\n## Round trips, {} (µs, medians over rounds)\n",
                case.name
            );
            let _ = writeln!(out, "| server | p50 | p99 |");
            let _ = writeln!(out, "|---|---|---|");
            for server in servers {
                let p50 = self.field(case.name, server, |r| r.latency_us.map(|l| l.0));
                let p99 = self.field(case.name, server, |r| r.latency_us.map(|l| l.1));
                let show = |v: Option<(f64, f64, f64)>| {
                    v.map_or("–".into(), |(m, lo, hi)| {
                        format!("{m:.1} ({lo:.1}–{hi:.1})")
                    })
                };
                let _ = writeln!(out, "| {server} | {} | {} |", show(p50), show(p99));
            }
        }
        for case in self.cases.iter().filter(|c| c.churn.is_some()) {
            let _ = writeln!(
                out,
                "\n## Handshakes per second, {} (median, min–max)\n",
                case.name
            );
            let _ = writeln!(out, "| server | handshakes/s |");
            let _ = writeln!(out, "|---|---|");
            for server in servers {
                let rate = self.field(case.name, server, |r| r.handshakes_per_second);
                let cell = rate.map_or("–".into(), |(m, lo, hi)| {
                    format!("{m:.0} ({lo:.0}–{hi:.0})")
                });
                let _ = writeln!(out, "| {server} | {cell} |");
            }
        }
        let _ = writeln!(out, "\n## CPU (medians over rounds)\n");
        let _ = writeln!(
            out,
            "| case | server | server µs per message | server allocations per message | server cores | load generator cores |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for case in &self.cases {
            for server in servers {
                let show = |get: fn(&Throughput) -> f64, decimals: usize| {
                    self.field(case.name, server, |r| Some(get(r)))
                        .map_or("–".into(), |(m, _, _)| format!("{m:.decimals$}"))
                };
                let allocations = self
                    .field(case.name, server, |r| r.allocations_per_message)
                    .map_or("–".into(), |(m, _, _)| format!("{m:.2}"));
                let _ = writeln!(
                    out,
                    "| {} | {server} | {} | {allocations} | {} | {}{} |",
                    case.name,
                    show(|r| r.server_us_per_message, 2),
                    show(|r| r.server_cores, 2),
                    show(|r| r.generator_cores, 2),
                    if self.generator_bound(case.name, server) {
                        " †"
                    } else {
                        ""
                    }
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
            for server in memory_servers {
                let bytes = self
                    .memory
                    .get(server)
                    .map_or("failed".into(), |b| format!("{b:.0} B"));
                let _ = writeln!(out, "| {server} | {bytes} |");
            }
        }
        let checks = crate::targets::checks(self, &self.cases, servers);
        if !checks.is_empty() {
            let _ = writeln!(
                out,
                "\n## Targets (within each group; see benches/e2e/targets.rs)\n"
            );
            let _ = writeln!(out, "| case | what | measured | target | status |");
            let _ = writeln!(out, "|---|---|---|---|---|");
            for check in &checks {
                let _ = writeln!(out, "{}", check.row());
            }
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\n## Failures\n");
            for failure in &self.failures {
                let _ = writeln!(out, "- {failure}");
            }
        }
        out
    }

    /// The JSON document (see the module docs of `main.rs`).
    pub fn json(&self, meta: Value, servers: &[&str], memory_servers: &[&str]) -> Value {
        let mut throughput = Map::new();
        let mut latency = Map::new();
        let mut ratios = Map::new();
        for case in &self.cases {
            let mut by_server = Map::new();
            let mut latencies = Map::new();
            for server in servers {
                let rate = self.rate(case.name, server);
                let get = |f: fn(&Throughput) -> Option<f64>| {
                    self.field(case.name, server, f).map(|(m, _, _)| m)
                };
                let mut entry = json!({
                    "group": servers::group(server).map(Group::name),
                    "median": number(rate.map(|r| r.0), 1),
                    "min": number(rate.map(|r| r.1), 1),
                    "max": number(rate.map(|r| r.2), 1),
                    "rounds": self.runs(case.name, server).len(),
                    "cpu_us_per_msg": number(get(|r| Some(r.server_us_per_message)), 3),
                    "server_cores": number(get(|r| Some(r.server_cores)), 3),
                    "generator_cores": number(get(|r| Some(r.generator_cores)), 3),
                    "generator_bound": self.generator_bound(case.name, server),
                    "allocs_per_msg": number(get(|r| r.allocations_per_message), 3),
                });
                if case.churn.is_some()
                    && let Some(map) = entry.as_object_mut()
                {
                    map.insert(
                        "handshakes_per_second".into(),
                        number(get(|r| r.handshakes_per_second), 1),
                    );
                }
                by_server.insert(server.to_string(), entry);
                if case.latency() {
                    let p = |f: fn(&Throughput) -> Option<f64>| {
                        self.field(case.name, server, f)
                            .map_or(json!(null), |(m, lo, hi)| {
                                json!({"median": number(Some(m), 2), "min": number(Some(lo), 2), "max": number(Some(hi), 2)})
                            })
                    };
                    latencies.insert(
                        server.to_string(),
                        json!({
                            "p50_us": p(|r| r.latency_us.map(|l| l.0)),
                            "p99_us": p(|r| r.latency_us.map(|l| l.1)),
                        }),
                    );
                }
            }
            throughput.insert(case.name.into(), Value::Object(by_server));
            if case.latency() {
                latency.insert(case.name.into(), Value::Object(latencies));
            }
            let mut groups = Map::new();
            for (group, subject, peers) in self.groups(servers) {
                let mut pairs = Map::new();
                for peer in peers {
                    let ratio = self.paired_ratio(case.name, subject, peer);
                    pairs.insert(
                        format!("{subject} / {peer}"),
                        json!({
                            "median": number(ratio.map(|r| r.0), 3),
                            "min": number(ratio.map(|r| r.1), 3),
                            "max": number(ratio.map(|r| r.2), 3),
                        }),
                    );
                }
                groups.insert(group.name().into(), Value::Object(pairs));
            }
            ratios.insert(case.name.into(), Value::Object(groups));
        }
        let memory: Map<String, Value> = memory_servers
            .iter()
            .map(|s| (s.to_string(), number(self.memory.get(s).copied(), 1)))
            .collect();
        let targets: Vec<Value> = crate::targets::checks(self, &self.cases, servers)
            .iter()
            .map(crate::targets::Check::json)
            .collect();
        json!({
            "meta": meta,
            "throughput": throughput,
            "latency": latency,
            "ratios": ratios,
            "memory": memory,
            "targets": targets,
            "failures": self.failures,
        })
    }
}

/// `target/NAME` (`e2e.json`, `hostile.json`) in the target directory this
/// bench was built in (`target/release/deps/e2e-HASH`), so
/// `CARGO_TARGET_DIR` is honoured.
pub fn json_path(name: &str) -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let target = exe.parent()?.parent()?.parent()?;
        Some(target.join(name))
    });
    from_exe.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join(name)
    })
}
