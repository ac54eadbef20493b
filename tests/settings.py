"""Settings for the test suite and its server processes: the app's, plus two
things only tests want."""

import os

# Local development for this process (its servers get production-like settings).
os.environ.setdefault("DEBUG", "true")

from config.settings import *  # noqa: F403

# A second live resource, added as docs/forking.md says (tests/live/test_forking.py).
# (Labelled `suite_notes`: a fork's own `notes` app may stand beside it.)
INSTALLED_APPS = [*INSTALLED_APPS, "tests.apps.SuiteNotesConfig"]  # noqa: F405
# Notes with a per-user field, at /api/my-notes/ (never a shared render).
INSTALLED_APPS += ["tests.mine"]
# Sign-ups and sign-ins in tests need no key stretching.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# `/test/wait/<key>/`, a view that blocks until the test releases it.
ROOT_URLCONF = "tests.slow_urls"
# `X-Test-Wait: <key>` makes any request wait for the test, before the view.
MIDDLEWARE = [*MIDDLEWARE, "tests.slow_urls.WaitMiddleware"]  # noqa: F405
