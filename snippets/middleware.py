"""
Password guessing on Django's own login forms (`/api-auth/login/` and
`/admin/login/`), limited like the API: DRF's throttles never see these plain
Django views, and each try costs a full password hash.
"""

from django.conf import settings
from django.http import JsonResponse
from django.urls import reverse
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from snippets import throttling


def login_paths():
    return {reverse("rest_framework:login"), reverse("admin:login")}


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
        address = BaseThrottle().get_ident(request)
        username = request.POST.get("username", "").strip().lower()
        keys = [f"login:address:{address}", f"login:username:{username}"]
        try:
            # Both counted, so a guesser cannot spread one over the other.
            over = [key for key in keys if not throttling.limiter().hit(item, key)]
            if not over:
                return None
            reset = throttling.limiter().get_window_stats(item, over[0]).reset_time
        except RedisError:
            detail = throttling.RateLimiterUnavailable.default_detail
            return JsonResponse({"detail": str(detail)}, status=503)
        wait = throttling.seconds_until(reset)
        response = JsonResponse(
            {"detail": f"Too many sign-in attempts; retry in {wait} seconds."},
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response
