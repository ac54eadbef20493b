from django.apps import AppConfig


class MineConfig(AppConfig):
    """Notes again, with a field that depends on who asks (`mine`): a view that
    must never share a render across users (tests/test_private_events.py)."""

    name = "tests.mine"

    def ready(self):
        from snippets import events
        from tests.mine.views import MyNoteViewSet

        events.track(MyNoteViewSet, basename="mynote")
