from django.conf import settings
from django.db import models


class EndedSession(models.Model):
    """A sign-in ended by sign-out: the record that refuses its access tokens
    (Redis only caches it, live/tokens.py), kept while one could be valid."""

    session_id = models.CharField(max_length=255, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL
    )
    ended_at = models.DateTimeField(auto_now_add=True)
    # When the last access token of the session can expire: kept until then.
    keep_until = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.session_id
