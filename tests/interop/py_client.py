"""python-websockets as a client against an echo server.

Usage: py_client.py URL

Sends text (ASCII, non-ASCII, empty, 64 KiB), binary (small, empty,
64 KiB) and fragmented messages, checks that each echo comes back exactly
and with the same type, pings, closes with 1000 and checks the server's
Close. Prints one line per check; exits 1 at the first failure.
"""

import asyncio
import sys

from websockets.asyncio.client import connect

TIMEOUT = 10


def check(condition, what, detail=""):
    if not condition:
        print(f"FAIL {what} {detail}".rstrip())
        sys.exit(1)
    print(f"ok {what}")


def describe(value):
    kind = type(value).__name__
    if len(value) > 40:
        return f"{kind} of {len(value)}"
    return f"{kind} {value!r}"


async def main(url):
    # The default max_size is 1 MiB; the messages here are smaller.
    async with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        single = [
            "hello",
            "héllo wörld ✓ 𝄞",
            "",
            "x" * 65536,
            bytes([0, 1, 2, 0xFE, 0xFF]),
            b"",
            bytes(i % 251 for i in range(65536)),
        ]
        for message in single:
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
            check(
                type(echo) is type(message) and echo == message,
                f"echo of {describe(message)}",
                f"got {describe(echo)}",
            )

        # An iterable is sent as one message, one frame per item.
        fragmented = [
            (["frag", "", "ment", "ed ✓"], "fragmented ✓"),
            ([b"\x00ab", b"", b"cd\xff"], b"\x00abcd\xff"),
        ]
        for fragments, whole in fragmented:
            await ws.send(fragments)
            echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
            check(
                type(echo) is type(whole) and echo == whole,
                f"echo of fragmented {describe(whole)}",
                f"got {describe(echo)}",
            )

        pong = await ws.ping(b"py-ping")
        latency = await asyncio.wait_for(pong, TIMEOUT)
        check(latency >= 0, "pong for ping")

        await ws.close(1000, "py done")
        sent = ws.protocol.close_sent
        received = ws.protocol.close_rcvd
        check(sent is not None and sent.code == 1000, "sent Close 1000")
        check(
            received is not None and received.code == 1000,
            "server's Close is 1000",
            f"got {received}",
        )
        check(ws.protocol.close_rcvd_then_sent is False, "we started the close")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: py_client.py URL")
        sys.exit(2)
    asyncio.run(main(sys.argv[1]))
