//! Chromium's check of `browser.rs`, with the page and its socket going
//! through a reverse proxy. Not part of `cargo test`: the target has
//! `test = false`, and `tests/reverse_proxy/run.sh`, which starts nginx in
//! front, runs it by name. Without the proxy's variables it fails, saying
//! to run the script.

#![cfg(all(feature = "axum", unix))]
// axum_echo and hyper_upgrade each include examples/common.rs.
#![allow(clippy::duplicate_mod)]

#[path = "it/browser.rs"]
mod browser;
// What browser.rs takes from the crate root, as tests/it/main.rs declares it.
#[allow(dead_code)]
#[path = "../examples/axum_echo.rs"]
mod axum_echo;
#[allow(dead_code)]
#[path = "../examples/hyper_upgrade.rs"]
mod hyper_upgrade;
#[path = "it/support/mod.rs"]
mod support;
#[path = "../../tests/system/mod.rs"]
mod system;

use std::net::SocketAddr;

use browser::{ServerLog, bounded, check_in_chromium};

/// The same check with the page and its socket going through a reverse
/// proxy: `tests/reverse_proxy/run.sh` starts nginx in front of
/// `WSMACHINE_REVERSE_PROXY_BACKEND` (where axum_echo is started here) and
/// runs this target (`--test browser_via_proxy`); the page is loaded from
/// `WSMACHINE_REVERSE_PROXY_ADDR`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_through_a_reverse_proxy_echoes_with_deflate_and_closes_cleanly() {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run tests/reverse_proxy/run.sh, which starts the proxy")
        })
    };
    let proxy = var("WSMACHINE_REVERSE_PROXY");
    let addr: SocketAddr = var("WSMACHINE_REVERSE_PROXY_ADDR")
        .parse()
        .expect("WSMACHINE_REVERSE_PROXY_ADDR is ADDR:PORT");
    let backend = var("WSMACHINE_REVERSE_PROXY_BACKEND");
    bounded(async {
        let listener = tokio::net::TcpListener::bind(&backend)
            .await
            .expect("bind the proxy's upstream address");
        let log = ServerLog::default();
        let app = axum_echo::App {
            sink: Some(log.sink()),
        };
        tokio::spawn(axum_echo::serve(listener, app));
        // Short: Chromium's singleton socket lives under the profile, whose
        // path holds the name, and a socket path has at most 107 bytes.
        let name = format!("via-{proxy}");
        check_in_chromium(&name, addr, &log, &format!("{name}.png")).await;
    })
    .await;
}
