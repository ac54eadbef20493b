"""Protocol v1 on its own: which frames are requests, and the reply envelope."""

import json

import pytest

from wsserver.protocol import BadMessage, encode, parse_message, reply


def frame(**fields):
    return json.dumps(fields)


def bad(text):
    with pytest.raises(BadMessage) as caught:
        parse_message(text)
    return caught.value


def test_seed_format_parses_with_defaults():
    """The seed's frames (no id, lowercase method, token) are understood."""
    message = parse_message(frame(method="post", url="/api/notes/", token="abc"))
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
        (frame(id=1, url="api/notes/"), "starting with '/'"),
        (frame(id=1, url="http://evil.example/api/"), "starting with '/'"),
        (frame(id=1, url="//evil.example/api/"), "no scheme or host"),
        (frame(id=1, url="/api/\r\nX-Injected: 1"), "control characters"),
        (frame(id=1, url="/api/\x00"), "control characters"),
        (frame(id=1, url="/api/ notes/"), "spaces"),
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
        # Forwarding headers in any spelling WSGI reads as the same name.
        (frame(id=1, url="/api/", headers={"X_Forwarded_For": "10.9.0.1"}), "set by"),
        (frame(id=1, url="/api/", headers={"x_forwarded_proto": "https"}), "set by"),
        (frame(id=1, url="/api/", headers={"Content_Type": "text/plain"}), "set by"),
        # Header values are Latin-1 bytes on HTTP; anything else cannot be sent.
        (frame(id=1, url="/api/", token="€"), "'token' must be"),
        (frame(id=1, url="/api/", headers={"Authorization": "Bearer €"}), "Latin-1"),
        (frame(id=1, url="/api/notes/?page=€"), "must be ASCII"),
        ('{"id": 1, "url": "/api/\\ud800"}', "control characters"),
        # Nothing that would forge a log line: C1 controls, line separators.
        (frame(id=1, url="/api/\x85x"), "control characters"),
        (frame(id=1, url="/api/\u2028x"), "control characters"),
        (frame(id=1, url="/api/", headers={"X-A": "a\u2029b"}), "printable"),
        # JSON as RFC 8259 has it: Python's json module accepts more.
        ('{"id": NaN, "url": "/api/"}', "not valid JSON"),
        ('{"url": "/api/", "data": {"a": Infinity}}', "not valid JSON"),
        ('{"url": "/api/", "data": {"a": -Infinity}}', "not valid JSON"),
        ('{"url": "/api/", "id": 1e999}', "out of range"),
        ('{"url": "/api/", "url": "/admin/"}', "duplicate keys"),
        ('{"url": "/api/", "data": {"a": 1, "a": 2}}', "duplicate keys"),
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


def test_every_reply_is_strict_json():
    """No reply carries NaN or Infinity, which `JSON.parse` throws on."""
    with pytest.raises(ValueError):
        encode(reply(status=200, data={"x": float("nan")}))
    assert encode(reply(status=200, id=1.5)) == (
        '{"id":1.5,"status":200,"headers":{"Content-Type":"application/json"}}'
    )
