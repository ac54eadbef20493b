"""
docs/forking.md walked as a newcomer walks it, on copies of the repository:
adding the guide's resource with its commands as written, and removing the demo
exactly as it says, which leaves a starter whose own build is green. (Tests of
the starter as shipped: they go with the demo, as a fork has walked the guide.)
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from live import localredis
from tests.conftest import PROJECT_DIR, plain_shell_env
from tests.live.test_forking import GUIDE, guide_commands, guide_files

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


@pytest.mark.slow
def test_a_newcomer_adds_the_guide_s_resource_with_its_commands_as_written(tmp_path):
    """On a copy of the repository, with a plain shell's environment (no
    settings at all): the guide's commands make the app and its migration, its
    files go in as shown, the project checks clean and migrates, and its suite
    starts."""
    copy = tmp_path / "fork"
    shutil.copytree(
        PROJECT_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".run", "node_modules", "staticfiles", "*.sqlite3"
        ),
    )
    # The virtualenv running this test (a copy of the repository has none).
    (copy / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = plain_shell_env()

    def shell(script):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done

    try:
        shell(guide_commands("2. Add a resource"))  # startapp
        for path, code in guide_files().items():
            (copy / path).parent.mkdir(parents=True, exist_ok=True)
            (copy / path).write_text(code)
        settings_file = copy / "config" / "settings.py"
        settings_file.write_text(
            settings_file.read_text().replace(
                '    "live",\n', '    "live",\n    "notes",\n', 1
            )
        )
        urls_file = copy / "config" / "urls.py"
        urls_file.write_text(
            urls_file.read_text().replace(
                '    path("admin/", admin.site.urls),\n',
                '    path("admin/", admin.site.urls),\n'
                '    path("api/", include("notes.urls")),\n',
                1,
            )
        )
        section = GUIDE.read_text().split("## 2. Add a resource", 1)[1]
        makemigrations = re.findall(r"```sh\n(.*?)```", section, re.S)[1]
        shell(makemigrations)
        assert (copy / "notes" / "migrations" / "0001_initial.py").exists()
        shell(".venv/bin/python manage.py check && .venv/bin/python manage.py migrate")
        # Its suite still starts beside the suite's own copy of the guide's app.
        shell(".venv/bin/python -m pytest --collect-only -q -p no:cacheprovider")
    finally:
        localredis.stop(copy)
