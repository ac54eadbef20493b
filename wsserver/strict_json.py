"""JSON as RFC 8259 has it, for frames: Python's `json` accepts more.

snippets/parsers.py holds the same rules for HTTP bodies (the app never imports
the server): change both together.
"""

import json
import math


def strict_json_loads(text: str):
    """`json.loads` refusing NaN, Infinity, numbers out of range (`1e999`) and
    duplicate keys (which one would win?) with a `ValueError`."""
    return json.loads(
        text,
        parse_constant=_refuse,
        parse_float=_finite_float,
        object_pairs_hook=_without_duplicate_keys,
    )


def _refuse(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    if not math.isfinite(number := float(text)):
        raise ValueError(f"number {text} is out of range")
    return number


def _without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object has duplicate keys")
    return result


def load_message_object(text: str) -> dict:
    """A frame's JSON object; a `ValueError` saying what is wrong otherwise."""
    try:
        frame = strict_json_loads(text)
    except RecursionError:
        raise ValueError("Message is nested too deeply.") from None
    except ValueError as exc:
        raise ValueError(f"Message is not valid JSON: {exc}.") from None
    if not isinstance(frame, dict):
        raise ValueError("Message must be a JSON object.")
    return frame
