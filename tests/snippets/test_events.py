"""
The demo's own events: the erase job's deletions are heard, and a flood of big
snippets (no note is that big) cuts off a subscriber that stops reading. Events
across processes and Redis faults are the live layer's: tests/live/test_events.py.
"""

import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from live.testing import TIMEOUT, receive, subscribed
from snippets.models import Snippet
from tests.conftest import SharedHistory, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/snippets/"

history = SharedHistory("erase")
server = history.server()
shared_prefix = history.recorded_here()


def test_erase_command_deletions_are_heard(server):
    """The erase job's deletions reach subscribers as `deleted` events."""
    with connect(server.ws_url) as ws:
        # Subscribed first: a change made just before a SUBSCRIBE may still be
        # heard after it (its position is at or before the snapshot's), and a
        # busy server's reader can be that far behind.
        subscribed(ws, LIST)
        old = Snippet.objects.create(title="old", code="1")
        Snippet.objects.filter(pk=old.pk).update(
            created=timezone.now() - timedelta(hours=1)
        )
        Snippet.objects.create(title="fresh", code="1")
        assert [receive(ws)["event"] for _ in range(2)] == ["created", "created"]
        call_command("erase_snippets", "--older-than", "60")
        event = receive(ws)
        assert list(Snippet.objects.values_list("title", flat=True)) == ["fresh"]
        # Nothing else was sent: the next change made is the next one heard.
        marker = Snippet.objects.create(title="marker", code="1")
        assert receive(ws)["url"] == f"{LIST}{marker.pk}/"
    assert isinstance(event.pop("position"), str)
    assert event == {
        "event": "deleted",
        "url": f"{LIST}{old.pk}/",
        "data": {"id": old.pk, "url": f"{LIST}{old.pk}/"},
    }


def test_slow_subscriber_is_disconnected_not_buffered(server_factory):
    """A subscriber that stops reading is cut off once its backlog passes the bound."""
    server = server_factory(
        REDIS_KEY_PREFIX=history.prefix, WS_MAX_BUFFERED_BYTES=64 * 1024
    )
    sock = socket.socket()
    # A tiny receive window, so the backlog piles up in the server, not the kernel.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    with connect(server.ws_url, sock=sock, max_size=None, max_queue=1) as ws:
        subscribed(ws, LIST)
        # More than the kernel's socket buffers hold (about 11 MB of events).
        big_code = "x" * 90_000
        for _ in range(120):
            Snippet.objects.create(title="flood", code=big_code, language="text")
        # Read nothing until the server has given up on this client: reading
        # meanwhile could keep its backlog under the bound.
        wait_until(lambda: "client is not reading" in server.log())
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=TIMEOUT)
    assert ws.close_code == 1008
