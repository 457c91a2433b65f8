//! Running the crate's example programs from its tests: built with the
//! test's own profile and features, and bounded in time.
#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

mod bounded;
pub use bounded::run_bounded;

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
