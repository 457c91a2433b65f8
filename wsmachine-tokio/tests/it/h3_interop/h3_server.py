"""An RFC 9220 WebSocket echo server on aioquic's H3Connection, with
frames of its own (wsframes.py).

Usage: h3_server.py CERT_PEM KEY_PEM

Listens on 127.0.0.1 on a UDP port of the system's choosing and prints
`listening on PORT`. aioquic's SETTINGS enable extended CONNECT. Every
extended CONNECT with `:protocol websocket` gets a 200 (with
`permessage-deflate` when offered, both context takeovers) and echoes
every message as the same type, answers pings, answers a Close with the
same code and then ends the stream (FIN). A frame of a reserved type
(grease) goes before the 200 and before each echo. On a path of /reset,
the first message is answered with half of its echo's frame and then a
reset of the stream (H3_REQUEST_CANCELLED), the QUIC connection left as it
is. Other requests get 501 (another :protocol) or 400.
"""

import asyncio
import struct
import sys

from aioquic.asyncio import serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection, encode_frame
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamReset

from wsframes import Deflate, Messages, frame

H3_REQUEST_CANCELLED = 0x10C
# A reserved frame type (RFC 9114 §7.2.8), which the client must skip.
GREASE_FRAME = encode_frame(0x21 + 0x1F * 2, b"grease")


class WebSocket:
    def __init__(self, path, deflate):
        self.path = path
        self.messages = Messages(expect_masked=True)
        self.messages.deflate = Deflate() if deflate else None
        self.deflate = self.messages.deflate
        self.closed = False


class Server(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.sockets = {}

    def quic_event_received(self, event):
        if isinstance(event, StreamReset):
            self.sockets.pop(event.stream_id, None)
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self.request(h3_event.stream_id, dict(h3_event.headers))
            elif isinstance(h3_event, DataReceived):
                socket = self.sockets.get(h3_event.stream_id)
                if socket is not None:
                    socket.messages.data += h3_event.data
                    self.answer(h3_event.stream_id, socket)
                if h3_event.stream_ended and socket is not None and not socket.closed:
                    # The client ended its side without a Close: end ours.
                    socket.closed = True
                    self.h3.send_data(h3_event.stream_id, b"", end_stream=True)
        self.transmit()

    def request(self, stream_id, headers):
        if headers.get(b":method") != b"CONNECT" or headers.get(b":protocol") != b"websocket":
            status = b"501" if b":protocol" in headers else b"400"
            self.h3.send_headers(stream_id, [(b":status", status)], end_stream=True)
            return
        offers = headers.get(b"sec-websocket-extensions", b"").decode()
        deflate = any(o.split(";")[0].strip() == "permessage-deflate" for o in offers.split(","))
        self._quic.send_stream_data(stream_id, GREASE_FRAME)
        response = [(b":status", b"200")]
        if deflate:
            response.append((b"sec-websocket-extensions", b"permessage-deflate"))
        self.h3.send_headers(stream_id, response)
        self.sockets[stream_id] = WebSocket(headers.get(b":path", b"/").decode(), deflate)

    def answer(self, stream_id, socket):
        while not socket.closed:
            message = socket.messages.next()
            if message is None:
                return
            opcode, payload = message
            if opcode == 0x9:
                self.h3.send_data(stream_id, frame(0xA, payload, mask=False), end_stream=False)
            elif opcode == 0x8:
                socket.closed = True
                self.h3.send_data(stream_id, frame(0x8, payload[:2], mask=False), end_stream=True)
            elif opcode in (0x1, 0x2):
                if socket.deflate is not None:
                    echo = frame(opcode, socket.deflate.compress(payload), rsv1=True, mask=False)
                else:
                    echo = frame(opcode, payload, mask=False)
                if socket.path == "/reset":
                    # Half a frame, then the reset: a message cut short.
                    self.h3.send_data(stream_id, echo[: len(echo) // 2], end_stream=False)
                    self.transmit()
                    self._quic.reset_stream(stream_id, H3_REQUEST_CANCELLED)
                    socket.closed = True
                    print(f"reset stream {stream_id}", flush=True)
                    return
                self._quic.send_stream_data(stream_id, GREASE_FRAME)
                self.h3.send_data(stream_id, echo, end_stream=False)


async def main(cert, key):
    configuration = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN, max_datagram_frame_size=None)
    configuration.load_cert_chain(cert, key)
    server = await serve("127.0.0.1", 0, configuration=configuration, create_protocol=Server)
    port = server._transport.get_extra_info("sockname")[1]
    print(f"listening on {port}", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
