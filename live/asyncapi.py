"""
`GET /api/asyncapi.json`: the WebSocket API (`/ws/api`) as an AsyncAPI 3.0
document, derived from the OpenAPI schema drf-spectacular makes. Every socket
request is an HTTP operation inside the envelope, so nothing is annotated by
hand: a change to a serializer changes both documents.

For each OpenAPI operation: a `send` operation (the request envelope, `data`
from the request body or the query parameters) whose replies are one message
per status, each with its own `data` from the responses (a generated model is
then one type per reply), and one for any other status. For each JSON GET: SUBSCRIBE
and UNSUBSCRIBE, and a `receive` operation with the events it can hear. The
protocol's own errors and close codes come with the limits in force.
"""

import re
from functools import cache

from django.http import JsonResponse
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from live import tracking
from live.limits import ServerConfig

QUERY_METHODS = {"get", "head", "delete"}
CHANNEL = {"$ref": "#/channels/api"}
STRING = {"type": "string"}
DETAIL = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": STRING},
}
HEADERS = {"type": "object", "additionalProperties": STRING}
SUBSCRIPTION = {
    "type": "string",
    "description": "The filtered subscription (a URL with a query) the event is "
    "for, as it was subscribed; absent for one without a query.",
}
MESSAGE_ID = {
    "type": ["string", "number"],
    "maxLength": 128,
    "description": "Any string (at most 128 characters) or number; echoed.",
}
POSITION = {
    "type": "string",
    "description": "Where in the history of changes: resume with `since`.",
}


def asyncapi_json(request):
    document = described()
    info = {
        **document["info"],
        "externalDocs": {  # a URI, as the specification asks: absolute
            "description": "The same operations over HTTP (OpenAPI 3)",
            "url": request.build_absolute_uri(reverse("schema")),
        },
    }
    document = {**document, "info": info, "servers": {"api": server(request)}}
    return JsonResponse(document, json_dumps_params={"indent": 1})


def server(request):
    return {
        "host": request.get_host(),
        "protocol": "wss" if request.is_secure() else "ws",
        "description": "Text frames, one JSON object each.",
    }


@cache
def described() -> dict:
    """Everything but the server, from the OpenAPI schema (once per process)."""
    openapi = SchemaGenerator().get_schema(request=None, public=True)
    builder = Builder(openapi)
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            builder.add_operation(path, method, operation)
            if method == "get":
                builder.add_operation(path, method, operation, "HEAD")
            if method == "get" and json_response(operation):
                builder.add_subscription(path, operation)
        builder.add_options(path)
    info = openapi["info"]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": info["title"],
            "version": info["version"],
            "description": info.get("description", ""),
        },
        "defaultContentType": "application/json",
        "channels": {"api": builder.channel()},
        "operations": builder.operations,
        "components": {
            "schemas": {
                **json_schema(openapi["components"]["schemas"]),
                **builder.payloads,
            },
            "messages": builder.messages,
        },
    }


