"""
Credentials and rights, as every process hears of them.

- Credentials that stop holding end their subscriptions: a password change, a
  deactivation or a deleted user ends all of that user's (`revoke`); a sign-out
  only those made with the tokens of the session it ends (live/tokens.py).
- Rights that change (anything a view's `readable()` or `cohort()` reads)
  regroup the user's subscriptions: `rights_changed()`, called in the
  transaction that changes them, before the write. From then on every process
  renders that user's changes for it alone, so no render shared by its old
  cohort can show it what its GET now refuses; once the change commits, its
  subscribers are told to refetch (`resync`), and subscribing again puts them in
  the cohort they belong to now. Django's own rights (`is_staff`,
  `is_superuser`, groups, permissions) call it here; a fork whose rules read its
  own tables (team membership, say) calls it where those change
  (docs/forking.md).
"""

from django.contrib.auth.models import Group, Permission, User
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_save,
    pre_delete,
    pre_save,
)

from live.conf import live_settings
from live.contract import (
    REVOKED,
    RIGHTS_CHANGED,
    RIGHTS_CHANGING,
    RIGHTS_COUNTER_SUFFIX,
)
from live.redis_client import get_redis
from live.tracking import append, publish_on_commit
from live.views import identity

# What the default rules read (`is_active` and `password` end credentials).
RIGHTS_FIELDS = ("is_staff", "is_superuser")
CREDENTIAL_FIELDS = ("is_active", "password")


def revoke(user_id, *, session=None):
    """End the user's subscriptions in every process (only those of `session`,
    if given), once this commits."""
    record = {"event": REVOKED, "identity": identity(user_id)}
    if session is not None:
        record["session"] = session
    publish_on_commit(record)


def rights_changed(*user_ids):
    """
    Say that what these users may see is changing: call it in the transaction
    that changes it, before the write (outside a transaction the write commits
    at once). Every process renders their changes for them alone from now on,
    and once this commits their subscribers refetch.

    Recorded at once, not on commit, so that it is in the history before the
    change can be read by anyone; a Redis fault raises, so that no rights
    change is made unannounced.
    """
    identities = sorted({identity(pk) for pk in user_ids if pk is not None})
    if not identities:
        return
    with get_redis().pipeline(transaction=True) as pipe:
        for name in identities:
            append(pipe, {"event": RIGHTS_CHANGING, "identity": name})
        pipe.incr(live_settings.EVENTS_STREAM + RIGHTS_COUNTER_SUFFIX)
        pipe.execute()
    for name in identities:
        publish_on_commit({"event": RIGHTS_CHANGED, "identity": name})


def user_changing(sender, instance, **kwargs):
    fields = (*RIGHTS_FIELDS, *CREDENTIAL_FIELDS)
    old = User.objects.filter(pk=instance.pk).values(*fields).first()
    instance._credentials_before = old
    if old and any(old[name] != getattr(instance, name) for name in RIGHTS_FIELDS):
        rights_changed(instance.pk)


def user_saved(sender, instance, created, **kwargs):
    old = instance.__dict__.pop("_credentials_before", None)
    deactivated = old and old["is_active"] and not instance.is_active
    if deactivated or old and old["password"] != instance.password:
        revoke(instance.pk)


def user_deleted(sender, instance, **kwargs):
    revoke(instance.pk)


def users(**lookup):
    return User.objects.filter(**lookup).values_list("pk", flat=True)


def memberships_changing(sender, instance, action, reverse, pk_set, **kwargs):
    """A user's groups or permissions, or a group's permissions, are changing."""
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    if isinstance(instance, User):
        return rights_changed(instance.pk)
    if sender is User.groups.through:  # group.user_set
        return rights_changed(*(pk_set or users(groups=instance)))
    if sender is User.user_permissions.through:  # permission.user_set
        return rights_changed(*(pk_set or users(user_permissions=instance)))
    if isinstance(instance, Group):  # group.permissions
        return rights_changed(*users(groups=instance))
    lookup = {"groups__in": pk_set} if pk_set else {"groups__permissions": instance}
    rights_changed(*users(**lookup))  # permission.group_set


def group_deleting(sender, instance, **kwargs):
    rights_changed(*users(groups=instance))


def permission_deleting(sender, instance, **kwargs):
    rights_changed(
        *users(user_permissions=instance), *users(groups__permissions=instance)
    )


pre_save.connect(user_changing, sender=User)
post_save.connect(user_saved, sender=User)
post_delete.connect(user_deleted, sender=User)
for through in (
    User.groups.through,
    User.user_permissions.through,
    Group.permissions.through,
):
    m2m_changed.connect(memberships_changing, sender=through)
pre_delete.connect(group_deleting, sender=Group)
pre_delete.connect(permission_deleting, sender=Permission)
