"""
Tokens that end when their session does.

simplejwt blacklists refresh tokens only: an access token made from one went on
working for its whole lifetime after sign-out. Each access token here carries
its session's id (`sid`, the refresh token's `jti`), and sign-out marks that
session ended in Redis for as long as an access token of it could still be
valid, so every transport refuses it at once. A refresh token of a user deleted
since is a dead credential like any other: 401, not a server error.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_save
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from live.redis_client import get_redis, redis_key

SESSION_CLAIM = "sid"


def _ended_key(session_id):
    return redis_key("signed-out", session_id)


def end_session(session_id):
    """Refuse every access token of the session `session_id` from now on."""
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    leeway = float(settings.SIMPLE_JWT.get("LEEWAY", 0) or 0)
    get_redis().set(_ended_key(session_id), 1, ex=int(lifetime + leeway) + 1)


class SignInSerializer(TokenObtainPairSerializer):
    """Sign-in: a refresh token whose access tokens name it as their session."""

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token[SESSION_CLAIM] = token["jti"]  # copied into each access token
        return token


class RefreshSerializer(TokenRefreshSerializer):
    """Refresh: a refresh token of a user deleted since is 401, as for any dead
    credential (simplejwt's own lets `DoesNotExist` through: a 500)."""

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None


def signed_out(sender, instance, created, **kwargs):
    """A refresh token blacklisted (sign-out) ends its session."""
    if created:
        end_session(instance.token.jti)


post_save.connect(signed_out, sender=BlacklistedToken)


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, refusing the access tokens of ended sessions."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        session_id = token.get(SESSION_CLAIM)
        if session_id is not None and get_redis().exists(_ended_key(session_id)):
            raise InvalidToken(
                {"detail": "Signed out: sign in again.", "code": "token_not_valid"}
            )
        return token
