from functools import lru_cache

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import get_script_prefix, get_urlconf
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from snippets.fields import (
    CachedChoiceField,
    FieldsBuiltOnce,
    JSONCharField,
    JSONTypedFields,
)
from snippets.models import Snippet, language_choices, style_choices

# What the links are: paths on this site, not absolute URIs.
SITE_PATH = {"type": "string", "format": "uri-reference"}

# A primary key no row will have: it marks where the key goes in a reversed path.
PK_MARK = 987654321987654321


@lru_cache(maxsize=256)
def _path_with_mark(view_name, format, urlconf, script_prefix):
    return reverse(view_name, kwargs={"pk": PK_MARK}, format=format)


def object_path(view_name, pk, format=None):
    """`reverse()` for the path of object `pk`, matched against the URL patterns
    once per view and format: reversing each link anew was a twentieth of a
    retrieve. Keyed on the URLconf and script prefix, which reverse() reads."""
    if not isinstance(pk, int):
        return reverse(view_name, kwargs={"pk": pk}, format=format)
    marked = _path_with_mark(view_name, format, get_urlconf(), get_script_prefix())
    return marked.replace(str(PK_MARK), str(pk))


@extend_schema_field(SITE_PATH)
class RelativeHyperlinkedIdentityField(serializers.HyperlinkedIdentityField):
    """
    A hyperlink to the object, as a path without scheme or host.

    A snippet then looks the same whichever host, transport or change event shows
    it, so an event can be rendered once and sent to every subscriber.
    """

    def get_url(self, obj, view_name, request, format):
        return object_path(view_name, obj.pk, format)


@extend_schema_field(SITE_PATH)
class RelativeHyperlinkedRelatedField(serializers.HyperlinkedRelatedField):
    """A hyperlink to a related object, as a path without scheme or host."""

    def get_url(self, obj, view_name, request, format):
        return object_path(view_name, obj.pk, format)


class SnippetSerializer(
    FieldsBuiltOnce, JSONTypedFields, serializers.HyperlinkedModelSerializer
):
    serializer_url_field = RelativeHyperlinkedIdentityField
    serializer_related_field = RelativeHyperlinkedRelatedField

    # `null` for an anonymous snippet.
    owner = serializers.CharField(
        source="owner.username", read_only=True, allow_null=True, default=None
    )
    highlight = RelativeHyperlinkedIdentityField(
        view_name="snippet-highlight", format="html"
    )
    language = CachedChoiceField(language_choices, default="python")
    style = CachedChoiceField(style_choices, default="friendly")

    class Meta:
        model = Snippet
        fields = [
            "url",
            "id",
            "highlight",
            "owner",
            "title",
            "code",
            "linenos",
            "language",
            "style",
            "private",
            "created",
        ]

    def validate(self, attrs):
        if self.instance is not None:
            owner = self.instance.owner
        else:  # created as the request's user (SnippetViewSet.perform_create)
            user = getattr(self.context.get("request"), "user", None)
            owner = user if user is not None and user.is_authenticated else None
        private = attrs.get("private", getattr(self.instance, "private", False))
        if private and owner is None:
            message = "Anonymous snippets cannot be private: sign in to make one."
            raise serializers.ValidationError({"private": [message]})
        return attrs

    def validate_code(self, value):
        limit = settings.SNIPPET_MAX_CODE_BYTES
        if len(value.encode()) > limit:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {limit} bytes."
            )
        return value


class UserSerializer(
    FieldsBuiltOnce, JSONTypedFields, serializers.HyperlinkedModelSerializer
):
    """A user and their snippets; signing up takes a username and a password."""

    serializer_url_field = RelativeHyperlinkedIdentityField
    serializer_related_field = RelativeHyperlinkedRelatedField

    snippets = RelativeHyperlinkedRelatedField(
        many=True, view_name="snippet-detail", read_only=True
    )
    password = JSONCharField(
        write_only=True, style={"input_type": "password"}, trim_whitespace=False
    )

    class Meta:
        model = User
        fields = ["url", "id", "username", "password", "snippets"]

    def validate(self, attrs):
        user = User(username=attrs.get("username"))
        try:
            password_validation.validate_password(attrs["password"], user)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": error.messages}) from None
        return attrs

    def create(self, validated_data):
        return User.objects.create_user(**validated_data)
