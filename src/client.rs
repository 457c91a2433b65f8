//! The client role: sends the handshake request, reads the response, and
//! masks every frame it sends.

use alloc::boxed::Box;
use bytes::{Buf, BytesMut};
use core::time::Duration;

use crate::accept_key::encode_key;
use crate::connection::role::RoleImpl;
use crate::connection::{Connection, Role};
use crate::entropy::{Entropy, EntropyError};
use crate::error::Error;
use crate::event::Event;
use crate::handshake::client::{ClientConfig, ClientConfigError};
use crate::handshake::{HandshakeError, Negotiated, Rejection};
use crate::http::HeadParser;
use crate::http::final_response::{FinalResponse, FinalResponseReader};
use crate::protocol::{Engine, MaskSource};
use crate::proxy::{ProxyError, ProxyRejection, ProxyTunnel, TunnelStep};

/// A client connection.
///
/// ```
/// use core::time::Duration;
/// use wsmachine::{Client, Event};
/// use wsmachine::entropy::FixedEntropy;
/// use wsmachine::handshake::client::ClientConfig;
///
/// let config = ClientConfig::new("ws://example.com/chat")?;
/// let mut client = Client::new(config, FixedEntropy::new(b"the sample nonce"))?;
/// let request = client.poll_transmit().ok_or("no request")?;
/// assert!(request.starts_with(b"GET /chat HTTP/1.1\r\n"));
///
/// let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
/// client.receive(Duration::ZERO, response)?;
/// assert!(matches!(client.poll_event(), Some(Event::Accepted(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Client<E> = Connection<ClientRole<E>>;

/// The client role: its entropy and its side of the handshake.
#[derive(Debug)]
pub struct ClientRole<E> {
    entropy: E,
    config: ClientConfig,
    key: alloc::string::String,
    handshake: ClientHandshake,
}

#[derive(Debug)]
enum ClientHandshake {
    /// Through a proxy: the CONNECT is out, and the handshake request waits
    /// for the tunnel.
    Tunnelling(Box<(ProxyTunnel, BytesMut)>),
    AwaitingResponse(HeadParser),
    /// Boxed: a body reader is several times the size of the other states.
    ReadingRejection(Box<FinalResponseReader>),
    Done,
}

impl<E: Entropy> Role for ClientRole<E> {}

impl<E: Entropy> MaskSource for ClientRole<E> {
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, EntropyError> {
        let mut mask = [0u8; 4];
        self.entropy.fill(&mut mask)?;
        Ok(Some(mask))
    }
}

impl<E: Entropy> Connection<ClientRole<E>> {
    /// A client whose handshake request is queued for
    /// [`poll_transmit`](Connection::poll_transmit).
    ///
    /// # Errors
    /// [`ClientConfigError`] for an extra header that cannot be sent, a
    /// subprotocol that is not a token, or an entropy failure.
    pub fn new(config: ClientConfig, mut entropy: E) -> Result<Self, ClientConfigError> {
        if config.socks5.is_some() {
            return Err(ClientConfigError::Socks5ByCaller);
        }
        let mut nonce = [0u8; 16];
        entropy.fill(&mut nonce)?;
        let key = encode_key(&nonce);
        let mut engine = Engine::new(config.config.clone(), true);
        let handshake = match &config.proxy {
            Some(_) if config.is_secure() => return Err(ClientConfigError::ProxyUnderTls),
            Some(proxy) => {
                let mut tunnel = ProxyTunnel::new(proxy, config.host(), config.port())?;
                let mut request = BytesMut::new();
                config.write_request(&key, &mut request)?;
                while let Some(connect) = tunnel.poll_transmit() {
                    engine.output_buffer().extend_from_slice(&connect);
                }
                ClientHandshake::Tunnelling(Box::new((tunnel, request)))
            }
            None => {
                config.write_request(&key, engine.output_buffer())?;
                ClientHandshake::AwaitingResponse(HeadParser::new(config.head_limits))
            }
        };
        Ok(Connection {
            role: ClientRole {
                entropy,
                config,
                key,
                handshake,
            },
            engine,
        })
    }

