from djangochannelsrestframework.generics import GenericAsyncAPIConsumer
from djangochannelsrestframework.mixins import (
    CreateModelMixin,
    ListModelMixin,
    RetrieveModelMixin,
)
from djangochannelsrestframework.permissions import AllowAny

from snippets.models import Snippet
from snippets.serializers import SnippetSerializer


class SnippetConsumer(
    ListModelMixin, RetrieveModelMixin, CreateModelMixin, GenericAsyncAPIConsumer
):
    """The snippets as DCRF serves them, reading what an anonymous GET reads."""

    queryset = (
        Snippet.objects.filter(private=False)
        .select_related("owner")
        .defer("highlighted")
    )
    serializer_class = SnippetSerializer
    permission_classes = (AllowAny,)

    def get_serializer_context(self, **kwargs):
        # The project's links are site-relative: no request is needed for them.
        return {**super().get_serializer_context(**kwargs), "request": None}
