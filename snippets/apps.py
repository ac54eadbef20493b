from django.apps import AppConfig


class SnippetsConfig(AppConfig):
    name = "snippets"

    def ready(self):
        # Connects the signal handlers that publish change events.
        from snippets import events  # noqa: F401