    /// A client on a stream another HTTP stack already upgraded, with no
    /// extensions: it starts open, and still masks every frame. See
    /// [`new_upgraded`](Self::new_upgraded) for one that negotiated
    /// extensions.
    pub fn new_open(config: crate::config::Config, entropy: E, now: Duration) -> Self {
        let config = ClientConfig::pre_upgraded(config);
        Self::new_upgraded(&config, &Negotiated::none(), entropy, now)
    }

    /// A client on a stream whose handshake another stack did (an HTTP/2
    /// or HTTP/3 extended CONNECT, an HTTP client library's upgrade), with
    /// what it agreed: it starts open, masks every frame, and runs
    /// permessage-deflate as agreed, with `config`'s settings.
    pub fn new_upgraded(
        config: &ClientConfig,
        negotiated: &Negotiated,
        entropy: E,
        now: Duration,
    ) -> Self {
        let mut engine = Engine::new(config.config.clone(), true);
        engine.open(now, negotiated.client_codec(config));
        Connection {
            role: ClientRole {
                entropy,
                config: config.clone(),
                key: alloc::string::String::new(),
                handshake: ClientHandshake::Done,
            },
            engine,
        }
    }

    /// The configuration the client was built with: its URL, its request,
    /// and the connection's settings ([`config`](Connection::config)).
    pub fn client_config(&self) -> &ClientConfig {
        &self.role.config
    }
}

impl<E: Entropy> ClientRole<E> {
    /// Reports the rejection and ends the connection. A body error is the
    /// handshake's error, unless `error` names another.
    fn reject(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        read: FinalResponse,
        error: Option<HandshakeError>,
    ) -> Result<(), Error> {
        let error = error
            .or_else(|| read.body_error.clone().map(HandshakeError::RejectionBody))
            .map(Error::Handshake);
        engine.push_event(Event::HandshakeRejected(Box::new(Rejection::from(read))));
        // Whatever follows the rejection is not WebSocket data.
        engine.recv.clear();
        self.handshake = ClientHandshake::Done;
        engine.fail_handshake(now, error.clone());
        error.map_or(Ok(()), Err)
    }

    /// The proxy refused the tunnel: the app hears it, and the connection
    /// ends, failed if the refusal's body could not be read or `error`
    /// names another cause.
    fn proxy_rejected(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        rejection: ProxyRejection,
        error: Option<HandshakeError>,
    ) -> Result<(), Error> {
        let error = error
            .or_else(|| {
                let body_error = rejection.body_error.clone();
                body_error.map(|e| HandshakeError::Proxy(ProxyError::RejectionBody(e)))
            })
            .map(Error::Handshake);
        engine.push_event(Event::ProxyRejected(Box::new(rejection)));
        engine.recv.clear();
        self.handshake = ClientHandshake::Done;
        engine.fail_handshake(now, error.clone());
        error.map_or(Ok(()), Err)
    }

    fn fail(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        error: HandshakeError,
    ) -> Result<(), Error> {
        self.handshake = ClientHandshake::Done;
        engine.handshake_failed(now, error)
    }
}

