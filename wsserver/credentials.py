"""
Who hears what: each change is shown to each identity as its own GET shows the
resource, rendered once per render key (a cohort's, or one identity's) however
many subscribers share it.

The app answers through ordinary GETs that the server marks in the WSGI environ
(live/views.py holds the app's side; the names are in live/contract.py):

- a SUBSCRIBE's GET is marked `wsserver.subscribe`; the reply names the
  identity (`Live-Identity`), when its credentials expire (`Live-Expires`) and,
  if the app says so, its cohort (`Live-Cohort`): the identities that see every
  resource under that URL alike, except a resource whose change names them in
  its record's `concerned` list (its owner, say). A cohort is named per model
  (`app_label.model:name`) and applies to that model's resources only. An
  identity without a cohort is a cohort of its own;
- a change is rendered for a cohort by a GET of its URL marked
  `wsserver.change` (the change's record), with the credentials of one of the
  cohort's subscribers; the reply is that GET's, says whether the cohort could
  see the resource before the change (`Live-Visible-Before`) and names the
  cohort of the credentials it ran with (`Live-Cohort`): the server shares it
  only if that is the cohort it was made for (wsserver/events.py). The same
  GET serves the cohort's filtered subscriptions: it is marked with their
  queries (`wsserver.filters`) and says of each whether the resource was and is
  in the list it filters (`Live-Filters`). A change
  replayed to one resuming subscriber is also marked `wsserver.replay`: it is a
  request of that subscriber's, throttled as such.

These headers are between the server and the app: no client sees them.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from live.contract import (
    CHANGE_MARK,
    COHORT_HEADER,
    EXPIRES_HEADER,
    FILTERS_HEADER,
    FILTERS_MARK,
    IDENTITY_HEADER,
    POSITION_MARK,
    REPLAY_MARK,
    SESSION_HEADER,
    VISIBLE_BEFORE_HEADER,
)
from wsserver.bridge import Peer
from wsserver.history import Entry
from wsserver.protocol import Message, encode
from wsserver.sending import Frame

if TYPE_CHECKING:
    from wsserver.threads import DjangoThreads


class CredentialsEnded(Exception):
    """The identity's credentials no longer hold (a 401): its subscriptions end."""

    def __init__(self, detail: str, *, identity: str):
        super().__init__(detail)
        self.detail = detail
        self.identity = identity


class RenderFailed(Exception):
    """The app could not show a change (a 5xx, say): the subscribers refetch."""


@dataclass(frozen=True, slots=True)  # one per subscription: no __dict__
class Credentials:
    """Who subscribed, with what: renders for the identity reuse the request."""

    identity: str
    request: Message  # the subscribing GET: its token and headers authenticate
    peer: Peer
    expires: float | None  # Unix time; `None` if they never do
    # Who sees what it sees of one model's resources (`None`: itself alone).
    cohort: str | None = None
    session: str | None = None  # the sign-in its token belongs to

    def render_key(self, entry: Entry) -> str:
        """Whose render of `entry` this subscriber may share (the key renders are
        made and kept under): its cohort's, for a resource of the model that
        named the cohort whose change does not concern it; else its identity's."""
        if self.cohort is None or self.identity in entry.record.get("concerned", ()):
            return self.identity
        model = entry.record.get("model")
        if not isinstance(model, str) or not self.cohort.startswith(model + ":"):
            return self.identity
        return COHORT_KEY + self.cohort


# A render key shared by a cohort is named so; any other is one identity's.
COHORT_KEY = "cohort:"


def cohort_of(key: str) -> str | None:
    """The cohort a render key is shared by, or `None` for one identity's."""
    return key.removeprefix(COHORT_KEY) if key.startswith(COHORT_KEY) else None


def take_credentials(answer: dict, request: Message, peer: Peer) -> Credentials:
    """The credentials a SUBSCRIBE's reply names, taken out of its headers."""
    headers = answer["headers"]
    identity = headers.pop(IDENTITY_HEADER, None)
    expires = headers.pop(EXPIRES_HEADER, None)
    cohort = headers.pop(COHORT_HEADER, None)
    session = headers.pop(SESSION_HEADER, None)
    if identity is None:  # an app that does not say: one identity per credential
        proof = [request.token, sorted(request.headers.items())]
        identity = "credential:" + json.dumps(proof)
    return Credentials(
        sys.intern(identity),  # shared by its subscriptions, as is the cohort
        request,
        peer,
        None if expires is None else float(expires),
        None if cohort is None else sys.intern(cohort),
        session,
    )


