//! A real SOCKS5 proxy for the driver's tests: Debian's microsocks, started
//! on a free 127.0.0.1 port, with username/password when asked, killed when
//! dropped. Installed by the first test that needs it when it is missing.
#![allow(dead_code)]

// The crate that includes this module declares `system` (tests/system at
// the root) once, for all its helpers.
use crate::system;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A microsocks process, killed when dropped.
pub struct MicroSocks {
    child: Child,
    pub port: u16,
}

impl Drop for MicroSocks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    system::require(&system::MICROSOCKS)
}

impl MicroSocks {
    /// Starts microsocks on 127.0.0.1, requiring `auth` when given.
    pub fn start(auth: Option<(&str, &str)>) -> MicroSocks {
        let binary = binary();
        // The free port may be taken between the probe and microsocks' bind:
        // then it exits, and another port is tried.
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let mut command = Command::new(&binary);
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, password)) = auth {
                command.args(["-u", user, "-P", password]);
            }
            let mut child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start microsocks");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return MicroSocks { child, port };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("microsocks did not start");
    }

    /// Its URL: `socks5` or `socks5h`, with `user_info` (`user:pass@` or
    /// empty).
    pub fn url(&self, scheme: &str, user_info: &str) -> String {
        format!("{scheme}://{user_info}127.0.0.1:{}", self.port)
    }
}
