"""
What the WebSocket server (`wsserver/`) and the live app (`live/`) agree on,
written once: plain Python that both import, so neither names the other's
internals and no string is written twice.
"""

import ipaddress
import json
import math

# Marks the server sets in the WSGI environ of the requests it makes itself. No
# client can set them: a client's headers become `HTTP_*` keys.
SUBSCRIBE_MARK = "wsserver.subscribe"  # a SUBSCRIBE's GET
CHANGE_MARK = "wsserver.change"  # the GET that shows a change (its record)
REPLAY_MARK = "wsserver.replay"  # ...replayed to one resuming subscriber
POSITION_MARK = "wsserver.position"  # ...and that change's position
# ...and the queries of the filtered subscriptions it is shown to (a list).
FILTERS_MARK = "wsserver.filters"
# How a request came: "websocket" or "events" (absent: plain HTTP).
TRANSPORT_MARK = "wsserver.transport"

# Headers the app answers those requests with; the server takes them out of
# the reply, so no client sees them.
IDENTITY_HEADER = "Live-Identity"  # who subscribed
EXPIRES_HEADER = "Live-Expires"  # until when its credentials hold (Unix time)
COHORT_HEADER = "Live-Cohort"  # who sees what it sees (on a change's GET too)
SESSION_HEADER = "Live-Session"  # the sign-in its credentials belong to

# The claim of every access token naming its sign-in (live/tokens.py).
SESSION_CLAIM = "sid"
VISIBLE_BEFORE_HEADER = "Live-Visible-Before"  # "true": it saw the row before
# On a change's GET with FILTERS_MARK: JSON, `{query: [before, now]}`, whether
# the row was and is in the list each query filters (`before` null: unknown).
FILTERS_HEADER = "Live-Filters"

# Records in the history that are no change to a resource (live/revocation.py):
REVOKED = "revoked"  # an identity's credentials (or one session's) ended
# A user's rights are changing (recorded before the change commits): render it
# alone until it subscribes again...
RIGHTS_CHANGING = "rights-changing"
# ...and they changed (recorded once committed): its subscribers refetch.
RIGHTS_CHANGED = "rights-changed"
# A counter beside the history (`<stream>:rights`), raised with each
# RIGHTS_CHANGING, so the server can tell cheaply whether one came since it last
# looked.
RIGHTS_COUNTER_SUFFIX = ":rights"


def strict_json_loads(text: str):
    """JSON as RFC 8259 has it (Python's `json` accepts more), for frames and
    bodies alike: NaN, Infinity, numbers out of range (`1e999`) and duplicate
    keys (which one would win?) are a `ValueError`."""
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


def address_group(address: str) -> str:
    """The group `address` counts in for every per-address limit: itself (IPv4,
    or anything unparsable), its IPv4 address if it is one mapped into IPv6,
    else its /64 network. A provider hands each customer a whole /64, so judging
    IPv6 addresses one by one would give a client a fresh budget per address."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if parsed.version == 4:
        return address
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
