from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import routers
from rest_framework.reverse import reverse
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from snippets import asyncapi, health, pages, views


class APIRootView(routers.APIRootView):
    """The API's resources; the same operations over WebSocket are described in
    `asyncapi` and can be tried in `playground`."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        for name in ("asyncapi", "playground"):
            response.data[name] = reverse(name, request=request)
        return response


class Router(routers.DefaultRouter):
    APIRootView = APIRootView


router = Router()
router.register("snippets", views.SnippetViewSet, basename="snippet")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("", pages.index, name="index"),
    path("healthz", health.healthz, name="healthz"),
    path("api/", include(router.urls)),
    path("api/auth/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/auth/token/verify/", TokenVerifyView.as_view(), name="token_verify"),
    path(
        "api/auth/token/blacklist/",
        TokenBlacklistView.as_view(),
        name="token_blacklist",  # sign-out
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/asyncapi.json", asyncapi.asyncapi_json, name="asyncapi"),
    path("api/playground/", pages.playground, name="playground"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]


def not_found(request, exception):
    """A path nothing serves: under `/api/`, a JSON 404 as every API error is;
    elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


handler404 = not_found
