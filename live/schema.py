"""
The OpenAPI document says everything the API answers, as third-party tools
(Schemathesis) check it: who may call an operation without credentials, and the
errors each operation can answer besides success.
"""

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from live.conditional import WRITES, ConditionalRequestsMixin


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describe our JWT scheme once: OpenAPI allows one header type, we accept two."""

    target_class = "live.tokens.SessionJWTAuthentication"
    name = "jwtAuth"
    priority = 1  # above drf-spectacular's own simplejwt extension

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "An access token from /api/auth/token/, sent as "
                "`Authorization: Bearer <token>` or `Authorization: JWT <token>`."
            ),
        }


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, also saying when no credentials are needed."""

    def get_override_parameters(self):
        """The conditional requests' headers (live/conditional.py)."""
        parameters = list(super().get_override_parameters())
        if self.method == "GET":
            parameters.append(IF_NONE_MATCH)
        if self.method in WRITES and isinstance(self.view, ConditionalRequestsMixin):
            parameters.append(IF_MATCH)
        return parameters

    def get_auth(self):
        auth = super().get_auth()
        if {} not in auth and self.anonymous_allowed():
            auth.append({})  # credentials optional
        return auth

    def anonymous_allowed(self) -> bool:
        """Whether a request without credentials may succeed: every permission
        lets it in, and it reads, or it makes something (a change to an object
        is the object permissions' to allow: never an anonymous one's)."""
        changes_object = "{" in self.path and self.method not in SAFE_METHODS
        if changes_object:
            return False
        anonymous = Request(RequestFactory().generic(self.method, self.path))
        anonymous.user = AnonymousUser()
        return all(
            permission.has_permission(anonymous, self.view)
            for permission in self.view.get_permissions()
        )


IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    location=OpenApiParameter.HEADER,
    description="The ETag of the copy you hold: 304, no body, if it is current.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    description="The ETag of the version you read: 412 if it has changed since "
    "(checked in the write's transaction).",
)
ETAG = {
    "ETag": {
        "schema": {"type": "string"},
        "description": "A strong tag of this representation.",
    }
}

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
}
# A field's errors, or the request's (`non_field_errors`, `detail`).
INVALID = {"type": "object", "additionalProperties": {}}


def error_responses(result, generator, request, public):
    """Add what every operation can answer besides success (a POSTPROCESSING
    hook): 401 for credentials that do not hold (sent anywhere, they are
    refused), 429 over a throttle; 400, 413 and 415 for a body; 400 for a
    filter's value; 403 for an unsafe method (a permission, or CSRF with a
    session); 404 for an object in the path, or a page past the last; 304 for a
    GET's `If-None-Match` (and the `ETag` of its 200), 412 for a write's
    `If-Match`."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR
    components["Invalid"] = INVALID
    error = _response("An error.", "Error")
    for operations in result["paths"].values():
        for method, operation in operations.items():
            parameters = operation.get("parameters", [])
            statuses = {401: error, 429: error}
            if "requestBody" in operation:
                statuses |= {
                    400: _response("The request is not valid.", "Invalid"),
                    413: error,
                    415: error,
                }
            if any(p["in"] == "query" and p["name"] != "page" for p in parameters):
                # A filter's value it cannot take (django-filter's errors).
                statuses[400] = _response("A query parameter is not valid.", "Invalid")
            if method.upper() not in SAFE_METHODS:
                statuses[403] = error
            if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
                statuses[404] = error
            headers = {p["name"] for p in parameters if p["in"] == "header"}
            if "If-None-Match" in headers:
                statuses[304] = {"description": "Not modified.", "headers": ETAG}
                operation["responses"]["200"].setdefault("headers", ETAG)
            if "If-Match" in headers:
                statuses[412] = error
            responses = operation["responses"]
            for status, response in statuses.items():
                responses.setdefault(str(status), response)
    return result


def unicode_patterns(result, generator, request, public):
    """Say in words the patterns JSON Schema would read otherwise than Django (a
    POSTPROCESSING hook): Django's `\\w` is any letter or digit (a username may
    be `Zoë`), JSON Schema's (ECMA-262, without the `u` flag) only ASCII ones, so
    a pattern would refuse what the API takes."""
    for schema in result.get("components", {}).get("schemas", {}).values():
        for field in schema.get("properties", {}).values():
            if "\\w" in field.get("pattern", ""):
                # Said in words instead, with the pattern as Django reads it.
                rule = field.pop("pattern")
                words = (
                    f"Matches {rule} as Python reads it: \\w is a letter, digit "
                    "or _ of any script."
                )
                field["description"] = " ".join(
                    filter(None, [field.get("description"), words])
                )
    return result


# A string DRF takes holds no NUL character (`ProhibitNullCharactersValidator`);
# one that trims whitespace and allows no blank also holds something else.
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def input_rules(result, generator, request, public):
    """Say in each request body what DRF enforces of its strings (a
    POSTPROCESSING hook, after `unicode_patterns`): no NUL character, and
    something besides whitespace where blank is refused (`minLength` 1 on a
    field that trims whitespace: all but a password's)."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):
            continue
        for field in schema.get("properties", {}).values():
            if field.get("type") != "string" or "enum" in field or "pattern" in field:
                continue
            if "format" in field and field["format"] != "password":
                continue
            trims = field.get("format") != "password"
            blank_refused = field.get("minLength", 0) >= 1 and trims
            field["pattern"] = NOT_BLANK if blank_refused else NO_NUL
    return result


def _response(description, schema):
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        },
    }
