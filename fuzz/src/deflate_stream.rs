//! permessage-deflate under arbitrary input, in two modes picked by the
//! first byte's low bit.
//!
//! Raw mode: the rest is a server-to-client frame stream for a client that
//! negotiated permessage-deflate (parameters and message limit from the
//! first byte). It is fed whole and in two pieces cut where the second byte
//! says; both must give the same events, output, error and state. Delivered
//! data frames never carry RSV1, no message grows past the limit, text
//! messages are valid UTF-8, and a protocol error sends its close code.
//!
//! Round-trip mode: the rest is cut into messages at 0xFF bytes; a server
//! and a client that negotiated from the first byte send them to each other
//! (text when UTF-8, some in fragments), delivered in pieces; every message
//! must arrive unchanged, with no error on either side.

use std::time::Duration;

use wsmachine::entropy::FixedEntropy;
use wsmachine::error::ProtocolError;
use wsmachine::extensions::permessage_deflate::DeflateConfig;
use wsmachine::frame::FrameHeader;
use wsmachine::handshake::client::ClientConfig;
use wsmachine::handshake::server::{Accept, ServerConfig};
use wsmachine::{
    Client, Connection, DataKind, Error, Event, Fragment, Opcode, Role, Server, State,
};

const ENTROPY: &[u8] = b"the sample nonce\x37\xfa\x21\x3d";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Deflate preferences from the bits of `byte`.
fn deflate_config(byte: u8) -> DeflateConfig {
    let mut config = DeflateConfig::default();
    config.server_no_context_takeover = byte & 0x02 != 0;
    config.client_no_context_takeover = byte & 0x04 != 0;
    config.server_max_window_bits = 8 + (byte >> 3 & 0x07);
    config.client_max_window_bits = 15 - (byte >> 3 & 0x07);
    config.level = u32::from(byte >> 6) * 3;
    config.min_message_size = usize::from(byte >> 5 & 0x03) * 8;
    config
}

fn drain<R: Role>(conn: &mut Connection<R>) -> (Vec<Event>, Vec<u8>) {
    let events = std::iter::from_fn(|| conn.poll_event()).collect();
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    (events, out)
}

/// A client that offered `config` and got `response`, open.
fn open_client(config: DeflateConfig, limit: u64, response: &str) -> Client<FixedEntropy> {
    let mut client_config = ClientConfig::new("ws://fuzz.example/").expect("valid url");
    client_config.config.deflate = Some(config);
    client_config.config.max_message_size = limit;
    let mut client = Client::new(client_config, FixedEntropy::new(ENTROPY)).expect("client");
    drain(&mut client);
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: {response}\r\n\r\n"
    );
    client
        .receive(Duration::ZERO, head.as_bytes())
        .expect("accepted");
    assert_eq!(client.state(), State::Open);
    drain(&mut client);
    client
}

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    out: Vec<u8>,
    error: Option<Error>,
    state: State,
}

fn feed(mut client: Client<FixedEntropy>, pieces: &[&[u8]]) -> Outcome {
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut error = None;
    for piece in pieces {
        if let Err(e) = client.receive(Duration::ZERO, piece) {
            error = Some(e);
        }
        let (more, bytes) = drain(&mut client);
        events.extend(more);
        out.extend(bytes);
    }
    if let Some(returned) = &error {
        assert_eq!(client.error(), Some(returned), "a returned error is sticky");
    }
    // A failure found by `poll_event` is the connection's error too.
    Outcome {
        events,
        out,
        error: client.error().cloned(),
        state: client.state(),
    }
}

fn raw(config_byte: u8, cut: u8, stream: &[u8]) {
    let config = deflate_config(config_byte);
    let limit = 1024 + u64::from(cut) * 64;
    let response = config
        .respond(&config.offer())
        .expect("an offer always fits its own config")
        .to_string();
    let cut = usize::from(cut).min(stream.len());
    let whole = feed(open_client(config.clone(), limit, &response), &[stream]);
    let (first, second) = stream.split_at(cut);
    let split = feed(open_client(config, limit, &response), &[first, second]);
    assert_eq!(whole, split, "splitting changed the outcome");

    let mut message: Option<(Opcode, Vec<u8>)> = None;
    for event in &whole.events {
        let Event::Frame(frame) = event else { continue };
        if frame.opcode.is_control() {
            continue;
        }
        assert_eq!(frame.rsv, 0, "RSV1 reached the app");
        let (opcode, mut data) = match (frame.opcode, message.take()) {
            (Opcode::Continuation, Some(open)) => open,
            (Opcode::Continuation, None) => panic!("continuation without a message"),
            (opcode, _) => (opcode, Vec::new()),
        };
        data.extend_from_slice(&frame.payload);
        assert!(data.len() as u64 <= limit, "a message grew past the limit");
        if frame.fin {
            if opcode == Opcode::Text {
                assert!(std::str::from_utf8(&data).is_ok(), "invalid text delivered");
            }
        } else {
            message = Some((opcode, data));
        }
    }
    if let Some(Error::Protocol(error)) = &whole.error {
        assert_eq!(
            sent_close_code(&whole.out),
            Some(error.close_code().0),
            "{error:?}"
        );
        if matches!(error, ProtocolError::MessageTooLarge { .. }) {
            assert_eq!(error.close_code().0, 1009);
        }
    }
}

