"""The bridge on its own, no sockets: messages in, WSGI requests, replies out."""

import json

import pytest
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application

from tests.notes.models import Note
from wsserver.bridge import Bridge, Peer, Response, build_environ, response_reply
from wsserver.protocol import parse_message

PEER = Peer(remote_addr="192.0.2.7", host="testserver")


def frame(**fields):
    return json.dumps(fields)


def test_get_data_becomes_the_query_string():
    """For GET, `data` is appended to the URL's own query string."""
    message = parse_message(
        frame(url="/api/notes/?page=2", data={"a": [1, 2], "b": True, "c": None})
    )
    environ = build_environ(message, PEER)
    assert environ["QUERY_STRING"] == "page=2&a=1&a=2&b=true&c="
    assert environ["wsgi.input"].read() == b""


def test_post_data_becomes_a_json_body():
    """For POST, `data` is the JSON body with its Content-Type and length."""
    message = parse_message(frame(method="POST", url="/api/x/", data={"a": 1}))
    environ = build_environ(message, PEER)
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "7"
    assert json.loads(environ["wsgi.input"].read()) == {"a": 1}


def test_environ_carries_only_named_headers_token_and_connection():
    """A request has the frame's headers, the token, and the connection's identity."""
    message = parse_message(
        frame(url="/api/%7Euser/", token="tok", headers={"Accept-Language": "de"})
    )
    environ = build_environ(message, PEER)
    headers = {key for key in environ if key.startswith("HTTP_")}
    assert headers == {"HTTP_HOST", "HTTP_AUTHORIZATION", "HTTP_ACCEPT_LANGUAGE"}
    assert environ["HTTP_AUTHORIZATION"] == "JWT tok"
    assert environ["REMOTE_ADDR"] == "192.0.2.7"
    assert environ["PATH_INFO"] == "/api/~user/"
    assert "HTTP_ACCEPT" not in environ


def test_response_reply_parses_json_and_keeps_text():
    """JSON bodies become objects; other bodies stay strings; empty ones vanish."""
    message = parse_message(frame(id=1, url="/x/"))
    as_json = response_reply(
        message,
        Response(200, [("Content-Type", "application/json")], b'{"a": 1}'),
    )
    as_text = response_reply(
        message, Response(200, [("Content-Type", "text/html")], b"<p>")
    )
    empty = response_reply(message, Response(204, [], b""))
    assert as_json["data"] == {"a": 1}
    assert as_text["data"] == "<p>"
    assert "data" not in empty


# The bridge sends request_finished, which closes the connection, as over
# HTTP: these tests cannot run inside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_bridge_runs_the_full_django_stack():
    """A bridged request passes middleware, views and serializers like HTTP."""
    owner = User.objects.create_user("owner")
    note = Note.objects.create(owner=owner, text="t", shared=True)
    bridge = Bridge(get_wsgi_application())
    reply = bridge.handle(parse_message(frame(id=3, url="/api/notes/")), PEER)
    assert reply["status"] == 200
    assert reply["id"] == 3
    assert reply["data"]["results"][0]["id"] == note.pk
    assert reply["headers"]["X-Content-Type-Options"] == "nosniff"  # middleware's


@pytest.mark.django_db(transaction=True)
def test_bridge_head_has_headers_but_no_body():
    """HEAD replies carry the status and headers of GET, and no data."""
    bridge = Bridge(get_wsgi_application())
    reply = bridge.handle(parse_message(frame(method="HEAD", url="/api/notes/")), PEER)
    assert reply["status"] == 200
    assert "data" not in reply


@pytest.mark.django_db(transaction=True)
def test_bridge_answers_unknown_urls_404():
    """A URL Django does not know is a 404 reply, like over HTTP."""
    bridge = Bridge(get_wsgi_application())
    reply = bridge.handle(parse_message(frame(url="/nowhere/")), PEER)
    assert reply["status"] == 404
