"""`GET /ws/events`: a subscription as Server-Sent Events, for clients without
WebSockets; the same authorisation, events and positions as a socket's."""

import json
import socket

import pytest
import requests

from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    EventStream,
    server_sharing_history,
    share,
)

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/notes/"

server, shared_prefix = server_sharing_history("stream")


def test_stream_starts_with_the_snapshot_then_sends_changes_with_ids(server, author):
    """First `snapshot` (the GET's body, id = its position), then each change,
    its id the position the socket protocol gives it too."""
    share(author, "before")
    expected = requests.get(server.url + LIST).json()
    stream = EventStream(server, LIST)
    try:
        assert stream.response.headers["Content-Type"] == "text/event-stream"
        snapshot = stream.next_event()
        created = share(author, "after")
        event = stream.next_event()
    finally:
        stream.close()
    assert snapshot["event"] == "snapshot"
    assert snapshot["data"] == expected
    assert event["event"] == "created"
    assert event["data"]["url"] == f"{LIST}{created.pk}/"
    assert event["id"] == event["data"]["position"] > snapshot["id"]


def test_last_event_id_resumes_without_a_snapshot(server, author):
    """Reconnecting with `Last-Event-ID` sends what was missed, and no snapshot."""
    stream = EventStream(server, LIST)
    last_id = stream.next_event()["id"]
    stream.close()
    first = share(author, "missed 1")
    second = share(author, "missed 2")
    stream = EventStream(server, LIST, **{"Last-Event-ID": last_id})
    try:
        events = [stream.next_event() for _ in range(2)]
    finally:
        stream.close()
    assert [e["event"] for e in events] == ["created", "created"]
    assert [e["data"]["data"]["id"] for e in events] == [first.pk, second.pk]


def test_a_failed_get_is_answered_with_its_status(server):
    """The stream is authorised as a GET: a GET that fails, fails the stream."""
    response = requests.get(f"{server.url}/ws/events", params={"url": f"{LIST}999999/"})
    assert response.status_code == 404
    assert response.json() == {"detail": "No Note matches the given query."}


def test_credentials_in_the_query_string_are_refused(server):
    """Tokens never travel in a URL (logs, history, referrers keep URLs)."""
    response = requests.get(
        f"{server.url}/ws/events", params={"url": LIST, "token": "x"}
    )
    assert response.status_code == 400
    assert "Authorization header" in response.json()["detail"]


def test_stream_is_told_to_resync_when_a_change_could_not_be_recorded(
    server, next_record_fails, author
):
    """A change lost at commit (Redis failed) is followed by `resync` on the
    stream too, then the next change."""
    stream = EventStream(server, LIST)
    try:
        stream.next_event()  # the snapshot
        share(author, "lost")
        recorded = share(author, "recorded")
        resync, event = stream.next_event(), stream.next_event()
    finally:
        stream.close()
    assert (resync["event"], resync["data"]) == (
        "resync",
        {"event": "resync", "url": LIST},
    )
    assert event["data"]["url"] == f"{LIST}{recorded.pk}/"


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/1.1"])
def test_records_are_written_as_the_request_version_frames_a_body(
    server, version, author
):
    """Events go to every stream as bytes made once: as chunks for HTTP/1.1,
    as they are for HTTP/1.0 (which ends the body by closing)."""
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.settimeout(EVENT_TIMEOUT_SECONDS)
        client.sendall(
            f"GET /ws/events?url={LIST} {version}\r\nHost: 127.0.0.1\r\n\r\n".encode()
        )
        received = Received(client)
        received.until(lambda records: records)  # the snapshot
        share(author, "framed once")
        snapshot, created = received.until(lambda records: len(records) > 1)[:2]
    assert received.chunked == (version == "HTTP/1.1")
    assert snapshot.startswith("event: snapshot\nid: ")
    assert created.startswith("event: created\nid: ")
    assert json.loads(created.split("data: ", 1)[1])["data"]["text"] == "framed once"


class Received:
    """What an event stream's socket has sent: its head, and its whole records
    (comments left out), its body dechunked if it was sent chunked."""

    def __init__(self, client):
        self.client = client
        self.bytes = b""

    def until(self, condition):
        while not condition(self.records()):
            self.bytes += self.client.recv(65536)
        return self.records()

    @property
    def chunked(self):
        head = self.bytes.partition(b"\r\n\r\n")[0]
        return b"Transfer-Encoding: chunked" in head

    def records(self):
        body = self.bytes.partition(b"\r\n\r\n")[2]
        if self.chunked:
            body = dechunk(body)
        records = body.decode().split("\n\n")[:-1]  # the last is not whole yet
        return [record for record in records if not record.startswith(":")]


def dechunk(body):
    """The data of a chunked body's whole chunks."""
    data = b""
    while b"\r\n" in body:
        size, _, rest = body.partition(b"\r\n")
        size = int(size, 16)
        if len(rest) < size + 2:
            break
        data, body = data + rest[:size], rest[size + 2 :]
    return data
