//! One side of the pair, everything observed of it, and its checks.

use std::time::Duration;

use wsmachine::close::CloseFrame;
use wsmachine::frame::{Decoded, FrameDecoder};
use wsmachine::message::{Message, MessageAssembler};
use wsmachine::{
    Close, CloseCode, Connection, DataKind, Error, Event, Fragment, Opcode, Role, SendError, State,
};

use super::{LARGE_LENGTHS, Op};

/// One side and everything observed of it.
pub(super) struct Peer<R: Role> {
    pub(super) conn: Connection<R>,
    is_client: bool,
    /// Every byte this side transmitted.
    written: Vec<u8>,
    /// Bytes in flight toward this side.
    pub(super) inbound: Vec<u8>,
    /// The transport toward this side has ended (EOF delivered).
    pub(super) inbound_ended: bool,
    /// This side was Closed and closed its transport.
    pub(super) transport_closed: bool,
    /// Garbage went into the stream toward this side.
    pub(super) tainted: bool,
    pub(super) state: State,
    pub(super) opened: bool,
    error: Option<Error>,
    pub(super) closes: Vec<Close>,
    /// Messages sent whole, in order.
    pub(super) sent: Vec<Message>,
    /// The fragmented message being sent.
    sending: Option<(DataKind, Vec<u8>)>,
    /// Text and binary messages received whole, in order.
    received: Vec<Message>,
    /// How many of them were found among those the peer sent.
    verified: usize,
    assembler: MessageAssembler,
    /// The code of the Close this side's output must end with: it failed
    /// while open.
    failure_close: Option<CloseCode>,
}

/// `LARGE_LENGTHS[index % 8]` ASCII bytes, from a buffer made once.
fn large_payload(index: u8) -> &'static [u8] {
    static ALPHABET: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let longest = LARGE_LENGTHS[LARGE_LENGTHS.len() - 1];
    let alphabet = ALPHABET.get_or_init(|| (0..longest).map(|i| b'a' + (i % 26) as u8).collect());
    let len = LARGE_LENGTHS[usize::from(index) % LARGE_LENGTHS.len()];
    &alphabet[..len]
}

impl<R: Role> Peer<R> {
    pub(super) fn new(conn: Connection<R>, is_client: bool) -> Self {
        let state = conn.state();
        Peer {
            conn,
            is_client,
            written: Vec::new(),
            inbound: Vec::new(),
            inbound_ended: false,
            transport_closed: false,
            tainted: false,
            state,
            opened: false,
            error: None,
            closes: Vec::new(),
            sent: Vec::new(),
            sending: None,
            received: Vec::new(),
            verified: 0,
            assembler: MessageAssembler::new(usize::MAX),
            failure_close: None,
        }
    }

