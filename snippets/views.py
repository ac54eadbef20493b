from django.contrib.auth.models import User
from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, renderers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from live.filters import SearchFilter
from live.views import LiveViewSetMixin, identity
from snippets.filters import SnippetFilter
from snippets.models import Snippet, language_choices
from snippets.permissions import CanCreateSnippet, IsOwnerOrReadOnly
from snippets.serializers import SnippetSerializer, UserSerializer

# The highlighted page is shown to people: it may style itself, nothing more.
HIGHLIGHT_CSP = "default-src 'none'; style-src 'unsafe-inline'"


READ_FIELDS = ["created", "title", "code", "linenos", "language", "style", "private"]


# What django-filter's own description of two filters would get wrong: an
# enumeration of every Pygments language written out again, `private` a string.
LIST_PARAMETERS = [
    OpenApiParameter(
        "language",
        enum=[alias for alias, _name in language_choices()],
        description="A Pygments language alias, as a snippet's.",
    ),
    OpenApiParameter(
        "private",
        bool,
        description="Only private (`true`) or only public (`false`) snippets; "
        "anyone but their owner and staff sees only public ones.",
    ),
    OpenApiParameter(
        "search", description="Words that every title listed contains, in any case."
    ),
]


@extend_schema_view(list=extend_schema(parameters=LIST_PARAMETERS))
class SnippetViewSet(LiveViewSetMixin, viewsets.ModelViewSet):
    """
    List, create, retrieve, update and delete snippets; `highlight` shows one as
    a highlighted HTML page. The list narrows by `language`, `owner` (a
    username), `private` and `search` (words in the title).

    Anyone may read public snippets and create; a private one is seen only by its
    owner and staff (to anyone else it does not exist: 404). Only the owner or
    staff may change or delete.
    """

    # `highlighted` is many times the code and only the highlight page shows it;
    # of the owner, the API shows only the username.
    queryset = Snippet.objects.select_related("owner").only(
        *READ_FIELDS, "owner__username"
    )
    serializer_class = SnippetSerializer
    permission_classes = [CanCreateSnippet, IsOwnerOrReadOnly]
    filter_backends = [DjangoFilterBackend, SearchFilter]
    filterset_class = SnippetFilter
    search_fields = ["title"]

    def readable(self):
        return Snippet.readable_by(self.request.user)

    def cohort(self):
        # A snippet shows the same to everyone who may read it: no field or
        # filter depends on who asks, but for its owner and staff.
        return "staff" if self.request.user.is_staff else "everyone"

    @classmethod
    def concerned(cls, row):
        owner = row.get("owner_id")
        return set() if owner is None else {identity(owner)}

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "highlight":
            queryset = queryset.defer(None)
        # (A write locks its row from read to save: live/conditional.py.)
        return queryset

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR})
    @action(detail=True, renderer_classes=[renderers.StaticHTMLRenderer])
    def highlight(self, request, *args, **kwargs):
        """The snippet as a highlighted HTML page; its errors are JSON, as every
        API error is (`handle_exception`)."""
        snippet = self.get_object()
        return Response(
            snippet.highlighted, headers={"Content-Security-Policy": HIGHLIGHT_CSP}
        )

    def handle_exception(self, exc):
        if self.action == "highlight":
            self.request.accepted_renderer = renderers.JSONRenderer()
            self.request.accepted_media_type = "application/json"
        return super().handle_exception(exc)

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(owner=user if user.is_authenticated else None)


class UserViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve users with their snippets; `POST` signs up."""

    queryset = User.objects.order_by("id")
    serializer_class = UserSerializer
    permission_classes = [permissions.AllowAny]

    def get_queryset(self):
        # A user's snippets as this request may see them: no private ones of others.
        readable = Snippet.objects.filter(Snippet.readable_by(self.request.user))
        snippets = Prefetch("snippets", queryset=readable.only("id", "owner_id"))
        return super().get_queryset().prefetch_related(snippets)
