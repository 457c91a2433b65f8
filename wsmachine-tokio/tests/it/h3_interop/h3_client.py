"""An RFC 9220 client on aioquic's H3Connection against a WebSocket server
over HTTP/3, with frames of its own (wsframes.py).

Usage: h3_client.py HOST PORT CA_PEM

Over one QUIC connection: checks that the server's SETTINGS enable
extended CONNECT; opens three WebSockets at once, one with
permessage-deflate, and echoes text and binary messages of 0, 125, 126,
65536 bytes and 1 MiB on all three, interleaved, with frames and a stream of
reserved types (grease) mixed in; closes them cleanly (Close 1000 echoed,
then FIN both ways); then sends bad extended CONNECTs and prints the status
each gets, and opens one more WebSocket after them. Prints `ok ...` per
check and `h3 client: N passed, 0 failed` at the end; exits 1 at the first
failure.
"""

import asyncio
import os
import ssl
import struct
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, H3Connection, Setting, encode_frame
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset

from wsframes import Deflate, Messages, frame

TIMEOUT = 20
PASSED = 0
SIZES = [0, 125, 126, 65536, 1 << 20]


def check(condition, what, detail=""):
    global PASSED
    if not condition:
        print(f"FAIL {what} {detail}".rstrip(), flush=True)
        print(f"h3 client: {PASSED} passed, 1 failed", flush=True)
        sys.exit(1)
    PASSED += 1
    print(f"ok {what}", flush=True)


class Stream:
    def __init__(self, stream_id):
        self.id = stream_id
        self.status = None
        self.headers = {}
        self.messages = Messages(expect_masked=False)
        self.ended = False
        self.reset = None
        # Whether a frame of a reserved type (grease, RFC 9114 §7.2.8) goes
        # before the request and before each message.
        self.grease = False


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.streams = {}
        self.changed = asyncio.Event()
        self.terminated = None

    def quic_event_received(self, event):
        if isinstance(event, StreamReset) and event.stream_id in self.streams:
            self.streams[event.stream_id].reset = event.error_code
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
        for h3_event in self.h3.handle_event(event):
            stream = self.streams.get(getattr(h3_event, "stream_id", None))
            if stream is None:
                continue
            if isinstance(h3_event, HeadersReceived):
                for name, value in h3_event.headers:
                    name, value = name.decode(), value.decode()
                    if name == ":status":
                        stream.status = int(value)
                    else:
                        stream.headers[name] = value
            elif isinstance(h3_event, DataReceived):
                stream.messages.data += h3_event.data
            if getattr(h3_event, "stream_ended", False):
                stream.ended = True
        self.changed.set()

    async def until(self, condition):
        async def wait():
            while not condition():
                if self.terminated is not None:
                    raise AssertionError(f"connection closed: {self.terminated}")
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)

    def settings(self):
        return self.h3.received_settings

    def open(self, headers, grease=False):
        stream_id = self._quic.get_next_available_stream_id()
        stream = Stream(stream_id)
        stream.grease = grease
        self.streams[stream_id] = stream
        if grease:
            self.send_grease_frame(stream)
        self.h3.send_headers(stream_id, [(n.encode(), v.encode()) for n, v in headers])
        self.transmit()
        return stream

    def request(self, path, extra=(), protocol="websocket", authority=True, version="13"):
        host, port = self._quic._network_paths[0].addr[:2]
        headers = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "https"), (":path", path)]
        if authority:
            headers.append((":authority", f"localhost:{port}"))
        if version is not None:
            headers.append(("sec-websocket-version", version))
        headers.extend(extra)
        return headers

    def send_grease_frame(self, stream):
        self._quic.send_stream_data(stream.id, encode_frame(0x21 + 0x1F * 3, b"ignore me"))

    def open_grease_stream(self):
        """A unidirectional stream of a reserved type, which the peer must ignore."""
        stream_id = self._quic.get_next_available_stream_id(is_unidirectional=True)
        self._quic.send_stream_data(stream_id, encode_uint_var(0x21 + 0x1F * 5) + b"ignore this stream")
        self.transmit()

    def send_message(self, stream, opcode, payload, compress=False):
        if stream.grease:
            self.send_grease_frame(stream)
        if compress:
            data = frame(opcode, stream.messages.deflate.compress(payload), rsv1=True)
        else:
            data = frame(opcode, payload)
        self.h3.send_data(stream.id, data, end_stream=False)
        self.transmit()

    async def receive_message(self, stream):
        message = None

        def arrived():
            nonlocal message
            message = stream.messages.next()
            if message is None and (stream.ended or stream.reset is not None):
                raise AssertionError(f"stream {stream.id} ended before a message")
            return message is not None

        await self.until(arrived)
        return message


