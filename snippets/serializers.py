from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from live.fields import (
    CachedChoiceField,
    FieldsBuiltOnce,
    JSONCharField,
    JSONTypedFields,
    RelativeHyperlinkedIdentityField,
    RelativeHyperlinkedRelatedField,
)
from snippets.models import Snippet, language_choices, style_choices


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
    # As MinimumLengthValidator's default (AUTH_PASSWORD_VALIDATORS), said here
    # so that the OpenAPI document says it too.
    password = JSONCharField(
        write_only=True,
        min_length=8,
        error_messages={
            "min_length": "This password is too short. It must contain at least "
            "8 characters."
        },
        style={"input_type": "password"},
        trim_whitespace=False,
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
