"""
Credentials that stop holding end their subscriptions in every process: a
sign-out, a password change, a deactivation or a deleted user is recorded in the
history as `revoked` (with the identity), once its transaction commits.
"""

from django.contrib.auth.models import User
from django.db.models.signals import post_delete, post_save, pre_save
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from live.tracking import publish_on_commit
from live.views import identity


def revoke(user_id):
    """End the user's subscriptions in every process, once this commits."""
    publish_on_commit({"event": "revoked", "identity": identity(user_id)})


def user_changing(sender, instance, **kwargs):
    old = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    instance._credentials_before = old


def user_saved(sender, instance, created, **kwargs):
    old = instance.__dict__.pop("_credentials_before", None)
    deactivated = old and old["is_active"] and not instance.is_active
    if deactivated or old and old["password"] != instance.password:
        revoke(instance.pk)


def user_deleted(sender, instance, **kwargs):
    revoke(instance.pk)


def signed_out(sender, instance, created, **kwargs):
    if created and instance.token.user_id is not None:
        revoke(instance.token.user_id)


pre_save.connect(user_changing, sender=User)
post_save.connect(user_saved, sender=User)
post_delete.connect(user_deleted, sender=User)
post_save.connect(signed_out, sender=BlacklistedToken)
