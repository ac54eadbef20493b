"""
Password guessing, limited on every way to sign in: Django's own login forms
(`/api-auth/login/`, `/admin/login/`), which DRF's throttles never see, and the
API's token endpoint (`/api/auth/token/`). Each try costs a full password hash,
for a username that does not exist too (Django's `ModelBackend` hashes the
password anyway, so a guess's time tells nothing).

Two limits, so that guessing is slow and the owner is never locked out:

- per client address, every attempt (`LOGIN_THROTTLE_RATE`): one address
  guesses at most that fast, at any account;
- per username, failed attempts only (`LOGIN_ACCOUNT_THROTTLE_RATE`, higher):
  guesses spread over many addresses stay limited per account. One address
  alone cannot reach it, so an attacker at one address locks no one out. A
  client that has signed in as that user before carries a signed cookie saying
  so (OWASP's device cookie) and skips this limit: the owner signs in from a
  known browser even while the account is under attack from many addresses.
  A new client must then wait for the window (`Retry-After`).

Over the JSON API from a script without cookies, and over a WebSocket (a frame
sets no cookie), a client is always new.
"""

import json

from django.conf import settings
from django.core import signing
from django.http import JsonResponse
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from live import metrics, throttling
from live.conf import live_settings
from live.contract import address_group

DEVICE_COOKIE = "signin_device"
DEVICE_SALT = "live.signin-device"
DEVICE_MAX_AGE = 365 * 24 * 3600


def login_paths():
    """The sign-in paths, each with whether it is a form (success: a redirect)."""
    return {
        reverse("rest_framework:login"): True,
        reverse("admin:login"): True,
        reverse("token_obtain_pair"): False,
    }


def username_tried(request):
    """The username a sign-in names, from a form or a JSON body; `""` if none."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):  # the view answers 400
            return ""  # a body it cannot read names no one
        username = body.get("username") if isinstance(body, dict) else None
    else:
        username = request.POST.get("username")
    return username.strip().lower() if isinstance(username, str) else ""


def known_device(request, username):
    """Whether this client signed in as `username` before (its device cookie)."""
    try:
        value = request.get_signed_cookie(
            DEVICE_COOKIE, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE
        )
    except (KeyError, signing.BadSignature):
        return False
    return bool(username) and value == username


class LoginThrottleMiddleware:
    """At most `LOGIN_THROTTLE_RATE` sign-in attempts per client address and
    `LOGIN_ACCOUNT_THROTTLE_RATE` failed ones per username from clients that
    never signed in as it, counted by the API's Redis limiter; 429 beyond."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths = None

    def __call__(self, request):
        if request.method != "POST":
            return self.get_response(request)
        self.paths = self.paths or login_paths()
        if request.path not in self.paths:
            return self.get_response(request)
        username = username_tried(request)
        trusted = known_device(request, username)
        account = f"login:username:{username}"
        try:
            refusal = self.refusal(request, account, trusted=trusted)
            if refusal is not None:
                return refusal
            response = self.get_response(request)
            form = self.paths[request.path]
            succeeded = response.status_code == (302 if form else 200)
            if not succeeded and not trusted:
                throttling.limiter().hit(self.account_item(), account)
        except RedisError:
            metrics.redis_errors.labels("throttle").inc()
            detail = throttling.RateLimiterUnavailable.default_detail
            return JsonResponse({"detail": str(detail)}, status=503)
        if succeeded and username:
            response.set_signed_cookie(
                DEVICE_COOKIE,
                username,
                salt=DEVICE_SALT,
                max_age=DEVICE_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response

    @staticmethod
    def account_item():
        return throttling.rate_limit_item(live_settings.LOGIN_ACCOUNT_THROTTLE_RATE)

    def refusal(self, request, account, *, trusted):
        """A 429 if this address is over its limit, or the account over its own
        (for a client that never signed in as it); `None` to go on."""
        item = throttling.rate_limit_item(live_settings.LOGIN_THROTTLE_RATE)
        address = f"login:address:{address_group(BaseThrottle().get_ident(request))}"
        limiter = throttling.limiter()
        if not limiter.hit(item, address):
            over, key = item, address
        elif not trusted and not limiter.test(self.account_item(), account):
            over, key = self.account_item(), account
        else:
            return None
        wait = throttling.seconds_until(limiter.get_window_stats(over, key).reset_time)
        response = JsonResponse(
            {"detail": f"Too many sign-in attempts; retry in {wait} seconds."},
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
