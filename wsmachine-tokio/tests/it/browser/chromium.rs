//! Headless Chromium for tests/it/browser.rs: the process, and a DevTools
//! protocol client on the crate's own `connect`.
//!
//! Chromium runs in a process group of its own, so that dropping
//! [`Chromium`] (at the end of the test, or when it panics or times out)
//! kills the browser and every helper process it started (the one that
//! leaves the group, the crash handler, is found by its arguments), and
//! removes its profile.
//!
//! The profile is a short directory under the system's temporary directory,
//! not under `target/`: Chromium's singleton socket lives in it, and a unix
//! socket's path must fit in 107 bytes, which a clone at a long path
//! overflows.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use wsmachine::handshake::client::ClientConfig;
use wsmachine_tokio::{MaybeTlsStream, Message, WebSocket};

/// The longest wait for any one step: the browser starting, a DevTools
/// answer, an event.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// How to get Chromium, for the message when it cannot start.
const INSTALL_HINT: &str = "install it with `apt-get update && apt-get install -y chromium` \
     (Debian; the test does this itself as root or with passwordless sudo), or set CHROMIUM \
     to its path";

/// Flags for a headless browser on a machine without network: no sandbox
/// (containers run as root), no GPU, and none of the background fetches
/// (updates, sync, safe browsing) that a closed network refuses.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--window-size=900,760",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
];

/// A running headless Chromium; killed with its helpers when dropped.
pub struct Chromium {
    child: Child,
    profile: PathBuf,
    log: PathBuf,
    /// `ws://127.0.0.1:PORT`, where the DevTools endpoints are.
    origin: String,
    /// The browser's own DevTools endpoint.
    pub browser_url: String,
}

/// The browser: `$CHROMIUM`, else `chromium` or `chromium-browser` on the
/// `PATH`, installed with apt-get when neither is there (`system`). Call it
/// before a test's time bound starts: an install takes a while.
pub fn executable() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CHROMIUM={} is not a file; {INSTALL_HINT}",
            path.display()
        );
        return path;
    }
    super::system::require(&super::system::CHROMIUM)
}

impl Chromium {
    /// Starts Chromium with a new profile, and waits until its DevTools
    /// endpoint is listening. Its output goes to `dir/chromium-NAME.log`.
    /// The profile is `wsm-PID-N` in the temporary directory (see the
    /// module's comment), N apart for browsers of one process.
    pub async fn launch(dir: &Path, name: &str) -> Chromium {
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let executable = executable();
        fs::create_dir_all(dir).expect("create the browser's directory");
        let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
        let profile = std::env::temp_dir().join(format!("wsm-{}-{instance}", std::process::id()));
        let _ = fs::remove_dir_all(&profile);
        fs::create_dir_all(&profile).expect("create the profile directory");
        let log = dir.join(format!("chromium-{name}.log"));
        let output = File::create(&log).expect("create chromium.log");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(&executable)
                .args(FLAGS)
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("about:blank")
                .stdin(Stdio::null())
                .stdout(output.try_clone().expect("clone the log file"))
                .stderr(output)
                // Chromium's crash handler keeps its database under the
                // config directory, and the browser its singleton socket
                // (and, with little /dev/shm, shared memory) under TMPDIR:
                // keep them in the profile too, so that nothing outlives it
                // and the handler can be told apart (see `Drop`).
                .env("XDG_CONFIG_HOME", &profile)
                .env("XDG_CACHE_HOME", &profile)
                .env("TMPDIR", &profile)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {}: {e}; {INSTALL_HINT}", executable.display())
                })
        };
        let mut chromium = Chromium {
            child,
            profile,
            log,
            origin: String::new(),
            browser_url: String::new(),
        };
        // With port 0, Chromium writes the port it chose and the browser
        // endpoint's path to this file once it listens.
        let active_port = chromium.profile.join("DevToolsActivePort");
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let text = fs::read_to_string(&active_port).unwrap_or_default();
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                chromium.origin = format!("ws://127.0.0.1:{port}");
                chromium.browser_url = format!("{}{path}", chromium.origin);
                return chromium;
            }
            if let Ok(Some(status)) = chromium.child.try_wait() {
                panic!(
                    "Chromium exited ({status}) before listening:\n{}",
                    chromium.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "Chromium did not open its DevTools port within {STEP_TIMEOUT:?}:\n{}",
                chromium.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The DevTools endpoint of one page.
    pub fn page_url(&self, target_id: &str) -> String {
        format!("{}/devtools/page/{target_id}", self.origin)
    }

    /// Waits up to `timeout` for the browser process to exit by itself.
    pub async fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The last lines Chromium printed, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The group is the browser's pid (process_group(0)); it outlives the
        // browser while any helper of it does, so this reaches stragglers
        // even after the browser itself has exited.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The crash handler detaches into a session of its own, so the group
        // does not reach it; it names this run's profile in its arguments.
        for pid in processes_mentioning(&self.profile) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = fs::remove_dir_all(&self.profile);
    }
}

