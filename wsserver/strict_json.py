"""A frame's JSON, read by the rules the app's bodies follow (live/contract.py)."""

from live.contract import strict_json_loads


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
