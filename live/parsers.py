"""
The JSON body parser: DRF's, made strict, bounded and depth-limited, by the JSON
rules WebSocket frames follow too (live/contract.py).
"""

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from live.conf import live_settings
from live.contract import strict_json_loads


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


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
    DRF's JSON parser with the limits a public API needs, each a 4xx:

    - bodies over `REQUEST_MAX_BYTES` are 413, and never read past the limit
      (Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` does not apply to parsed streams);
    - nesting over `JSON_MAX_DEPTH` is 400: Python's `json` raises `RecursionError`,
      which DRF does not catch, on input nested thousands deep;
    - NaN, Infinity, numbers out of range and duplicate keys are 400, as RFC 8259
      has it (stock DRF refuses the first three; Python's `json` takes them all).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        max_bytes = settings.REQUEST_MAX_BYTES
        body = stream.read(max_bytes + 1) if stream is not None else b""
        if len(body) > max_bytes:
            raise RequestTooLarge(f"Request body larger than {max_bytes} bytes.")
        limit = live_settings.JSON_MAX_DEPTH
        try:
            data = strict_json_loads(body.decode(encoding))
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {limit} levels.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if nesting_depth(data) > limit:
            raise ParseError(f"JSON nested deeper than {limit} levels.")
        return data
