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
use wsmachine::frame::{FrameHeader, Opcode};

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
            let Ok(parsed) = parse_header(buf.get(at..).unwrap_or_default()) else {
                return;
            };
            let Some((header, header_len, key)) = parsed else {
                break READ_SIZE;
            };
            let start = at + header_len;
            let end = start + header.payload_len as usize;
            // Each read's part of a payload is unmasked at once, while the
            // read's copy has left it in the cache.
            let arrived = end.min(buf.len());
            if let Some(fresh) = buf.get_mut(start + unmasked..arrived) {
                wsmachine::mask::apply_mask(fresh, key, unmasked);
            }
            if arrived < end {
                unmasked = arrived - start;
                break end - arrived;
            }
            unmasked = 0;
            let reply = FrameHeader::new(header.opcode, true, None, header.payload_len).encode();
            let reply_start = replies.len();
            replies.extend_from_slice(reply.as_bytes());
            echoes.push((reply_start..replies.len(), start..end));
            at = end;
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

/// The next frame's header, with its length and masking key, if it is a
/// whole header of a frame the minimal echo echoes: final, data, masked,
/// within the message limit. `Err` ends the connection.
fn parse_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize, [u8; 4])>, ()> {
    let Some((header, header_len)) = FrameHeader::decode(buf).map_err(|_| ())? else {
        return Ok(None);
    };
    let echoed = header.fin
        && header.rsv == 0
        && matches!(header.opcode, Opcode::Text | Opcode::Binary)
        && header.payload_len <= crate::servers::MAX_MESSAGE as u64;
    match header.mask {
        Some(key) if echoed => Ok(Some((header, header_len, key))),
        _ => Err(()),
    }
}
