import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def nesting_depth(value):
    """Return how deeply arrays and objects nest in parsed JSON `value`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in item)
    return deepest


class DepthLimitedJSONParser(JSONParser):
    """
    DRF's JSON parser with a nesting limit (`JSON_MAX_DEPTH`): deeper is a 400.

    Python's `json` raises `RecursionError`, which DRF does not catch, on input
    nested thousands deep; without this such a body is a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.JSON_MAX_DEPTH
        try:
            data = json.loads(stream.read().decode(encoding))
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {limit} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if nesting_depth(data) > limit:
            raise ParseError(f"JSON nested deeper than {limit} levels.")
        return data
