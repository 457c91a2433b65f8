//! The targets the bench is read against, each checked within its group
//! only, from the run's own results:
//!
//! - batched group: `wsmachine-feed` at least 1.2× the best batched peer
//!   (the one with the most messages per second in that case) at 5 B with
//!   16 in flight, 20 B and 16 KiB (binary), and at least 1.0× at 1 MiB;
//! - per-message group: `wsmachine-send` at least 1.0× every peer in every
//!   case, and its server CPU per message at most 0.85× the best peer's;
//! - churn: each subject at least 1.3× tokio-tungstenite's server of its
//!   group in handshakes per second;
//! - memory per idle connection: `wsmachine-send` at most 0.5× the best
//!   peer, each at its defaults or tuned as its docs advise.
//!
//! A target is reported as measured: met, missed, or without a result.

use serde_json::{Value, json};

use crate::load::Case;
use crate::report::Results;
use crate::servers::{self, Group};

/// One target and what the run measured for it.
pub struct Check {
    /// What is compared: `subject / peer` or a description.
    pub what: String,
    /// The case, or `memory`.
    pub case: String,
    /// The measured ratio (a median of paired per-round ratios for
    /// throughput; of medians for CPU; of the single measurement for
    /// memory).
    pub measured: Option<f64>,
    /// The bound.
    pub bound: f64,
    /// Whether the bound is an upper one (CPU, memory) rather than a lower
    /// one (throughput).
    pub at_most: bool,
}

impl Check {
    /// Met, missed, or no result.
    pub fn status(&self) -> &'static str {
        match self.measured {
            None => "no result",
            Some(m) if (self.at_most && m <= self.bound) || (!self.at_most && m >= self.bound) => {
                "met"
            }
            Some(_) => "missed",
        }
    }

    fn bound_text(&self) -> String {
        format!(
            "{} {:.2}×",
            if self.at_most { "≤" } else { "≥" },
            self.bound
        )
    }

    /// A row of the Markdown table.
    pub fn row(&self) -> String {
        let measured = self.measured.map_or("–".into(), |m| format!("{m:.2}×"));
        format!(
            "| {} | {} | {measured} | {} | {} |",
            self.case,
            self.what,
            self.bound_text(),
            self.status()
        )
    }

    /// The check as JSON.
    pub fn json(&self) -> Value {
        json!({
            "case": self.case,
            "what": self.what,
            "measured": self.measured.map(|m| (m * 1000.0).round() / 1000.0),
            "bound": self.bound,
            "at_most": self.at_most,
            "status": self.status(),
        })
    }
}

/// The batched group's bound for `case`, if it has one.
fn batched_bound(case: &Case) -> Option<f64> {
    if case.churn.is_some() || case.text {
        return None;
    }
    match (case.payload, case.window) {
        (5, 16) | (20, _) | (16_384, _) => Some(1.2),
        (1_048_576, _) => Some(1.0),
        _ => None,
    }
}

/// The peers of `subject`'s group among `servers`.
fn peers<'a>(servers: &[&'a str], group: Group, subject: &str) -> Vec<&'a str> {
    servers
        .iter()
        .copied()
        .filter(|s| *s != subject && servers::group(s) == Some(group))
        .collect()
}

/// Every target that the run's servers and cases allow checking.
pub fn checks(results: &Results, cases: &[Case], servers: &[&str]) -> Vec<Check> {
    let mut checks = Vec::new();
    let has = |name: &str| servers.contains(&name);
    for case in cases {
        if has("wsmachine-feed")
            && let Some(bound) = batched_bound(case)
        {
            let best = peers(servers, Group::Batched, "wsmachine-feed")
                .into_iter()
                .filter_map(|peer| Some((peer, results.rate(case.name, peer)?.0)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((peer, _)) = best {
                checks.push(Check {
                    what: format!("wsmachine-feed / {peer} (best batched peer)"),
                    case: case.name.into(),
                    measured: results
                        .paired_ratio(case.name, "wsmachine-feed", peer)
                        .map(|r| r.0),
                    bound,
                    at_most: false,
                });
            }
        }
        if has("wsmachine-send") {
            let per_message = peers(servers, Group::PerMessage, "wsmachine-send");
            for peer in &per_message {
                checks.push(Check {
                    what: format!("wsmachine-send / {peer}"),
                    case: case.name.into(),
                    measured: results
                        .paired_ratio(case.name, "wsmachine-send", peer)
                        .map(|r| r.0),
                    bound: 1.0,
                    at_most: false,
                });
            }
            let cpu = |server: &str| results.cpu_us_per_message(case.name, server);
            let best_cpu = per_message
                .iter()
                .filter_map(|peer| Some((*peer, cpu(peer)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((peer, theirs)) = best_cpu {
                checks.push(Check {
                    what: format!("CPU per message: wsmachine-send / {peer} (best peer)"),
                    case: case.name.into(),
                    measured: cpu("wsmachine-send").map(|ours| ours / theirs),
                    bound: 0.85,
                    at_most: true,
                });
            }
        }
        if case.churn.is_some() {
            for (group, subject) in servers::SUBJECTS {
                let Some(peer) = peers(servers, group, subject)
                    .into_iter()
                    .find(|p| p.starts_with("tokio-tungstenite"))
                else {
                    continue;
                };
                if has(subject) {
                    checks.push(Check {
                        what: format!("handshakes per second: {subject} / {peer}"),
                        case: case.name.into(),
                        measured: results.paired_ratio(case.name, subject, peer).map(|r| r.0),
                        bound: 1.3,
                        at_most: false,
                    });
                }
            }
        }
    }
    if let Some(ours) = results.memory_of("wsmachine-send") {
        let best = results
            .memory_servers()
            .filter(|(server, _)| !server.starts_with("wsmachine"))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((peer, theirs)) = best {
            checks.push(Check {
                what: format!("bytes per idle connection: wsmachine-send / {peer} (best peer)"),
                case: "memory".into(),
                measured: Some(ours / theirs).filter(|r| r.is_finite()),
                bound: 0.5,
                at_most: true,
            });
        }
    }
    checks
}
