"""Who shares a render, on a real server: a view that names no cohort renders
each change once per identity, so a field that depends on who asks is never
shown to anyone else (`tests/mine`)."""

import pytest
import requests
from websockets.sync.client import connect

from live.testing import TIMEOUT, new_user, receive, subscribed
from tests.conftest import server_token

pytestmark = pytest.mark.django_db(transaction=True)

MY_NOTES = "/api/my-notes/"


def test_a_field_that_depends_on_who_asks_is_never_shared(web_server):
    """Two users hear the same new note, each with their own `mine`."""
    owner, other = new_user("owner"), new_user("other")
    with (
        connect(web_server.ws_url) as owner_socket,
        connect(web_server.ws_url) as other_socket,
    ):
        subscribed(owner_socket, MY_NOTES, token=server_token(owner))
        subscribed(other_socket, MY_NOTES, token=server_token(other))
        made = requests.post(
            web_server.url + MY_NOTES,
            json={"shared": True, "text": "n"},
            headers={"Authorization": f"JWT {server_token(owner)}"},
            timeout=TIMEOUT,
        )
        assert made.status_code == 201, made.text
        assert receive(owner_socket)["data"]["mine"] is True
        assert receive(other_socket)["data"]["mine"] is False
