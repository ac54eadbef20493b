"""
Password guessing, limited per address and per username on every way to sign
in: Django's own login forms (`/api-auth/login/`, `/admin/login/`), which DRF's
throttles never see, and the API's token endpoint (`/api/auth/token/`), whose
address throttle alone let one username be guessed from many addresses. Each try
costs a full password hash, for a username that does not exist too (Django's
`ModelBackend` hashes the password anyway, so a guess's time tells nothing).
"""

import json

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from live import metrics, throttling
from live.contract import address_group


def login_paths():
    return {
        reverse("rest_framework:login"),
        reverse("admin:login"),
        reverse("token_obtain_pair"),
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


class LoginThrottleMiddleware:
    """At most `LOGIN_THROTTLE_RATE` sign-in attempts per client address, and as
    many per username, counted by the API's Redis limiter; 429 beyond."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.paths = None

    def __call__(self, request):
        if request.method == "POST":
            self.paths = self.paths or login_paths()
            if request.path in self.paths:
                refusal = self.refusal(request)
                if refusal is not None:
                    return refusal
        return self.get_response(request)

    def refusal(self, request):
        item = throttling.rate_limit_item(settings.LOGIN_THROTTLE_RATE)
        address = address_group(BaseThrottle().get_ident(request))
        username = username_tried(request)
        keys = [f"login:address:{address}", f"login:username:{username}"]
        try:
            # Both counted, so a guesser cannot spread one over the other.
            over = [key for key in keys if not throttling.limiter().hit(item, key)]
            if not over:
                return None
            reset = throttling.limiter().get_window_stats(item, over[0]).reset_time
        except RedisError:
            metrics.redis_errors.labels("throttle").inc()
            detail = throttling.RateLimiterUnavailable.default_detail
            return JsonResponse({"detail": str(detail)}, status=503)
        wait = throttling.seconds_until(reset)
        response = JsonResponse(
            {"detail": f"Too many sign-in attempts; retry in {wait} seconds."},
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
