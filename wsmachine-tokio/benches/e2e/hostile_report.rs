//! The hostile mode's Markdown: one table, a row per measure and a column
//! per library's per-message server, every cell from the run's results.

use std::collections::BTreeMap;

use serde_json::Value;

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / f64::from(1 << 20))
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

fn f(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// "OK 54" or "OK 50, NON-STRICT 4".
fn grades(value: &Value) -> Option<String> {
    let grades = value.get("grades")?.as_object()?;
    Some(
        grades
            .iter()
            .map(|(grade, count)| format!("{grade} {count}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// "408 ×1000", "nothing ×3", or "none".
fn answers(value: &Value) -> String {
    let Some(answers) = value.get("answers").and_then(Value::as_object) else {
        return "none".into();
    };
    if answers.is_empty() {
        return "none".into();
    }
    answers
        .iter()
        .map(|(answer, count)| {
            let status = answer
                .strip_prefix("HTTP/1.1 ")
                .unwrap_or(answer)
                .replace('|', "/");
            format!("{status} ×{count}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

type Row = (&'static str, &'static str, fn(&Value) -> Option<String>);

/// (part, row title, cell).
const ROWS: [Row; 13] = [
    ("autobahn", "Autobahn 9.x: server CPU", |v| {
        Some(format!("{:.2} s", f(v, "server_cpu_s")?))
    }),
    ("autobahn", "Autobahn 9.x: wall time", |v| {
        Some(format!("{:.0} s", f(v, "wall_s")?))
    }),
    ("autobahn", "Autobahn 9.x: grades", grades),
    ("autobahn", "Autobahn 9.x: slowest case (wstest)", |v| {
        Some(format!(
            "{} ({} ms)",
            v.get("slowest_case")?.as_str()?,
            v.get("slowest_case_ms")?
        ))
    }),
    ("autobahn", "Autobahn 9.x: server peak RSS", |v| {
        Some(mib(f(v, "server_peak_rss_bytes")?))
    }),
    ("bomb", "Deflate bomb: peak RSS growth", |v| {
        if let Some(reason) = v.get("n/a").and_then(Value::as_str) {
            return Some(reason.to_string());
        }
        Some(mib(f(v, "peak_rss_growth_bytes")?))
    }),
    ("bomb", "Deflate bomb: the client saw", |v| {
        if v.get("n/a").is_some() {
            return Some("n/a".into());
        }
        Some(format!(
            "{} after {:.2} s; server CPU {:.2} s",
            v.get("client_saw")?.as_str()?,
            f(v, "answer_after_s")?,
            f(v, "server_cpu_s")?
        ))
    }),
    ("slow", "Slow headers: peak RSS growth", |v| {
        Some(format!(
            "{} ({} per connection)",
            mib(f(v, "peak_rss_growth_bytes")?),
            kib(f(v, "per_connection_bytes")?)
        ))
    }),
    ("slow", "Slow headers: ended by the server", |v| {
        let ended = v.get("ended_by_server")?.as_u64()?;
        let total = v.get("connections")?.as_u64()?;
        let hold = f(v, "hold_s")?;
        if ended == 0 {
            return Some(format!("0 of {total} in {hold:.0} s"));
        }
        let median = v.get("ended_after_s")?.get("median")?.as_f64()?;
        Some(format!(
            "{ended} of {total}, median after {median:.1} s; answer: {}",
            answers(v)
        ))
    }),
    ("unread", "Never read: peak RSS growth", |v| {
        Some(format!(
            "{} ({} per connection)",
            mib(f(v, "peak_rss_growth_bytes")?),
            kib(f(v, "per_connection_bytes")?)
        ))
    }),
    ("unread", "Never read: RSS growth at the end", |v| {
        Some(mib(f(v, "rss_growth_at_end_bytes")?))
    }),
    ("unread", "Never read: kernel TCP memory then", |v| {
        // Pages of 4 KiB.
        let pages = |key: &str| Some(v.get(key)?.as_f64()? * 4096.0);
        Some(format!(
            "{} of its {} limit",
            mib(pages("kernel_tcp_memory_pages")?),
            mib(pages("kernel_tcp_memory_limit_pages")?)
        ))
    }),
    ("unread", "Never read: the clients wrote", |v| {
        let stalled = v.get("writes_stalled")?.as_bool()?;
        let wrote = mib(f(v, "client_wrote_per_connection_bytes")?);
        let seconds = f(v, "seconds")?;
        let ended = v.get("connections_ended_by_server")?;
        Some(if stalled {
            format!("{wrote} per connection, then stalled ({seconds:.1} s); {ended} ended")
        } else {
            format!("{wrote} per connection, not stalled in {seconds:.1} s; {ended} ended")
        })
    }),
];

/// The table of `results` (part → server → figures).
pub fn markdown(
    servers: &[(&str, Result<&str, &str>)],
    results: &BTreeMap<&str, BTreeMap<String, Value>>,
) -> String {
    let mut out = String::from("| |");
    for (name, _) in servers {
        out += &format!(" {name} |");
    }
    out += "\n|---|";
    out += &"---|".repeat(servers.len());
    out += "\n";
    for (part, title, cell) in ROWS {
        let Some(part_results) = results.get(part) else {
            continue;
        };
        out += &format!("| {title} |");
        for (name, _) in servers {
            let text = part_results
                .get(*name)
                .and_then(cell)
                .unwrap_or_else(|| "failed".into());
            out += &format!(" {text} |");
        }
        out += "\n";
    }
    out
}

/// The server's CPU seconds per Autobahn group (a wstest run each): a row
/// per group of `groups`, a column per server.
pub fn autobahn_groups(
    servers: &[(&str, Result<&str, &str>)],
    results: &BTreeMap<&str, BTreeMap<String, Value>>,
    groups: &[String],
) -> String {
    let Some(autobahn) = results.get("autobahn") else {
        return String::new();
    };
    let mut out = String::from("| Autobahn cases: server CPU |");
    for (name, _) in servers {
        out += &format!(" {name} |");
    }
    out += "\n|---|";
    out += &"---|".repeat(servers.len());
    out += "\n";
    for group in groups {
        out += &format!("| {group} |");
        for (name, _) in servers {
            let cell = autobahn
                .get(*name)
                .and_then(|v| v.get("groups")?.get(group)?.get("server_cpu_s")?.as_f64())
                .map_or_else(|| "failed".into(), |cpu| format!("{cpu:.2} s"));
            out += &format!(" {cell} |");
        }
        out += "\n";
    }
    out
}
