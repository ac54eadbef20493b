from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions, serializers, viewsets

from live.filters import SearchFilter
from live.views import LiveViewSetMixin
from tests.notes.models import Note


class NoteSerializer(serializers.ModelSerializer):
    owner = serializers.ReadOnlyField(source="owner.username")

    class Meta:
        model = Note
        fields = ["id", "owner", "text", "shared"]


class IsOwnerOrReadOnly(permissions.BasePermission):
    """Anyone reads what they may see; only its owner changes or deletes a note."""

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return obj.owner_id == request.user.id


class NoteViewSet(LiveViewSetMixin, viewsets.ModelViewSet):
    queryset = Note.objects.select_related("owner")
    serializer_class = NoteSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]
    # `?shared=true`, `?owner=3`, `?search=milk`: each also a live filtered list.
    filter_backends = [DjangoFilterBackend, SearchFilter]
    filterset_fields = ["shared", "owner"]
    search_fields = ["text"]

    def readable(self):
        return Note.readable_by(self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)
