"""
The app's side of live events; the server's side is wsserver/events.py.

The WebSocket server asks the app two things, each through an ordinary GET
marked in the WSGI environ (which no client can set: a client's headers become
`HTTP_*` keys); live/contract.py names the marks and headers.

- `wsserver.subscribe`, a SUBSCRIBE's GET: `SubscriberMiddleware` says who made
  it (`Live-Identity`), with which sign-in (`Live-Session`) and until when its
  credentials hold (`Live-Expires`), so the server renders each change once per
  identity and ends the subscription when its token or its session does.
- `wsserver.change`, the GET of a changed resource for one view of it: a
  `LiveViewSetMixin` view answers it as the GET it is (the resource as this
  identity sees it, or 404), unthrottled unless it is also marked
  `wsserver.replay` (a change replayed to one resuming subscriber: its own
  request), and says whether this identity could see it before the change
  (`Live-Visible-Before`), by its own `readable()` rule applied to the values
  the change recorded (live/recorded.py). For filtered subscriptions the same
  GET also says, for each of their queries (`wsserver.filters`), whether the
  row was and is in the list that query filters (`Live-Filters`): the view's
  own filter backends, given that query, asked of the row now and of the
  values the change recorded (`null` where a filter reads what the change did
  not record: the server asks those subscribers to refetch). One GET a change
  per cohort, however many filters are subscribed.

A view that says which requests see its resources alike (`cohort()`, and
`concerned()` for the exceptions) has each change rendered once per cohort
instead of once per identity; one that says nothing is rendered per identity.
The server checks every shared render: the GET that made it names the cohort of
the credentials it ran with (`Live-Cohort`), and a render is shared only with
subscribers of that cohort, whose rights have not changed since they subscribed
(live/revocation.py: `rights_changed`).
"""

import copy
import json
import threading
from functools import cache, lru_cache

from cachetools import LRUCache, cached
from cachetools.keys import hashkey
from django.db import models
from django.db.models import Q, QuerySet
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from live import recorded
from live.conditional import ConditionalRequestsMixin
from live.contract import (
    CHANGE_MARK,
    COHORT_HEADER,
    EXPIRES_HEADER,
    FILTERS_HEADER,
    FILTERS_MARK,
    IDENTITY_HEADER,
    REPLAY_MARK,
    SESSION_CLAIM,
    SESSION_HEADER,
    SUBSCRIBE_MARK,
    VISIBLE_BEFORE_HEADER,
)


def identity(user_id: int | None) -> str:
    """How the server tells subscribers apart: one render per identity."""
    return "anonymous" if user_id is None else f"user:{user_id}"


@cache  # asked on every render of a change
def recorded_fields(model) -> tuple[models.Field, ...]:
    """The fields a change records as they were before it: every column but the
    long texts, which no visibility rule should filter on."""
    long = (models.TextField, models.BinaryField)
    return tuple(f for f in model._meta.concrete_fields if not isinstance(f, long))


@lru_cache(maxsize=256)  # the anonymous rule, staff's, and recent users' own
def readable_rows(queryset: QuerySet, readable: Q) -> QuerySet:
    """`queryset` filtered by a `readable()` rule, built once per rule rather
    than resolved for each request (docs/benchmarks.md). Never evaluated:
    callers clone it (`.all()`), as DRF clones a view's `queryset` for each
    request."""
    return queryset.filter(readable) if readable else queryset


def loaded(row, fields) -> dict:
    """The values of `fields` as `row` was loaded, never a deferred field's
    query: one not loaded is left out (a condition that reads it cannot be
    told: live/recorded.py)."""
    return {
        f.attname: row.__dict__[f.attname] for f in fields if f.attname in row.__dict__
    }


@cached(
    LRUCache(maxsize=1024),
    key=lambda view, query: hashkey(
        type(view), view.readable(), query, view.request.user.pk
    ),
    lock=threading.Lock(),
)
def filtered_test(view, query: str) -> recorded.RowTest:
    """The test of whether a row is in the list `query` filters for `view`'s
    requester, compiled once per view, rule, query and user: building a
    FilterSet and compiling its SQL cost more than running it."""
    rows = view.filter_as(query, readable_rows(view.queryset, view.readable()))
    return recorded.RowTest(rows, recorded_fields(view.queryset.model))


