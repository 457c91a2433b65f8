//! The interop scripts, run by `cargo test`: python-websockets and node's
//! `ws` against the blocking examples both ways, a node `http` server's
//! chunked 503, the tokio driver's examples against python-websockets
//! (`tests/interop/run.sh`, which runs `wsmachine-tokio/tests/interop.sh`),
//! and permessage-deflate both ways with both (`tests/interop/deflate.sh`).
//!
//! Before the scripts run, what they need is installed when it is missing
//! (`system`): python3 and node with npm from apt, python-websockets (with
//! the HTTP/2 and HTTP/3 tests' hypercorn, h2 and aioquic) into
//! `<target>/interop/venv`, node's ws into `<target>/interop/node`. The
//! scripts build the examples of both crates with all features, which
//! `cargo test --all-features` has already done.

use crate::programs::run_bounded;
use crate::system;

use std::process::Command;
use std::time::Duration;

/// A bound on a whole script; its own steps are bounded at 60 s each.
const SCRIPT_LIMIT: Duration = Duration::from_secs(900);

/// Installs the peers the scripts use, once per process (the scripts would
/// install them too, but without the lock two of them at once would race).
fn install_peers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let interop = system::target_dir().join("interop");
        let why = "the interop tests run them against the examples";
        system::interop_python(why);
        system::npm_packages(&interop.join("node"), &["ws"], why);
    });
}

/// Runs `script` from the repository's root with this build's cargo and
/// target directory, and returns its output; fails unless it exits 0 and
/// every summary line it prints (`..., N passed, 0 failed`) counts passes
/// and no failures.
fn run_script(script: &str, summaries: &[&str]) -> String {
    install_peers();
    let mut command = Command::new("bash");
    command
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", system::target_dir());
    // What cargo sets for this test process (CARGO_PKG_NAME, ...) must not
    // reach the scripts' cargo: build scripts that read them (ring's) are run
    // again when they change, which would rebuild what `cargo test` built,
    // here and again in the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo = ["CARGO_PKG_", "CARGO_CFG_", "CARGO_BIN_EXE_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_ref());
        if set_by_cargo {
            command.env_remove(name.as_ref());
        }
    }
    let output = run_bounded(command, SCRIPT_LIMIT);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Shown by libtest when the test fails, or with --nocapture.
    println!("{text}");
    assert!(
        output.status.success(),
        "{script} failed ({})",
        output.status
    );
    for summary in summaries {
        let line = text
            .lines()
            .find(|line| line.starts_with(summary) && line.contains(" passed, "))
            .unwrap_or_else(|| panic!("{script} printed no `{summary} N passed` line"));
        let passed: u32 = line[summary.len()..]
            .trim_start_matches(':')
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count of passes in {line:?}"));
        assert!(passed > 0, "{line}");
        assert!(line.ends_with(" 0 failed"), "{line}");
    }
    text
}

#[test]
fn python_websockets_node_ws_and_a_chunked_503_against_both_crates_examples() {
    let output = run_script("tests/interop/run.sh", &["interop:", "interop (tokio):"]);
    assert!(output.contains("pass  examples/client -> node http 503 sent chunked"));
    assert!(output.contains("pass  python-websockets client -> axum_echo /ws"));
}

#[test]
fn permessage_deflate_with_python_websockets_and_node_ws_both_ways() {
    let output = run_script("tests/interop/deflate.sh", &["deflate interop:"]);
    assert!(output.contains("ok   node ws client -> wsmachine server"));
    assert!(output.contains("ok   wsmachine client -> python-websockets server (tuned)"));
}
