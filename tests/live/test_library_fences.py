"""
Where `live/` leans on a library's private parts to do less per request, each
shortcut against the stock behaviour it replaces: an upgrade that changes what
the shortcut relies on fails here, not in production.
"""

import inspect

import pytest
from django.contrib.auth.models import User
from django.db.models import Q
from gunicorn.workers.base import Worker
from gunicorn.workers.gtornado import TornadoWorker
from rest_framework import serializers
from rest_framework.reverse import reverse
from tornado.http1connection import HTTP1Connection, HTTP1ServerConnection
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.websocket import WebSocketProtocol13

from live.fields import (
    CachedChoiceField,
    FieldsBuiltOnce,
    RelativeHyperlinkedRelatedField,
    object_path,
)
from live.views import readable_rows
from tests.notes.models import Note
from wsserver.sending import Frame
from wsserver.worker import WebWorker

pytestmark = pytest.mark.django_db

COLOURS = [("red", "Red"), ("green", "Green"), (3, "Three")]


def colours():
    return COLOURS


class BuiltEachTimeNoteSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")
    colour = CachedChoiceField(colours, default="red")

    class Meta:
        model = Note
        fields = ["id", "owner", "text", "shared", "colour"]


class NoteSerializer(FieldsBuiltOnce, BuiltEachTimeNoteSerializer):
    pass


class BuiltEachTimeUserSerializer(serializers.ModelSerializer):
    notes = RelativeHyperlinkedRelatedField(
        source="suite_notes", many=True, read_only=True, view_name="note-detail"
    )

    class Meta:
        model = User
        fields = ["id", "username", "notes"]


class UserSerializer(FieldsBuiltOnce, BuiltEachTimeUserSerializer):
    pass


def describe(serializer):
    return {name: repr(field) for name, field in serializer.fields.items()}


@pytest.mark.parametrize(
    "ours, each_time",
    [
        (NoteSerializer, BuiltEachTimeNoteSerializer),
        (UserSerializer, BuiltEachTimeUserSerializer),
    ],
)
def test_fields_built_once_are_the_fields_drf_builds(ours, each_time):
    """From the second serializer on, fields come from recipes (DRF's private
    `_args` and `_kwargs` of each field): they must be DRF's own, unbound."""
    ours()  # the first builds the recipes
    made, expected = ours(), each_time()
    assert describe(made) == describe(expected)
    for name, field in made.fields.items():
        assert type(field) is type(expected.fields[name])
        assert field.parent is made


def test_a_serializer_changing_its_fields_changes_no_other():
    """Fields are copies of one prototype: what a serializer does to its own
    fields (as in its `__init__`) stays with them."""
    NoteSerializer()
    first, second = NoteSerializer(), NoteSerializer()
    first.fields["text"].validators.append(lambda value: None)
    first.fields["text"].error_messages["blank"] = "Say something."
    first.fields["text"].required = False
    text = second.fields["text"]
    assert len(text.validators) == len(
        BuiltEachTimeNoteSerializer().fields["text"].validators
    )
    assert text.error_messages["blank"] == "This field may not be blank."
    assert text.required is True
    assert not NoteSerializer(data={"text": ""}).is_valid()


def test_a_recipe_field_reads_and_writes_as_drf_does():
    owner = User.objects.create_user("fence-owner")
    note = Note.objects.create(owner=owner, text="fenced")
    NoteSerializer()
    data = {"text": "new", "shared": True, "colour": "3"}
    ours, stock = NoteSerializer(data=data), BuiltEachTimeNoteSerializer(data=data)
    assert ours.is_valid() and stock.is_valid()
    assert (
        ours.validated_data
        == stock.validated_data
        == {
            "text": "new",
            "shared": True,
            "colour": 3,
        }
    )
    context = {"request": None}  # the links are site paths: no request needed
    ours = UserSerializer(owner, context=context).data
    assert ours == BuiltEachTimeUserSerializer(owner, context=context).data
    assert ours["notes"] == [f"/api/notes/{note.pk}/"]


