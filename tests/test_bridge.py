"""The bridge on its own, no sockets: frames in, WSGI requests, reply frames out."""

import json

import pytest
from django.core.wsgi import get_wsgi_application

from snippets.models import Snippet
from wsserver.bridge import (
    BadMessage,
    Bridge,
    Connection,
    Response,
    build_environ,
    make_reply,
    parse_message,
)

CONNECTION = Connection(remote_addr="192.0.2.7", host="testserver")


def frame(**fields):
    return json.dumps(fields)


def bad(text):
    with pytest.raises(BadMessage) as caught:
        parse_message(text)
    return caught.value


def test_seed_format_parses_with_defaults():
    """The seed's frames (no id, lowercase method, token) are understood."""
    message = parse_message(frame(method="post", url="/api/snippets/", token="abc"))
    assert (message.id, message.method, message.token) == (None, "POST", "abc")


def test_method_defaults_to_get():
    """Only `url` is required; the method defaults to GET."""
    assert parse_message(frame(url="/api/")).method == "GET"


@pytest.mark.parametrize(
    "text, detail",
    [
        ("{nope", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"just a string"', "must be a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (frame(id=1), "'url' is required"),
        (frame(id=1, url=7), "'url' is required"),
        (frame(id=1, url="api/snippets/"), "starting with '/'"),
        (frame(id=1, url="http://evil.example/api/"), "starting with '/'"),
        (frame(id=1, url="//evil.example/api/"), "without scheme or host"),
        (frame(id=1, url="/api/\r\nX-Injected: 1"), "control characters"),
        (frame(id=1, url="/api/\x00"), "control characters"),
        (frame(id=1, url="/api/ snippets/"), "spaces"),
        (frame(id=1, url="/api/", method="BREW"), "'method' must be one of"),
        (frame(id=1, url="/api/", method=5), "'method' must be one of"),
        (frame(id=1, url="/api/", token=5), "'token' must be a string"),
        (frame(id=1, url="/api/", headers=[]), "'headers' must be an object"),
        (frame(id=1, url="/api/", headers={"Host": "x"}), "set by the connection"),
        (frame(id=1, url="/api/", headers={"Cookie": "a=b"}), "set by the connection"),
        (frame(id=1, url="/api/", headers={"X-Forwarded-For": "1.2.3.4"}), "set by"),
        (frame(id=1, url="/api/", headers={"Bad Name": "x"}), "not valid"),
        (frame(id=1, url="/api/", headers={"X-A": "a\r\nb"}), "must be a string"),
        (frame(id=1, url="/api/", data=[1]), "becomes the query string"),
        (frame(id=1, url="/api/", data={"a": {"b": 1}}), "Query 'data' values"),
    ],
)
def test_bad_frames_are_400_with_a_detail(text, detail):
    """Every malformed frame is a 400 whose detail says what is wrong."""
    error = bad(text)
    assert error.status == 400
    assert detail in error.detail
    assert error.reply()["data"] == {"detail": error.detail}


def test_binary_frames_are_refused():
    """A binary frame is a 400 asking for JSON text."""
    assert "Binary frames" in bad(b'{"url": "/api/"}').detail


@pytest.mark.parametrize("bad_id", [True, [], {}, "x" * 129])
def test_id_must_be_a_short_string_or_a_number(bad_id):
    """An `id` that is not a string of at most 128 characters or a number is 400."""
    assert "'id' must be" in bad(frame(id=bad_id, url="/api/")).detail


@pytest.mark.parametrize("good_id", [7, 7.5, "x" * 128, None])
def test_valid_ids_are_kept(good_id):
    """Strings up to 128 characters and numbers are valid ids."""
    assert parse_message(frame(id=good_id, url="/api/")).id == good_id


def test_readable_id_is_echoed_in_errors():
    """An error reply echoes the id, method and url it could read."""
    reply = bad(frame(id="a", url="no-slash", method="get")).reply()
    assert (reply["id"], reply["method"], reply["url"]) == ("a", "GET", "no-slash")
    assert reply["status"] == 400


def test_token_and_authorization_header_together_are_400():
    """A frame names its credentials once."""
    text = frame(url="/api/", token="t", headers={"Authorization": "JWT u"})
    assert "either 'token' or an Authorization" in bad(text).detail


def test_get_data_becomes_the_query_string():
    """For GET, `data` is appended to the URL's own query string."""
    message = parse_message(
        frame(url="/api/snippets/?page=2", data={"a": [1, 2], "b": True, "c": None})
    )
    environ = build_environ(message, CONNECTION, method="GET")
    assert environ["QUERY_STRING"] == "page=2&a=1&a=2&b=true&c="
    assert environ["wsgi.input"].read() == b""


def test_post_data_becomes_a_json_body():
    """For POST, `data` is the JSON body with its Content-Type and length."""
    message = parse_message(frame(method="POST", url="/api/x/", data={"a": 1}))
    environ = build_environ(message, CONNECTION, method="POST")
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "7"
    assert json.loads(environ["wsgi.input"].read()) == {"a": 1}


def test_environ_carries_only_named_headers_token_and_connection():
    """A request has the frame's headers, the token, and the connection's identity."""
    message = parse_message(
        frame(url="/api/%7Euser/", token="tok", headers={"Accept-Language": "de"})
    )
    environ = build_environ(message, CONNECTION, method="GET")
    headers = {key for key in environ if key.startswith("HTTP_")}
    assert headers == {"HTTP_HOST", "HTTP_AUTHORIZATION", "HTTP_ACCEPT_LANGUAGE"}
    assert environ["HTTP_AUTHORIZATION"] == "JWT tok"
    assert environ["REMOTE_ADDR"] == "192.0.2.7"
    assert environ["PATH_INFO"] == "/api/~user/"
    assert "HTTP_ACCEPT" not in environ


def test_make_reply_parses_json_and_keeps_text():
    """JSON bodies become objects; other bodies stay strings; empty ones vanish."""
    message = parse_message(frame(id=1, url="/x/"))
    as_json = make_reply(
        message,
        Response(200, [("Content-Type", "application/json")], b'{"a": 1}'),
        method="GET",
    )
    as_text = make_reply(
        message, Response(200, [("Content-Type", "text/html")], b"<p>"), method="GET"
    )
    empty = make_reply(message, Response(204, [], b""), method="GET")
    assert as_json["data"] == {"a": 1}
    assert as_text["data"] == "<p>"
    assert "data" not in empty


# The bridge sends request_finished, which closes the connection, as over
# HTTP: these tests cannot run inside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_bridge_runs_the_full_django_stack():
    """A bridged request passes middleware, views and serializers like HTTP."""
    snippet = Snippet.objects.create(title="t", code="1")
    bridge = Bridge(get_wsgi_application())
    reply = bridge.handle(parse_message(frame(id=3, url="/api/snippets/")), CONNECTION)
    assert reply["status"] == 200
    assert reply["id"] == 3
    assert reply["data"]["results"][0]["id"] == snippet.pk
    assert reply["headers"]["X-Frame-Options"] == "DENY"  # set by middleware


@pytest.mark.django_db(transaction=True)
def test_bridge_head_has_headers_but_no_body():
    """HEAD replies carry the status and headers of GET, and no data."""
    bridge = Bridge(get_wsgi_application())
    reply = bridge.handle(parse_message(frame(method="HEAD", url="/api/")), CONNECTION)
    assert reply["status"] == 200
    assert "data" not in reply


@pytest.mark.django_db(transaction=True)
def test_bridge_answers_unknown_urls_404():
    """A URL Django does not know is a 404 reply, like over HTTP."""
    bridge = Bridge(get_wsgi_application())
    reply = bridge.handle(parse_message(frame(url="/nowhere/")), CONNECTION)
    assert reply["status"] == 404
