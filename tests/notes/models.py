from django.conf import settings
from django.db import models
from django.db.models import Q


class Note(models.Model):
    # A user's notes are `user.notes`: named after the app, so that a second copy
    # of this model (the starter's suite keeps one) never clashes with it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="%(app_label)s",
    )
    text = models.CharField(max_length=200)
    shared = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return self.text

    @staticmethod
    def readable_by(user) -> Q:
        """Shared notes and your own; staff read all."""
        if user.is_staff:
            return Q()
        return Q(shared=True) | Q(owner_id=user.pk)