/// The processes with an argument that is `dir` or a path inside it.
fn processes_mentioning(dir: &Path) -> Vec<u32> {
    let dir = dir.as_os_str().as_encoded_bytes();
    // Whole components only: wsm-7-1 must not match wsm-7-12.
    let needles = [[dir, b"/"].concat(), [dir, b"\0"].concat()];
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                needles.iter().any(|needle| {
                    cmdline
                        .windows(needle.len())
                        .any(|w| w == needle.as_slice())
                })
            })
        })
        .collect()
}

/// A DevTools protocol connection: commands with ids, answers matched to
/// them, and the events that arrive in between kept for [`Devtools::event`].
pub struct Devtools {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: VecDeque<Value>,
}

impl Devtools {
    /// Connects to a DevTools endpoint with the crate's own client.
    pub async fn connect(url: &str) -> Devtools {
        let mut config = ClientConfig::new(url).expect("a DevTools URL");
        // Screenshots arrive as one base64 message, larger than the 1 MiB
        // default.
        config.config.max_message_size = 16 << 20;
        let (ws, _) = tokio::time::timeout(STEP_TIMEOUT, wsmachine_tokio::connect(config))
            .await
            .unwrap_or_else(|_| panic!("connecting to {url} took over {STEP_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        Devtools {
            ws,
            next_id: 1,
            events: VecDeque::new(),
        }
    }

    /// Sends a command and returns its `result`, or the protocol's error
    /// (or the connection's end) as text.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.call_within(method, params, STEP_TIMEOUT).await
    }

    /// [`Devtools::call`], waiting up to `timeout` for the answer.
    async fn call_within(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.ws
            .send(Message::text(command.to_string()))
            .await
            .map_err(|e| format!("{method}: sending: {e}"))?;
        let answer = async {
            loop {
                let message = self.receive().await?;
                if message.get("id").and_then(Value::as_u64) == Some(id) {
                    return match message.get("error") {
                        Some(error) => Err(format!("{method}: {error}")),
                        None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                    };
                }
                if message.get("method").is_some() {
                    self.events.push_back(message);
                }
            }
        };
        tokio::time::timeout(timeout, answer)
            .await
            .map_err(|_| format!("{method}: no answer within {timeout:?}"))?
    }

    /// Waits for the event `method` and returns its `params`.
    pub async fn event(&mut self, method: &str) -> Result<Value, String> {
        let wait = async {
            loop {
                if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
                    let event = self.events.remove(at).unwrap_or_default();
                    return Ok(event["params"].clone());
                }
                let message = self.receive().await?;
                if message.get("method").is_some() {
                    self.events.push_back(message);
                }
            }
        };
        tokio::time::timeout(STEP_TIMEOUT, wait)
            .await
            .map_err(|_| format!("no {method} within {STEP_TIMEOUT:?}"))?
    }

    /// Evaluates `expression` in the page, awaits the promise it returns
    /// (for up to `timeout`), and returns the value (a JSON copy of it), or
    /// the exception as text.
    pub async fn evaluate(&mut self, expression: &str, timeout: Duration) -> Result<Value, String> {
        let params = json!({
            "expression": expression,
            "awaitPromise": true,
            "returnByValue": true,
        });
        let result = self
            .call_within("Runtime.evaluate", params, timeout)
            .await?;
        if let Some(exception) = result.get("exceptionDetails") {
            let description = exception["exception"]["description"]
                .as_str()
                .or_else(|| exception["text"].as_str())
                .unwrap_or("an exception");
            return Err(format!("the page's script threw: {description}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// The next JSON message from the browser.
    async fn receive(&mut self) -> Result<Value, String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str())
                        .map_err(|e| format!("DevTools sent bad JSON: {e}"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("DevTools closed the connection: {frame:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("DevTools connection failed: {e}")),
                None => return Err("DevTools connection ended".into()),
            }
        }
    }
}
