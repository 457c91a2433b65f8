//! The pair on its virtual clock: applies ops and checks the end state.

use std::time::Duration;

use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{Client, ClientRole, Role, Server, ServerRole, State};

use super::peer::Peer;
use super::{CLOSE_TIMEOUT, Op, Setup, Side};

/// The pair on its virtual clock.
pub(super) struct Pair {
    client: Peer<ClientRole<FixedEntropy>>,
    server: Peer<ServerRole>,
    now: Duration,
}

/// Moves what `from` transmitted into the stream toward `to`.
fn transfer<A: Role, B: Role>(from: &mut Peer<A>, to: &mut Peer<B>) {
    let bytes = from.take_output();
    if !to.inbound_ended {
        to.inbound.extend_from_slice(&bytes);
    }
}

impl Pair {
    pub(super) fn new(setup: Setup) -> Pair {
        let mut client_config =
            ClientConfig::new("ws://server.example.com/chat").expect("a valid URL");
        client_config.config = Setup::config(setup.client_auto_pong, setup.client_keepalive);
        let mut server_config = ServerConfig::default();
        server_config.config = Setup::config(setup.server_auto_pong, setup.server_keepalive);
        // RFC 6455's sample nonce, then its sample masking key.
        let entropy = FixedEntropy::new(b"the sample nonce\x37\xfa\x21\x3d");
        let client = Client::new(client_config, entropy).expect("a valid client");
        Pair {
            client: Peer::new(client, true),
            server: Peer::new(Server::new(server_config), false),
            now: Duration::ZERO,
        }
    }

    /// After any call: drains events (accepting requests) and output.
    pub(super) fn settle(&mut self) {
        loop {
            let request = self.server.observe();
            self.client.observe();
            // The request may be gone already: the transport ended, or the
            // client sent too much before the answer.
            if request && self.server.conn.pending_request().is_some() {
                let accepted = self.server.conn.accept(self.now, Accept::default());
                assert_eq!(accepted, Ok(()));
                self.server.opened = true;
            } else if request {
                assert_eq!(self.server.conn.state(), State::Closed);
            }
            transfer(&mut self.client, &mut self.server);
            transfer(&mut self.server, &mut self.client);
            if !request {
                break;
            }
        }
    }

    pub(super) fn apply(&mut self, op: &Op) {
        let now = self.now;
        match op {
            Op::Text(side, ..)
            | Op::Binary(side, ..)
            | Op::Large(side, ..)
            | Op::Fragment(side, ..)
            | Op::Ping(side, ..)
            | Op::Pong(side, ..)
            | Op::Close(side, ..) => match side {
                Side::Client => self.client.send(now, op),
                Side::Server => self.server.send(now, op),
            },
            Op::Advance(ms) => {
                self.now = self
                    .now
                    .saturating_add(Duration::from_millis(u64::from(*ms)));
                self.fire_timers();
            }
            Op::Drive => self.drive(),
            Op::Deliver(Side::Client, max) => self.client.deliver(now, usize::from(*max)),
            Op::Deliver(Side::Server, max) => self.server.deliver(now, usize::from(*max)),
            Op::Eof(Side::Client) => self.client.end_inbound(now),
            Op::Eof(Side::Server) => self.server.end_inbound(now),
            Op::Garbage(side, bytes) => {
                let (inbound, ended, tainted) = match side {
                    Side::Client => (
                        &mut self.client.inbound,
                        self.client.inbound_ended,
                        &mut self.client.tainted,
                    ),
                    Side::Server => (
                        &mut self.server.inbound,
                        self.server.inbound_ended,
                        &mut self.server.tainted,
                    ),
                };
                if !ended && !bytes.is_empty() {
                    inbound.extend_from_slice(bytes);
                    *tainted = true;
                }
            }
        }
        self.settle();
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        self.client.conn.handle_timeout(now);
        self.client.check_timers(now);
        self.settle();
        self.server.conn.handle_timeout(now);
        self.server.check_timers(now);
        self.settle();
    }

    /// Moves bytes both ways until nothing moves; a Closed side closes its
    /// transport and the other side gets EOF.
    fn drive(&mut self) {
        loop {
            let mut progress = false;
            if !self.server.inbound.is_empty() {
                self.server.deliver(self.now, 0);
                progress = true;
            }
            self.settle();
            if !self.client.inbound.is_empty() {
                self.client.deliver(self.now, 0);
                progress = true;
            }
            self.settle();
            if self.server.state == State::Closed && !self.server.transport_closed {
                self.server.transport_closed = true;
                self.client.end_inbound(self.now);
                progress = true;
            }
            self.settle();
            if self.client.state == State::Closed && !self.client.transport_closed {
                self.client.transport_closed = true;
                self.server.end_inbound(self.now);
                progress = true;
            }
            self.settle();
            if !progress {
                break;
            }
        }
    }

    pub(super) fn check_prefixes(&mut self) {
        self.client.check_received_from(&self.server.sent);
        self.server.check_received_from(&self.client.sent);
    }

    /// Closes both sides, lets time run out, and checks the end state.
    pub(super) fn finish(&mut self) {
        self.drive();
        self.apply(&Op::Close(Side::Client, 1000, String::new()));
        self.apply(&Op::Close(Side::Server, 1001, String::new()));
        self.drive();
        for _ in 0..3 {
            self.now = self.now.saturating_add(CLOSE_TIMEOUT * 2);
            self.fire_timers();
            self.drive();
        }
        for (name, opened, state, closes) in [
            (
                "client",
                self.client.opened,
                self.client.state,
                self.client.closes.len(),
            ),
            (
                "server",
                self.server.opened,
                self.server.state,
                self.server.closes.len(),
            ),
        ] {
            if opened {
                assert_eq!(state, State::Closed, "{name}: not closed at the end");
                assert_eq!(closes, 1, "{name}: Close events");
            } else {
                assert_eq!(closes, 0, "{name}: a Close event without opening");
            }
        }
        self.check_prefixes();
        self.client.check_output();
        self.server.check_output();
    }
}
