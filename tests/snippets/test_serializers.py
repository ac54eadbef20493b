"""What the serializers work out once per process gives what DRF gives each time."""

import pytest
from django.contrib.auth.models import User
from django.urls import set_script_prefix
from rest_framework.relations import ManyRelatedField
from rest_framework.reverse import reverse

from live.fields import object_path
from snippets.models import Snippet
from snippets.serializers import SnippetSerializer, UserSerializer

pytestmark = pytest.mark.django_db


def describe(fields):
    return {name: (type(field), repr(field)) for name, field in fields.items()}


@pytest.mark.parametrize("serializer_class", [SnippetSerializer, UserSerializer])
def test_each_serializer_gets_the_same_fields_as_instances_of_its_own(
    serializer_class,
):
    first, second = serializer_class(), serializer_class()
    assert describe(first.fields) == describe(second.fields)
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert second.fields[name].parent is second


def test_a_many_field_gets_a_child_of_its_own():
    """The child of a `many=True` field is bound to its own parent field."""
    first, second = (
        UserSerializer().fields["snippets"],
        UserSerializer().fields["snippets"],
    )
    assert isinstance(second, ManyRelatedField)
    assert first.child_relation is not second.child_relation
    assert second.child_relation.parent is second


def test_a_serializer_made_later_renders_like_the_first():
    owner = User.objects.create_user("fields-once", password="x")
    snippet = Snippet.objects.create(title="t", code="x = 1", owner=owner)
    context = {"request": None}  # the links are site paths: no request needed
    first = SnippetSerializer(snippet, context=context).data
    assert SnippetSerializer(snippet, context=context).data == first
    assert first["owner"] == "fields-once"
    assert first["highlight"] == f"/api/snippets/{snippet.pk}/highlight/"


@pytest.mark.parametrize(
    "view_name, pk, format",
    [
        ("snippet-detail", 7, None),
        ("snippet-highlight", 1234567, "html"),
        ("user-detail", 3, None),
        ("snippet-detail", "not-an-int", None),
    ],
)
def test_object_path_is_what_reverse_gives(view_name, pk, format):
    expected = reverse(view_name, kwargs={"pk": pk}, format=format)
    assert object_path(view_name, pk, format) == expected


def test_object_path_follows_the_script_prefix():
    """Served under a path prefix (`SCRIPT_NAME`), links carry it."""
    assert object_path("snippet-detail", 5) == "/api/snippets/5/"
    set_script_prefix("/mounted/")
    try:
        assert object_path("snippet-detail", 5) == "/mounted/api/snippets/5/"
    finally:
        set_script_prefix("/")
