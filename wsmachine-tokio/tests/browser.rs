//! A real browser against `axum_echo`: headless Chromium loads the page,
//! uses its form, and a script in the page echoes text and binary messages
//! of several sizes over `/ws`, then closes with 4000 "bye". The test drives
//! Chromium over its DevTools protocol with the crate's own client, and
//! asserts on what the page saw: every echo equal, permessage-deflate in
//! `ws.extensions`, a clean close with the code. It leaves a screenshot of
//! the page in `target/browser/page.png`.
//!
//! It needs Chromium (`apt-get install chromium`, or `CHROMIUM=/path`), and
//! fails, saying so, when it is missing.

#![cfg(feature = "axum")]
#![allow(clippy::duplicate_mod)]

#[path = "browser/chromium.rs"]
mod chromium;
mod support;

#[allow(dead_code)]
#[path = "../examples/axum_echo.rs"]
mod axum_echo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chromium::{Chromium, Devtools, STEP_TIMEOUT};
use serde_json::{Value, json};
use support::{bounded, loopback};

/// The in-page check, called as `(CHECK)(SIZES)`.
const CHECK: &str = include_str!("browser/echo_check.js");

/// Message sizes in bytes: empty, each side of the frame header's length
/// boundaries (125/126, 65535/65536; deflate shrinks what is on the wire,
/// but both ends' message buffers see these sizes), and 1 MiB, the server's
/// default message limit.
const SIZES: [usize; 8] = [0, 1, 125, 126, 65_535, 65_536, 100_000, 1 << 20];

/// What axum_echo logged.
#[derive(Clone, Default)]
struct ServerLog(Arc<Mutex<Vec<String>>>);

impl ServerLog {
    fn sink(&self) -> axum_echo::LogSink {
        let lines = Arc::clone(&self.0);
        Arc::new(move |line: &str| lines.lock().expect("lock").push(line.to_owned()))
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("lock").clone()
    }

    /// Waits (bounded) for a line containing `needle`.
    async fn wait_for(&self, needle: &str) -> Result<String, Vec<String>> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Ok(line);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(self.lines())
    }
}

/// `target/browser`: the screenshot, Chromium's log, its profile while it
/// runs.
fn output_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or(tmp.clone(), |target| target.to_path_buf())
        .join("browser")
}

async fn start_axum_echo() -> (SocketAddr, ServerLog) {
    let (listener, addr) = loopback().await;
    let log = ServerLog::default();
    let app = axum_echo::App {
        sink: Some(log.sink()),
    };
    tokio::spawn(axum_echo::serve(listener, app));
    (addr, log)
}

