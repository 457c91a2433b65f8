//! The driver's integration tests, in one binary: `cargo test -p
//! wsmachine-tokio --all-features --test it`, and `... --test it user_loops`
//! for one module.
//!
//! Each module below is a test file. What they share is in `support`
//! (bounds, loopback listeners, echo servers, the frame builder, the echo
//! and close checks of the HTTP/2 and HTTP/3 modules, raw peers in
//! `support::raw`, the HTTP/2 client in `support::h2_client`). The other
//! test targets, and why they are apart:
//! - `proxy_env`: it sets the proxy variables of the process environment,
//!   which `connect` reads, so no other test may run in its process;
//! - `reverse_proxy` and `browser_via_proxy`: `test = false`, run by
//!   `tests/reverse_proxy/run.sh` (at the root), which starts the proxies.
//!
//! Features: each module that needs one says so in a `#![cfg]`; run with
//! `--all-features` to run them all.

// axum_echo, hyper_upgrade and tokio_echo each include examples/common.rs.
#![allow(clippy::duplicate_mod)]

// Helpers shared by the modules.
mod microsocks;
mod support;
// Helpers shared with the core's tests, at the root of the workspace.
#[path = "../../../tests/fake_fuzzingserver/mod.rs"]
mod fake_fuzzingserver;
#[path = "../../../tests/system/mod.rs"]
mod system;
#[path = "../../../tests/tinyproxy/mod.rs"]
mod tinyproxy;

// The examples that more than one module runs in process.
#[cfg(feature = "axum")]
#[allow(dead_code)]
#[path = "../../examples/axum_echo.rs"]
mod axum_echo;
#[cfg(feature = "axum")]
#[allow(dead_code)]
#[path = "../../examples/hyper_upgrade.rs"]
mod hyper_upgrade;

mod api;
mod axum;
mod behaviour;
mod browser;
mod examples;
mod flow;
mod h2;
mod h2_interop;
mod h3;
mod h3_aioquic_examples;
mod h3_interop;
mod handshake;
mod interop;
mod proxy;
mod socks5;
mod streaming;
mod tls;
mod tracing;
mod upgrades;
mod user_loops;
