//! The request: what the client writes for its config, and the configs it
//! refuses.

use super::*;

#[test]
fn the_request_for_the_rfc_example() {
    assert_eq!(
        request_for(config()),
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         \r\n"
    );
}

#[test]
fn the_request_is_queued_once() {
    let mut client = client_with(config());
    assert!(client.poll_transmit().is_some());
    assert!(client.poll_transmit().is_none());
    // Nothing is due but a first reading of the caller's clock.
    assert_eq!(client.poll_timeout(), Some(Duration::ZERO));
}

fn request_line_and_host(request: &str) -> (&str, &str) {
    let mut lines = request.split("\r\n");
    let request_line = lines.next().unwrap();
    let host = lines
        .find_map(|line| line.strip_prefix("Host: "))
        .expect("a Host header");
    (request_line, host)
}

#[test]
fn host_and_target_follow_the_url() {
    for (url, request_line, host) in [
        (
            "ws://server.example.com:8080/chat",
            "GET /chat HTTP/1.1",
            "server.example.com:8080",
        ),
        ("ws://h:80/", "GET / HTTP/1.1", "h"),
        ("ws://h:443/", "GET / HTTP/1.1", "h:443"),
        ("wss://h:443/", "GET / HTTP/1.1", "h"),
        ("wss://h:80/", "GET / HTTP/1.1", "h:80"),
        (
            "ws://Server.Example.COM",
            "GET / HTTP/1.1",
            "server.example.com",
        ),
        ("ws://[::1]/", "GET / HTTP/1.1", "[::1]"),
        ("ws://[::1]:9001/chat", "GET /chat HTTP/1.1", "[::1]:9001"),
        (
            "wss://[2001:db8::1]:443/x",
            "GET /x HTTP/1.1",
            "[2001:db8::1]",
        ),
        (
            "ws://h/a/b?room=7&user=x%20y",
            "GET /a/b?room=7&user=x%20y HTTP/1.1",
            "h",
        ),
        ("ws://h?x=1", "GET /?x=1 HTTP/1.1", "h"),
        ("ws://127.0.0.1:9000", "GET / HTTP/1.1", "127.0.0.1:9000"),
    ] {
        let request = request_for_url(url);
        assert_eq!(
            request_line_and_host(&request),
            (request_line, host),
            "{url}"
        );
    }
}

#[test]
fn origin_protocols_extensions_and_extra_headers_are_sent() {
    let mut config = config()
        .with_origin("https://example.com")
        .with_protocol("chat")
        .with_protocol("superchat")
        .with_header("Cookie", "session=abc")
        .with_header("Authorization", "Bearer t0k3n");
    config
        .extensions
        .push("permessage-deflate; client_max_window_bits".into());
    config.extensions.push("x-custom".into());
    assert_eq!(
        request_for(config),
        "GET /chat HTTP/1.1\r\n\
         Host: server.example.com\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Origin: https://example.com\r\n\
         Sec-WebSocket-Protocol: chat, superchat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-custom\r\n\
         Cookie: session=abc\r\n\
         Authorization: Bearer t0k3n\r\n\
         \r\n"
    );
}

fn build(config: ClientConfig) -> Result<Client<FixedEntropy>, ClientConfigError> {
    Client::new(config, FixedEntropy::new(RFC_ENTROPY))
}

#[test]
fn headers_the_handshake_sets_are_refused() {
    for name in [
        "Sec-WebSocket-Key",
        "sec-websocket-key",
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Origin",
    ] {
        assert_eq!(
            build(config().with_header(name, "x")).err(),
            Some(ClientConfigError::ReservedHeader { name: name.into() }),
        );
    }
    assert!(matches!(
        build(config().with_header("Content-Length", "0")).err(),
        Some(ClientConfigError::Write(
            WriteError::FramingHeaderNotAllowed { .. }
        ))
    ));
}

#[test]
fn values_that_would_inject_lines_are_refused() {
    for value in ["a\r\nInjected: yes", "a\nb", "a\rb", "a\0b"] {
        assert_eq!(
            build(config().with_header("Cookie", value)).err(),
            Some(ClientConfigError::Write(WriteError::Header(
                HeaderError::InvalidValue {
                    name: "Cookie".into()
                }
            ))),
            "{value:?}"
        );
    }
    assert_eq!(
        build(config().with_header("Bad Name", "v")).err(),
        Some(ClientConfigError::Write(WriteError::Header(
            HeaderError::InvalidName {
                name: "Bad Name".into()
            }
        )))
    );
    assert_eq!(
        build(config().with_origin("https://a\r\nX: y")).err(),
        Some(ClientConfigError::Write(WriteError::Header(
            HeaderError::InvalidValue {
                name: "Origin".into()
            }
        )))
    );
    let mut extension = config();
    extension.extensions.push("deflate\r\nX: y".into());
    assert!(matches!(
        build(extension).err(),
        Some(ClientConfigError::Write(WriteError::Header(
            HeaderError::InvalidValue { .. }
        )))
    ));
}

#[test]
fn protocols_must_be_distinct_tokens() {
    for protocol in [
        "chat v2",
        "",
        "chat,superchat",
        "chat\r\n",
        "ch@t",
        "\"chat\"",
    ] {
        assert_eq!(
            build(config().with_protocol(protocol)).err(),
            Some(ClientConfigError::InvalidProtocol {
                protocol: protocol.into()
            }),
            "{protocol:?}"
        );
    }
    assert_eq!(
        build(config().with_protocol("chat").with_protocol("chat")).err(),
        Some(ClientConfigError::InvalidProtocol {
            protocol: "chat".into()
        })
    );
    assert!(build(config().with_protocol("chat.v2").with_protocol("mqtt")).is_ok());
}
