from django.contrib.auth.models import User
from django.db import transaction
from rest_framework import mixins, permissions, renderers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from snippets.models import Snippet
from snippets.permissions import CanCreateSnippet, IsOwnerOrReadOnly
from snippets.serializers import SnippetSerializer, UserSerializer

# The highlighted page is shown to people: it may style itself, nothing more.
HIGHLIGHT_CSP = "default-src 'none'; style-src 'unsafe-inline'"


class SnippetViewSet(viewsets.ModelViewSet):
    """
    List, create, retrieve, update and delete snippets; `highlight` shows one as
    a highlighted HTML page.

    Anyone may read and create; only the owner or staff may change or delete.
    """

    queryset = Snippet.objects.select_related("owner")
    serializer_class = SnippetSerializer
    permission_classes = [CanCreateSnippet, IsOwnerOrReadOnly]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "highlight":
            # Only the highlight page shows it, and it is many times the code.
            queryset = queryset.defer("highlighted")
        if self.request.method in ("PUT", "PATCH"):
            # Locked from read to save: a DELETE committed in between would make
            # save() find no row to update and INSERT it again.
            queryset = queryset.select_for_update(of=("self",))
        return queryset

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().update(request, *args, **kwargs)

    @action(detail=True, renderer_classes=[renderers.StaticHTMLRenderer])
    def highlight(self, request, *args, **kwargs):
        snippet = self.get_object()
        return Response(
            snippet.highlighted, headers={"Content-Security-Policy": HIGHLIGHT_CSP}
        )

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(owner=user if user.is_authenticated else None)


class UserViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve users with their snippets; `POST` signs up."""

    queryset = User.objects.prefetch_related("snippets").order_by("id")
    serializer_class = UserSerializer
    permission_classes = [permissions.AllowAny]
