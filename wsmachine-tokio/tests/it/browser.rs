//! A real browser against the server examples: headless Chromium loads the
//! page at `/`, uses its form, and a script in the page echoes text and
//! binary messages of several sizes over `/ws`, then closes with 4000
//! "bye". The test drives Chromium over its DevTools protocol with the
//! crate's own client, and asserts on what the page saw: every echo equal,
//! permessage-deflate in `ws.extensions`, a clean close with the code. It
//! runs against `axum_echo` (the extractor) and `hyper_upgrade` (a stream
//! hyper upgraded, where deflate once could not be negotiated), and leaves
//! screenshots in `target/browser/` (`page.png` is axum_echo's).
//! `browser_via_proxy.rs` runs the same check through nginx.
//!
//! It needs Chromium (`CHROMIUM=/path`, or on the `PATH`), and installs it
//! with apt-get when it is missing (`tests/system` at the root: as root or
//! with passwordless sudo); when it cannot, it fails saying what to run. It
//! never skips. Unix only: Chromium runs in a process group of its own, so
//! that it can be killed with its helpers.

#![cfg(all(feature = "axum", unix))]

#[path = "browser/chromium.rs"]
mod chromium;

// Declared at the root of the crate that includes this module: tests/it,
// and browser_via_proxy.
use crate::{axum_echo, hyper_upgrade, system};

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) use crate::support::{bounded, loopback};
use base64::Engine;
use chromium::{Chromium, Devtools, STEP_TIMEOUT};
use serde_json::{Value, json};

/// The in-page check, called as `(CHECK)(SIZES)`.
const CHECK: &str = include_str!("browser/echo_check.js");

/// The bound on the whole in-page check. Each of its steps has 15 s (in
/// the script), so a stuck step reports itself before this fires; a run
/// takes 2-3 s.
const CHECK_TIMEOUT: Duration = Duration::from_secs(40);

/// Message sizes in bytes: empty, each side of the frame header's length
/// boundaries (125/126, 65535/65536; deflate shrinks what is on the wire,
/// but both ends' message buffers see these sizes), and 1 MiB, axum_echo's
/// message limit (the core's default).
const SIZES: [usize; 8] = [0, 1, 125, 126, 65_535, 65_536, 100_000, 1 << 20];

/// What a server example logged.
#[derive(Clone, Default)]
pub(crate) struct ServerLog(Arc<Mutex<Vec<String>>>);

