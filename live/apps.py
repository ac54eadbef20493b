from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"

    def ready(self):
        # Connect the handlers that end subscriptions and sessions when
        # credentials stop holding, and describe the JWT scheme to OpenAPI.
        from live import revocation, schema, tokens  # noqa: F401
