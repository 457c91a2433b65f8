"""An RFC 8441 client on hyper-h2 (the `h2` package) against a WebSocket
server over h2c with prior knowledge.

Usage: h2_client.py HOST PORT

Over one HTTP/2 connection: checks that the server's SETTINGS enable
extended CONNECT; opens a WebSocket with permessage-deflate (raw deflate
with zlib, RFC 7692) and one without, at once, and echoes text and binary
messages on both (some over several DATA frames and flow-control windows);
closes both cleanly (Close echoed with its code, then END_STREAM both
ways); then sends bad extended CONNECTs and prints the status each gets.
Prints `ok ...` per check and `h2 client: N passed, 0 failed` at the end;
exits 1 at the first failure.
"""

import os
import socket
import struct
import sys
import zlib

import h2.config
import h2.connection
import h2.events
import h2.settings

TIMEOUT = 10
PASSED = 0


def check(condition, what, detail=""):
    global PASSED
    if not condition:
        print(f"FAIL {what} {detail}".rstrip(), flush=True)
        print(f"h2 client: {PASSED} passed, 1 failed", flush=True)
        sys.exit(1)
    PASSED += 1
    print(f"ok {what}", flush=True)


class Deflate:
    """permessage-deflate with both context takeovers (RFC 7692 §7)."""

    def __init__(self):
        self.compressor = zlib.compressobj(wbits=-15)
        self.decompressor = zlib.decompressobj(wbits=-15)

    def compress(self, data):
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        # RFC 7692 §7.2.1: drop the 00 00 ff ff the sync flush ends with.
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def decompress(self, data):
        return self.decompressor.decompress(data + b"\x00\x00\xff\xff")