class Builder:
    """Collects the messages and operations of one document."""

    def __init__(self, openapi):
        self.openapi = openapi
        self.messages: dict = {}
        self.payloads: dict = {}
        self.operations: dict = {}
        self.message("protocol_error", PROTOCOL_ERROR, PROTOCOL_ERROR_SUMMARY)

    def message(self, name, payload, summary, **extensions):
        """Add message `name`; its payload is a named schema, so that code
        generators name their models after it (not `AnonymousSchema_N`)."""
        title = "".join(part.capitalize() for part in name.split("_"))
        self.payloads[title] = {"title": title, **payload}
        self.messages[name] = {
            "name": name,
            "title": title,
            "summary": summary,
            "payload": {"$ref": f"#/components/schemas/{title}"},
            **extensions,
        }
        return {"$ref": f"#/channels/api/messages/{name}"}

    def replies(self, name, request, payloads):
        """One reply message per status of `payloads`; their references."""
        return [
            self.message(
                f"{name}_reply_{status}", payload, f"The reply to {request}: {status}"
            )
            for status, payload in payloads.items()
        ]

    def channel(self):
        refs = {
            name: {"$ref": f"#/components/messages/{name}"} for name in self.messages
        }
        return {
            "address": "/ws/api",
            "title": "The API over one WebSocket",
            "description": LIMITS.format(**limits()),
            "messages": refs,
            "x-close-codes": close_codes(),
        }

    def add_operation(self, path, method, operation, wire_method=None):
        wire_method = wire_method or method.upper()
        name = operation["operationId"]
        if wire_method != method.upper():
            name = f"{name}_{wire_method.lower()}"
        request = self.message(
            f"{name}_request",
            request_envelope(path, wire_method, request_data(method, operation)),
            f"{wire_method} {path}",
            **{"x-path": path},  # its parameters, for the playground's form
        )
        replies = self.replies(
            name,
            f"{wire_method} {path}",
            reply_payloads(
                wire_method, responses(operation), wire_method == "SUBSCRIBE"
            ),
        )
        error = {"$ref": "#/channels/api/messages/protocol_error"}
        self.operations[name] = {
            "action": "send",
            "channel": CHANNEL,
            "summary": operation.get("summary") or f"{wire_method} {path}",
            "messages": [request],
            "reply": {"channel": CHANNEL, "messages": [*replies, error]},
        }

    def add_options(self, path):
        """OPTIONS on `path`: what DRF says of the view (its metadata)."""
        name = re.sub(r"\W+", "_", path).strip("_") + "_options"
        request = self.message(
            f"{name}_request",
            request_envelope(path, "OPTIONS", None),
            f"OPTIONS {path}",
            **{"x-path": path},
        )
        described = {"type": "object", "description": "The view, as DRF describes it."}
        replies = self.replies(
            name, f"OPTIONS {path}", reply_payloads("OPTIONS", {200: described}, False)
        )
        error = {"$ref": "#/channels/api/messages/protocol_error"}
        self.operations[name] = {
            "action": "send",
            "channel": CHANNEL,
            "summary": f"OPTIONS {path}",
            "messages": [request],
            "reply": {"channel": CHANNEL, "messages": [*replies, error]},
        }

    def add_subscription(self, path, operation):
        self.add_operation(path, "get", operation, "SUBSCRIBE")
        self.add_operation(path, "get", operation, "UNSUBSCRIBE")
        name = f"{operation['operationId']}_events"
        event = self.message(
            name, events_heard(self.openapi, path), f"What SUBSCRIBE {path} hears"
        )
        self.operations[name] = {
            "action": "receive",
            "channel": CHANNEL,
            "summary": f"Changes heard by a subscription to {path}",
            "messages": [event],
        }


def json_response(operation) -> bool:
    """Whether the operation succeeds with JSON (what SUBSCRIBE takes)."""
    return any(
        status.startswith("2") and "application/json" in response.get("content", {})
        for status, response in operation["responses"].items()
    )


def url_pattern(path: str) -> str:
    """`/api/notes/{id}/` as a pattern of the `url` that requests it."""
    parts = re.split(r"\{[^}]+\}", path)
    return "^" + "[^/?#]+".join(re.escape(part) for part in parts) + r"(\?.*)?$"


def request_data(method, operation):
    if method in QUERY_METHODS:
        query = {
            item["name"]: json_schema(item.get("schema", {}))
            for item in operation.get("parameters", [])
            if item["in"] == "query"
        }
        return {
            "type": "object",
            "properties": query,
            "description": "Becomes the query string.",
        }
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return json_schema(body["schema"]) if body else None


def responses(operation) -> dict:
    """`{status: data schema or None (no body)}` of each documented response."""
    found = {}
    for status, response in operation["responses"].items():
        content = response.get("content", {})
        if "application/json" in content:
            found[int(status)] = json_schema(content["application/json"]["schema"])
        elif content:
            found[int(status)] = STRING  # the highlight page, say: its text
        else:
            found[int(status)] = None
    return found


def any_case(word):
    """A pattern matching `word` in any case: methods are case-insensitive."""
    return "^" + "".join(f"[{c.upper()}{c.lower()}]" for c in word) + "$"


def request_envelope(path, method, data):
    properties = {
        "id": MESSAGE_ID,
        "method": {
            "type": "string",
            "pattern": any_case(method),
            "default": method,
            "description": f"{method}, in any case.",
        },
        "url": {"type": "string", "pattern": url_pattern(path)},
        "token": {"type": "string", "description": "A JWT access token."},
        "headers": HEADERS,
    }
    if data is not None:
        properties["data"] = data
    if method == "SUBSCRIBE":
        properties["since"] = POSITION
    required = ["url"] if method == "GET" else ["method", "url"]
    return {"type": "object", "required": required, "properties": properties}


def reply_payloads(method, statuses, subscribe):
    """A reply's payload per status, each with its own `data` (so that a
    generated model of a reply is one type, not a union chosen by status), and
    `other` for a status the operation does not list (a 503, say)."""
    if method == "HEAD":  # headers only
        statuses = dict.fromkeys(statuses)
    if method == "UNSUBSCRIBE":
        statuses = {200: DETAIL, 404: DETAIL}
    payloads = {
        status: reply_payload(method, {"const": status}, data, subscribe)
        for status, data in statuses.items()
    }
    listed = {"not": {"enum": list(statuses)}, "type": "integer"}
    untyped = {"description": "The parsed JSON body, or the body as text."}
    payloads["other"] = reply_payload(method, listed, untyped, False)
    return payloads


