from django.apps import AppConfig


class SnippetsConfig(AppConfig):
    name = "snippets"

    def ready(self):
        # Connect the signal handlers that publish change events and end
        # signed-out sessions, and register the OpenAPI description of the JWT
        # scheme.
        from snippets import events, schema, tokens  # noqa: F401
        from snippets.views import SnippetViewSet

        events.track(SnippetViewSet)
