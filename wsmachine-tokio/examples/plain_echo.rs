//! The plainest echo server on the driver, written as a new user writes
//! it: `accept`, then a loop that stops at the first error with `?` and
//! sends every message back. No options, no special handling of errors or
//! of the Close: the driver must still give the peer every echo, then the
//! right Close code, whatever went wrong.
//!
//! ```text
//! cargo run -p wsmachine-tokio --example plain_echo [-- ADDR] [--quiet]
//! ```
//!
//! ADDR defaults to 127.0.0.1:9008. Autobahn|Testsuite's server cases run
//! against it, strict (`AUTOBAHN_DRIVER=plain bash tests/autobahn/run.sh`).

use tokio::net::{TcpListener, TcpStream};
use wsmachine_tokio::Error;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quiet = args.iter().any(|arg| arg == "--quiet");
    let addr = args
        .iter()
        .find(|arg| !arg.starts_with('-'))
        .map_or("127.0.0.1:9008", String::as_str);
    let listener = TcpListener::bind(addr).await?;
    eprintln!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(error) = echo(stream).await
                && !quiet
            {
                eprintln!("{error}");
            }
        });
    }
}

async fn echo(stream: TcpStream) -> Result<(), Error> {
    let mut ws = wsmachine_tokio::accept(stream).await?;
    while let Some(msg) = ws.recv().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
