"""
Helpers for testing a live resource over the WebSocket protocol, as a fork's own
tests would (as Channels ships `WebsocketCommunicator`): each takes a socket
opened with `websockets.sync.client.connect(server_url + "/ws/api")` (a test
dependency, not the app's) and waits at most `TIMEOUT` seconds for what must
come, which is long enough for a loaded machine; what never comes still fails.
"""

import json
import uuid

TIMEOUT = 30


def new_user(name: str = "user", **fields):
    """A new user named `name` and a unique suffix, so that tests sharing a
    database and servers never meet each other's users; `fields` as
    `create_user` takes them (`password`, `is_staff`...)."""
    from django.contrib.auth import get_user_model

    username = f"{name}{uuid.uuid4().hex[:8]}"
    return get_user_model().objects.create_user(username, **fields)


def receive(ws, *, timeout: float = TIMEOUT) -> dict:
    """The next frame, a reply or an event, parsed."""
    return json.loads(ws.recv(timeout=timeout))


def reply_to(ws, frame: dict) -> dict:
    """Send `frame` (with an `id`) and return its reply; events that come
    first (of earlier subscriptions) are passed over."""
    ws.send(json.dumps(frame))
    while "event" in (reply := receive(ws)) or reply.get("id") != frame["id"]:
        pass
    return reply


def request(ws, url: str, *, method: str = "GET", **fields) -> dict:
    """A request over the socket (`data`, `token`, `headers` as the protocol
    has them); its reply."""
    return reply_to(ws, {"id": "request", "method": method, "url": url, **fields})


def subscribe(ws, url: str, **fields) -> dict:
    """SUBSCRIBE to `url` (with `token`, `since`...); the reply: its snapshot
    and position, or its refusal."""
    return reply_to(
        ws, {"id": "subscribe", "method": "SUBSCRIBE", "url": url, **fields}
    )


def subscribed(ws, url: str, **fields) -> dict:
    """SUBSCRIBE to `url`, which must succeed; the reply (snapshot, position)."""
    reply = subscribe(ws, url, **fields)
    assert reply["status"] == 200, reply
    return reply


def next_event(ws, *, timeout: float = TIMEOUT) -> dict:
    """The next event (`created`, `updated`, `deleted`, `resync`,
    `unsubscribed`); replies are passed over."""
    while "event" not in (frame := receive(ws, timeout=timeout)):
        pass
    return frame
