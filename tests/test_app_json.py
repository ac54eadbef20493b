"""app.json: the platform manifest agrees with the Procfile, README and settings."""

import json
import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
APP_JSON = PROJECT_DIR / "app.json"
PROCFILE = PROJECT_DIR / "Procfile"
README = PROJECT_DIR / "README.md"
SETTINGS = PROJECT_DIR / "snippets" / "settings.py"
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


def readme_settings_names():
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("## Settings")
    names = set()
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
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
    """Every env var app.json sets is a row of the README's Settings table."""
    documented = readme_settings_names()
    assert documented, "no setting names parsed from README's '## Settings' table"
    missing = sorted(set(load_app_json()["env"]) - documented)
    assert not missing, f"app.json env vars missing from README Settings: {missing}"


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
