"""python-websockets as an echo server on 127.0.0.1 and a free port.

Usage: py_echo_server.py PORT_FILE

Writes the port to PORT_FILE once listening, then echoes every message
(text as text, binary as binary) until killed.
"""

import asyncio
import os
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(port_file):
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        # Written whole and renamed, so a reader never sees half a port.
        with open(port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(port_file + ".tmp", port_file)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