class SubscriberMiddleware:
    """On a SUBSCRIBE_MARK's GET, name the identity, its session and when its
    credentials expire."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.META.get(SUBSCRIBE_MARK):
            # DRF, when it authenticated the request, left its user and token here.
            user = request.user
            response[IDENTITY_HEADER] = identity(
                user.pk if user.is_authenticated else None
            )
            claims = getattr(getattr(request, "auth", None), "payload", {})
            if claims.get("exp") is not None:
                response[EXPIRES_HEADER] = str(claims["exp"])
            if claims.get(SESSION_CLAIM) is not None:
                response[SESSION_HEADER] = str(claims[SESSION_CLAIM])
        return response


class LiveViewSetMixin(ConditionalRequestsMixin):
    """
    A model ViewSet whose changes subscribers hear as their own GET shows them
    (and whose writes honour `If-Match`: live/conditional.py).

    Override `readable()` to say which rows the request may see: lists, detail
    GETs and live events all apply it, so a subscriber hears a change only if it
    could GET the resource, and hears it leave (`deleted`) or enter (`created`)
    its view.

    Each change is rendered once per identity subscribed, unless the view
    names cohorts: override `cohort()` and `concerned()` together, and a change
    is rendered once per cohort instead (README.md, "Making a resource live").
    """

    def readable(self) -> Q:
        """The rows this request may see (a `Q` the database can also test on
        recorded values); everything by default."""
        return Q()

    def cohort(self) -> str | None:
        """The name of the requests that get exactly the same answer as this one
        (status and body) for every resource of this view whose change does not
        name them in `concerned()`; `None` (the default): no other request does.
        Never share one across requests that see a per-user field or filter."""
        return None

    @classmethod
    def concerned(cls, row: dict) -> set[str]:
        """The identities (`identity()`) that may see the row whose recorded
        values are `row` otherwise than their cohort does: its owner, say."""
        return set()

    def get_queryset(self):
        # The class's `queryset`, as DRF's own get_queryset() starts from it.
        return readable_rows(self.queryset, self.readable()).all()

    def get_throttles(self):
        # Showing a change as it happens is not a request any subscriber made;
        # replaying it to one that resumes is.
        if CHANGE_MARK in self.request.META and REPLAY_MARK not in self.request.META:
            return []
        return super().get_throttles()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        change = request.META.get(CHANGE_MARK)
        # A subscriber's cohort, and the cohort a change was rendered for: the
        # server shares that render with this cohort only. A render that shows
        # the resource to whom it concerns (its owner now) is no cohort's.
        if request.META.get(SUBSCRIBE_MARK) or change is not None:
            cohort = self.cohort()
            if cohort is not None and not (
                change is not None and self.concerns_requester()
            ):
                # Named per model: one app's names are its own.
                label = self.queryset.model._meta.label_lower
                response[COHORT_HEADER] = f"{label}:{cohort}"
        if change is not None:
            try:
                visible = self.visible_before(change.get("before"))
            except recorded.Unknown:
                response[VISIBLE_BEFORE_HEADER] = "unknown"
            else:
                response[VISIBLE_BEFORE_HEADER] = "true" if visible else "false"
            queries = request.META.get(FILTERS_MARK)
            if queries:
                membership = self.in_filtered_lists(change, queries)
                response[FILTERS_HEADER] = json.dumps(membership)
        return response

    def in_filtered_lists(self, change: dict, queries) -> dict:
        """`{query: [before, now]}`: whether the changed row was in the list
        each query filters, by the values the change recorded, and is, by the
        values this GET read (the very row it shows: a write committed meanwhile
        cannot set the two apart); `None` where that cannot be told. One
        statement for all of them."""
        fields = recorded_fields(self.queryset.model)
        row = getattr(self, "live_object", None)  # `None`: this GET shows none
        states = [change.get("before"), None if row is None else loaded(row, fields)]
        asked = []  # (query, test) for each query a test could be made for
        answer = {}
        for query in queries:
            try:
                asked.append((query, filtered_test(self, query)))
            except ValidationError:  # (a filter that no longer takes it)
                answer[query] = [None, False]
        tests = [(test, s) for _, test in asked for s in states if s is not None]
        results = iter(recorded.test_rows(tests))
        for query, _test in asked:
            was, now = [False if s is None else next(results) for s in states]
            answer[query] = [was, bool(now)]
        return answer

    def filter_as(self, query: str, queryset: QuerySet) -> QuerySet:
        """`queryset` through this view's filter backends, as a request with
        the query string `query` would filter it."""
        asked = copy.copy(self.request)
        asked._request = copy.copy(self.request._request)
        asked._request.GET = QueryDict(query)
        for backend in self.filter_backends:
            queryset = backend().filter_queryset(asked, queryset, self)
        return queryset

    def get_object(self):
        self.live_object = super().get_object()
        return self.live_object

    def concerns_requester(self) -> bool:
        """Whether the row this request read is one `concerned()` names its
        requester for (as it is now, not as a change recorded it)."""
        row = getattr(self, "live_object", None)
        if row is None:
            return False
        values = loaded(row, recorded_fields(type(row)))
        user = self.request.user
        requester = identity(user.pk if user.is_authenticated else None)
        return requester in self.concerned(values)

    def visible_before(self, before: dict | None) -> bool:
        """Whether this request could see the row as `before` recorded it;
        `recorded.Unknown` if that cannot be told."""
        if before is None:  # it did not exist
            return False
        rows = readable_rows(self.queryset, self.readable())
        return recorded.matches(rows, before, recorded_fields(self.queryset.model))
