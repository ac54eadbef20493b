from rest_framework import serializers

from tests.notes.views import NoteSerializer, NoteViewSet


class MyNoteSerializer(NoteSerializer):
    mine = serializers.SerializerMethodField()

    class Meta(NoteSerializer.Meta):
        fields = [*NoteSerializer.Meta.fields, "mine"]

    def get_mine(self, note) -> bool:
        return note.owner_id == self.context["request"].user.pk


class MyNoteViewSet(NoteViewSet):
    """Says no cohort: each identity is shown its own render of a change."""

    serializer_class = MyNoteSerializer
