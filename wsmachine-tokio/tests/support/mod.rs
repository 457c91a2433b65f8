//! What the driver's tests share: time bounds, loopback listeners and
//! payloads.

#![allow(dead_code)]

pub mod raw;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

/// The bound on every test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a test body under [`TEST_TIMEOUT`].
pub async fn bounded<T>(body: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_TIMEOUT, body).await {
        Ok(value) => value,
        Err(_) => panic!("the test did not finish within {TEST_TIMEOUT:?}"),
    }
}

/// A listener on an ephemeral loopback port.
pub async fn loopback() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Text of `len` bytes, mixing one-, two- and three-byte characters
/// without splitting one at the end.
pub fn text_of_len(len: usize, seed: usize) -> String {
    const PIECES: [&str; 4] = ["a", "é", "€", "z"];
    let mut text = String::with_capacity(len);
    let mut i = seed;
    while text.len() < len {
        let piece = PIECES[i % PIECES.len()];
        if text.len() + piece.len() > len {
            text.push('.');
        } else {
            text.push_str(piece);
        }
        i += 1;
    }
    text
}

/// Bytes of `len` that vary with the position and `seed`.
pub fn binary_of_len(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + seed) % 251) as u8).collect()
}

/// A masked client frame (mask 1, 2, 3, 4), for raw peers.
pub fn masked_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// An upgrade request for a raw client.
pub fn upgrade_request(target: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
}
