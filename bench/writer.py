"""Make snippet changes through the ORM in a process of their own, printing when
each began (`time.perf_counter()` is the system's monotonic clock, so the
subscribers' process can compare)."""

import json
import sys
import time

import django


def main(changes, pause, seconds):
    django.setup()
    from snippets.models import Snippet

    # Warm up (imports, lexers, the connection): this change is not timed.
    Snippet.objects.create(title="warm-up", code="x = 1")
    started = time.perf_counter()
    count = 0
    while count < changes or time.perf_counter() - started < seconds:
        began = time.perf_counter()
        snippet = Snippet.objects.create(title="fan-out", code="x = 1")
        print(json.dumps({"url": f"/api/snippets/{snippet.pk}/", "began": began}))
        count += 1
        time.sleep(pause)
    print(json.dumps({"changes": count, "elapsed": time.perf_counter() - started}))


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]))
