//! The minimal echo: written by hand for the load generator's traffic
//! alone, with none of a library's checks. It answers the upgrade without
//! checking it, reads into one buffer that never grows, unmasks what each
//! read brought in place with the core's fastest loop, and writes every
//! echo the read completed in one vectored write (each header, then its
//! payload where it lies) before it reads again. It shows how much of a
//! case is the kernel's: at 1 MiB, the copies and one unmask pass are what
//! any server must spend.

use std::io::IoSlice;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most one read asks for when no frame needs more.
const READ_SIZE: usize = 64 * 1024;
/// Echoes per vectored write: two slices each, within Linux's `IOV_MAX`.
const ECHOES_PER_WRITE: usize = 512;

/// Serves one connection until it ends or sends what it does not echo.
pub async fn echo(mut stream: TcpStream) {
    // Room for the largest frame and a read more: the buffer never grows,
    // and no allocation is made after the first.
    let mut buf = BytesMut::with_capacity(crate::servers::MAX_MESSAGE + 16 + READ_SIZE);
    let Some(head_len) = read_head(&mut stream, &mut buf).await else {
        return;
    };
    let key = std::str::from_utf8(buf.get(..head_len).unwrap_or_default())
        .ok()
        .and_then(|head| {
            head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_string())
            })
        });
    let Some(key) = key else {
        return;
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wsmachine::accept_key::accept_key(key.as_bytes())
    );
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return;
    }
    buf.advance(head_len);
    let mut replies = Vec::new();
    let mut echoes = Vec::new();
    // Payload bytes of the frame at the front of `buf` already unmasked.
    let mut unmasked = 0;
    loop {
        // Whole frames first: the bytes after the upgrade may hold some.
        replies.clear();
        echoes.clear();
        let mut at = 0;
        let missing = loop {
            match parse_header(buf.get(at..).unwrap_or_default()) {
                Parsed::Incomplete => break READ_SIZE,
                Parsed::Refused => return,
                Parsed::Header(header) => {
                    let start = at + header.masked_len;
                    let end = start + header.payload_len;
                    // Each read's part of a payload is unmasked at once,
                    // while the read's copy has left it in the cache.
                    let arrived = end.min(buf.len());
                    if let Some(fresh) = buf.get_mut(start + unmasked..arrived) {
                        wsmachine::mask::apply_mask(fresh, header.key, unmasked);
                    }
                    if arrived < end {
                        unmasked = arrived - start;
                        break end - arrived;
                    }
                    unmasked = 0;
                    let reply_start = replies.len();
                    header.reply(&mut replies);
                    echoes.push((reply_start..replies.len(), start..end));
                    at = end;
                }
            }
        };
        if !echoes.is_empty()
            && write_echoes(&mut stream, &buf, &replies, &echoes)
                .await
                .is_none()
        {
            return;
        }
        buf.advance(at);
        buf.reserve(missing.max(READ_SIZE));
        // A large frame's rest is read up to its end and no further, so
        // that once it is echoed the buffer is empty and starts over at its
        // front: no frame's start is ever moved.
        let limit = if missing > READ_SIZE {
            missing
        } else {
            usize::MAX
        };
        match stream.read_buf(&mut (&mut buf).limit(limit)).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// Writes the echoes: each reply header, then its payload from `buf`.
async fn write_echoes(
    stream: &mut TcpStream,
    buf: &[u8],
    replies: &[u8],
    echoes: &[(std::ops::Range<usize>, std::ops::Range<usize>)],
) -> Option<()> {
    for group in echoes.chunks(ECHOES_PER_WRITE) {
        let mut slices: Vec<IoSlice<'_>> = group
            .iter()
            .flat_map(|(reply, payload)| {
                [
                    IoSlice::new(replies.get(reply.clone()).unwrap_or_default()),
                    IoSlice::new(buf.get(payload.clone()).unwrap_or_default()),
                ]
            })
            .collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = stream.write_vectored(slices).await.ok()?;
            if n == 0 {
                return None;
            }
            IoSlice::advance_slices(&mut slices, n);
        }
    }
    Some(())
}

/// Reads until the request head is whole; returns its length.
async fn read_head(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end + 4);
        }
        if buf.len() > READ_SIZE || stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// A client frame's header: its length, the masking key, and the first
/// byte and length to echo it with.
struct Header {
    masked_len: usize,
    first: u8,
    key: [u8; 4],
    payload_len: usize,
}

impl Header {
    /// Appends the unmasked header of the echo to `reply`.
    fn reply(&self, reply: &mut Vec<u8>) {
        reply.push(self.first);
        match self.payload_len {
            0..=125 => reply.push(self.payload_len as u8),
            126..=0xffff => {
                reply.push(126);
                reply.extend_from_slice(&(self.payload_len as u16).to_be_bytes());
            }
            _ => {
                reply.push(127);
                reply.extend_from_slice(&(self.payload_len as u64).to_be_bytes());
            }
        }
    }
}

/// What the bytes at the front of the buffer begin with.
enum Parsed {
    /// Not a whole header yet.
    Incomplete,
    /// A frame the minimal echo does not echo: not final, not data, not masked,
    /// or too large.
    Refused,
    Header(Header),
}

fn parse_header(buf: &[u8]) -> Parsed {
    let [first, second, ..] = *buf else {
        return Parsed::Incomplete;
    };
    if first & 0xf0 != 0x80 || !matches!(first & 0x0f, 1 | 2) || second & 0x80 == 0 {
        return Parsed::Refused;
    }
    let len_bytes = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let key_at = 2 + len_bytes;
    let (Some(len), Some(key)) = (buf.get(2..key_at), buf.get(key_at..key_at + 4)) else {
        return Parsed::Incomplete;
    };
    let payload_len = match len_bytes {
        0 => u64::from(second & 0x7f),
        _ => len.iter().fold(0u64, |n, &b| n << 8 | u64::from(b)),
    };
    match usize::try_from(payload_len) {
        Ok(payload_len) if payload_len <= crate::servers::MAX_MESSAGE => Parsed::Header(Header {
            masked_len: key_at + 4,
            first,
            key: [key[0], key[1], key[2], key[3]],
            payload_len,
        }),
        _ => Parsed::Refused,
    }
}