/// Saves the page as `dir/page.png`; returns its size in bytes.
async fn screenshot(page: &mut Devtools, dir: &std::path::Path) -> Result<usize, String> {
    let shot = page
        .call("Page.captureScreenshot", json!({ "format": "png" }))
        .await?;
    let data = shot["data"].as_str().ok_or("no screenshot data")?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("screenshot base64: {e}"))?;
    if !png.starts_with(b"\x89PNG") {
        return Err("the screenshot is not a PNG".into());
    }
    std::fs::write(dir.join("page.png"), &png).map_err(|e| format!("page.png: {e}"))?;
    Ok(png.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_echoes_through_axum_echo_with_deflate_and_closes_cleanly() {
    bounded(async {
        let started = Instant::now();
        let (addr, server_log) = start_axum_echo().await;
        let dir = output_dir();
        let mut chromium = Chromium::launch(&dir).await;
        let launched = started.elapsed();

        let mut browser = Devtools::connect(&chromium.browser_url).await;
        let target = browser
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await
            .expect("a new page");
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let mut page = Devtools::connect(&chromium.page_url(&target_id)).await;
        page.call("Page.enable", json!({}))
            .await
            .expect("Page.enable");
        let url = format!("http://{addr}/");
        let navigated = page
            .call("Page.navigate", json!({ "url": url }))
            .await
            .expect("Page.navigate");
        assert!(
            navigated.get("errorText").is_none(),
            "loading {url}: {navigated}"
        );
        page.event("Page.loadEventFired")
            .await
            .expect("the page loads");
        let loaded = started.elapsed();

        let sizes = json!(SIZES);
        let outcome = page.evaluate(&format!("({CHECK})({sizes})")).await;
        let checked = started.elapsed();
        // The screenshot first, so that it is there to look at when an
        // assertion below fails.
        let shot = screenshot(&mut page, &dir).await;
        let report =
            outcome.unwrap_or_else(|e| panic!("{e}\nChromium's log:\n{}", chromium.log_tail()));
        let shot = shot.expect("a screenshot");

        print_report(&report, shot, &dir);
        println!(
            "timings: Chromium listening {launched:?}, page loaded {loaded:?}, \
             echoes and close done {checked:?}"
        );

        // The page itself: its title, and its form's message echoed into
        // its log over the page's own socket.
        let page_seen = &report["page"];
        assert_eq!(page_seen["title"], "wsmachine echo", "{page_seen}");
        let log = page_seen["log"].as_array().expect("the page's log");
        assert_eq!(log.first(), Some(&json!("open")), "{page_seen}");
        let typed = page_seen["typed"].as_str().expect("typed text");
        assert!(
            log.contains(&json!(format!("echo: {typed}"))),
            "{page_seen}"
        );

        // Every size, both kinds, echoed equal.
        let echoes = report["echoes"].as_array().expect("echoes");
        let expected: Vec<(&str, usize)> = SIZES
            .iter()
            .flat_map(|&size| [("text", size), ("binary", size)])
            .collect();
        let seen: Vec<(&str, usize)> = echoes
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap_or("?"),
                    e["size"].as_u64().unwrap_or(0) as usize,
                )
            })
            .collect();
        assert_eq!(seen, expected, "the check covered every size");
        for echo in echoes {
            assert_eq!(
                echo["sentBytes"], echo["size"],
                "sent the planned size: {echo}"
            );
            assert_eq!(echo["echoedBytes"], echo["size"], "echo length: {echo}");
            assert_eq!(echo["equal"], true, "echo content: {echo}");
        }

        // Chromium offers permessage-deflate; axum_echo accepts it.
        let extensions = report["extensions"].as_str().expect("extensions");
        assert!(
            extensions
                .split(',')
                .any(|e| e.trim().starts_with("permessage-deflate")),
            "ws.extensions is {extensions:?}"
        );
        assert_eq!(report["protocol"], "", "no subprotocol was asked for");

        // The server answers the Close with the same code and no reason
        // (RFC 6455 §5.5.1), and closes the TCP connection, so the browser
        // calls the close clean.
        let close = &report["close"];
        assert_eq!(close["code"], 4000, "{close}");
        assert_eq!(close["reason"], "", "{close}");
        assert_eq!(close["wasClean"], true, "{close}");
        let closed = server_log.wait_for("closed: code=4000").await;
        assert!(closed.is_ok(), "axum_echo's log: {:?}", closed.err());
        assert!(
            server_log
                .lines()
                .iter()
                .filter(|l| l.contains("accepted /ws"))
                .count()
                >= 2,
            "the page's socket and the check's: {:?}",
            server_log.lines()
        );

        // Closing the browser ends it; dropping `chromium` kills whatever is
        // left either way.
        drop(page);
        let _ = browser.call("Browser.close", json!({})).await;
        if !chromium.exited_within(Duration::from_secs(5)).await {
            println!("Chromium did not exit after Browser.close; it is killed");
        }
        println!("total: {:?}", started.elapsed());
    })
    .await;
}

/// Prints what the page saw, for the log of a run.
fn print_report(report: &Value, screenshot_bytes: usize, dir: &std::path::Path) {
    println!("page title: {}", report["page"]["title"]);
    let echoes = report["echoes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for echo in echoes {
        println!(
            "  {:6} {:>8} B sent, {:>8} B echoed, equal: {:5}, {:>4} ms",
            echo["kind"].as_str().unwrap_or("?"),
            echo["sentBytes"].as_i64().unwrap_or(-1),
            echo["echoedBytes"].as_i64().unwrap_or(-1),
            echo["equal"].as_bool().unwrap_or(false),
            echo["ms"].as_i64().unwrap_or(-1),
        );
    }
    println!("ws.extensions: {}", report["extensions"]);
    println!("ws.protocol: {}", report["protocol"]);
    println!("close event: {}", report["close"]);
    println!(
        "screenshot: {} ({screenshot_bytes} bytes)",
        dir.join("page.png").display()
    );
}
