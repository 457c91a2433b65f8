//! The programs the tests of both crates run that are not Rust (included by
//! path): tinyproxy, microsocks, Chromium, Python and Node, and the interop peers'
//! packages. Each is found when it is there and installed when it is not,
//! so that `cargo test --all-features` passes on a fresh Debian machine:
//!
//! - Debian packages with `apt-get install -y`, as root or through
//!   `sudo -n`; `apt-get update` first when the package lists are empty or
//!   the install fails. Without root or passwordless sudo the test fails,
//!   naming the command to run.
//! - Python packages into a venv under the target directory, npm packages
//!   into a prefix under it.
//!
//! Installs are serialised across the threads of a test binary and across
//! test processes, by a lock on `<target>/tmp/wsmachine-install.lock`
//! (`flock(2)`, released by the kernel when a process dies, so it is never
//! stale). Each install prints one line to the real stderr, past libtest's
//! capture, saying what it installs and why. A test never skips.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A program that a Debian package provides.
pub struct AptTool {
    /// The names it may have on the `PATH`; the first found is used.
    pub commands: &'static [&'static str],
    /// The Debian package that installs it.
    pub package: &'static str,
    /// Why the tests need it, for the line printed when it is installed.
    pub why: &'static str,
}

pub const TINYPROXY: AptTool = AptTool {
    commands: &["tinyproxy"],
    package: "tinyproxy",
    why: "the proxy tests tunnel through a real tinyproxy",
};

pub const MICROSOCKS: AptTool = AptTool {
    commands: &["microsocks"],
    package: "microsocks",
    why: "the SOCKS5 tests tunnel through a real microsocks",
};

pub const CHROMIUM: AptTool = AptTool {
    commands: &["chromium", "chromium-browser"],
    package: "chromium",
    why: "the browser test drives a headless Chromium",
};

pub const PYTHON: AptTool = AptTool {
    commands: &["python3"],
    package: "python3",
    why: "the interop tests run python-websockets",
};

pub const NODE: AptTool = AptTool {
    commands: &["node"],
    package: "nodejs",
    why: "the interop tests run node's ws",
};

pub const NPM: AptTool = AptTool {
    commands: &["npm"],
    package: "npm",
    why: "the interop tests install node's ws with npm",
};

/// The target directory of the build that compiled this test.
pub fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), Path::to_path_buf)
}

/// The first of `commands` on the `PATH` (or in /usr/bin, /usr/sbin).
pub fn find(commands: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .collect();
    commands
        .iter()
        .flat_map(|command| dirs.iter().map(move |dir| dir.join(command)))
        .find(|candidate| candidate.is_file())
}

/// The tool's path, installing its package first when it is missing.
pub fn require(tool: &AptTool) -> PathBuf {
    if let Some(path) = find(tool.commands) {
        return path;
    }
    let apt = Apt::new(&[tool.package], tool.why, tool.commands[0]);
    let _lock = InstallLock::acquire();
    // Another thread or process may have installed it while this one
    // waited for the lock.
    if let Some(path) = find(tool.commands) {
        return path;
    }
    apt.install();
    find(tool.commands).unwrap_or_else(|| {
        panic!(
            "`apt-get install -y {}` succeeded but none of {:?} is on the PATH",
            tool.package, tool.commands
        )
    })
}

