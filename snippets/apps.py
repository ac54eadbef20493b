from django.apps import AppConfig


class SnippetsConfig(AppConfig):
    name = "snippets"

    def ready(self):
        # Connect the signal handlers that publish change events, and register
        # the OpenAPI description of the JWT scheme.
        from snippets import events, schema  # noqa: F401
        from snippets.views import SnippetViewSet

        events.track(SnippetViewSet)
