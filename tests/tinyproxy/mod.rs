//! A real tinyproxy for the proxy tests of both crates (included by path):
//! Debian's tinyproxy, started on a free 127.0.0.1 port with its own config
//! file, in the foreground, killed when dropped. Installed by the first
//! test that needs it when it is missing.
#![allow(dead_code)]

// The crate that includes this module declares `system` (tests/system) at
// its root, once, for all its helpers.
use crate::system;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A tinyproxy process with its own config, killed when dropped.
pub struct TinyProxy {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// tinyproxy's path, installed with apt-get when it is missing (see
/// `system`). Call it before a test's time bound starts: an install takes
/// a while.
pub fn binary() -> PathBuf {
    system::require(&system::TINYPROXY)
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl TinyProxy {
    /// Starts tinyproxy in the foreground, allowing CONNECT to `target_port`
    /// only, with Basic authentication when `auth` is given.
    pub fn start(target_port: u16, auth: Option<(&str, &str)>) -> TinyProxy {
        static INSTANCE: AtomicUsize = AtomicUsize::new(0);
        let binary = binary();
        // The free port may be taken between the probe and tinyproxy's bind:
        // then tinyproxy exits, and another port is tried.
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let instance = INSTANCE.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "wsmachine-tinyproxy-{}-{instance}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("create the proxy's directory");
            let port = free_port();
            let mut config = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 15\nAllow 127.0.0.1\n\
                 ConnectPort {target_port}\nMaxClients 16\nLogLevel Info\n"
            );
            if let Some((user, password)) = auth {
                config.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            let config_path = dir.join("tinyproxy.conf");
            std::fs::write(&config_path, config).expect("write the proxy's config");
            let log = std::fs::File::create(dir.join("tinyproxy.log")).expect("create the log");
            let child = Command::new(&binary)
                .arg("-d")
                .arg("-c")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut proxy = TinyProxy { child, port, dir };
            if proxy.wait_until_listening() {
                return proxy;
            }
            last_log = proxy.log();
        }
        panic!("tinyproxy did not start listening in five attempts; its last log:\n{last_log}");
    }

    fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self, user_info: &str) -> String {
        format!("http://{user_info}127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("tinyproxy.log")).unwrap_or_default()
    }
}
