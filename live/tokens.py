"""
Tokens that end when their session does.

simplejwt blacklists refresh tokens only: an access token made from one went on
working for its whole lifetime after sign-out. Each sign-in here is a session:
its refresh token and every access token made from it carry the session's id
(`sid`, the first refresh token's `jti`; a rotated refresh token keeps it). Sign-out
records the session ended in the database (`EndedSession`, the record) and in
Redis (a cache of it), in one step that either does both or answers 503, and
ends the live subscriptions made with that session's tokens; the user's other
sessions keep theirs. Every transport refuses the session's access tokens from
then on, whatever happens to Redis: a session Redis does not know is looked up in
the database. A token without a session (made before sessions were) is refused:
sign in again. A Redis fault while authenticating is a 503 with `Retry-After`.
A refresh token of a user deleted since is a dead credential like any other:
401, not a server error.
"""

from contextlib import contextmanager
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.serializers import (
    TokenBlacklistSerializer,
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from live import metrics
from live.contract import SESSION_CLAIM
from live.models import EndedSession
from live.redis_client import get_redis, redis_key
from live.revocation import revoke

ENDED, OPEN = b"ended", b"open"
NO_SESSION = "Token names no session (it predates sign-out): sign in again."
SIGNED_OUT = "Signed out: sign in again."


class SessionsUnavailable(APIException):
    """Redis, where sessions are cached, did not answer: try again shortly."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Sessions unavailable (Redis unreachable); try again shortly."
    default_code = "sessions_unavailable"
    wait = 5  # DRF's exception handler makes it `Retry-After`


def _key(session_id):
    return redis_key("session", session_id)


def _access_seconds():
    """How long an access token can be valid (its lifetime and the leeway)."""
    leeway = jwt_settings.LEEWAY
    leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else leeway
    return int(jwt_settings.ACCESS_TOKEN_LIFETIME.total_seconds() + leeway) + 1


def _ended_seconds():
    """How long an ended session is remembered: while a refresh token made
    before it ended could still be presented, and its access tokens be valid."""
    return int(jwt_settings.REFRESH_TOKEN_LIFETIME.total_seconds()) + _access_seconds()


def session_ended(session_id):
    """Return `True` if the session was signed out; Redis caches the database."""
    cache = get_redis()
    cached = cache.get(_key(session_id))
    if cached is not None:
        return cached == ENDED
    ended = EndedSession.objects.filter(pk=session_id).exists()
    if ended:
        cache.set(_key(session_id), ENDED, ex=_ended_seconds())
    else:
        # Never over a sign-out's mark written meanwhile (`nx`).
        cache.set(_key(session_id), OPEN, ex=_access_seconds(), nx=True)
    return ended


def end_session(session_id, *, user_id):
    """Refuse every token of the session `session_id` from now on, and end the
    subscriptions made with them, once this commits. Inside a transaction: if
    Redis cannot be told, nothing is recorded (a 503)."""
    keep_until = timezone.now() + timedelta(seconds=_ended_seconds())
    with transaction.atomic():
        EndedSession.objects.filter(keep_until__lt=timezone.now()).delete()
        EndedSession.objects.update_or_create(
            session_id=session_id,
            defaults={"user_id": user_id, "keep_until": keep_until},
        )
        with _sessions_cache() as cache:
            cache.set(_key(session_id), ENDED, ex=_ended_seconds())
        revoke(user_id, session=session_id)


def _session_of(token):
    session_id = token.get(SESSION_CLAIM)
    if not session_id:
        raise InvalidToken({"detail": NO_SESSION, "code": "token_not_valid"})
    return str(session_id)


class SignInSerializer(TokenObtainPairSerializer):
    """Sign-in: a refresh token whose access tokens name it as their session."""

    @classmethod
    def get_token(cls, user):
        token = super().get_token(user)
        token[SESSION_CLAIM] = token["jti"]  # copied into each access token
        return token


def access_token_for(user):
    """An access token of a new session of `user`, as sign-in would give (for
    scripts that sign users in without their password)."""
    return str(SignInSerializer.get_token(user).access_token)


class RefreshSerializer(TokenRefreshSerializer):
    """Refresh: refused for a session signed out or without a session; a refresh
    token of a user deleted since is 401, as for any dead credential
    (simplejwt's own lets `DoesNotExist` through: a 500)."""

    def validate(self, attrs):
        session_id = _session_of(RefreshToken(attrs["refresh"]))
        if _ended(session_id):
            raise InvalidToken({"detail": SIGNED_OUT, "code": "token_not_valid"})
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None


class SignOutSerializer(TokenBlacklistSerializer):
    """Sign-out: the refresh token blacklisted and its session ended, together."""

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])
        session_id = _session_of(refresh)
        with transaction.atomic():
            refresh.blacklist()
            user_id = refresh.payload.get(jwt_settings.USER_ID_CLAIM)
            end_session(session_id, user_id=user_id)
        return {}


@contextmanager
def _sessions_cache():
    """The Redis that caches sessions; a fault with it is a 503 (with
    `Retry-After`), never a 500."""
    try:
        yield get_redis()
    except RedisError:
        metrics.redis_errors.labels("sessions").inc()
        raise SessionsUnavailable() from None


def _ended(session_id):
    with _sessions_cache():
        return session_ended(session_id)


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, refusing the access tokens of ended sessions."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        if _ended(_session_of(token)):
            raise InvalidToken({"detail": SIGNED_OUT, "code": "token_not_valid"})
        return token
