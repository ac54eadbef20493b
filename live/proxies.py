"""
A deploy behind a TLS-terminating router that forgot `NUM_PROXIES` redirects
every request to the URL it came from (Django, trusting no proxy, sees plain
HTTP), forever and in silence. This says so once per process, with the fix.
"""

import logging

from django.conf import settings

log = logging.getLogger(__name__)

LOOP = (
    "Requests arrive with X-Forwarded-Proto: https through a proxy that is not "
    "trusted (NUM_PROXIES=0), so each is redirected to the URL it came from, in a "
    "loop. Set NUM_PROXIES to the number of proxies in front of the app (1 behind "
    "a Heroku-style router)."
)


class ProxyHintMiddleware:
    """Log `LOOP` the first time a request would be redirected to itself."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.said = False

    def __call__(self, request):
        if not self.said and self.would_loop(request):
            self.said = True
            log.warning(LOOP)
        return self.get_response(request)

    @staticmethod
    def would_loop(request):
        forwarded = request.META.get("HTTP_X_FORWARDED_PROTO", "")
        return (
            settings.SECURE_SSL_REDIRECT
            and not settings.NUM_PROXIES
            and forwarded.split(",")[0].strip() == "https"
            and not request.is_secure()
        )
