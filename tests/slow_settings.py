"""Settings for test servers that also serve `tests.slow_urls`."""

from snippets.settings import *  # noqa: F403

ROOT_URLCONF = "tests.slow_urls"
