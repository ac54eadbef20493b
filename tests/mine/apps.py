from django.apps import AppConfig


class MineConfig(AppConfig):
    """Notes again, with a field that depends on who asks (`mine`): a view that
    must never share a render across users (tests/live/test_renders.py)."""

    name = "tests.mine"

    def ready(self):
        from live.tracking import track
        from tests.mine.views import MyNoteViewSet

        track(MyNoteViewSet, basename="mynote")