def reply_payload(method, status, data, subscribe):
    properties = {
        "id": MESSAGE_ID,
        "status": status,
        "method": {"const": method},
        "url": STRING,
        "headers": HEADERS,
    }
    if data is not None:
        properties["data"] = data
    if subscribe:
        properties["position"] = POSITION
        properties["recovered"] = {"type": "boolean"}
    payload = {
        "type": "object",
        "required": ["status", "headers"],  # `id` too, if the request had one
        "properties": properties,
    }
    if data is None and not subscribe:  # no body, never `data`
        payload["not"] = {"required": ["data"]}
    return payload


def events_heard(openapi, subscribed):
    """The events a subscription to `subscribed` can hear: changes to the live
    resources at or below it, `resync` and `unsubscribed`."""
    changes = []
    for path in live_paths(openapi):
        if not path.startswith(subscribed):
            continue
        url = {"type": "string", "pattern": url_pattern(path)}
        get = openapi["paths"][path]["get"]
        data = responses(get)[200]
        changes += [
            event_schema(["created", "updated"], url, data),
            event_schema(
                ["deleted"],
                url,
                {
                    "type": "object",
                    "required": ["url"],
                    "properties": {"id": {"type": "integer"}, "url": STRING},
                },
            ),
        ]
    resync = {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {"const": "resync"},
            "url": STRING,
            "subscription": SUBSCRIPTION,
        },
        "description": "Changes were lost: GET the subscription's URL again.",
    }
    unsubscribed = {
        "type": "object",
        "required": ["event", "url", "status", "data"],
        "properties": {
            "event": {"const": "unsubscribed"},
            "url": STRING,
            "status": {"const": 401},
            "data": DETAIL,
            "subscription": SUBSCRIPTION,
        },
        "description": "The credentials ended (expired, signed out): renew.",
    }
    return {"oneOf": [*changes, resync, unsubscribed]}


def event_schema(names, url, data):
    properties = {
        "event": {"enum": names},
        "url": url,
        "position": POSITION,
        "data": data,
        "subscription": SUBSCRIPTION,
    }
    if "deleted" not in names:
        properties["etag"] = {
            "type": "string",
            "description": "The resource's ETag now, as its GET gives it: a copy "
            "read with another is stale (an If-Match with it is 412).",
        }
    return {
        "type": "object",
        "required": ["event", "url", "position", "data"],
        "properties": properties,
    }


def live_paths(openapi):
    """The OpenAPI paths of the resources whose changes are heard."""
    found = []
    for view_name in tracking.tracked:
        example = reverse(view_name, kwargs={"pk": 0})
        found += [
            path
            for path in openapi["paths"]
            if re.fullmatch(url_pattern(path), example)
        ]
    return found


PROTOCOL_ERROR_SUMMARY = "An error the server answers itself, before Django"
PROTOCOL_ERROR = {
    "type": "object",
    "required": ["status", "headers", "data"],
    "properties": {
        "id": {**MESSAGE_ID, "description": "The request's, if it could be read."},
        "status": {"enum": [400, 429, 500, 503]},
        "method": {**STRING, "description": "The request's, if it could be read."},
        "url": {**STRING, "description": "The request's, if it could be read."},
        "headers": HEADERS,
        "data": DETAIL,
    },
}


LIMITS = (
    "Requests are answered in any order: match replies by `id`. The server "
    "answers these itself: 400 for a frame that is not a valid request; 429 "
    "past {in_flight} requests waiting on one connection, {frames} frames a "
    "second or {subscriptions} subscriptions; 503 when every Django thread is "
    "busy and {queued} requests wait, or while draining; 500 for a reply over "
    "{reply_bytes} bytes."
)


def limits():
    config = ServerConfig.from_settings()
    return {
        "in_flight": config.max_in_flight,
        "frames": config.frames_per_second,
        "subscriptions": config.max_subscriptions,
        "queued": config.max_queued_requests,
        "reply_bytes": config.max_reply_bytes,
    }


def close_codes():
    config = ServerConfig.from_settings()
    return {
        "1001": "Going away: the server drains (a deploy), or the socket was idle "
        f"{config.idle_timeout_seconds:g} s; reconnect and resume.",
        "1008": "Policy: more than a second's worth over "
        f"{config.frames_per_second} frames a second, or over "
        f"{config.max_buffered_bytes} bytes left unread.",
        "1009": f"A frame over {config.max_message_bytes} bytes.",
        "1011": "An unexpected server error.",
    }


def json_schema(schema):
    """An OpenAPI 3.0 schema as JSON Schema (what AsyncAPI's default format
    is): `nullable` becomes a `null` type."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: json_schema(value) for key, value in schema.items()}
    if converted.pop("nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted
