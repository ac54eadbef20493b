"""
docs/forking.md, exercised: a second resource (`tests/notes`, the guide's
`notes` app, file for file) is live over both transports with the guide's few
lines: CRUD over WebSocket and HTTP alike, events with positions and resume,
over SSE too, and its own visibility rule applied to its events.
"""

import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import requests
from django.contrib.auth.models import User
from websockets.sync.client import connect

from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    PROJECT_DIR,
    server_token,
    use_key_prefix,
)
from tests.test_event_stream import EventStream

pytestmark = pytest.mark.django_db(transaction=True)

GUIDE = PROJECT_DIR / "docs" / "forking.md"
PREFIX = f"test:forking:{uuid.uuid4().hex}"
NOTES = "/api/notes/"


def guide_files():
    """`{path: code}` of the guide's code blocks that name a file."""
    blocks = re.findall(r"```python\n# (\S+)\n(.*?)```", GUIDE.read_text(), re.S)
    return dict(blocks)


def test_the_guide_shows_the_tested_app_file_for_file():
    shown = guide_files()
    assert set(shown) >= {"notes/models.py", "notes/views.py", "notes/apps.py"}
    for path, code in shown.items():
        tested = (PROJECT_DIR / "tests" / path).read_text()
        assert code == tested.replace("tests.notes", "notes"), path


def test_the_guide_s_migration_is_the_one_the_model_needs():
    """`python manage.py makemigrations notes`, as the guide runs it, has
    nothing left to write."""
    check = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemigrations",
            "notes",
            "--check",
            "--dry-run",
        ],
        cwd=PROJECT_DIR,
        # The suite's Redis: a local run without one would start one of its own.
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture(scope="module")
def server(server_factory):
    return server_factory(REDIS_KEY_PREFIX=PREFIX)


@pytest.fixture(autouse=True)
def shared_prefix(settings):
    use_key_prefix(settings, PREFIX)


@pytest.fixture
def tokens():
    users = [User.objects.create_user(f"n{uuid.uuid4().hex[:8]}") for _ in range(2)]
    return [server_token(user) for user in users]


def ask(ws, frame):
    ws.send(json.dumps({"id": "q", **frame}))
    while (reply := json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))).get(
        "id"
    ) != "q":
        pass
    return reply


def next_event(ws):
    while "event" not in (frame := json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))):
        pass
    return frame


def test_crud_over_both_transports(server, tokens):
    owner = tokens[0]
    headers = {"Authorization": f"JWT {owner}"}
    over_http = requests.post(
        server.url + NOTES, json={"text": "by HTTP"}, headers=headers
    )
    assert over_http.status_code == 201
    with connect(server.ws_url) as ws:
        created = ask(
            ws,
            {"method": "POST", "url": NOTES, "data": {"text": "by WS"}, "token": owner},
        )
        assert created["status"] == 201
        url = f"{NOTES}{created['data']['id']}/"
        patched = ask(
            ws,
            {"method": "PATCH", "url": url, "data": {"shared": True}, "token": owner},
        )
        assert patched["data"]["shared"] is True
        assert ask(ws, {"method": "GET", "url": url})["data"] == patched["data"]
        assert (
            ask(ws, {"method": "DELETE", "url": url, "token": owner})["status"] == 204
        )
        assert (
            ask(ws, {"method": "POST", "url": NOTES, "data": {"text": "x"}})["status"]
            == 401
        )
    assert requests.get(server.url + url).status_code == 404


def test_events_with_positions_resume_and_the_note_s_own_visibility(server, tokens):
    owner, other = tokens
    with connect(server.ws_url) as mine, connect(server.ws_url) as theirs:
        position = ask(mine, {"method": "SUBSCRIBE", "url": NOTES, "token": owner})[
            "position"
        ]
        ask(theirs, {"method": "SUBSCRIBE", "url": NOTES, "token": other})
        headers = {"Authorization": f"JWT {owner}"}
        private = requests.post(
            server.url + NOTES, json={"text": "mine"}, headers=headers
        ).json()
        heard = next_event(mine)
        assert (heard["event"], heard["data"]["text"]) == ("created", "mine")
        shared = requests.post(
            server.url + NOTES, json={"text": "ours", "shared": True}, headers=headers
        ).json()
        first = next_event(theirs)  # the private one was never heard here
        assert (first["event"], first["data"]["id"]) == ("created", shared["id"])
    with connect(server.ws_url) as back:
        reply = ask(
            back,
            {"method": "SUBSCRIBE", "url": NOTES, "token": owner, "since": position},
        )
        assert reply["recovered"] is True
        missed = [next_event(back), next_event(back)]
    assert [event["data"]["id"] for event in missed] == [private["id"], shared["id"]]
    assert missed[0]["position"] < missed[1]["position"]


def test_events_over_server_sent_events(server, tokens):
    owner = tokens[0]
    stream = EventStream(server, NOTES, Authorization=f"JWT {owner}")
    try:
        assert stream.next_event()["event"] == "snapshot"
        headers = {"Authorization": f"JWT {owner}"}
        note = requests.post(
            server.url + NOTES, json={"text": "streamed"}, headers=headers
        ).json()
        event = stream.next_event()
        assert (event["event"], event["data"]["data"]["id"]) == ("created", note["id"])
    finally:
        stream.close()
