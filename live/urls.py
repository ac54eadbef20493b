"""What the live layer serves: the health check, signing in and out, the API's
two documents (OpenAPI, AsyncAPI), its docs page and the WebSocket playground."""

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from live import asyncapi, health, pages

# What signing in answers (simplejwt's serializer declares only what it takes).
TOKEN_PAIR = inline_serializer(
    "TokenPair",
    {"access": serializers.CharField(), "refresh": serializers.CharField()},
)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path(
        "api/auth/token/",
        extend_schema(responses=TOKEN_PAIR)(TokenObtainPairView).as_view(),
        name="token_obtain_pair",
    ),
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
]
