from django.apps import AppConfig


class SnippetsConfig(AppConfig):
    name = "snippets"

    def ready(self):
        from live.tracking import track
        from snippets.views import SnippetViewSet

        track(SnippetViewSet)
