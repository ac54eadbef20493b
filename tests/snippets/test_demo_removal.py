"""
Removing the demo, exactly as docs/forking.md says, leaves a starter whose own
build is green. (A test of the demo's: it goes with the demo.)
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR
from tests.live.test_forking import guide_commands

# What only the demo's code is called: its app, paths, settings and markers.
DEMO_NAMES = re.compile(r"snippets[/.]|/snippets|\"snippets\",|SNIPPET|# demo")
# What a fork makes its own in prose (the project's name may stay till then).
PROSE = ("README.md", "docs/", "app.json")


def names_of_the_demo(tree):
    """Every `path:line` of `tree`'s files, but its prose, naming the demo."""
    found = []
    for path in sorted(tree.rglob("*")):
        name = path.relative_to(tree).as_posix()
        if not path.is_file() or name.startswith(PROSE) or "node_modules" in name:
            continue
        text = path.read_text(errors="replace")
        found += [
            f"{name}:{number}"
            for number, line in enumerate(text.splitlines(), 1)
            if DEMO_NAMES.search(line)
        ]
    return found


# A suite of its own runs inside: generous, for a loaded machine.
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_removing_the_demo_as_the_guide_says_leaves_a_working_starter(tmp_path):
    """On a copy of the repository: the guide's "Remove the demo" lines, run as
    written; then nothing left names the demo, and what is left migrates and
    passes its own suite, all of it, as `make test` runs it in the fork."""
    copy = tmp_path / "starter"
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT_DIR,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (PROJECT_DIR / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, copy / name)
    removal = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", guide_commands("5. Remove the demo")],
        cwd=copy,
        capture_output=True,
        text=True,
    )
    assert removal.returncode == 0, removal.stderr
    assert not (copy / "snippets").exists()
    settings_text = (copy / "config" / "settings.py").read_text()
    assert '"snippets",' not in settings_text and "SNIPPET" not in settings_text
    assert "clock" not in (copy / "Procfile").read_text()
    assert names_of_the_demo(copy) == []

    from django.conf import settings

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTEST_XDIST_WORKER")
        and not key.startswith("PYTEST_")
    }
    env.update(DEBUG="true", REDIS_URL=settings.REDIS_URL, PYTHONPATH=str(copy))

    def run(*command, timeout=1700):
        done = subprocess.run(
            [sys.executable, *command],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
        return done

    run("manage.py", "migrate", "--noinput")
    run("manage.py", "collectstatic", "--noinput", "--verbosity", "0")
    suite = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2")
    assert " passed" in suite.stdout.splitlines()[-1]
    assert "failed" not in suite.stdout.splitlines()[-1]
