"""python-websockets as a client that insists on permessage-deflate.

Usage: py_deflate_client.py URL

Offers permessage-deflate (python-websockets' default), checks that the
server accepted it, that compressible and incompressible messages come back
exactly, and that the close is clean. Prints one line per check; exits 1
at the first failure.
"""

import asyncio
import os
import sys

from websockets.asyncio.client import connect

TIMEOUT = 10


def check(condition, what, detail=""):
    if not condition:
        print(f"FAIL {what} {detail}".rstrip())
        sys.exit(1)
    print(f"ok {what}")


async def main(url):
    async with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        check("permessage-deflate" in agreed, "permessage-deflate accepted", repr(agreed))
        for message in ["squeeze me " * 1000, os.urandom(200_000), "é" * 70_000, b""]:
            await ws.send(message)
            echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
            check(
                type(echo) is type(message) and echo == message,
                f"echo of {type(message).__name__} of {len(message)}",
            )
        await ws.close(1000, "done")
        check(ws.close_code == 1000, "clean close", repr(ws.close_code))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
