"""The project's URLs: the live layer's, the apps', the admin's."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("live.urls")),
    path("", include("snippets.urls")),  # demo
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]

# A JSON 404 under /api/, as every API error is.
handler404 = "live.pages.not_found"
