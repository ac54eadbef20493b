import copy
from functools import cache, lru_cache, partial

from django.db import models
from django.urls import get_script_prefix, get_urlconf
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import flatten_choices_dict, to_choices_dict
from rest_framework.reverse import reverse


@cache
def choice_maps(choices_function):
    """`ChoiceField`'s lookup tables for `choices_function()`, built once."""
    grouped = to_choices_dict(choices_function())
    flat = flatten_choices_dict(grouped)
    return grouped, flat, {str(key): key for key in flat}


class CachedChoiceField(serializers.ChoiceField):
    """
    A `ChoiceField` taking a function of its choices, whose tables it builds once
    per process.

    DRF rebuilds a field's choice tables every time a serializer is created: for
    the ~600 Pygments lexers that is costly (docs/benchmarks.md).
    """

    def _set_choices(self, choices_function):
        self.grouped_choices, self._choices, self.choice_strings_to_values = (
            choice_maps(choices_function)
        )

    choices = property(serializers.ChoiceField._get_choices, _set_choices)


class FieldsBuiltOnce:
    """
    A `ModelSerializer` mixin that works out its fields from the model once per
    class instead of once per serializer.

    `ModelSerializer.get_fields()` inspects the model and maps each of its fields
    to a serializer field for every serializer made (docs/benchmarks.md). The
    answer cannot change while the process runs, so the first one is kept as
    unbound prototypes, and every serializer still gets field instances of its
    own (fields are bound to their serializer): copies of the prototypes,
    which skip running each field's `__init__` again. A field holding other
    fields (`many=True`) is deep-copied instead, as DRF copies declared fields.
    Fenced by tests/live/test_library_fences.py.
    """

    _recipes: dict[type, dict] = {}

    def get_fields(self):
        recipes = FieldsBuiltOnce._recipes.get(type(self))
        if recipes is None:
            fields = super().get_fields()
            FieldsBuiltOnce._recipes[type(self)] = {
                name: self._recipe(field) for name, field in fields.items()
            }
            return fields
        return {name: make() for name, make in recipes.items()}

    @staticmethod
    def _recipe(field):
        holds_fields = any(
            isinstance(value, serializers.Field)
            for value in (*field._args, *field._kwargs.values())
        )
        if holds_fields:  # a `many=True` field: its child must be copied too
            template = copy.deepcopy(field)
            return partial(copy.deepcopy, template)
        return partial(copy_field, type(field)(*field._args, **field._kwargs))


def copy_field(prototype):
    """A new unbound field like `prototype`: its attributes copied, and the two
    containers a serializer may change for one instance (its validators and
    error messages) copied too, so no change reaches the others."""
    field = object.__new__(type(prototype))
    field.__dict__.update(prototype.__dict__)
    field.error_messages = dict(prototype.error_messages)
    if "_validators" in prototype.__dict__:
        field._validators = list(prototype._validators)
    return field


class JSONTyped:
    """
    A field that takes, from a JSON body, only a value of the JSON type the
    OpenAPI document gives it: not `0` for a string nor `"false"` for a boolean,
    which DRF would quietly convert. An HTML form of the browsable API, whose
    values are all strings, is read as DRF reads it.
    """

    json_types: tuple[type, ...]

    def to_internal_value(self, data):
        request = self.context.get("request")
        from_json = request is not None and request.content_type == "application/json"
        # (`True` is an `int` to Python, never a number to JSON.)
        wrong = not isinstance(data, self.json_types) or (
            isinstance(data, bool) and bool not in self.json_types
        )
        if from_json and wrong:
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class JSONBooleanField(JSONTyped, serializers.BooleanField):
    json_types = (bool,)


class JSONCharField(JSONTyped, serializers.CharField):
    json_types = (str,)
    default_error_messages = {"invalid": "Not a valid string."}


class JSONTypedFields:
    """A model serializer whose strings and booleans are `JSONTyped`."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: JSONBooleanField,
        models.CharField: JSONCharField,
        models.TextField: JSONCharField,
    }


# What the links are: paths on this site, not absolute URIs.
SITE_PATH = {"type": "string", "format": "uri-reference"}

# A primary key no row will have: it marks where the key goes in a reversed path.
PK_MARK = 987654321987654321


@lru_cache(maxsize=256)
def _path_with_mark(view_name, format, urlconf, script_prefix):
    return reverse(view_name, kwargs={"pk": PK_MARK}, format=format)


def object_path(view_name, pk, format=None):
    """`reverse()` for the path of object `pk`, matched against the URL patterns
    once per view and format instead of for each link (docs/benchmarks.md).
    Keyed on the URLconf and script prefix, which reverse() reads. Fenced by
    tests/live/test_library_fences.py."""
    if not isinstance(pk, int):
        return reverse(view_name, kwargs={"pk": pk}, format=format)
    marked = _path_with_mark(view_name, format, get_urlconf(), get_script_prefix())
    return marked.replace(str(PK_MARK), str(pk))


@extend_schema_field(SITE_PATH)
class RelativeHyperlinkedIdentityField(serializers.HyperlinkedIdentityField):
    """
    A hyperlink to the object, as a path without scheme or host.

    A resource then looks the same whichever host, transport or change event shows
    it, so an event can be rendered once and sent to every subscriber.
    """

    def get_url(self, obj, view_name, request, format):
        return object_path(view_name, obj.pk, format)


@extend_schema_field(SITE_PATH)
class RelativeHyperlinkedRelatedField(serializers.HyperlinkedRelatedField):
    """A hyperlink to a related object, as a path without scheme or host."""

    def get_url(self, obj, view_name, request, format):
        return object_path(view_name, obj.pk, format)
