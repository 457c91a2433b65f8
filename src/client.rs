//! The client role: sends the handshake request, reads the response, and
//! masks every frame it sends.

use alloc::boxed::Box;
use bytes::Buf;
use core::time::Duration;

use crate::accept_key::encode_key;
use crate::connection::role::RoleImpl;
use crate::connection::{Connection, Role};
use crate::entropy::{Entropy, EntropyError};
use crate::error::Error;
use crate::event::Event;
use crate::handshake::client::{ClientConfig, ClientConfigError};
use crate::handshake::{HandshakeError, Negotiated, Rejection};
use crate::http::{BodyDecoder, BodyFraming, HeadParser, Response};
use crate::protocol::{Engine, MaskSource};

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
    AwaitingResponse(HeadParser),
    /// Boxed: a decoder is several times the size of the other states.
    ReadingRejection(Box<(Response, BodyDecoder)>),
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
        let mut nonce = [0u8; 16];
        entropy.fill(&mut nonce)?;
        let key = encode_key(&nonce);
        let mut engine = Engine::new(config.config.clone(), true);
        config.write_request(&key, engine.output_buffer())?;
        let parser = HeadParser::new(config.head_limits);
        Ok(Connection {
            role: ClientRole {
                entropy,
                config,
                key,
                handshake: ClientHandshake::AwaitingResponse(parser),
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

    /// The configuration the client was built with.
    pub fn config(&self) -> &ClientConfig {
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
        response: Response,
        decoder: Option<BodyDecoder>,
        body_error: Option<crate::http::BodyError>,
        error: Option<HandshakeError>,
    ) -> Result<(), Error> {
        let (body, trailers) = match decoder {
            Some(decoder) => decoder.into_parts(),
            None => Default::default(),
        };
        let error = error
            .or_else(|| body_error.clone().map(HandshakeError::RejectionBody))
            .map(Error::Handshake);
        engine.push_event(Event::HandshakeRejected(Rejection {
            status: response.status,
            reason: response.reason,
            headers: response.headers,
            body,
            trailers,
            body_error,
        }));
        // Whatever follows the rejection is not WebSocket data.
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
                ClientHandshake::AwaitingResponse(parser) => {
                    let (response, head_len) = match parser.parse_response(&engine.recv) {
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
                    engine.recv.advance(head_len);
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
                            engine.push_event(Event::Accepted(accepted));
                            // Bytes after the 101 stay in the buffer for the
                            // frame decoder.
                            return Ok(());
                        }
                        // RFC 9112 §6.3 and RFC 9110 §15.2: interim responses
                        // come before the final one and are skipped.
                        100..=199 => parser.reset(),
                        _ => match BodyFraming::for_response(response.status, &response.headers) {
                            Ok(framing) => {
                                let decoder = BodyDecoder::new(framing, self.config.body_limits);
                                self.handshake = ClientHandshake::ReadingRejection(Box::new((
                                    response, decoder,
                                )));
                            }
                            Err(error) => {
                                return self.reject(engine, now, response, None, Some(error), None);
                            }
                        },
                    }
                }
                ClientHandshake::ReadingRejection(rejection) => {
                    let decoder = &mut rejection.1;
                    let result = decoder.decode(&engine.recv);
                    let complete = decoder.is_complete();
                    match result {
                        Ok(consumed) => engine.recv.advance(consumed.min(engine.recv.len())),
                        Err(error) => return self.finish_rejection(engine, now, Some(error), None),
                    }
                    return if complete {
                        self.finish_rejection(engine, now, None, None)
                    } else {
                        Ok(())
                    };
                }
            }
        }
    }

    fn handshake_eof(&mut self, engine: &mut Engine, now: Duration) -> Result<(), Error> {
        match &mut self.handshake {
            ClientHandshake::ReadingRejection(rejection) => {
                let error = rejection.1.finish_eof().err();
                self.finish_rejection(engine, now, error, None)
            }
            ClientHandshake::AwaitingResponse(_) | ClientHandshake::Done => {
                self.fail(engine, now, HandshakeError::UnexpectedEof)
            }
        }
    }

    fn handshake_timed_out(&mut self, engine: &mut Engine, now: Duration) {
        // The errors are sticky; the caller finds them through `error()`.
        match &mut self.handshake {
            ClientHandshake::ReadingRejection(rejection) => {
                // The status and headers came: they still reach the app,
                // with the body as far as it got.
                let received = rejection.1.body().len() as u64;
                let cut_short = crate::http::BodyError::Truncated {
                    received,
                    expected: None,
                };
                let _ = self.finish_rejection(
                    engine,
                    now,
                    Some(cut_short),
                    Some(HandshakeError::Timeout),
                );
            }
            ClientHandshake::AwaitingResponse(_) => {
                let _ = self.fail(engine, now, HandshakeError::Timeout);
            }
            ClientHandshake::Done => {}
        }
    }
}

impl<E: Entropy> ClientRole<E> {
    fn finish_rejection(
        &mut self,
        engine: &mut Engine,
        now: Duration,
        body_error: Option<crate::http::BodyError>,
        error: Option<HandshakeError>,
    ) -> Result<(), Error> {
        match core::mem::replace(&mut self.handshake, ClientHandshake::Done) {
            ClientHandshake::ReadingRejection(rejection) => {
                let (response, decoder) = *rejection;
                self.reject(engine, now, response, Some(decoder), body_error, error)
            }
            other => {
                self.handshake = other;
                Ok(())
            }
        }
    }
}