def test_cached_choice_field_has_the_stock_tables():
    """`CachedChoiceField` sets what DRF's private `_set_choices` would."""
    ours = CachedChoiceField(colours)
    stock = serializers.ChoiceField(COLOURS)
    assert ours.choices == stock.choices
    assert ours.grouped_choices == stock.grouped_choices
    assert ours.choice_strings_to_values == stock.choice_strings_to_values
    assert [vars(option) for option in ours.iter_options()] == [
        vars(option) for option in stock.iter_options()
    ]
    for value in ["red", "3", 3, "blue"]:
        assert repr(_outcome(ours, value)) == repr(_outcome(stock, value))


def _outcome(field, value):
    try:
        return field.run_validation(value)
    except serializers.ValidationError as error:
        return error.detail


@pytest.mark.parametrize("pk", [1, 98765, 987654321987654321 + 1, "x"])
def test_object_path_is_reverse(pk):
    """The cached path with a marker key (`PK_MARK`) in it, filled in."""
    expected = reverse("note-detail", kwargs={"pk": pk})
    assert object_path("note-detail", pk) == expected


def test_readable_rows_is_the_filtered_queryset_and_stays_unevaluated():
    """Cached per (QuerySet, Q): a QuerySet hashes by identity and a Q by value."""
    queryset = Note.objects.select_related("owner")
    rule = Q(shared=True) | Q(owner_id=5)
    cached = readable_rows(queryset, rule)
    assert readable_rows(queryset, Q(shared=True) | Q(owner_id=5)) is cached
    assert str(cached.all().query) == str(queryset.filter(rule).query)
    list(cached.all())  # what a view does: a clone is evaluated, never the cache
    assert cached._result_cache is None
    assert readable_rows(queryset, Q()) is queryset


def test_the_worker_overrides_what_gunicorn_still_has():
    """`WebWorker.run` replaces the stock Tornado worker's loop; it uses the
    worker's `wsgi`, `sockets`, `alive` and `watchdog` as gunicorn sets them."""
    assert issubclass(WebWorker, TornadoWorker)
    assert callable(TornadoWorker.watchdog)
    assert "wsgi" in Worker.__dict__ or "load_wsgi" in Worker.__dict__
    worker_init = Worker.__init__.__code__.co_names
    assert {"alive", "sockets"} <= set(worker_init)


def test_the_shutdown_closes_connections_as_tornado_keeps_them():
    """`shutdown` closes every kept-alive HTTP connection at once through
    `HTTPServer._connections` and each one's `stream`, as Tornado's own
    `close_all_connections` reaches them."""
    assert "self._connections" in inspect.getsource(HTTPServer.close_all_connections)
    assert "self.stream = stream" in inspect.getsource(HTTP1ServerConnection.__init__)


class Captured:
    """A stream that keeps what Tornado's WebSocket protocol writes to it."""

    def __init__(self):
        self.written = b""

    def write(self, data):
        self.written += bytes(data)


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_an_event_frame_is_the_frame_tornado_writes(size):
    """`Frame.websocket`, written to each socket as it is, is the frame
    `write_message` makes for the same text (no compression: it is off)."""
    text = Frame("x" * size)
    protocol = WebSocketProtocol13.__new__(WebSocketProtocol13)
    protocol.stream = Captured()
    protocol.mask_outgoing = False
    protocol._wire_bytes_out = 0
    protocol._write_frame(True, 0x1, text.encode())
    assert text.websocket == protocol.stream.written


def test_a_socket_writes_straight_through_only_what_tornado_would_queue_next():
    """`write_through` sends to the socket only when `IOStream.writing()` says
    nothing is queued (which is `_write_buffer` being empty), and otherwise
    queues behind it through `write`, so that bytes keep their order."""
    assert "self._write_buffer" in inspect.getsource(IOStream.writing)
    assert "self.stream = handler._detach_stream()" in inspect.getsource(
        WebSocketProtocol13._accept_connection
    )


def test_tornado_chunks_a_body_exactly_when_the_request_is_http_1_1():
    """An event stream writes its records as chunks when, and only when, the
    request is HTTP/1.1 (`EventStreamHandler.chunked`): a GET answered 200
    with no Content-Length, as Tornado decides."""
    decision = inspect.getsource(HTTP1Connection.write_headers)
    assert 'self._request_start_line.version == "HTTP/1.1"' in decision
    assert '"Content-Length" not in headers' in decision
    assert '"%x" % len(chunk)' in inspect.getsource(HTTP1Connection._format_chunk)
