"""Sends a plain HTTP GET (what curl or a health check sends) and checks
the answer: a 426 with Upgrade: websocket, framed by a Content-Length that
matches the body, and the connection closed after it.

Usage: plain_http.py HOST PORT
"""

import socket
import sys


def fail(message, response):
    print(f"FAIL {message}")
    print(response.decode("latin-1"))
    sys.exit(1)


def main(host, port):
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"GET /health HTTP/1.1\r\nHost: localhost\r\n"
            b"User-Agent: curl/8.0\r\nAccept: */*\r\n\r\n"
        )
        response = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            response += chunk
    head, separator, body = response.partition(b"\r\n\r\n")
    if not separator:
        fail("no complete response head", response)
    lines = head.split(b"\r\n")
    status = lines[0].decode("latin-1")
    if not status.startswith("HTTP/1.1 426 "):
        fail(f"status line {status!r}, expected HTTP/1.1 426", response)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    if "content-length" not in headers:
        fail("no Content-Length", response)
    if int(headers["content-length"]) != len(body):
        fail(
            f"Content-Length {headers['content-length']} but a body of {len(body)} bytes",
            response,
        )
    if headers.get("upgrade", "").lower() != "websocket":
        fail("426 without Upgrade: websocket", response)
    print(f"ok {status}, Content-Length {len(body)}, connection closed after the body")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
