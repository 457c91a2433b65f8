//! The server role: reads and checks the handshake request, lets the app
//! accept or reject it, and answers bad requests itself.

use alloc::boxed::Box;
use bytes::Buf;
use core::time::Duration;

use crate::connection::role::RoleImpl;
use crate::connection::{Connection, Role};
use crate::entropy::EntropyError;
use crate::error::Error;
use crate::event::Event;
use crate::handshake::server::{
    Accept, DecisionError, ServerConfig, check_request, write_accept, write_error_response,
    write_rejection,
};
use crate::handshake::{HandshakeError, HandshakeRequest, Negotiated};
use crate::http::{HeadParser, Headers};
use crate::protocol::{Engine, MaskSource};

/// A server connection.
///
/// ```
/// use core::time::Duration;
/// use wsmachine::{Event, Server};
/// use wsmachine::handshake::server::{Accept, ServerConfig};
///
/// let mut server = Server::new(ServerConfig::default());
/// server.receive(Duration::ZERO, b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\
///     Upgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
/// let Some(Event::Request(request)) = server.poll_event() else { panic!() };
/// assert_eq!(request.target(), "/chat");
/// server.accept(Duration::ZERO, Accept::default()).unwrap();
/// let response = server.poll_transmit().unwrap();
/// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// ```
pub type Server = Connection<ServerRole>;

/// The server role: its side of the handshake.
#[derive(Debug)]
pub struct ServerRole {
    /// The handshake in progress and the policy it is checked against;
    /// `None` once it is done. Boxed and let go of then: an open
    /// connection carries neither.
    handshake: Option<Box<PendingHandshake>>,
}

#[derive(Debug)]
struct PendingHandshake {
    config: ServerConfig,
    stage: ServerHandshake,
}

#[derive(Debug)]
enum ServerHandshake {
    AwaitingRequest(HeadParser),
    AwaitingDecision(HandshakeRequest),
}

impl Role for ServerRole {}

impl MaskSource for ServerRole {
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, EntropyError> {
        // RFC 6455 §5.1: a server MUST NOT mask its frames.
        Ok(None)
    }
}

impl Connection<ServerRole> {
    /// A server waiting for a handshake request.
    pub fn new(config: ServerConfig) -> Self {
        let parser = HeadParser::new(config.head_limits);
        Connection {
            engine: Engine::new(config.config.clone(), false),
            role: ServerRole {
                handshake: Some(Box::new(PendingHandshake {
                    config,
                    stage: ServerHandshake::AwaitingRequest(parser),
                })),
            },
        }
    }

    /// A server on a stream another HTTP stack already upgraded, with no
    /// extensions: it starts open. See [`new_upgraded`](Self::new_upgraded)
    /// for one that negotiated extensions.
    pub fn new_open(config: crate::config::Config, now: Duration) -> Self {
        let config = ServerConfig {
            config,
            ..ServerConfig::default()
        };
        Self::new_upgraded(&config, &Negotiated::none(), now)
    }

    /// A server on a stream another HTTP stack upgraded (hyper or axum
    /// `on_upgrade`, an HTTP/2 or HTTP/3 extended CONNECT) with the
    /// extensions that
    /// [`negotiate`](crate::handshake::server::negotiate) agreed: it starts open, and runs
    /// permessage-deflate as agreed, with `config`'s settings.
    pub fn new_upgraded(config: &ServerConfig, negotiated: &Negotiated, now: Duration) -> Self {
        let mut engine = Engine::new(config.config.clone(), false);
        engine.open(now, negotiated.server_codec(config));
        Connection {
            engine,
            role: ServerRole { handshake: None },
        }
    }