    fn name(&self) -> &'static str {
        if self.is_client { "client" } else { "server" }
    }

    /// Carries out a send or close; checks that a refusal queued nothing.
    pub(super) fn send(&mut self, now: Duration, op: &Op) {
        let result = match op {
            Op::Text(_, text) => self.conn.send_text(text).map(|()| {
                self.sent.push(Message::Text(text.clone().into()));
            }),
            Op::Binary(_, data) => self.conn.send_binary(data).map(|()| {
                self.sent.push(Message::Binary(data.clone().into()));
            }),
            Op::Large(_, None, index) => {
                let data = large_payload(*index);
                // Bit 3 of the index picks the owned-payload send.
                let sent = if index & 8 == 0 {
                    self.conn.send_binary(data)
                } else {
                    self.conn.send_binary_owned(data.to_vec())
                };
                sent.map(|()| {
                    self.sent.push(Message::Binary(data.to_vec().into()));
                })
            }
            // Bit 4 of the index writes the fragment as a frame of known
            // length, in pieces.
            Op::Large(_, Some(fragment), index) => {
                self.send_fragment(*fragment, large_payload(*index), index & 16 != 0)
            }
            Op::Fragment(_, fragment, data) => self.send_fragment(*fragment, data, false),
            Op::Ping(_, payload) => self.conn.send_ping(payload),
            Op::Pong(_, payload) => self.conn.send_pong(payload),
            Op::Close(_, code, reason) => self.conn.close(now, CloseCode(*code), reason),
            _ => Ok(()),
        };
        match result {
            Ok(()) => assert!(
                self.state == State::Open,
                "{}: a send succeeded in {:?}",
                self.name(),
                self.state
            ),
            Err(error) => {
                assert_eq!(
                    self.conn.poll_transmit(),
                    None,
                    "{}: refused {error:?} but queued",
                    self.name()
                );
                if let SendError::NotOpen { state } = error {
                    assert_eq!(state, self.conn.state());
                }
            }
        }
    }

    fn send_fragment(
        &mut self,
        fragment: Fragment,
        data: &[u8],
        in_pieces: bool,
    ) -> Result<(), SendError> {
        // Binary only: a text piece that does not go on from the text
        // before it would be refused after its frame's header went out.
        let binary = match fragment {
            Fragment::First(kind) | Fragment::Whole(kind) => kind == DataKind::Binary,
            Fragment::Continue | Fragment::Last => {
                matches!(self.sending, Some((DataKind::Binary, _)))
            }
        };
        if in_pieces && binary {
            self.conn.begin_frame(fragment, data.len() as u64)?;
            for piece in data.chunks(1000) {
                self.conn
                    .write_frame_payload(piece)
                    .expect("a begun frame takes its payload");
            }
        } else {
            self.conn.send_fragment(fragment, data)?;
        }
        match fragment {
            Fragment::Whole(kind) => {
                assert!(
                    self.sending.is_none(),
                    "{}: a whole message inside another",
                    self.name()
                );
                self.sent.push(match kind {
                    DataKind::Text => Message::Text(
                        String::from_utf8(data.to_vec())
                            .expect("sent text is UTF-8")
                            .into(),
                    ),
                    DataKind::Binary => Message::Binary(data.to_vec().into()),
                });
            }
            Fragment::First(kind) => {
                assert!(
                    self.sending.is_none(),
                    "{}: a second first fragment",
                    self.name()
                );
                self.sending = Some((kind, data.to_vec()));
            }
            Fragment::Continue | Fragment::Last => {
                let Some((kind, mut bytes)) = self.sending.take() else {
                    panic!("{}: a continuation with no message", self.name())
                };
                bytes.extend_from_slice(data);
                if fragment == Fragment::Continue {
                    self.sending = Some((kind, bytes));
                } else {
                    self.sent.push(match kind {
                        DataKind::Text => Message::Text(
                            String::from_utf8(bytes)
                                .expect("sent text fragments are UTF-8")
                                .into(),
                        ),
                        DataKind::Binary => Message::Binary(bytes.into()),
                    });
                }
            }
        }
        Ok(())
    }

    fn receive(&mut self, now: Duration, bytes: &[u8]) {
        if let Err(error) = self.conn.receive(now, bytes) {
            assert_eq!(
                self.conn.error(),
                Some(&error),
                "{}: receive's error is the sticky one",
                self.name()
            );
        }
    }

    /// Delivers up to `max` bytes in flight (0: all).
    pub(super) fn deliver(&mut self, now: Duration, max: usize) {
        let len = if max == 0 {
            self.inbound.len()
        } else {
            max.min(self.inbound.len())
        };
        if len == 0 {
            return;
        }
        let rest = self.inbound.split_off(len);
        let bytes = std::mem::replace(&mut self.inbound, rest);
        self.receive(now, &bytes);
    }

    /// The transport toward this side ends.
    pub(super) fn end_inbound(&mut self, now: Duration) {
        if self.inbound_ended {
            return;
        }
        self.deliver(now, 0);
        self.inbound_ended = true;
        if let Err(error) = self.conn.receive_eof(now) {
            assert_eq!(
                self.conn.error(),
                Some(&error),
                "{}: receive_eof's error is the sticky one",
                self.name()
            );
        }
    }

    /// Drains events and checks the state; returns whether a handshake
    /// request waits for a decision.
    pub(super) fn observe(&mut self) -> bool {
        let mut request = false;
        while let Some(event) = self.conn.poll_event() {
            match event {
                // Whole frames: `Config::piece_size` is not set here.
                Event::Piece(_) => {}
                Event::Request(_) => {
                    assert!(!self.is_client);
                    request = true;
                }
                Event::Accepted(_) => {
                    assert!(self.is_client);
                    self.opened = true;
                }
                Event::HandshakeRejected(_) => assert!(self.is_client),
                Event::ProxyRejected(_) => {
                    panic!("a pair without a proxy cannot be refused by one")
                }
                Event::Frame(frame) => {
                    assert!(self.opened, "{}: a frame before open", self.name());
                    assert!(
                        self.closes.is_empty(),
                        "{}: a frame after the Close event",
                        self.name()
                    );
                    match self.assembler.push(frame) {
                        Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            self.received.push(message);
                        }
                        Ok(_) => {}
                        Err(error) => panic!(
                            "{}: the connection passed a frame the assembler refuses: {error:?}",
                            self.name()
                        ),
                    }
                }
                Event::Close(close) => {
                    assert!(self.opened, "{}: a Close event before open", self.name());
                    match &close.error {
                        None => assert!(
                            close.code.is_allowed_on_wire() || close.code == CloseCode::NO_STATUS,
                            "{}: {close:?}",
                            self.name()
                        ),
                        Some(error) => {
                            assert_eq!(
                                close.code,
                                error.close_code().unwrap_or(CloseCode::ABNORMAL)
                            );
                            assert_eq!(self.conn.error(), Some(error));
                        }
                    }
                    self.closes.push(close);
                    assert!(
                        self.closes.len() <= 1,
                        "{}: two Close events: {:?}",
                        self.name(),
                        self.closes
                    );
                }
            }
        }
        let state = self.conn.state();
        assert!(
            state >= self.state,
            "{}: {:?} went back to {state:?}",
            self.name(),
            self.state
        );
        let error = self.conn.error().cloned();
        if let Some(before) = &self.error {
            assert_eq!(
                error.as_ref(),
                Some(before),
                "{}: the error changed",
                self.name()
            );
        }
        if let Some(error) = &error {
            assert_eq!(
                state,
                State::Closed,
                "{}: failed with {error:?} but not closed",
                self.name()
            );
            // Failed now, and open until now (or opened within this call).
            if self.error.is_none() && self.opened && self.state <= State::Open {
                self.failure_close = error.close_code();
            }
        }
        self.state = state;
        self.error = error;
        request
    }

    /// Takes what this side transmitted.
    pub(super) fn take_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = self.conn.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
        assert!(
            out.is_empty() || !self.transport_closed,
            "{}: transmitted after closing its transport",
            self.name()
        );
        self.written.extend_from_slice(&out);
        out
    }

    pub(super) fn check_timers(&self, now: Duration) {
        if let Some(deadline) = self.conn.poll_timeout() {
            assert!(
                deadline > now,
                "{}: timer at {deadline:?} still due at {now:?}",
                self.name()
            );
        }
    }

    /// Decodes this side's output and checks it against what it sent.
    pub(super) fn check_output(&self) {
        let Some(head_end) = self.written.windows(4).position(|w| w == b"\r\n\r\n") else {
            assert!(
                !self.opened,
                "{}: opened without a handshake head",
                self.name()
            );
            return;
        };
        let stream = &self.written[head_end + 4..];
        if !self.opened {
            if self.is_client {
                assert!(stream.is_empty(), "{}: frames before open", self.name());
            }
            // A server that did not open may have sent an error body.
            return;
        }
        let mut decoder = FrameDecoder::new();
        let mut buf = Default::default();
        // An empty first call settles the buffer's type (the decoder's own),
        // so that this file needs no crate but wsmachine.
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.extend_from_slice(stream);
        let mut assembler = MessageAssembler::new(usize::MAX);
        let mut messages = Vec::new();
        let mut close = None;
        let mut last_opcode = None;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Decoded::Header(header))) => {
                    assert_eq!(
                        header.mask.is_some(),
                        self.is_client,
                        "{}: masking",
                        self.name()
                    );
                    assert_eq!(header.rsv, 0, "{}: RSV bits", self.name());
                }
                Ok(Some(Decoded::Frame(frame))) => {
                    assert!(
                        close.is_none(),
                        "{}: a {:?} frame after its Close",
                        self.name(),
                        frame.opcode
                    );
                    last_opcode = Some(frame.opcode);
                    if frame.opcode == Opcode::Close {
                        let payload = CloseFrame::decode(&frame.payload).unwrap_or_else(|e| {
                            panic!("{}: sent an invalid Close: {e:?}", self.name())
                        });
                        close = Some(payload.map(|p| p.code));
                        continue;
                    }
                    match assembler.push(frame) {
                        Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                            messages.push(message);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            panic!("{}: sent frames out of sequence: {error:?}", self.name())
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => panic!("{}: sent an invalid frame: {error:?}", self.name()),
            }
        }
        assert!(
            buf.is_empty() && decoder.current_header().is_none(),
            "{}: a cut frame",
            self.name()
        );
        assert!(
            messages == self.sent,
            "{}: the output does not carry the messages sent",
            self.name()
        );
        if let Some(code) = self.failure_close {
            assert_eq!(
                last_opcode,
                Some(Opcode::Close),
                "{}: failed without a Close",
                self.name()
            );
            assert_eq!(
                close,
                Some(Some(code)),
                "{}: the failure's Close",
                self.name()
            );
        }
    }

    /// The messages received are a prefix of those the peer sent, unless
    /// garbage spoilt the stream.
    pub(super) fn check_received_from(&mut self, peer_sent: &[Message]) {
        if self.tainted {
            return;
        }
        // Both lists only grow: compare what arrived since the last check.
        let (verified, received) = (self.verified, self.received.len());
        assert!(
            received <= peer_sent.len()
                && self.received.get(verified..) == peer_sent.get(verified..received),
            "{}: received messages the peer did not send",
            self.name()
        );
        self.verified = received;
        // A clean closing handshake: the peer's Close came after all of them.
        if self
            .closes
            .first()
            .is_some_and(|close| close.error.is_none())
        {
            assert!(
                self.received.len() == peer_sent.len(),
                "{}: messages lost before a clean close",
                self.name()
            );
        }
    }
}
