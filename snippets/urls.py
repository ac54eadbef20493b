"""The demo's URLs: its page, and its API (snippets, and users to own them)."""

from django.urls import include, path

from live.routers import Router
from snippets import pages, views

router = Router()
router.register("snippets", views.SnippetViewSet, basename="snippet")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("", pages.index, name="index"),
    path("api/", include(router.urls)),
]
