//! A client of WebSockets over HTTP/2 (RFC 8441): opens several WebSockets
//! on one h2c connection (prior knowledge), sends a message on each, prints
//! the answers and closes them.
//!
//! ```text
//! cargo run -p wsmachine-tokio --features h2 --example h2_client -- ws://127.0.0.1:9004/ [--send TEXT] [--count N]
//! ```
//!
//! Against `h2_echo`, each WebSocket gets its message back. The URL's host
//! and port are where it connects; `ws://` only, since h2c has no TLS.

use std::process::ExitCode;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use wsmachine_tokio::h2::Client;
use wsmachine_tokio::{ClientConfig, CloseCode, Config, Error, Message};

/// Opens `count` WebSockets to `url` on one HTTP/2 connection, sends `text`
/// on each, and returns the first message each got back, in order, after a
/// closing handshake on each.
///
/// # Errors
/// The first failure: the URL, the connection, a handshake, a message.
pub async fn run(url: &str, text: &str, count: usize) -> Result<Vec<Message>, Error> {
    let config = ClientConfig::new(url)
        .map_err(Error::Url)?
        .with_config(Config::default().deflate(true));
    let addr = format!("{}:{}", config.host(), config.port());
    let tcp = TcpStream::connect(addr).await?;
    let client = Client::handshake(tcp).await?;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let (socket, _response) = client.connect(config.clone()).await?;
        sockets.push(socket);
    }
    for (index, socket) in sockets.iter_mut().enumerate() {
        socket
            .send(Message::text(format!("{text} #{index}")))
            .await?;
    }
    let mut answers = Vec::with_capacity(count);
    for mut socket in sockets {
        answers.push(socket.next().await.ok_or(Error::Closed)??);
        socket.close(CloseCode::NORMAL, "").await?;
        while let Some(message) = socket.next().await {
            message?;
        }
    }
    Ok(answers)
}

const USAGE: &str = "usage: h2_client ws://HOST:PORT/PATH [--send TEXT] [--count N]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut url, mut text, mut count) = (None, String::from("hello"), 2);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--send" => match args.next() {
                Some(value) => text = value,
                None => return usage(),
            },
            "--count" => match args.next().map(|value| value.parse()) {
                Some(Ok(value)) => count = value,
                _ => return usage(),
            },
            _ if url.is_none() && !arg.starts_with("--") => url = Some(arg),
            _ => return usage(),
        }
    }
    let Some(url) = url else {
        return usage();
    };
    match run(&url, &text, count).await {
        Ok(answers) => {
            for answer in answers {
                println!("{answer:?}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("h2_client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
