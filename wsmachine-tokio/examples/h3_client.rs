//! A client of WebSockets over HTTP/3 (RFC 9220): opens several WebSockets
//! on one QUIC connection, sends a message on each, prints the answers and
//! closes them.
//!
//! ```text
//! cargo run -p wsmachine-tokio --features h3 --example h3_client -- wss://localhost:9007/ --ca CERT.pem [--send TEXT] [--count N]
//! ```
//!
//! Against `h3_echo`, give `--ca` the certificate it printed; each
//! WebSocket gets its message back. The URL's host and port are where it
//! connects over UDP; the host is also the name the certificate must have.

use std::net::ToSocketAddrs;
use std::path::Path;
use std::process::ExitCode;

use futures_util::StreamExt;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use wsmachine_tokio::h3::{Client, client_tls_config};
use wsmachine_tokio::{ClientConfig, CloseCode, Config, Error, Message};

/// Opens `count` WebSockets to `url` on one QUIC connection that trusts
/// `roots`, sends `text` on each, and returns the first message each got
/// back, in order, after a closing handshake on each.
///
/// # Errors
/// The first failure: the URL, the connection, a handshake, a message.
pub async fn run(
    url: &str,
    roots: rustls::RootCertStore,
    text: &str,
    count: usize,
) -> Result<Vec<Message>, Error> {
    let config = ClientConfig::new(url)
        .map_err(Error::Url)?
        .with_config(Config::default().deflate(true));
    let host = config
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let addr = (host.as_str(), config.port())
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let client = Client::connect_quic(addr, &host, client_tls_config(roots)?).await?;
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

/// The roots of a PEM file of certificates.
///
/// # Errors
/// A file that cannot be read or holds no certificate.
pub fn roots_from_pem(path: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|error| error.to_string())? {
        roots
            .add(cert.map_err(|error| error.to_string())?)
            .map_err(|error| error.to_string())?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(roots)
}

const USAGE: &str = "usage: h3_client wss://HOST:PORT/PATH --ca CERT.pem [--send TEXT] [--count N]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut url, mut ca, mut text, mut count) = (None, None, String::from("hello"), 2);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = args.next(),
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
    let (Some(url), Some(ca)) = (url, ca) else {
        return usage();
    };
    let roots = match roots_from_pem(Path::new(&ca)) {
        Ok(roots) => roots,
        Err(error) => {
            eprintln!("h3_client: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(&url, roots, &text, count).await {
        Ok(answers) => {
            for answer in answers {
                println!("{answer:?}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("h3_client: {error}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
