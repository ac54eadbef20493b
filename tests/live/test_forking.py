"""
docs/forking.md, exercised: a second resource (`tests/notes`, the guide's
`notes` app, file for file) is live over both transports with the guide's few
lines: CRUD over WebSocket and HTTP alike, events with positions and resume,
over SSE too, and its own visibility rule applied to its events.
"""

import json
import os
import re

import pytest
import requests
from playwright.sync_api import expect
from websockets.sync.client import connect

from live.testing import new_user, next_event
from tests.conftest import (
    EVENT_TIMEOUT_SECONDS,
    PROJECT_DIR,
    EventStream,
    manage,
    server_sharing_history,
    server_token,
)

pytestmark = pytest.mark.django_db(transaction=True)

GUIDE = PROJECT_DIR / "docs" / "forking.md"
server, shared_prefix = server_sharing_history("forking")
NOTES = "/api/notes/"


def guide_files():
    """`{path: code}` of the guide's code blocks that name a file."""
    text = GUIDE.read_text()
    blocks = re.findall(r"```python\n# (\S+)\n(.*?)```", text, re.S)
    blocks += re.findall(r"```html\n<!-- (\S+) -->\n(.*?)```", text, re.S)
    return dict(blocks)


def guide_commands(heading):
    """The shell block under the guide's `heading`."""
    section = GUIDE.read_text().split(f"## {heading}", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_guide_shows_the_tested_app_file_for_file():
    shown = guide_files()
    assert set(shown) >= {
        "notes/models.py",
        "notes/views.py",
        "notes/apps.py",
        "notes/templates/notes/index.html",
    }
    for path, code in shown.items():
        tested = (PROJECT_DIR / "tests" / path).read_text()
        assert code == tested.replace("tests.notes", "notes"), path


def test_the_guide_s_migration_is_the_one_the_model_needs():
    """`python manage.py makemigrations notes`, as the guide runs it, has
    nothing left to write (for the suite's copy, labelled `suite_notes`)."""
    check = manage(
        "makemigrations",
        "suite_notes",
        "--check",
        "--dry-run",
        # The suite's Redis: a local run without one would start one of its own.
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture
def tokens():
    users = [new_user("n") for _ in range(2)]
    return [server_token(user) for user in users]


def ask(ws, frame):
    ws.send(json.dumps({"id": "q", **frame}))
    while (reply := json.loads(ws.recv(timeout=EVENT_TIMEOUT_SECONDS))).get(
        "id"
    ) != "q":
        pass
    return reply


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
        for method in ("PATCH", "DELETE"):  # a shared note is its owner's to change
            frame = {"method": method, "url": url, "data": {}, "token": tokens[1]}
            assert ask(ws, frame)["status"] == 403
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


def test_the_guide_s_filters_are_live_filtered_lists(server, tokens):
    """The guide's view names its filters and nothing more: a subscription to
    another user's shared notes about milk hears one enter and leave."""
    owner, other = tokens
    headers = {"Authorization": f"JWT {owner}"}
    url = f"{NOTES}?shared=true&search=milk"
    with connect(server.ws_url) as ws:
        reply = ask(ws, {"method": "SUBSCRIBE", "url": url, "token": other})
        assert reply["data"]["results"] == []
        note = requests.post(
            server.url + NOTES, json={"text": "buy milk"}, headers=headers
        ).json()  # not shared: not in the list
        for shared, name in [(True, "created"), (False, "deleted")]:
            requests.patch(
                f"{server.url}{NOTES}{note['id']}/",
                json={"shared": shared},
                headers=headers,
            ).raise_for_status()
            event = next_event(ws)
            assert (event["event"], event["subscription"]) == (name, url)
            assert event["data"]["id"] == note["id"]
        bad = ask(ws, {"method": "SUBSCRIBE", "url": f"{NOTES}?owner=x"})
        assert (bad["status"], list(bad["data"])) == (400, ["owner"])


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


@pytest.mark.browser
def test_the_guide_s_live_page_shows_notes_as_they_come_and_go(
    server, open_page, author
):
    """docs/forking.md's page, in Chromium: the snapshot, then a note shared
    elsewhere appears, goes when it is no longer shared, comes back, and goes
    when deleted, with no reload."""
    user, token = author
    headers = {"Authorization": f"JWT {token}"}
    before = requests.post(
        f"{server.url}{NOTES}", json={"text": "before", "shared": True}, headers=headers
    ).json()
    page = open_page(server, path="/notes/")
    notes = page.locator("#notes li")
    expect(notes.filter(has_text="before")).to_have_count(1)
    made = requests.post(
        f"{server.url}{NOTES}",
        json={"text": "live one", "shared": True},
        headers=headers,
    ).json()
    live_one = notes.filter(has_text=f"{user.username}: live one")
    expect(live_one).to_have_count(1)
    url = f"{server.url}{NOTES}{made['id']}/"
    requests.patch(url, json={"shared": False}, headers=headers).raise_for_status()
    expect(live_one).to_have_count(0)
    requests.patch(url, json={"shared": True}, headers=headers).raise_for_status()
    expect(live_one).to_have_count(1)
    requests.delete(url, headers=headers)
    requests.delete(f"{server.url}{NOTES}{before['id']}/", headers=headers)
    expect(notes).to_have_count(0)
