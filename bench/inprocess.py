"""Django's own work, the floor: the same views called through the test Client."""

import json
import sys
import time

import django


def main(kind, seconds):
    django.setup()
    from django.test import Client

    client = Client()
    if kind == "retrieve":
        call = lambda: client.get("/api/snippets/1/")  # noqa: E731
    else:
        body = {"title": "bench", "code": "print('hello')\n" * 5}
        call = lambda: client.post(  # noqa: E731
            "/api/snippets/", body, content_type="application/json"
        )
    for _ in range(20):
        assert call().status_code < 400
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        count += 1
    print(json.dumps({"rate": count / (time.perf_counter() - started)}))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
