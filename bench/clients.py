"""
Lean closed-loop load clients on asyncio protocols: HTTP/1.1 keep-alive and
WebSocket (RFC 6455, client side, text frames, no extensions).

Hand-written on purpose: on two shared cores a general client library costs
more CPU per request than the server under test, and would measure itself.
Each connection sends one request, waits for its whole reply, sends the next.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time

# A reply that takes this long is not coming: fail the run instead of hanging.
REPLY_TIMEOUT = 60


TEXT, PING, PONG = 0x1, 0x9, 0xA


def ws_frame(text: str | bytes, opcode: int = TEXT) -> bytes:
    """A masked frame, as a client must send it (text unless `opcode` says)."""
    payload = text.encode() if isinstance(text, str) else text
    mask = os.urandom(4)
    length = len(payload)
    first = 0x80 | opcode
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def ws_frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    """Pop every complete unmasked server frame from `buffer`: (opcode, payload)."""
    payloads = []
    while len(buffer) >= 2:
        length = buffer[1] & 0x7F
        offset = 2
        if length == 126:
            if len(buffer) < 4:
                break
            length = struct.unpack_from("!H", buffer, 2)[0]
            offset = 4
        elif length == 127:
            if len(buffer) < 10:
                break
            length = struct.unpack_from("!Q", buffer, 2)[0]
            offset = 10
        if len(buffer) < offset + length:
            break
        opcode = buffer[0] & 0x0F
        payloads.append((opcode, bytes(buffer[offset : offset + length])))
        del buffer[: offset + length]
    return payloads


class WebSocketConnection(asyncio.Protocol):
    """One client WebSocket; `on_message(payload, arrived)` gets each text frame."""

    def __init__(self, host: str, on_message=None, path="/ws/api"):
        self.host = host
        self.path = path
        self.on_message = on_message or (lambda payload, arrived: None)
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data):
        arrived = time.perf_counter()
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[:12])
            del self.buffer[: end + 4]
            if b" 101" not in status:
                self.upgraded.set_exception(ConnectionError(status.decode()))
                return
            self.upgraded.set_result(True)
        for opcode, payload in ws_frames(self.buffer):
            if opcode == TEXT:
                self.on_message(payload, arrived)
            elif opcode == PING:  # answered, as browsers do, or the server drops us
                self.transport.write(ws_frame(payload, PONG))

    def connection_lost(self, exc):
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during handshake"))

    def send(self, message: dict) -> None:
        self.transport.write(ws_frame(json.dumps(message)))


async def open_websocket(
    host: str, port: int, on_message=None, path="/ws/api"
) -> WebSocketConnection:
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(
        lambda: WebSocketConnection(f"{host}:{port}", on_message, path), host, port
    )
    await connection.upgraded
    return connection


class EventStreamConnection(asyncio.Protocol):
    """One `/ws/events` stream; `on_message(payload, arrived)` gets each
    record's data (the same JSON a socket's frame carries)."""

    def __init__(self, host: str, url: str, on_message, token=None):
        self.request = (
            f"GET /ws/events?url={url} HTTP/1.1\r\nHost: {host}\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + "\r\n"
        ).encode()
        self.on_message = on_message
        self.buffer = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        arrived = time.perf_counter()
        *records, self.buffer = (self.buffer + data).split(b"\n\n")
        for record in records:
            # A record is one chunk: chunk sizes stand between records, and
            # data runs to the record's end.
            _, found, payload = record.partition(b"\ndata: ")
            if found:
                self.on_message(payload, arrived)


async def open_event_stream(host, port, url, on_message, token=None):
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(
        lambda: EventStreamConnection(f"{host}:{port}", url, on_message, token),
        host,
        port,
    )
    return connection


class HTTPConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 client connection; replies need Content-Length."""

    def __init__(self):
        self.buffer = bytearray()
        self.waiting: asyncio.Future | None = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        start = head.find(b"content-length:")
        length = int(head[start + 15 :].split(b"\r\n", 1)[0]) if start >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buffer[: end + 4 + length]
        self.waiting.set_result(status)

    def connection_lost(self, exc):
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionError("closed"))

    async def request(self, raw: bytes) -> int:
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiting


def http_request(method: str, path: str, host: str, body: dict | None = None) -> bytes:
    """The bytes of one keep-alive request."""
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    if data:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data


async def run_http(*, port, connections, seconds, method, path, body=None):
    """Closed-loop HTTP load; return (requests per second, latencies in seconds)."""
    loop = asyncio.get_running_loop()
    host = f"127.0.0.1:{port}"
    raw = http_request(method, path, host, body)
    clients = []
    for _ in range(connections):
        _, client = await loop.create_connection(HTTPConnection, "127.0.0.1", port)
        clients.append(client)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def drive(client):
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status = await client.request(raw)
            assert status < 400, f"{method} {path} answered {status}"
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(drive(client) for client in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.transport.close()
    return len(latencies) / elapsed, latencies


def project_frame(method, path, body):
    """This project's request frame, and whether a reply succeeded."""
    message = {"method": method, "url": path}
    if body is not None:
        message["data"] = body
    return "/ws/api", message, lambda reply: reply["status"] < 400


def dcrf_frame(method, path, body):
    """The same request as DCRF's consumer takes it (bench/peer/)."""
    if method == "POST":
        message = {"action": "create", "request_id": 1, "data": body}
    elif path.rstrip("/").rsplit("/", 1)[-1].isdigit():
        message = {
            "action": "retrieve",
            "request_id": 1,
            "pk": int(path.split("/")[-2]),
        }
    else:
        message = {"action": "list", "request_id": 1}
    return "/ws/dcrf", message, lambda reply: reply["response_status"] < 400


async def run_websocket(
    *, port, connections, seconds, method, path, body=None, protocol=project_frame
):
    """Closed-loop WebSocket load; return (requests per second, latencies)."""
    ws_path, message, succeeded = protocol(method, path, body)
    queues = [asyncio.Queue() for _ in range(connections)]
    sockets = [
        await open_websocket(
            "127.0.0.1",
            port,
            lambda payload, arrived, q=queue: q.put_nowait(payload),
            ws_path,
        )
        for queue in queues
    ]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def drive(socket, replies):
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            socket.send(message)
            reply = json.loads(await asyncio.wait_for(replies.get(), REPLY_TIMEOUT))
            assert succeeded(reply), reply
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(drive(s, q) for s, q in zip(sockets, queues, strict=True)))
    elapsed = time.perf_counter() - started
    for socket in sockets:
        socket.transport.close()
    return len(latencies) / elapsed, latencies