def payload_of(opcode, size, seed):
    if opcode == 0x1:
        text = "".join(chr(0x61 + (seed + i) % 26) for i in range(min(size, 997)))
        return (text * (size // 997 + 1)).encode()[:size]
    return os.urandom(size)


async def echo_checks(client, streams):
    """Every size, text and binary, on every stream, the sends interleaved."""
    for size in SIZES:
        for opcode in (0x1, 0x2):
            sent = {}
            for label, stream, compress in streams:
                payload = payload_of(opcode, size, len(label))
                sent[label] = payload
                client.send_message(stream, opcode, payload, compress=compress)
            for label, stream, _ in streams:
                got_opcode, got = await client.receive_message(stream)
                kind = "text" if opcode == 0x1 else "binary"
                check(
                    (got_opcode, got) == (opcode, sent[label]),
                    f"{label}: {kind} of {size} bytes echoed",
                    f"got opcode {got_opcode}, {len(got)} bytes",
                )


async def close_checks(client, stream, label):
    client.send_message(stream, 0x8, struct.pack("!H", 1000) + b"bye")
    opcode, payload = await client.receive_message(stream)
    check(opcode == 0x8 and payload[:2] == struct.pack("!H", 1000), f"{label}: Close 1000 echoed", repr(payload))
    await client.until(lambda: stream.ended or stream.reset is not None)
    check(stream.ended and stream.reset is None, f"{label}: the server ended the stream (FIN)", repr(stream.reset))
    client.h3.send_data(stream.id, b"", end_stream=True)
    client.transmit()


async def status_of(client, headers):
    stream = client.open(headers)
    await client.until(lambda: stream.status is not None or stream.reset is not None)
    if stream.status is None:
        return f"reset {stream.reset}", stream
    if stream.status != 200:
        await client.until(lambda: stream.ended or stream.reset is not None)
    return stream.status, stream


async def main(host, port, ca):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name="localhost")
    configuration.load_verify_locations(ca)
    configuration.verify_mode = ssl.CERT_REQUIRED
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        await client.until(lambda: client.settings() is not None)
        enabled = client.settings().get(Setting.ENABLE_CONNECT_PROTOCOL)
        check(enabled == 1, "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1", repr(client.settings()))
        client.open_grease_stream()

        offer = ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
        deflate = client.open(client.request("/deflate", extra=[offer]))
        # Its request and each of its messages follow a grease frame.
        plain = client.open(client.request("/plain"), grease=True)
        third = client.open(client.request("/third"))
        await client.until(lambda: all(s.status is not None for s in (deflate, plain, third)))
        check(deflate.status == 200, "deflate: 200", repr(deflate.status))
        agreed = deflate.headers.get("sec-websocket-extensions", "")
        check(agreed.startswith("permessage-deflate"), "deflate: permessage-deflate agreed", repr(agreed))
        check("sec-websocket-accept" not in deflate.headers, "deflate: no sec-websocket-accept")
        deflate.messages.deflate = Deflate()
        check(plain.status == 200 and third.status == 200, "plain and third: 200", repr((plain.status, third.status)))
        check("sec-websocket-extensions" not in plain.headers, "plain: no extension")

        # Three WebSockets on the one QUIC connection, their echoes interleaved.
        await echo_checks(client, [("deflate", deflate, True), ("plain", plain, False), ("third", third, False)])
        client.send_message(plain, 0x9, b"ping!")
        check(await client.receive_message(plain) == (0xA, b"ping!"), "plain: ping answered with a pong")
        await close_checks(client, deflate, "deflate")
        # The others go on after one closed.
        client.send_message(third, 0x1, b"still open")
        check(await client.receive_message(third) == (0x1, b"still open"), "third: echoes after deflate closed")
        await close_checks(client, plain, "plain")
        await close_checks(client, third, "third")

        bad = [
            ("wrong :protocol", client.request("/x", protocol="websocket-ng"), 501, None),
            ("missing :authority", client.request("/x", authority=False), 400, None),
            ("sec-websocket-version 8", client.request("/x", version="8"), 400, "13"),
            ("missing sec-websocket-version", client.request("/x", version=None), 400, "13"),
        ]
        for name, headers, expected, version in bad:
            status, stream = await status_of(client, headers)
            named = stream.headers.get("sec-websocket-version")
            print(f"status {name}: {status}" + (f" sec-websocket-version: {named}" if named else ""), flush=True)
            check(status == expected, f"{name}: {expected}", repr(status))
            check(named == version, f"{name}: sec-websocket-version {version}", repr(named))
        offer = ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits=99, ;;=")
        status, stream = await status_of(client, client.request("/x", extra=[offer]))
        agreed = stream.headers.get("sec-websocket-extensions")
        print(f"status bad extension offer: {status}, sec-websocket-extensions: {agreed}", flush=True)
        check(status == 200 and agreed is None, "bad extension offer: declined with 200", repr((status, agreed)))
        client.send_message(stream, 0x1, b"uncompressed")
        check(await client.receive_message(stream) == (0x1, b"uncompressed"), "bad extension offer: echoes without deflate")
        await close_checks(client, stream, "declined offer")

        last = client.open(client.request("/after"))
        await client.until(lambda: last.status is not None)
        check(last.status == 200, "after the refusals: 200", repr(last.status))
        client.send_message(last, 0x1, b"still here")
        check(await client.receive_message(last) == (0x1, b"still here"), "after the refusals: echoed")
        await close_checks(client, last, "after")
    print(f"h3 client: {PASSED} passed, 0 failed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