impl<E: Entropy> RoleImpl for ClientRole<E> {
    fn receive_handshake(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error> {
        loop {
            match &mut self.handshake {
                ClientHandshake::Done => return Ok(()),
                ClientHandshake::Tunnelling(tunnel) => {
                    let (consumed, step) = tunnel.0.read(engine.recv.bytes());
                    let recv = engine.recv.bytes();
                    recv.advance(consumed.min(recv.len()));
                    match step {
                        Ok(TunnelStep::Pending) => return Ok(()),
                        Ok(TunnelStep::Established(_)) => {
                            // The stream is the server's from here: the
                            // handshake starts, and any bytes after the
                            // proxy's head are the server's answer.
                            engine.output_buffer().extend_from_slice(&tunnel.1);
                            let parser = HeadParser::new(self.config.head_limits);
                            self.handshake = ClientHandshake::AwaitingResponse(parser);
                        }
                        Ok(TunnelStep::Rejected(rejection)) => {
                            return self.proxy_rejected(engine, now, rejection, None);
                        }
                        Err(error) => return self.fail(engine, now, HandshakeError::Proxy(error)),
                    }
                }
                ClientHandshake::AwaitingResponse(parser) => {
                    let (response, head_len) = match parser.parse_response(engine.recv.bytes()) {
                        Ok(Some(parsed)) => parsed,
                        Ok(None) => return Ok(()),
                        Err(error) => {
                            return self.fail(
                                engine,
                                now,
                                HandshakeError::InvalidResponseHead(error),
                            );
                        }
                    };
                    engine.recv.bytes().advance(head_len);
                    match response.status {
                        101 => {
                            let accepted = match self.config.check_response(&self.key, response) {
                                Ok(accepted) => accepted,
                                Err(error) => return self.fail(engine, now, error),
                            };
                            self.handshake = ClientHandshake::Done;
                            engine.open(
                                now,
                                Negotiated::from_accepted(&accepted).client_codec(&self.config),
                            );
                            engine.push_event(Event::Accepted(Box::new(accepted)));
                            // Bytes after the 101 stay in the buffer for the
                            // frame decoder.
                            return Ok(());
                        }
                        // RFC 9112 §6.3 and RFC 9110 §15.2: interim responses
                        // come before the final one and are skipped.
                        100..=199 => parser.reset(),
                        _ => {
                            let reader =
                                FinalResponseReader::new(response, self.config.body_limits);
                            self.handshake = ClientHandshake::ReadingRejection(Box::new(reader));
                        }
                    }
                }
                ClientHandshake::ReadingRejection(reader) => {
                    let consumed = reader.read(engine.recv.bytes());
                    let recv = engine.recv.bytes();
                    recv.advance(consumed.min(recv.len()));
                    return self.finish_rejection(engine, now, None);
                }
            }
        }
    }

    fn handshake_eof(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error> {
        match &mut self.handshake {
            ClientHandshake::Tunnelling(tunnel) => match tunnel.0.read_eof() {
                Ok(TunnelStep::Rejected(rejection)) => {
                    self.proxy_rejected(engine, now, rejection, None)
                }
                Err(error) => self.fail(engine, now, HandshakeError::Proxy(error)),
                Ok(TunnelStep::Pending | TunnelStep::Established(_)) => {
                    self.fail(engine, now, HandshakeError::UnexpectedEof)
                }
            },
            ClientHandshake::ReadingRejection(reader) => {
                reader.read_eof();
                self.finish_rejection(engine, now, None)
            }
            ClientHandshake::AwaitingResponse(_) | ClientHandshake::Done => {
                self.fail(engine, now, HandshakeError::UnexpectedEof)
            }
        }
    }

    fn handshake_timed_out(&mut self, engine: &mut Engine, now: Duration) {
        // The errors are sticky; the caller finds them through `error()`.
        match &mut self.handshake {
            ClientHandshake::Tunnelling(tunnel) => match tunnel.0.cut_short() {
                // A refusal whose body was coming still reaches the app.
                TunnelStep::Rejected(rejection) => {
                    let _ =
                        self.proxy_rejected(engine, now, rejection, Some(HandshakeError::Timeout));
                }
                TunnelStep::Pending | TunnelStep::Established(_) => {
                    let _ = self.fail(engine, now, HandshakeError::Timeout);
                }
            },
            ClientHandshake::ReadingRejection(reader) => {
                // The status and headers came: they still reach the app,
                // with the body as far as it got.
                reader.cut_short();
                let _ = self.finish_rejection(engine, now, Some(HandshakeError::Timeout));
            }
            ClientHandshake::AwaitingResponse(_) => {
                let _ = self.fail(engine, now, HandshakeError::Timeout);
            }
            ClientHandshake::Done => {}
        }
    }
}

impl<E: Entropy> ClientRole<E> {
    /// Reports the rejection once its body is read; `error`, if any, is the
    /// connection's error instead of the body's.
    fn finish_rejection(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        error: Option<HandshakeError>,
    ) -> Result<(), Error> {
        match core::mem::replace(&mut self.handshake, ClientHandshake::Done) {
            ClientHandshake::ReadingRejection(reader) if reader.is_done() => {
                self.reject(engine, now, reader.finish(), error)
            }
            other => {
                self.handshake = other;
                Ok(())
            }
        }
    }
}