    /// Accepts the pending request: queues the 101 and opens the
    /// connection. Frames that arrived early are decoded by the next calls
    /// to [`poll_event`](Connection::poll_event).
    ///
    /// With the `deflate` feature and `ServerConfig::deflate` set, an
    /// `accept` without extensions answers the first
    /// permessage-deflate offer the config can honour. An `accept` with
    /// extensions is the app's own answer; a permessage-deflate element in it
    /// turns compression on as that element says.
    ///
    /// # Errors
    /// [`DecisionError`] when no request is pending, the subprotocol was not
    /// offered or a header cannot be written. Nothing is queued then.
    pub fn accept(&mut self, now: Duration, accept: Accept) -> Result<(), DecisionError> {
        let Some(PendingHandshake {
            config,
            stage: ServerHandshake::AwaitingDecision(request),
        }) = self.role.handshake.as_deref()
        else {
            return Err(DecisionError::NoPendingRequest);
        };
        let negotiated = write_accept(request, accept, config, self.engine.output_buffer())?;
        let codec = negotiated.server_codec(config);
        self.role.handshake = None;
        // Frames that came early are decoded by the next `poll_event`s.
        self.engine.open(now, codec);
        Ok(())
    }

    /// Rejects the pending request with a status, headers and a body. The
    /// response gets Content-Length and `Connection: close`, and the
    /// connection ends.
    ///
    /// # Errors
    /// [`DecisionError`] when no request is pending, the status is 1xx or
    /// 101, or a header cannot be written. Nothing is queued then.
    pub fn reject(
        &mut self,
        status: u16,
        headers: &Headers,
        body: &[u8],
    ) -> Result<(), DecisionError> {
        if self.pending_request().is_none() {
            return Err(DecisionError::NoPendingRequest);
        }
        write_rejection(status, headers, body, self.engine.output_buffer())?;
        self.role.handshake = None;
        // No timer is armed on the way to Closed, so the clock is not needed.
        self.engine.fail_handshake(Duration::ZERO, None);
        Ok(())
    }

    /// The pending request, between [`Event::Request`] and the decision.
    pub fn pending_request(&self) -> Option<&HandshakeRequest> {
        match &self.role.handshake.as_deref()?.stage {
            ServerHandshake::AwaitingDecision(request) => Some(request),
            ServerHandshake::AwaitingRequest(_) => None,
        }
    }
}

impl ServerRole {
    fn fail(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        error: HandshakeError,
    ) -> Result<(), Error> {
        write_error_response(&error, engine.output_buffer());
        self.handshake = None;
        engine.handshake_failed(now, error)
    }
}

impl RoleImpl for ServerRole {
    fn receive_handshake(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error> {
        let Some(pending) = self.handshake.as_deref_mut() else {
            return Ok(());
        };
        let ServerHandshake::AwaitingRequest(parser) = &mut pending.stage else {
            return self.check_early_data(engine, now);
        };
        let (request, head_len) = match parser.parse_request(engine.recv.bytes()) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(()),
            Err(error) => {
                return self.fail(engine, now, HandshakeError::InvalidRequestHead(error));
            }
        };
        engine.recv.bytes().advance(head_len);
        match check_request(request, &pending.config) {
            Ok(request) => {
                // The request is whole; the app's decision is not the
                // handshake deadline's to time.
                engine.stop_handshake_timer();
                engine.push_event(Event::Request(Box::new(request.clone())));
                pending.stage = ServerHandshake::AwaitingDecision(request);
                self.check_early_data(engine, now)
            }
            Err(error) => self.fail(engine, now, error),
        }
    }

    fn handshake_eof(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error> {
        self.handshake = None;
        engine.handshake_failed(now, HandshakeError::UnexpectedEof)
    }

    fn handshake_timed_out(&mut self, engine: &mut Engine, now: Duration) {
        let awaiting_request = self.handshake.as_deref().map(|pending| &pending.stage);
        if matches!(awaiting_request, Some(ServerHandshake::AwaitingRequest(_))) {
            // The 408 is queued; the error is sticky.
            let _ = self.fail(engine, now, HandshakeError::Timeout);
        }
    }
}

impl ServerRole {
    /// A client must wait for the 101 before sending frames (RFC 6455 §4.1);
    /// what it sends early is kept for after the decision, up to the head
    /// limit, so that memory stays bounded while the app decides.
    fn check_early_data(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error> {
        let limit = self
            .handshake
            .as_deref()
            .map(|p| p.config.head_limits.max_head_len);
        if limit.is_some_and(|limit| engine.recv.len() > limit) {
            return self.fail(engine, now, HandshakeError::EarlyData);
        }
        Ok(())
    }
}
