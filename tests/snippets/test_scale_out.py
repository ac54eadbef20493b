"""
Scale-out: two web processes and two clocks sharing one database and one Redis,
as a deploy runs them. Nothing correct depends on which process a client reaches.
"""

import sys
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from websockets.sync.client import connect

from live.testing import receive, subscribed
from snippets.models import Snippet
from tests.conftest import (
    launch,
    server_env,
    use_key_prefix,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

DOOMED = 20


def test_two_webs_and_two_clocks_share_every_change_and_erase_each_snippet_once(
    server_factory, tmp_path, settings
):
    """A client on each web process hears every change made on either, and the
    two clocks erase each expired snippet exactly once."""
    prefix = f"test:scale:{uuid.uuid4().hex}"
    # This process's own changes (the ORM, below) are announced to the servers.
    use_key_prefix(settings, prefix)
    webs = [server_factory(REDIS_KEY_PREFIX=prefix) for _ in range(2)]
    with connect(webs[0].ws_url) as first, connect(webs[1].ws_url) as second:
        clients = [first, second]
        for ws in clients:
            subscribed(ws, "/api/snippets/")

        # Changes made through either process reach both subscribers.
        created = [
            requests.post(
                f"{web.url}/api/snippets/", json={"title": f"on {n}", "code": "1"}
            ).json()
            for n, web in enumerate(webs)
        ]
        for ws in clients:
            heard = [receive(ws) for _ in created]
            assert [event["url"] for event in heard] == [c["url"] for c in created]

        # Expire everything, then start two clocks on one schedule.
        Snippet.objects.update(created=timezone.now() - timedelta(hours=1))
        doomed = {s["id"] for s in created}
        doomed |= {
            Snippet.objects.create(title=f"old {n}", code="1").pk for n in range(DOOMED)
        }
        for ws in clients:
            assert {receive(ws)["event"] for _ in range(DOOMED)} == {"created"}
        Snippet.objects.update(created=timezone.now() - timedelta(hours=1))
        env = server_env(
            DJANGO_SETTINGS_MODULE="config.settings",
            REDIS_KEY_PREFIX=prefix,
            ERASE_INTERVAL_SECONDS=1,
        )
        clocks = [
            launch(
                [sys.executable, "manage.py", "clock"],
                env=env,
                log_path=tmp_path / f"clock{n}.log",
                port=0,
            )
            for n in range(2)
        ]
        try:
            erased = [[receive(ws)["data"]["id"] for _ in doomed] for ws in clients]
            # Each clock runs at least twice more after the last erase...
            runs = [clock.log().count("Erase") for clock in clocks]
            wait_until(
                lambda: all(
                    clock.log().count("Erase") >= seen + 2
                    for clock, seen in zip(clocks, runs, strict=True)
                )
            )
        finally:
            for clock in clocks:
                clock.stop()
        # ...and the next thing each client hears is a new change, not a repeat.
        fresh = requests.post(
            f"{webs[0].url}/api/snippets/", json={"title": "fresh", "code": "1"}
        ).json()
        for ws in clients:
            assert receive(ws)["url"] == fresh["url"]
    for ids in erased:
        assert sorted(ids) == sorted(doomed)
    assert list(Snippet.objects.values_list("pk", flat=True)) == [fresh["id"]]