/// The code of the Close frame among a client's (masked) frames.
fn sent_close_code(mut out: &[u8]) -> Option<u16> {
    while let Ok(Some((header, len))) = FrameHeader::decode(out) {
        let end = len + usize::try_from(header.payload_len).ok()?;
        let mut payload = out.get(len..end)?.to_vec();
        if let Some(key) = header.mask {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        if header.opcode == Opcode::Close {
            return Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
        }
        out = out.get(end..)?;
    }
    None
}

fn round_trip(config_byte: u8, rest: &[u8]) {
    let Some((&other_byte, rest)) = rest.split_first() else {
        return;
    };
    let mut client_config = ClientConfig::new("ws://fuzz.example/").expect("valid url");
    client_config.config.deflate = Some(deflate_config(config_byte));
    let mut server_config = ServerConfig::default();
    server_config.config.deflate = Some(deflate_config(other_byte));
    let mut client = Client::new(client_config, FixedEntropy::new(ENTROPY)).expect("client");
    let mut server = Server::new(server_config);
    let (_, request) = drain(&mut client);
    server.receive(Duration::ZERO, &request).expect("request");
    let (events, _) = drain(&mut server);
    assert!(matches!(events.as_slice(), [Event::Request(_)]));
    server
        .accept(Duration::ZERO, Accept::default())
        .expect("accept");
    let (_, response) = drain(&mut server);
    client.receive(Duration::ZERO, &response).expect("response");
    let (events, _) = drain(&mut client);
    assert!(
        matches!(events.as_slice(), [Event::Accepted(_)]),
        "{events:?}"
    );

    for (index, message) in rest.split(|&b| b == 0xFF).enumerate() {
        let kind = match std::str::from_utf8(message) {
            Ok(_) if index % 3 != 2 => DataKind::Text,
            _ => DataKind::Binary,
        };
        let fragmented = index % 2 == 1 && kind == DataKind::Binary;
        let from_client = index % 4 < 2;
        let received = if from_client {
            send(&mut client, kind, message, fragmented);
            let (_, wire) = drain(&mut client);
            deliver(&mut server, &wire, other_byte)
        } else {
            send(&mut server, kind, message, fragmented);
            let (_, wire) = drain(&mut server);
            deliver(&mut client, &wire, config_byte)
        };
        let opcode = match kind {
            DataKind::Text => Opcode::Text,
            DataKind::Binary => Opcode::Binary,
        };
        assert_eq!(
            received,
            vec![(opcode, message.to_vec())],
            "message {index}"
        );
    }
    assert_eq!(client.error(), None);
    assert_eq!(server.error(), None);
}

fn send<R: Role>(conn: &mut Connection<R>, kind: DataKind, data: &[u8], fragmented: bool) {
    if fragmented {
        let half = data.len() / 2;
        conn.send_fragment(Fragment::First(kind), &data[..half])
            .expect("first");
        conn.send_fragment(Fragment::Last, &data[half..])
            .expect("last");
        return;
    }
    match kind {
        DataKind::Text => conn
            .send_text(std::str::from_utf8(data).expect("text"))
            .expect("send text"),
        DataKind::Binary => conn.send_binary(data).expect("send binary"),
    }
}

/// Feeds `wire` in pieces of a size from `byte` and returns the messages.
fn deliver<R: Role>(conn: &mut Connection<R>, wire: &[u8], byte: u8) -> Vec<(Opcode, Vec<u8>)> {
    let piece = usize::from(byte % 17) + 1;
    let mut messages = Vec::new();
    let mut open: Option<(Opcode, Vec<u8>)> = None;
    for chunk in wire.chunks(piece) {
        conn.receive(Duration::ZERO, chunk).expect("receive");
        let (events, _) = drain(conn);
        for event in events {
            let Event::Frame(frame) = event else { continue };
            let (opcode, mut data) = match (frame.opcode, open.take()) {
                (Opcode::Continuation, Some(message)) => message,
                (opcode, _) => (opcode, Vec::new()),
            };
            data.extend_from_slice(&frame.payload);
            if frame.fin {
                messages.push((opcode, data));
            } else {
                open = Some((opcode, data));
            }
        }
    }
    messages
}

/// The fuzz check; see the module docs.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let Some((&cut, stream)) = rest.split_first() else {
            return;
        };
        raw(mode, cut, stream);
    } else {
        round_trip(mode, rest);
    }
}