async def render(
    django: DjangoThreads,
    entry: Entry,
    credentials: Credentials,
    *,
    queries: tuple[str, ...] = (),
    replay: bool = False,
) -> dict:
    """The GET of a changed resource as `credentials` see it (and whether it is
    in the lists `queries` filter), on Django's threads (the fan-out's
    `Render`, with `django` bound)."""
    message, marks = rendering(entry, credentials, queries=queries, replay=replay)
    return await django(message, credentials.peer, marks)


def rendering(
    entry: Entry,
    credentials: Credentials,
    *,
    queries: tuple[str, ...] = (),
    replay: bool = False,
) -> tuple[Message, dict]:
    """The GET (and its environ marks) that shows `entry` to `credentials`,
    asking about the lists `queries` filter."""
    request = credentials.request
    # Only what authenticates: the subscriber's other headers asked for the
    # snapshot, not for every change.
    proof = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
    message = Message(entry.url, "GET", token=request.token, headers=proof)
    marks = {CHANGE_MARK: entry.record, POSITION_MARK: entry.position}
    if queries:
        marks[FILTERS_MARK] = list(queries)
    if replay:
        marks[REPLAY_MARK] = True
    return message, marks


# What a filtered subscription is sent when the app cannot tell whether the
# resource was in its list: a refetch, never a guess.
REFETCH = "refetch"


def frames_for(
    entry: Entry, answer: dict, *, identity: str, queries: tuple[str, ...]
) -> dict[str, str | None]:
    """The frame `entry` comes to, by query: `""` for subscriptions without one,
    and each of `queries` for the filtered ones (`None`: nothing to send;
    `REFETCH`: ask them to refetch)."""
    event = event_for(entry, answer, identity=identity)
    frames = {"": None if event is None else Frame(encode(event))}
    said = json.loads(answer["headers"].get(FILTERS_HEADER) or "{}")
    for query in queries:
        was, now = said.get(query, (None, False))
        if was is None:
            frames[query] = REFETCH
        elif now:
            name = "updated" if was else "created"
            frames[query] = Frame(
                encode(_shown(entry, answer, name, answer.get("data")))
            )
        elif was:
            data = entry.record.get("data") or _link(entry)
            frames[query] = Frame(encode(_shown(entry, answer, "deleted", data)))
        else:
            frames[query] = None
    return frames


def event_for(entry: Entry, answer: dict, *, identity: str) -> dict | None:
    """The event `entry` is for the identity whose GET answered `answer`:
    `created` as the resource enters its view, `updated` while in it, `deleted`
    as it leaves; `None` if it was never in view."""
    status = answer["status"]
    said = answer["headers"].get(VISIBLE_BEFORE_HEADER)  # (one answer serves many)
    was_visible = entry.event != "created" if said is None else said == "true"
    if status == 401:
        detail = _detail(answer, "Credentials no longer valid.")
        raise CredentialsEnded(detail, identity=identity)
    if said == "unknown":  # never guessed: the subscribers refetch
        raise RenderFailed(f"{entry.url}: whether it was in view is unknown")
    if 200 <= status < 300:
        name = "updated" if was_visible else "created"
        data = answer.get("data")
    elif status in (403, 404, 410):
        if not was_visible:
            return None
        name, data = "deleted", entry.record.get("data") or _link(entry)
    else:
        raise RenderFailed(f"{entry.url} rendered {status}")
    return _shown(entry, answer, name, data)


def _shown(entry: Entry, answer: dict, name: str, data) -> dict:
    event = {"event": name, "url": entry.url, "data": data, "position": entry.position}
    if name != "deleted" and "ETag" in answer["headers"]:
        event["etag"] = answer["headers"]["ETag"]  # what an edit's If-Match names
    return event


def _link(entry: Entry) -> dict:
    """What `deleted` carries of a resource that left a view: its id and url."""
    resource_id = entry.record.get("id")
    return (
        {"url": entry.url}
        if resource_id is None
        else {"id": resource_id, "url": entry.url}
    )


def _detail(answer: dict, default: str) -> str:
    data = answer.get("data")
    detail = data.get("detail") if isinstance(data, dict) else None
    return detail if isinstance(detail, str) else default