impl ServerLog {
    pub(crate) fn sink(&self) -> axum_echo::LogSink {
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

/// `target/browser`: the screenshots and Chromium's logs.
fn output_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or(tmp.clone(), Path::to_path_buf)
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

async fn start_hyper_upgrade() -> (SocketAddr, ServerLog) {
    let (listener, addr) = loopback().await;
    let log = ServerLog::default();
    let app = Arc::new(hyper_upgrade::App {
        config: hyper_upgrade::app_config(),
        sink: Some(log.sink()),
    });
    tokio::spawn(hyper_upgrade::serve(listener, app));
    (addr, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_on_axum_echo_echoes_with_deflate_and_closes_cleanly() {
    chromium::executable();
    bounded(async {
        let (addr, log) = start_axum_echo().await;
        check_in_chromium("axum_echo", addr, &log, "page.png").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_on_hyper_upgrade_echoes_with_deflate_and_closes_cleanly() {
    chromium::executable();
    bounded(async {
        let (addr, log) = start_hyper_upgrade().await;
        check_in_chromium("hyper_upgrade", addr, &log, "hyper_upgrade.png").await;
    })
    .await;
}

/// Starts Chromium, runs the page's check against the server at `addr`,
/// saves a screenshot as `screenshot`, and asserts on what the page and
/// the server saw.
pub(crate) async fn check_in_chromium(
    name: &str,
    addr: SocketAddr,
    server_log: &ServerLog,
    screenshot: &str,
) {
    let started = Instant::now();
    let dir = output_dir();
    let mut chromium = Chromium::launch(&dir, name).await;
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
        "{name}: loading {url}: {navigated}"
    );
    page.event("Page.loadEventFired")
        .await
        .expect("the page loads");
    let loaded = started.elapsed();

    let sizes = json!(SIZES);
    let outcome = page
        .evaluate(&format!("({CHECK})({sizes})"), CHECK_TIMEOUT)
        .await;
    let checked = started.elapsed();
    // The screenshot first, so that it is there to look at when an
    // assertion below fails.
    let png = dir.join(screenshot);
    let shot = save_screenshot(&mut page, &png).await;
    let report =
        outcome.unwrap_or_else(|e| panic!("{name}: {e}\nChromium's log:\n{}", chromium.log_tail()));
    let shot = shot.expect("a screenshot");
    println!(
        "{}",
        describe(name, &report, &png, shot, [launched, loaded, checked])
    );

    // The page itself: its title, and its form's message echoed into its
    // log over the page's own socket.
    let page_seen = &report["page"];
    assert_eq!(page_seen["title"], "wsmachine echo", "{name}: {page_seen}");
    let log = page_seen["log"].as_array().expect("the page's log");
    assert_eq!(log.first(), Some(&json!("open")), "{name}: {page_seen}");
    let typed = page_seen["typed"].as_str().expect("typed text");
    assert!(
        log.contains(&json!(format!("echo: {typed}"))),
        "{name}: {page_seen}"
    );

    // Every size, both kinds, echoed equal.
    let echoes = report["echoes"].as_array().expect("echoes");
    let expected: Vec<(&str, u64)> = SIZES
        .iter()
        .flat_map(|&size| [("text", size as u64), ("binary", size as u64)])
        .collect();
    let seen: Vec<(&str, u64)> = echoes
        .iter()
        .map(|e| {
            let kind = e["kind"].as_str().unwrap_or("?");
            (kind, e["size"].as_u64().unwrap_or(u64::MAX))
        })
        .collect();
    assert_eq!(seen, expected, "{name}: the check covered every size");
    for echo in echoes {
        assert_eq!(echo["sentBytes"], echo["size"], "{name}: sent: {echo}");
        assert_eq!(echo["echoedBytes"], echo["size"], "{name}: echoed: {echo}");
        assert_eq!(echo["equal"], true, "{name}: echo content: {echo}");
    }

    // Chromium offers permessage-deflate; the server accepts it.
    let extensions = report["extensions"].as_str().expect("extensions");
    assert!(
        extensions
            .split(',')
            .any(|e| e.trim().starts_with("permessage-deflate")),
        "{name}: ws.extensions is {extensions:?}"
    );
    assert_eq!(
        report["protocol"], "",
        "{name}: no subprotocol was asked for"
    );

    // The server answers the Close with the same code and no reason
    // (RFC 6455 §5.5.1), and closes the TCP connection, so the browser
    // calls the close clean.
    let close = &report["close"];
    assert_eq!(close["code"], 4000, "{name}: {close}");
    assert_eq!(close["reason"], "", "{name}: {close}");
    assert_eq!(close["wasClean"], true, "{name}: {close}");
    let closed = server_log.wait_for("closed: code=4000").await;
    assert!(closed.is_ok(), "{name}'s log: {:?}", closed.err());
    let accepted = server_log
        .lines()
        .iter()
        .filter(|l| l.contains("accepted /ws"))
        .count();
    assert_eq!(
        accepted,
        2,
        "{name}: the page's socket and the check's: {:?}",
        server_log.lines()
    );

    // Closing the browser ends it; dropping `chromium` kills whatever is
    // left either way.
    drop(page);
    let _ = browser.call("Browser.close", json!({})).await;
    if !chromium.exited_within(Duration::from_secs(5)).await {
        println!("{name}: Chromium did not exit after Browser.close; it is killed");
    }
    println!("{name}: total {:?}", started.elapsed());
}

/// Saves the page as a PNG at `path`; returns its size in bytes.
async fn save_screenshot(page: &mut Devtools, path: &Path) -> Result<usize, String> {
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
    std::fs::write(path, &png).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(png.len())
}

/// What the page saw, as one block of text for the log of a run (the two
/// tests print at the same time).
fn describe(
    name: &str,
    report: &Value,
    png: &Path,
    png_bytes: usize,
    [launched, loaded, checked]: [Duration; 3],
) -> String {
    let mut text = format!("{name}: page title {}\n", report["page"]["title"]);
    let echoes = report["echoes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for echo in echoes {
        let _ = writeln!(
            text,
            "  {:6} {:>8} B sent, {:>8} B echoed, equal: {:5}, {:>4} ms",
            echo["kind"].as_str().unwrap_or("?"),
            echo["sentBytes"].as_i64().unwrap_or(-1),
            echo["echoedBytes"].as_i64().unwrap_or(-1),
            echo["equal"].as_bool().unwrap_or(false),
            echo["ms"].as_i64().unwrap_or(-1),
        );
    }
    let _ = writeln!(text, "  ws.extensions: {}", report["extensions"]);
    let _ = writeln!(text, "  ws.protocol: {}", report["protocol"]);
    let _ = writeln!(text, "  close event: {}", report["close"]);
    let _ = writeln!(text, "  screenshot: {} ({png_bytes} B)", png.display());
    let _ = write!(
        text,
        "  timings: Chromium listening {launched:.2?}, page loaded {loaded:.2?}, \
         echoes and close done {checked:.2?}"
    );
    text
}
