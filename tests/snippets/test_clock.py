"""The demo's clock process and erase job, started as a user or a platform would."""

import pytest

from tests.conftest import deploy_env, manage, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_erase_snippets_runs_from_a_plain_shell():
    """`python manage.py erase_snippets` needs only the deploy settings."""
    result = manage("erase_snippets", env=deploy_env())
    assert result.returncode == 0, result.stderr
    assert "Erased 0 snippets" in result.stderr


def test_clock_runs_from_a_plain_shell(started):
    """`python manage.py clock` starts and erases at once."""
    clock = started(["python", "manage.py", "clock"], env=deploy_env())
    wait_until(lambda: "Erased" in clock.log())


def test_a_clock_started_before_the_migrations_logs_one_line(started, tmp_path):
    """At a deploy's first start the clock may run before the web process has
    migrated: it says so in one line, no traceback, and keeps going."""
    empty = f"sqlite:///{tmp_path / 'not-migrated.sqlite3'}"
    clock = started(
        ["python", "manage.py", "clock"], env=deploy_env(DATABASE_URL=empty)
    )
    wait_until(lambda: "database not ready" in clock.log())
    assert "Traceback" not in clock.log()
