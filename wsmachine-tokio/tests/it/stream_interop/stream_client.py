"""python-websockets streaming through the stream_echo example.

Usage: stream_client.py ws://HOST:PORT/

Sends messages as fragments (an iterable, an async iterable), reads the
echoes with ``recv_streaming``, with and without permessage-deflate, and
pings the server in the middle of a message. Prints one line per check and
``stream client: N passed, M failed``; exits 1 on a failure.
"""

import asyncio
import sys

from websockets.asyncio.client import connect

URI = sys.argv[1]
RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(ok)
    print(f"{'ok' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)


async def echo_of(ws, kind):
    """The next message, read frame by frame: (joined, frame count)."""
    parts = []
    async for part in ws.recv_streaming():
        if not isinstance(part, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(part).__name__}")
        parts.append(part)
    return kind().join(parts), len(parts)


async def run(compression):
    tag = f"[{compression or 'none'}]"
    async with connect(URI, compression=compression, max_size=None) as ws:
        negotiated = any(
            "permessage-deflate" in (e.name or "") for e in ws.protocol.extensions
        ) if ws.protocol.extensions else False
        if negotiated != (compression == "deflate"):
            check(f"{tag} negotiation", False, f"negotiated={negotiated}")

        # A text sent as fragments that split characters is echoed, in
        # fragments, as the same text.
        text = "aé€z" * 50_000
        data = text.encode()
        fragments = [data[i : i + 999] for i in range(0, len(data), 999)]
        # Fragments of bytes with a text opcode are not allowed by the
        # library; send str fragments cut at character boundaries instead,
        # of varying lengths.
        str_fragments = [text[i : i + 333] for i in range(0, len(text), 333)]
        sending = asyncio.create_task(ws.send(str_fragments))
        echoed, frames = await echo_of(ws, str)
        await sending
        check(f"{tag} fragmented text", echoed == text and frames > 1, f"frames={frames}")

        # 1 MiB of binary, in 64 KiB fragments.
        blob = bytes((i * 7 + 3) % 251 for i in range(1 << 20))
        chunks = [blob[i : i + 65536] for i in range(0, len(blob), 65536)]
        sending = asyncio.create_task(ws.send(chunks))
        echoed, frames = await echo_of(ws, bytes)
        await sending
        check(f"{tag} fragmented binary", echoed == blob and frames > 1, f"frames={frames}")

        # An async iterable, with a ping answered in the middle of it.
        pong = []

        async def parts():
            yield b"first "
            waiter = await ws.ping(b"mid")
            await asyncio.wait_for(waiter, 10)
            pong.append(True)
            yield b"second"

        sending = asyncio.create_task(ws.send(parts()))
        echoed, frames = await echo_of(ws, bytes)
        await sending
        check(f"{tag} async iterable", echoed == b"first second", repr(echoed))
        check(f"{tag} ping answered mid-message", pong == [True])

        # An empty text, whole.
        await ws.send("")
        echoed, frames = await echo_of(ws, str)
        check(f"{tag} empty text", echoed == "", repr(echoed))


async def main():
    for compression in (None, "deflate"):
        try:
            await run(compression)
        except Exception as error:  # noqa: BLE001
            check(f"[{compression}] run", False, repr(error))
    failed = RESULTS.count(False)
    print(f"stream client: {len(RESULTS) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


asyncio.run(main())
