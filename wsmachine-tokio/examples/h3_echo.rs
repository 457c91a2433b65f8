//! The echo server over HTTP/3 (RFC 9220): WebSockets on extended CONNECT
//! request streams, several on one QUIC connection, on the driver's
//! `h3::Server` (quinn, rustls with ring).
//!
//! ```text
//! cargo run -p wsmachine-tokio --features h3 --example h3_echo [-- ADDR] [--cert PATH --key PATH]
//! ```
//!
//! ADDR is a UDP address, 127.0.0.1:9007 by default; with port 0 the system
//! picks one, and the `listening on` line names it. Without `--cert` and
//! `--key` (PEM files) it makes a self-signed certificate for `localhost`
//! and `127.0.0.1` at start-up and prints the path of its PEM, for clients
//! to trust. It keeps `echo_server`'s contract: every text or binary
//! message comes back whole, as the same type; a Close is answered;
//! permessage-deflate is accepted when offered. A request that is not a
//! WebSocket extended CONNECT gets the core's error response (405, 400,
//! 501, ...) and the connection goes on.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::handshake::server::ServerConfig;
use wsmachine_tokio::WebSocket;
use wsmachine_tokio::h3::{H3Stream, Server, server_tls_config};

/// The echo server's configuration: permessage-deflate accepted when a
/// client offers it.
pub fn server_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.config.deflate = Some(DeflateConfig::default());
    config
}

/// A certificate for `localhost` and `127.0.0.1`, signed by itself, with
/// its key and its PEM.
pub fn self_signed() -> (CertificateDer<'static>, PrivateKeyDer<'static>, String) {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("rcgen makes a certificate");
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    (
        certified.cert.der().clone(),
        key.into(),
        certified.cert.pem(),
    )
}

/// Listens on `addr` with the certificate and key.
///
/// # Errors
/// A TLS config ring cannot use, or an address that cannot be bound.
pub fn bind(
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<Server, wsmachine_tokio::Error> {
    let tls = server_tls_config(vec![cert], key)?;
    Server::bind(addr, tls, server_config())
}

/// Echoes on every WebSocket the server accepts, each on its own task.
pub async fn serve(mut server: Server) {
    while let Some((socket, request)) = server.accept().await {
        let path = request.path().to_owned();
        tokio::spawn(echo(socket, path));
    }
}

/// Sends every text and binary message back; the driver answers pings and
/// the Close, and ends the stream (FIN) when the connection is over.
async fn echo(mut socket: WebSocket<H3Stream>, path: String) {
    while let Some(message) = socket.next().await {
        match message {
            Ok(message) if message.is_data() => {
                if let Err(error) = socket.feed(message).await {
                    eprintln!("{path}: send failed: {error}");
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("{path}: {error}");
                return;
            }
        }
    }
}

const USAGE: &str = "usage: h3_echo [ADDR] [--cert PATH --key PATH]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut cert_file, mut key_file) = (None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cert" => cert_file = args.next().map(PathBuf::from),
            "--key" => key_file = args.next().map(PathBuf::from),
            _ if addr.is_none() && !arg.starts_with("--") => addr = Some(arg),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let addr = addr.unwrap_or_else(|| "127.0.0.1:9007".into());
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        eprintln!("h3_echo: {addr:?} is not a socket address\n{USAGE}");
        return ExitCode::from(2);
    };
    let (cert, key) = match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => {
            let cert = CertificateDer::from_pem_file(&cert_file);
            let key = PrivateKeyDer::from_pem_file(&key_file);
            match (cert, key) {
                (Ok(cert), Ok(key)) => (cert, key),
                (Err(error), _) | (_, Err(error)) => {
                    eprintln!("h3_echo: cannot read the certificate or key: {error}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (None, None) => {
            let (cert, key, pem) = self_signed();
            let path = std::env::temp_dir().join(format!("h3_echo-{}.pem", std::process::id()));
            if let Err(error) = std::fs::write(&path, pem) {
                eprintln!("h3_echo: cannot write the certificate: {error}");
                return ExitCode::FAILURE;
            }
            eprintln!(
                "self-signed certificate (localhost, 127.0.0.1): {}",
                path.display()
            );
            (cert, key)
        }
        _ => {
            eprintln!("h3_echo: --cert and --key go together\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match bind(addr, cert, key) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("h3_echo: cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match server.local_addr() {
        Ok(local) => eprintln!("listening on {local} (HTTP/3, UDP, extended CONNECT)"),
        Err(_) => eprintln!("listening on {addr} (HTTP/3, UDP, extended CONNECT)"),
    }
    serve(server).await;
    ExitCode::SUCCESS
}
