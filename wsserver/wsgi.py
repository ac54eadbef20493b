"""What HTTP servers do for a WSGI app that Django leaves to them; both paths use it."""

from __future__ import annotations

from collections.abc import Callable, Iterable

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def as_http_servers_do(app: WSGIApp) -> WSGIApp:
    """Wrap a WSGI app with two things HTTP servers do that Django leaves to them.

    Header values lose surrounding white space: Django sends `Set-Cookie` values
    with a leading space (`SimpleCookie.output(header="")`), which most servers
    trim and Tornado's `WSGIContainer` rejects, leaving the client waiting. And
    a HEAD response has no body: Django returns GET's, which must not be sent.
    """

    def wrapped_app(environ, start_response):
        def trimmed_start_response(status, headers, exc_info=None):
            headers = [(name, value.strip()) for name, value in headers]
            return start_response(status, headers, exc_info)

        result = app(environ, trimmed_start_response)
        if environ["REQUEST_METHOD"] != "HEAD":
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()  # request_finished, as after any response
        return []

    return wrapped_app
