"""An ASGI echo app for hypercorn, which serves its WebSockets over HTTP/2
with extended CONNECT (RFC 8441) as well as over HTTP/1.1.

Every text and binary message comes back as the same type; the first
subprotocol the client offers is chosen; a path of /refuse gets a 403 with
a body (the ASGI websocket denial response). HTTP requests get a 404.
"""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not a WebSocket\n"})
        return
    connect = await receive()
    assert connect["type"] == "websocket.connect"
    if scope["path"] == "/refuse":
        await send(
            {"type": "websocket.http.response.start", "status": 403, "headers": [(b"x-why", b"refused")]}
        )
        await send({"type": "websocket.http.response.body", "body": b"go away\n"})
        return
    accept = {"type": "websocket.accept"}
    if scope.get("subprotocols"):
        accept["subprotocol"] = scope["subprotocols"][0]
    await send(accept)
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
