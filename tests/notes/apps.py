from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "tests.notes"

    def ready(self):
        from live.tracking import track
        from tests.notes.views import NoteViewSet

        track(NoteViewSet)
