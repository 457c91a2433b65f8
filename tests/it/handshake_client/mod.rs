//! The client's opening handshake through the public API: the request it
//! writes, the 101 it accepts or refuses with a typed error, and rejections
//! (status, headers and the exact body, however it is framed). Every
//! response is also fed whole, byte by byte and split at every position.

use crate::support;

mod rejections;
mod request;
mod upgrade;

use std::time::Duration;

use support::*;
use wsmachine::entropy::FixedEntropy;
use wsmachine::handshake::client::{ClientConfig, ClientConfigError};
use wsmachine::handshake::{HandshakeError, HandshakeErrorKind, Rejection};
use wsmachine::http::chunked::ChunkedError;
use wsmachine::http::{BodyError, HeadError, HeaderError, MalformedKind, WriteError};
use wsmachine::{Client, Error, Event, Frame, Opcode, State};

const T0: Duration = Duration::ZERO;
const URL: &str = "ws://server.example.com/chat";

fn config() -> ClientConfig {
    ClientConfig::new(URL).unwrap()
}

/// The request a client for `config` writes.
fn request_for(config: ClientConfig) -> String {
    let mut client = client_with(config);
    let request = String::from_utf8(drain_transmit(&mut client)).unwrap();
    assert_eq!(client.state(), State::Connecting);
    assert_eq!(client.poll_event(), None);
    request
}

fn request_for_url(url: &str) -> String {
    request_for(ClientConfig::new(url).unwrap())
}

/// A fresh client for `config` with its request taken off.
fn maker(config: ClientConfig) -> impl Fn() -> Client<FixedEntropy> {
    move || client_after_request(config.clone())
}

fn offering_client() -> impl Fn() -> Client<FixedEntropy> {
    let mut config = config().with_protocol("chat").with_protocol("superchat");
    config
        .extensions
        .push("permessage-deflate; client_max_window_bits".into());
    maker(config)
}