def frame(opcode, payload, rsv1=False, fin=True):
    """A masked client frame."""
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    length = len(payload)
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class Stream:
    """One extended CONNECT stream: its response and its DATA bytes."""

    def __init__(self, stream_id):
        self.id = stream_id
        self.status = None
        self.headers = {}
        self.data = bytearray()
        self.ended = False
        self.reset = None
        self.deflate = None
        self.fragments = []
        self.fragment_opcode = None
        self.compressed = False

    def next_frame(self):
        """A whole server frame from the buffered bytes, or None."""
        if len(self.data) < 2:
            return None
        b0, b1 = self.data[0], self.data[1]
        if b1 & 0x80:
            raise AssertionError("the server masked a frame")
        length = b1 & 0x7F
        offset = 2
        if length == 126:
            if len(self.data) < 4:
                return None
            (length,) = struct.unpack("!H", self.data[2:4])
            offset = 4
        elif length == 127:
            if len(self.data) < 10:
                return None
            (length,) = struct.unpack("!Q", self.data[2:10])
            offset = 10
        if len(self.data) < offset + length:
            return None
        payload = bytes(self.data[offset : offset + length])
        del self.data[: offset + length]
        return bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.streams = {}
        self.settings_seen = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Reads once and handles the events."""
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the server closed the connection")
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings_seen = True
            elif isinstance(event, h2.events.ResponseReceived):
                stream = self.streams[event.stream_id]
                for name, value in event.headers:
                    name, value = name.decode(), value.decode()
                    if name == ":status":
                        stream.status = int(value)
                    else:
                        stream.headers[name] = value
            elif isinstance(event, h2.events.DataReceived):
                stream = self.streams[event.stream_id]
                stream.data += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.streams[event.stream_id].ended = True
            elif isinstance(event, h2.events.StreamReset):
                self.streams[event.stream_id].reset = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise AssertionError(f"GOAWAY: {event.error_code}")
        self.flush()

    def until(self, condition):
        while not condition():
            self.pump()

    def open(self, headers):
        stream_id = self.conn.get_next_available_stream_id()
        stream = Stream(stream_id)
        self.streams[stream_id] = stream
        self.conn.send_headers(stream_id, headers)
        self.flush()
        return stream

    def websocket_request(self, path, extra=(), protocol="websocket", authority=True, version="13"):
        headers = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"), (":path", path)]
        if authority:
            headers.append((":authority", f"{self.host}:{self.port}"))
        if version is not None:
            headers.append(("sec-websocket-version", version))
        headers.extend(extra)
        return headers

    def send(self, stream, data):
        """Sends `data` on the stream as the flow-control windows allow."""
        while data:
            window = min(
                self.conn.local_flow_control_window(stream.id),
                self.conn.max_outbound_frame_size,
            )
            if window <= 0:
                self.pump()
                continue
            chunk, data = data[:window], data[window:]
            self.conn.send_data(stream.id, chunk)
            self.flush()

    def send_message(self, stream, opcode, payload, compress=False):
        if compress:
            self.send(stream, frame(opcode, stream.deflate.compress(payload), rsv1=True))
        else:
            self.send(stream, frame(opcode, payload))

    def receive_message(self, stream):
        """The next data or close message on the stream, as (opcode, payload)."""
        while True:
            parsed = stream.next_frame()
            if parsed is None:
                if stream.ended or stream.reset is not None:
                    raise AssertionError(f"stream {stream.id} ended before a message")
                self.pump()
                continue
            fin, rsv1, opcode, payload = parsed
            if opcode in (0x8, 0x9, 0xA):
                return opcode, payload
            if opcode != 0x0:
                stream.fragment_opcode = opcode
                stream.compressed = rsv1
                stream.fragments = []
            stream.fragments.append(payload)
            if fin:
                whole = b"".join(stream.fragments)
                if stream.compressed:
                    whole = stream.deflate.decompress(whole)
                return stream.fragment_opcode, whole


def echo_checks(client, stream, label, compress):
    cases = [
        (0x1, b"hello over HTTP/2"),
        (0x2, bytes(range(256)) * 4),
        (0x1, ("compressible text " * 6000).encode()),
        (0x2, os.urandom(100_000)),
        (0x1, b""),
    ]
    for opcode, payload in cases:
        client.send_message(stream, opcode, payload, compress=compress)
        got_opcode, got = client.receive_message(stream)
        kind = "text" if opcode == 0x1 else "binary"
        check(
            (got_opcode, got) == (opcode, payload),
            f"{label}: {kind} of {len(payload)} bytes echoed",
            f"got opcode {got_opcode}, {len(got)} bytes",
        )


def close_checks(client, stream, label):
    client.send_message(stream, 0x8, struct.pack("!H", 1000) + b"bye")
    opcode, payload = client.receive_message(stream)
    check(opcode == 0x8 and payload[:2] == struct.pack("!H", 1000), f"{label}: Close 1000 echoed", repr(payload))
    client.until(lambda: stream.ended or stream.reset is not None)
    check(stream.ended and stream.reset is None, f"{label}: the server ended the stream (END_STREAM)")
    client.conn.end_stream(stream.id)
    client.flush()


def status_of(client, headers):
    stream = client.open(headers)
    client.until(lambda: stream.status is not None or stream.reset is not None)
    if stream.status is None:
        return f"reset {int(stream.reset)}", stream
    if stream.status != 200:
        # Read the refusal's body to its end, so the stream closes.
        client.until(lambda: stream.ended or stream.reset is not None)
    return stream.status, stream


def main(host, port):
    client = Client(host, port)
    client.until(lambda: client.settings_seen)
    enabled = client.conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
    check(enabled == 1, "SETTINGS_ENABLE_CONNECT_PROTOCOL = 1", repr(enabled))

    # Two WebSockets at once on the connection: deflate and plain.
    offer = ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
    deflate = client.open(client.websocket_request("/deflate", extra=[offer]))
    plain = client.open(client.websocket_request("/plain", extra=[("sec-websocket-protocol", "chat")]))
    client.until(lambda: deflate.status is not None and plain.status is not None)
    check(deflate.status == 200, "deflate: 200", repr(deflate.status))
    agreed = deflate.headers.get("sec-websocket-extensions", "")
    check(agreed.startswith("permessage-deflate"), "deflate: permessage-deflate agreed", repr(agreed))
    check("sec-websocket-accept" not in deflate.headers, "deflate: no sec-websocket-accept")
    deflate.deflate = Deflate()
    check(plain.status == 200, "plain: 200", repr(plain.status))
    check("sec-websocket-extensions" not in plain.headers, "plain: no extension")

    echo_checks(client, deflate, "deflate", compress=True)
    # An uncompressed message on the deflate stream (RSV1 clear) is fine too.
    client.send_message(deflate, 0x1, b"not compressed")
    check(client.receive_message(deflate) == (0x1, b"not compressed"), "deflate: an uncompressed message echoed")
    echo_checks(client, plain, "plain", compress=False)
    # A ping on the plain stream is answered with its payload.
    client.send_message(plain, 0x9, b"ping!")
    check(client.receive_message(plain) == (0xA, b"ping!"), "plain: ping answered with a pong")
    close_checks(client, deflate, "deflate")
    close_checks(client, plain, "plain")

    # Bad extended CONNECTs: each gets its status (RFC 8441 and the core's
    # rules); the connection lives on.
    bad = [
        # RFC 9220 §3's 501 for a :protocol the server does not support.
        ("wrong :protocol", client.websocket_request("/x", protocol="websocket-ng"), 501, None),
        # RFC 8441 §4 / RFC 9113 §8.1.1: malformed, 400.
        ("missing :authority", client.websocket_request("/x", authority=False), 400, None),
        # RFC 6455 §4.4 asks for 426, which HTTP/2 cannot send (no
        # Upgrade): 400, naming 13.
        ("sec-websocket-version 8", client.websocket_request("/x", version="8"), 400, "13"),
        ("missing sec-websocket-version", client.websocket_request("/x", version=None), 400, "13"),
    ]
    for name, headers, expected, version in bad:
        status, stream = status_of(client, headers)
        named = stream.headers.get("sec-websocket-version")
        print(f"status {name}: {status}" + (f" sec-websocket-version: {named}" if named else ""), flush=True)
        check(status == expected, f"{name}: {expected}", repr(status))
        check(named == version, f"{name}: sec-websocket-version {version}", repr(named))
    # RFC 7692 §5: an offer the server cannot accept (an invalid parameter
    # value, a malformed element) is declined, not refused: 200 without
    # the extension.
    offer = ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits=99, ;;=")
    status, stream = status_of(client, client.websocket_request("/x", extra=[offer]))
    agreed = stream.headers.get("sec-websocket-extensions")
    print(f"status bad extension offer: {status}, sec-websocket-extensions: {agreed}", flush=True)
    check(status == 200 and agreed is None, "bad extension offer: declined with 200", repr((status, agreed)))
    client.send_message(stream, 0x1, b"uncompressed")
    check(client.receive_message(stream) == (0x1, b"uncompressed"), "bad extension offer: echoes without deflate")
    close_checks(client, stream, "declined offer")

    # After the refusals, a WebSocket still opens on the connection.
    last = client.open(client.websocket_request("/after"))
    client.until(lambda: last.status is not None)
    check(last.status == 200, "after the refusals: 200", repr(last.status))
    client.send_message(last, 0x1, b"still here")
    check(client.receive_message(last) == (0x1, b"still here"), "after the refusals: echoed")
    close_checks(client, last, "after")

    client.conn.close_connection()
    client.flush()
    client.sock.close()
    print(f"h2 client: {PASSED} passed, 0 failed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
