from django.conf import settings
from rest_framework import permissions


class IsOwnerOrReadOnly(permissions.BasePermission):
    """
    Anyone may read; only the snippet's owner or staff may change or delete it.

    An anonymous snippet has no owner, so only staff may change it.
    """

    def has_object_permission(self, request, view, obj):
        # Read permissions are allowed to any request.
        if request.method in permissions.SAFE_METHODS:
            return True
        if request.user.is_staff:
            return True
        return obj.owner_id is not None and obj.owner_id == request.user.id


class CanCreateSnippet(permissions.BasePermission):
    """
    Anyone may create a snippet unless `SNIPPET_CREATE_REQUIRES_LOGIN` is on.

    Every other method is left to the object permission.
    """

    def has_permission(self, request, view):
        if request.method == "POST" and settings.SNIPPET_CREATE_REQUIRES_LOGIN:
            return bool(request.user and request.user.is_authenticated)
        return True
