//! An async driver for a wsmachine connection over a tokio `TcpStream`,
//! used by both roles in the interop tests: read, `receive(now)`, drain the
//! events and the output, write, and call `handle_timeout` at
//! `poll_timeout`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{Connection, Error, Event, Role};

/// A connection, its socket and its clock.
///
/// Reading and writing run concurrently in [`Driver::next_event`], so a
/// large message going out never blocks one coming in: two peers that both
/// write a megabyte at once do not deadlock.
pub struct Driver<R: Role> {
    /// The connection, for commands (`send_*`, `close`, `accept`). After a
    /// command, the next [`Driver::next_event`] or [`Driver::flush`] writes
    /// what it queued.
    pub conn: Connection<R>,
    stream: TcpStream,
    start: Instant,
    /// Output taken from the connection, not yet written.
    pending: VecDeque<Bytes>,
    read_buf: Vec<u8>,
    peer_eof: bool,
    /// Every `Err` the connection returned, in order.
    pub errors: Vec<Error>,
}

impl<R: Role> Driver<R> {
    /// A driver whose clock starts now.
    pub fn new(conn: Connection<R>, stream: TcpStream) -> Self {
        Driver {
            conn,
            stream,
            start: Instant::now(),
            pending: VecDeque::new(),
            read_buf: vec![0; 64 * 1024],
            peer_eof: false,
            errors: Vec::new(),
        }
    }

    /// The connection's clock: time since the driver started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn take_output(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            if !bytes.is_empty() {
                self.pending.push_back(bytes);
            }
        }
    }

    /// Writes everything the connection has queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.take_output();
        while let Some(bytes) = self.pending.pop_front() {
            self.stream.write_all(&bytes).await?;
        }
        self.stream.flush().await
    }

    /// Runs the socket until the connection has an event for the app.
    /// `Ok(None)` once the connection is closed, its output written and the
    /// socket shut down.
    pub async fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            if let Some(event) = self.conn.poll_event() {
                return Ok(Some(event));
            }
            self.take_output();
            if self.conn.is_closed() {
                self.flush().await?;
                // RFC 6455 §7.1.1: with the closing handshake done (or the
                // connection failed), the transport is closed.
                let _ = self.stream.shutdown().await;
                return Ok(None);
            }
            let deadline = self.conn.poll_timeout().map(|timeout| self.start + timeout);
            let (mut reader, mut writer) = self.stream.split();
            let front = self.pending.front().cloned();
            tokio::select! {
                written = async { writer.write(front.as_deref().unwrap_or_default()).await },
                    if front.is_some() =>
                {
                    let written = written?;
                    if written == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    if let Some(front) = self.pending.front_mut() {
                        front.advance(written);
                        if front.is_empty() {
                            self.pending.pop_front();
                        }
                    }
                }
                read = reader.read(&mut self.read_buf), if !self.peer_eof => {
                    let read = read?;
                    let now = self.start.elapsed();
                    let result = if read == 0 {
                        self.peer_eof = true;
                        self.conn.receive_eof(now)
                    } else {
                        self.conn.receive(now, self.read_buf.get(..read).unwrap_or_default())
                    };
                    if let Err(error) = result {
                        self.errors.push(error);
                    }
                }
                () = sleep_until_deadline(deadline), if deadline.is_some() => {
                    self.conn.handle_timeout(self.start.elapsed());
                }
                else => {
                    return Err(io::Error::other(
                        "the peer closed the transport, nothing is left to write and no \
                         timer is armed, yet the connection is not closed",
                    ));
                }
            }
        }
    }

    /// After the connection closed: reads and drops what the peer still
    /// sends until it closes its side. Closing a socket with unread bytes
    /// makes the kernel reset the connection, and the peer may then lose our
    /// Close or error response before reading it.
    pub async fn linger(&mut self) {
        assert!(
            self.conn.is_closed(),
            "linger only after the connection closed"
        );
        while !self.peer_eof {
            match self.stream.read(&mut self.read_buf).await {
                Ok(0) | Err(_) => self.peer_eof = true,
                Ok(_) => {}
            }
        }
    }

    /// The next event, which must come: a closed connection is an error.
    pub async fn expect_event(&mut self) -> Event {
        match self.next_event().await {
            Ok(Some(event)) => event,
            Ok(None) => panic!(
                "connection closed while an event was expected: {:?}",
                self.errors
            ),
            Err(error) => panic!("transport error while an event was expected: {error}"),
        }
    }

    /// Runs until `assembler` has a whole message (data or control),
    /// returning any other event as an error.
    pub async fn next_message(
        &mut self,
        assembler: &mut MessageAssembler,
    ) -> Result<Message, Event> {
        loop {
            match self.expect_event().await {
                Event::Frame(frame) => match assembler.push(frame) {
                    Ok(Some(message)) => return Ok(message),
                    Ok(None) => {}
                    Err(error) => panic!("message error: {error}"),
                },
                other => return Err(other),
            }
        }
    }

    /// Runs the connection to its end, returning the events still to come.
    pub async fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.next_event().await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => return events,
                Err(error) => panic!("transport error while finishing: {error}; events {events:?}"),
            }
        }
    }
}

async fn sleep_until_deadline(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// `len` bytes of valid UTF-8 mixing one-, two-, three- and four-byte
/// characters; `seed` shifts the pattern so the two directions differ.
pub fn text_of_len(len: usize, seed: usize) -> String {
    const CHARS: [char; 6] = ['a', 'é', '€', '𝄞', 'Z', 'ß'];
    let mut text = String::with_capacity(len);
    let mut index = seed;
    while text.len() < len {
        let next = CHARS[index % CHARS.len()];
        index += 1;
        if text.len() + next.len_utf8() <= len {
            text.push(next);
        } else {
            text.push('.');
        }
    }
    text
}

/// `len` bytes of a pattern that `seed` shifts and that does not repeat with
/// a short period (251 is prime), so a lost or moved byte shows.
pub fn binary_of_len(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i + seed) % 251) as u8 ^ (i >> 8) as u8)
        .collect()
}

/// The test's bound: long enough for a slow debug build on a loaded machine,
/// short enough that a hang fails the test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);