/// A venv at `dir` in which `modules` import, installing `packages` with
/// pip when they do not. Returns the venv's python.
pub fn python_venv(dir: &Path, packages: &[&str], modules: &[&str], why: &str) -> PathBuf {
    let python = dir.join("bin/python");
    let check = format!("import {}", modules.join(", "));
    let ready = || {
        python.is_file()
            && Command::new(&python)
                .args(["-c", &check])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if ready() {
        return python;
    }
    let system_python = require(&PYTHON);
    // Debian's python3 makes venvs only with python3-venv (ensurepip).
    let has_venv = || {
        Command::new(&system_python)
            .args(["-c", "import ensurepip, venv"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let apt = (!has_venv()).then(|| Apt::new(&["python3-venv"], why, "python3 -m venv"));
    let _lock = InstallLock::acquire();
    if ready() {
        return python;
    }
    if let Some(apt) = apt.filter(|_| !has_venv()) {
        apt.install();
    }
    announce(&format!(
        "installing the Python packages {} into a venv at {} ({why})",
        packages.join(" "),
        dir.display()
    ));
    let _ = std::fs::remove_dir_all(dir);
    run_or_panic(Command::new(&system_python).arg("-m").arg("venv").arg(dir));
    run_or_panic(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(packages),
    );
    assert!(ready(), "the venv at {} cannot `{check}`", dir.display());
    python
}

/// The Python packages of the interop tests of both crates, in one venv at
/// `<target>/interop/venv`: python-websockets, and hypercorn and hyper-h2
/// (`h2`) for WebSockets over HTTP/2 (RFC 8441), and aioquic for
/// WebSockets over HTTP/3 (RFC 9220; hypercorn serves HTTP/3 with it).
/// Their import names are the same. One list for every test, so that none
/// finds the venv short of another's package and makes it anew while that
/// one runs it.
pub const INTEROP_PYTHON_PACKAGES: &[&str] = &["websockets", "hypercorn", "h2", "aioquic"];

/// The python of the interop venv, with [`INTEROP_PYTHON_PACKAGES`]
/// installed when they are missing.
pub fn interop_python(why: &str) -> PathBuf {
    let venv = target_dir().join("interop").join("venv");
    python_venv(&venv, INTEROP_PYTHON_PACKAGES, INTEROP_PYTHON_PACKAGES, why)
}

/// npm's `packages` under `prefix`/node_modules, installed when missing.
/// Returns that node_modules directory (for `NODE_PATH`).
pub fn npm_packages(prefix: &Path, packages: &[&str], why: &str) -> PathBuf {
    let modules = prefix.join("node_modules");
    let ready = || {
        packages
            .iter()
            .all(|p| modules.join(p).join("package.json").is_file())
    };
    require(&NODE);
    if ready() {
        return modules;
    }
    let npm = require(&NPM);
    let _lock = InstallLock::acquire();
    if ready() {
        return modules;
    }
    announce(&format!(
        "installing the npm packages {} under {} ({why})",
        packages.join(" "),
        prefix.display()
    ));
    std::fs::create_dir_all(prefix).expect("create the npm prefix");
    run_or_panic(
        Command::new(npm)
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(prefix)
            .args(packages),
    );
    assert!(
        ready(),
        "npm installed {packages:?} but not under {}",
        modules.display()
    );
    modules
}

/// One line on the process's real stderr: `io::stderr` directly, which
/// libtest does not capture (it captures `eprintln!`).
pub fn announce(line: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "wsmachine tests: {line}");
    let _ = stderr.flush();
}

/// An apt-get install that this process can run: as root, or through
/// `sudo -n`.
struct Apt {
    packages: Vec<&'static str>,
    sudo: &'static [&'static str],
    /// The command to run by hand, for failure messages.
    by_hand: String,
    /// What is installed and why, for stderr.
    announcement: String,
}

impl Apt {
    /// Checks that `packages` (which `needed_by` comes from) can be
    /// installed, or fails the test saying what to run.
    fn new(packages: &[&'static str], why: &str, needed_by: &str) -> Apt {
        let list = packages.join(" ");
        let by_hand = format!(
            "sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive \
             apt-get install -y {list}"
        );
        if find(&["apt-get"]).is_none() {
            panic!(
                "{needed_by} is missing and this is not a Debian-like system (no apt-get): \
                 install {list} with the system's package manager ({why})"
            );
        }
        let sudo: &[&str] = if is_root() {
            &[]
        } else if Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            &["sudo", "-n"]
        } else {
            panic!(
                "{needed_by} is missing ({why}), and these tests install it only as root \
                 or with passwordless sudo. Run:\n    {by_hand}\nthen run the tests again"
            );
        };
        Apt {
            packages: packages.to_vec(),
            sudo,
            by_hand,
            announcement: format!(
                "installing {list} with apt-get: {needed_by} is missing and {why}"
            ),
        }
    }

    /// Installs the packages; `apt-get update` first when there are no
    /// package lists, and again when the install fails.
    fn install(&self) {
        announce(&self.announcement);
        let install: Vec<&str> = [&["install"], self.packages.as_slice()].concat();
        if lists_are_empty() {
            self.run(&["update"]);
        }
        let mut outcome = self.run(&install);
        if !outcome.status.success() {
            self.run(&["update"]);
            outcome = self.run(&install);
        }
        assert!(
            outcome.status.success(),
            "`apt-get install -y {}` failed ({}):\n{}\nRun:\n    {}",
            self.packages.join(" "),
            outcome.status,
            tail(&outcome),
            self.by_hand
        );
    }

    fn run(&self, args: &[&str]) -> Output {
        let (program, rest) = match self.sudo {
            [] => ("env", Vec::new()),
            [first, rest @ ..] => (*first, [rest, &["env"]].concat()),
        };
        Command::new(program)
            .args(rest)
            .args(["DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y"])
            // Waits for another apt (a second test process, the machine's
            // own updates) instead of failing at once.
            .args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run apt-get: {e}; run:\n    {}", self.by_hand))
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether apt has no package lists yet (a fresh container).
fn lists_are_empty() -> bool {
    std::fs::read_dir("/var/lib/apt/lists").map_or(true, |entries| {
        !entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
    })
}

fn run_or_panic(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}",
        output.status,
        tail(&output)
    );
}

/// The last lines of a command's output, for failure messages.
fn tail(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Held while installing: a mutex for this process's threads and an
/// exclusive `flock` for other processes (the file lock alone would do,
/// since each acquire opens the file anew; the mutex keeps the order
/// obvious).
struct InstallLock {
    _file: File,
    _thread: MutexGuard<'static, ()>,
}

impl InstallLock {
    fn acquire() -> InstallLock {
        static THREADS: Mutex<()> = Mutex::new(());
        let thread = THREADS.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).expect("create the target's tmp directory");
        let path = dir.join("wsmachine-install.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        file.lock()
            .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
        InstallLock {
            _file: file,
            _thread: thread,
        }
    }
}
