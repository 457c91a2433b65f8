//! Running the crate's example programs from its tests: built with the
//! test's own profile and features, and bounded in time.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Builds the example `name` with this test's profile and features (after
/// `cargo test` it is already fresh) and returns its path.
pub fn example_binary(name: &str) -> String {
    let features: Vec<&str> = [
        ("std", cfg!(feature = "std")),
        ("os-entropy", cfg!(feature = "os-entropy")),
        ("simdutf8", cfg!(feature = "simdutf8")),
        ("http", cfg!(feature = "http")),
        ("deflate", cfg!(feature = "deflate")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let mut command = Command::new(env!("CARGO"));
    command.args([
        "build",
        "--quiet",
        "--example",
        name,
        "--message-format=json",
        "--manifest-path",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
        "--no-default-features",
        "--features",
        &features.join(","),
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = run_bounded(command, Duration::from_secs(600));
    assert!(
        output.status.success(),
        "building the example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let messages = String::from_utf8(output.stdout).unwrap();
    let artifact = messages
        .lines()
        .find(|line| {
            line.contains(r#""reason":"compiler-artifact""#)
                && line.contains(&format!(r#""name":"{name}""#))
        })
        .expect("cargo reported the example");
    let (_, rest) = artifact
        .split_once(r#""executable":""#)
        .expect("the example is an executable");
    rest.split('"').next().unwrap().to_string()
}

/// Runs `command` to its end, killing it past `deadline`. Its output is
/// read as it comes, so that a chatty child cannot block on a full pipe.
pub fn run_bounded(mut command: Command, deadline: Duration) -> std::process::Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut out = Vec::new();
            let _ = pipe.read_to_end(&mut out);
            out
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} took longer than {deadline:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}
