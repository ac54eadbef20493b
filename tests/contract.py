"""Contract checks: replies and events as the AsyncAPI document describes them."""

import re
from functools import cache

import jsonschema
from django.test import Client

from live.asyncapi import url_pattern


@cache
def asyncapi_document():
    return Client(HTTP_HOST="localhost").get("/api/asyncapi.json").json()


@cache
def openapi_document():
    return Client(HTTP_HOST="localhost").get("/api/schema/?format=json").json()


def message_name(method, url):
    """The AsyncAPI operation a request of `method` on `url` is."""
    path = url.split("?")[0]
    for template, methods in openapi_document()["paths"].items():
        if not re.fullmatch(url_pattern(template), path):
            continue
        if method in ("SUBSCRIBE", "UNSUBSCRIBE") and "get" in methods:
            return f"{methods['get']['operationId']}_{method.lower()}"
        if method.lower() in methods:
            return methods[method.lower()]["operationId"]
    return None


def validate(message, payload):
    """Raise unless `payload` is what the document's `message` describes."""
    document = asyncapi_document()
    root = {
        "$ref": f"#/components/messages/{message}/payload",
        "components": document["components"],
    }
    jsonschema.Draft7Validator(root).validate(payload)


def validate_reply(method, url, reply):
    """Validate a reply to `method` on `url`; `False` if no operation is it (a
    page that is not part of the API, say)."""
    name = message_name(method, url)
    if name is None:
        return False
    messages = asyncapi_document()["components"]["messages"]
    by_status = f"{name}_reply_{reply['status']}"
    validate(by_status if by_status in messages else f"{name}_reply_other", reply)
    return True


def validate_event(subscribed, event):
    """Validate an event heard by a subscription to `subscribed`."""
    operation = message_name("SUBSCRIBE", subscribed).removesuffix("_subscribe")
    validate(f"{operation}_events", event)
