//! The `autobahn_client` example, run for real against a fake
//! fuzzingserver: wsmachine's `Server` on blocking std::net, speaking the
//! three Autobahn endpoints with two small cases.
//!
//! The binary is built with the test's own features; every process is
//! killed after a deadline, so each test ends by itself.

use crate::{fake_fuzzingserver, programs};

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use fake_fuzzingserver::start_fake_fuzzingserver;
use programs::run_bounded;

#[test]
fn the_client_runs_every_case_and_updates_the_reports() {
    let binary = programs::example_binary("autobahn_client");
    let (base, record) = start_fake_fuzzingserver();
    let mut command = Command::new(&binary);
    command.arg(&base);
    let output = run_bounded(command, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![
            "cases: 2",
            "case 1/2: 2 messages echoed, closed: code=1000 initiator=Remote",
            "case 2/2: 2 messages echoed, closed: code=1000 initiator=Remote",
            "reports updated for agent wsmachine",
        ]
    );
    // Each connection is recorded before the client sees its end.
    assert_eq!(
        *record.lock().unwrap(),
        vec![
            "getCaseCount",
            "case 1 agent=wsmachine: pass",
            "case 2 agent=wsmachine: pass",
            "updateReports agent=wsmachine",
        ]
    );
}

#[test]
fn the_client_fails_when_no_server_listens() {
    let binary = programs::example_binary("autobahn_client");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut command = Command::new(&binary);
    command.arg(format!("ws://127.0.0.1:{port}/"));
    let output = run_bounded(command, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("error: getCaseCount: connect: "),
        "{stdout}"
    );
}
