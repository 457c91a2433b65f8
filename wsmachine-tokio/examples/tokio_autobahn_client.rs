//! The client side of the Autobahn|Testsuite protocol, on the driver.
//!
//! ```text
//! cargo run -p wsmachine-tokio --release --example tokio_autobahn_client [-- BASE_URL]
//! ```
//!
//! BASE_URL defaults to `ws://127.0.0.1:9001`, where `wstest -m
//! fuzzingserver` listens. As the core's `autobahn_client`, it reads
//! `/getCaseCount`, runs each case at `/runCase?case=N&agent=...` as an
//! echo client (permessage-deflate offered), and opens `/updateReports`.
//! One stdout line per case says how it ended; judging is the server's job.
//! Exit status: 0 when the count was read and the reports updated, 1
//! otherwise (a line starting with `error:` says why), 2 for a bad command
//! line.

use std::process::ExitCode;

use futures_util::StreamExt;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::client::ClientConfig;
use wsmachine_tokio::Message;

/// The name the reports list this client under.
pub const AGENT: &str = "wsmachine-tokio";

/// Autobahn's 9.x cases send messages up to 16 MiB.
const MAX_MESSAGE_SIZE: u64 = 16 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    if base.starts_with('-') || args.next().is_some() {
        eprintln!("usage: tokio_autobahn_client [BASE_URL]");
        return ExitCode::from(2);
    }
    match run(base.trim_end_matches('/'), &mut |line| println!("{line}")).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            println!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the whole protocol against `base`.
///
/// # Errors
/// The line to print when the count or the report fails.
pub async fn run(base: &str, print: &mut dyn FnMut(&str)) -> Result<(), String> {
    let count = session(&format!("{base}/getCaseCount"), Role::ReadCount)
        .await
        .map_err(|error| format!("getCaseCount: {error}"))?;
    let count: u32 = match count.first_text.as_deref().map(str::trim) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("getCaseCount: not a count: {text:?}"))?,
        None => return Err("getCaseCount: no count received".into()),
    };
    print(&format!("cases: {count}"));
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        match session(&url, Role::Echo).await {
            Ok(ended) => print(&format!(
                "case {case}/{count}: {} messages echoed, {}",
                ended.echoed, ended.end
            )),
            // One case's failure does not stop the run.
            Err(error) => print(&format!("case {case}/{count}: {error}")),
        }
    }
    session(&format!("{base}/updateReports?agent={AGENT}"), Role::Idle)
        .await
        .map_err(|error| format!("updateReports: {error}"))?;
    print(&format!("reports updated for agent {AGENT}"));
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    ReadCount,
    Echo,
    Idle,
}

struct Ended {
    first_text: Option<String>,
    echoed: usize,
    end: String,
}

async fn session(url: &str, role: Role) -> Result<Ended, String> {
    let mut config = ClientConfig::new(url).map_err(|error| format!("invalid URL: {error}"))?;
    config.config.max_message_size = MAX_MESSAGE_SIZE;
    config.config.deflate = Some(DeflateConfig::default());
    let (mut ws, _) = wsmachine_tokio::connect(config)
        .await
        .map_err(|error| match error {
            wsmachine_tokio::Error::Io(error) => format!("connect: {error}"),
            other => other.to_string(),
        })?;
    let mut ended = Ended {
        first_text: None,
        echoed: 0,
        end: "ended without a Close".into(),
    };
    while let Some(item) = ws.next().await {
        match item {
            Ok(Message::Text(text)) if role == Role::ReadCount => {
                ended.first_text.get_or_insert_with(|| text.to_string());
            }
            Ok(message @ (Message::Text(_) | Message::Binary(_))) if role == Role::Echo => {
                // Fails only once closing; the echo is moot then.
                if ws.send(message).await.is_ok() {
                    ended.echoed += 1;
                }
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(1005, |frame| frame.code.0);
                ended.end = format!("closed: code={code}");
            }
            Ok(_) => {}
            Err(error) => ended.end = format!("failed: {error}"),
        }
    }
    Ok(ended)
}
