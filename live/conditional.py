"""
Conditional requests, the same over HTTP and WebSocket (each frame is a Django
request): every GET answers with an `ETag` and a GET whose `If-None-Match`
names it is `304 Not Modified` with no body (Django's ConditionalGetMiddleware);
a PUT, PATCH or DELETE whose `If-Match` names no current tag of the resource is
`412 Precondition Failed`, checked on the row as the write's own transaction
locked it, so of two editors who read the same version only the first wins.

The tags are strong: a hash of the representation's bytes as the JSON renderer
writes them, which are the same bytes over both transports. `If-Match` needs a
strong tag (RFC 9110, 13.1.1): a weak one never matches.
"""

import hashlib

from django.db import transaction
from django.utils.cache import quote_etag
from django.utils.http import parse_etags
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer

WRITES = ("PUT", "PATCH", "DELETE")


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "It changed since you read it: GET it again for its ETag."
    default_code = "precondition_failed"


def etag_of(content: bytes) -> str:
    """The tag of a representation, as ConditionalGetMiddleware makes it."""
    return quote_etag(hashlib.md5(content, usedforsecurity=False).hexdigest())


class ConditionalRequestsMixin:
    """
    A DRF view whose writes honour `If-Match` and answer with the new `ETag`.
    Each update and delete runs in a transaction that locks its row from read
    to write (`select_for_update()`), so that two racing writes never both
    pass, and one racing a DELETE never writes the row back.
    """

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # Only in the write's own transaction: OPTIONS asks DRF what a PUT
        # could do, outside any.
        locking = transaction.get_connection(queryset.db).in_atomic_block
        if self.request.method in WRITES and locking:
            queryset = queryset.select_for_update(of=("self",))
        return queryset

    def get_object(self):
        instance = super().get_object()
        if self.request.method in WRITES and "If-Match" in self.request.headers:
            self.check_if_match(instance)
        return instance

    def check_if_match(self, instance) -> None:
        tags = parse_etags(self.request.headers["If-Match"])
        if "*" in tags:  # any current version
            return
        if self.current_etag(instance) not in tags:
            raise PreconditionFailed()

    def current_etag(self, instance) -> str:
        """The tag a GET of `instance` would carry now."""
        renderer = self.request.accepted_renderer
        if not isinstance(renderer, JSONRenderer):
            renderer = JSONRenderer()
        data = self.get_serializer(instance).data
        content = renderer.render(
            data, self.request.accepted_media_type, self.get_renderer_context()
        )
        return etag_of(content)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("PUT", "PATCH") and 200 <= response.status_code < 300:
            response.add_post_render_callback(_tag)  # the version it wrote
        return response


def _tag(response):
    response["ETag"] = etag_of(response.content)
