"""Settings: production refuses to start without what it needs, naming the fix."""

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR, manage

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-production-secret",
    "ALLOWED_HOSTS": "app.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "postgres://app@db.example.com:5432/app",
}


def import_settings(**env):
    environment = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    environment.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
    )


def test_production_settings_load():
    """With every required setting given, production settings import cleanly."""
    assert import_settings(**PRODUCTION).returncode == 0


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "REDIS_URL", "DATABASE_URL"]
)
def test_production_without_a_required_setting_fails_naming_it(missing):
    """Leaving out SECRET_KEY, ALLOWED_HOSTS, REDIS_URL or DATABASE_URL (a
    SQLite file would be lost on restart, one per process) stops the process."""
    result = import_settings(**{**PRODUCTION, missing: None})
    assert result.returncode != 0
    assert f"{missing} is required when DEBUG is off" in result.stderr


def test_the_build_step_needs_no_runtime_configuration():
    """`collectstatic` as a platform's build runs it: no DEBUG, no secret, no
    hosts, no URLs, and no private Redis started for it."""
    unset = {*PRODUCTION, "DEBUG", "DJANGO_SETTINGS_MODULE"}
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    build = manage("collectstatic", "--noinput", "--dry-run", env=environment)
    assert build.returncode == 0, build.stderr


def test_the_live_settings_have_defaults_one_prefix_and_read_old_names(settings):
    """`live_settings.NAME` is `LIVE_NAME`, else the old `NAME`, else the
    default; the history's name follows the key prefix; a change is seen at
    once."""
    from live.conf import live_settings

    for name in ("LIVE_JSON_MAX_DEPTH", "JSON_MAX_DEPTH"):
        if hasattr(settings, name):
            delattr(settings, name)
    assert live_settings.JSON_MAX_DEPTH == 32
    settings.JSON_MAX_DEPTH = 8
    assert live_settings.JSON_MAX_DEPTH == 8
    settings.LIVE_JSON_MAX_DEPTH = 4
    assert live_settings.JSON_MAX_DEPTH == 4
    settings.REDIS_KEY_PREFIX = "a-fork"
    assert live_settings.EVENTS_STREAM == "a-fork:events"
