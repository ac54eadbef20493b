from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "tests.notes"

    def ready(self):
        from snippets import events
        from tests.notes.views import NoteViewSet

        events.track(NoteViewSet)
