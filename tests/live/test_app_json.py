"""app.json: the platform manifest agrees with the Procfile, README and settings."""

import json
import os
import re
import secrets
import subprocess

from tests.conftest import PROJECT_DIR, manage
from wsserver.gunicorn_conf import bind_address

APP_JSON = PROJECT_DIR / "app.json"
PROCFILE = PROJECT_DIR / "Procfile"
SETTINGS_DOC = PROJECT_DIR / "docs" / "settings.md"
SETTINGS = PROJECT_DIR / "config" / "settings.py"
GUNICORN_CONF = PROJECT_DIR / "wsserver" / "gunicorn_conf.py"

# Variables read outside the settings module, and the file that reads each.
READ_ELSEWHERE = {"WEB_CONCURRENCY": GUNICORN_CONF}


def load_app_json():
    return json.loads(APP_JSON.read_text(encoding="utf-8"))


def procfile_process_types():
    types = set()
    for line in PROCFILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        assert sep and command.strip(), f"Procfile line is not 'name: command': {line}"
        types.add(name.strip())
    return types


def documented_setting_names():
    names = set()
    for line in SETTINGS_DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        first_cell = line.strip("|").split("|")[0]
        match = re.fullmatch(r"\s*`([A-Z0-9_]+)`\s*", first_cell)
        if match:
            names.add(match.group(1))
    return names


def test_app_json_formation_names_exactly_the_procfile_process_types():
    """app.json is valid JSON and its formation has one entry per Procfile type."""
    app = load_app_json()
    assert set(app["formation"]) == procfile_process_types()


def test_every_app_json_env_var_is_documented_in_the_readme_settings_table():
    """Every env var app.json sets is a row of the settings table (docs/settings.md)."""
    documented = documented_setting_names()
    assert documented, "no setting names parsed from docs/settings.md's table"
    missing = sorted(set(load_app_json()["env"]) - documented)
    assert not missing, f"app.json env vars missing from docs/settings.md: {missing}"


def test_app_json_generates_the_secret_and_deploys_for_production():
    """SECRET_KEY is generated, DEBUG is off, one proxy is trusted, PG and Redis."""
    app = load_app_json()
    env = app["env"]
    assert env["SECRET_KEY"].get("generator") == "secret"
    assert env["DEBUG"]["value"] == "false"
    assert env["NUM_PROXIES"]["value"] == "1"
    plans = [addon["plan"] for addon in app["addons"]]
    assert any(plan.startswith("heroku-postgresql:") for plan in plans), plans
    assert any(plan.startswith("heroku-redis:") for plan in plans), plans


def test_every_app_json_env_var_is_read_by_the_code():
    """Each env var is a string literal in settings.py (or its documented reader)."""
    unread = []
    for name in load_app_json()["env"]:
        reader = READ_ELSEWHERE.get(name, SETTINGS)
        source = reader.read_text(encoding="utf-8")
        if f'"{name}"' not in source and f"'{name}'" not in source:
            unread.append(f"{name} (expected in {reader.relative_to(PROJECT_DIR)})")
    assert not unread, f"app.json env vars no code reads: {unread}"


def app_json_environment(**platform):
    """The environment a deploy from app.json runs with: its values, a generated
    secret, the host name the user gives, and what the add-ons set."""
    env = {
        name: spec["value"]
        for name, spec in load_app_json()["env"].items()
        if "value" in spec
    }
    return {
        **env,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "my-app.herokuapp.com",
        **platform,
    }


def test_the_deploy_settings_pass_django_s_deploy_checklist(tmp_path):
    """`manage.py check --deploy` finds nothing to warn about under app.json's
    environment: HTTPS only, HSTS, secure cookies, the proxy's HTTPS header."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        app_json_environment(
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            REDIS_URL="redis://redis.invalid:6379",  # the check needs none
        )
    )
    check = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert check.returncode == 0, check.stderr
    assert "no issues" in check.stdout


def test_app_json_makes_the_user_name_their_own_host():
    """No pre-filled host: `.herokuapp.com` would serve any app's host name."""
    hosts = load_app_json()["env"]["ALLOWED_HOSTS"]
    assert hosts["required"] is True and "value" not in hosts


def test_make_run_listens_on_this_machine_only_unless_told():
    """`make run` serves the development key: 127.0.0.1 unless HOST says."""
    for host, shown in [(None, "HOST=127.0.0.1"), ("0.0.0.0", "HOST=0.0.0.0")]:
        command = ["make", "-n", "run"] + ([f"HOST={host}"] if host else [])
        dry = subprocess.run(
            command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
        )
        assert (
            f"{shown} RELOAD=true python -m live.localredis run -- honcho" in dry.stdout
        )
    assert bind_address("127.0.0.1", "5000") == "127.0.0.1:5000"
    assert bind_address("::1", "5000") == "[::1]:5000"
