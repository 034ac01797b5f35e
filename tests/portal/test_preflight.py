"""The production preflight (`python -m portal.preflight`, run first by `make serve`)."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from portal import preflight

REPO = Path(__file__).resolve().parents[2]
GOOD_KEY = "q7Vb2pXr9LmN4sTz8KcW1yHd6FjG3aUe5RiO0oPl-_QwEeRtYuIiAsDdFfGgHh"


def good_env(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    env = {
        "SECRET_KEY": GOOD_KEY,
        "DATABASE_URL": "postgres://sightline:pw@db.internal:5432/sightline",
        "ALLOWED_HOSTS": "sightline.example.gov",
        "SIGHTLINE_DATA_DIR": str(tmp_path),
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_a_safe_environment_passes(tmp_path):
    assert len(GOOD_KEY) >= 50
    assert preflight.problems(good_env(tmp_path)) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": GOOD_KEY[:49]}, "SECRET_KEY is 49 characters long; use at least 50"),
        ({"SECRET_KEY": "changeme" + GOOD_KEY}, "contains 'changeme'"),
        ({"SECRET_KEY": "django-insecure-" + GOOD_KEY}, "contains 'insecure'"),
        ({"SECRET_KEY": GOOD_KEY + "-SECRET"}, "contains 'secret'"),
        ({"SECRET_KEY": "ab" * 30}, "fewer than 5 distinct characters"),
        ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "  "}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "sqlite:////srv/sightline/db.sqlite3"}, "not sqlite://: SQLite is for"),
        (
            {"DATABASE_URL": "mysql://u:p@h/db"},
            "must point at PostgreSQL (postgres://...), not mysql://",
        ),
        ({"DATABASE_URL": "db.internal/sightline"}, "not a URL without a scheme"),
        ({"DATABASE_URL": "postgres://sightline@db.internal:5432/"}, "names no database"),
        ({"DEBUG": "1"}, "DEBUG is on"),
        ({"DEBUG": "True"}, "DEBUG is on"),
        ({"DEBUG": " yes "}, "DEBUG is on"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is not set"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS is not set"),
        ({"ALLOWED_HOSTS": "sightline.example.gov,*"}, "ALLOWED_HOSTS contains '*'"),
        ({"PORT": "http"}, "PORT must be a positive whole number"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY must be a positive whole number"),
        ({"GUNICORN_TIMEOUT": "-5"}, "GUNICORN_TIMEOUT must be a positive whole number"),
    ],
)
def test_each_unsafe_setting_is_refused(tmp_path, changes, expected):
    found = preflight.problems(good_env(tmp_path, **changes))
    assert len(found) == 1, found
    assert expected in found[0]


@pytest.mark.parametrize("value", ["0", "false", "off", "no", ""])
def test_debug_off_in_any_spelling_passes(tmp_path, value):
    assert preflight.problems(good_env(tmp_path, DEBUG=value)) == []


@pytest.mark.parametrize(
    "url",
    [
        "postgres://sightline@127.0.0.1:5432/sightline",
        "postgresql://sightline:pw@db/sightline?sslmode=require",
        "POSTGRES://sightline@db/sightline",
    ],
)
def test_every_postgresql_spelling_passes(tmp_path, url):
    assert preflight.problems(good_env(tmp_path, DATABASE_URL=url)) == []


def test_every_problem_is_reported_at_once(tmp_path):
    env = {"SECRET_KEY": "changeme", "DEBUG": "on", "SIGHTLINE_DATA_DIR": str(tmp_path)}
    found = preflight.problems(env)
    assert [p.split(" ")[0] for p in found] == [
        "SECRET_KEY",
        "SECRET_KEY",
        "DATABASE_URL",
        "DEBUG",
        "ALLOWED_HOSTS",
    ]
    assert "8 characters long" in found[0]
    assert "contains 'changeme'" in found[1]


def test_main_refuses_with_exit_2_and_lists_the_problems(tmp_path, capsys):
    code = preflight.main(good_env(tmp_path, SECRET_KEY="short", DATABASE_URL=None))
    err = capsys.readouterr().err
    assert code == 2
    assert "refuses to start in production: 2 problems" in err
    assert "  - SECRET_KEY is 5 characters long" in err
    assert "  - DATABASE_URL is not set" in err


def test_main_accepts_and_warns_about_missing_keys(tmp_path, capsys):
    assert preflight.main(good_env(tmp_path, SECURE_SSL_REDIRECT="0")) == 0
    out, err = capsys.readouterr()
    assert "safe for production" in out
    assert "SECURE_SSL_REDIRECT is off" in err
    assert f"No target key in {tmp_path / 'target_key'}" in err
    assert f"No signing key at {tmp_path / 'signing_key.pem'}" in err


def test_no_key_warnings_once_the_keys_exist(tmp_path, capsys):
    (tmp_path / "target_key").write_text("x")
    (tmp_path / "signing_key.pem").write_text("x")
    assert preflight.warnings(good_env(tmp_path)) == []


def test_a_missing_signing_key_is_refused_once_heads_were_published(tmp_path):
    (tmp_path / "latest-tree-head.json").write_text("{}")
    found = preflight.problems(good_env(tmp_path))
    assert found == [
        f"The signing key {tmp_path / 'signing_key.pem'} is missing, but "
        f"{tmp_path / 'latest-tree-head.json'} shows this log has published tree heads: restore "
        "the key from its backup (or fix SIGHTLINE_SIGNING_KEY_FILE)."
    ]
    (tmp_path / "signing_key.pem").write_text("x")
    assert preflight.problems(good_env(tmp_path)) == []


def test_the_witness_file_setting_is_followed(tmp_path):
    elsewhere = tmp_path / "witness" / "head.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text("{}")
    assert preflight.problems(good_env(tmp_path)) == []
    found = preflight.problems(good_env(tmp_path, SIGHTLINE_WITNESS_FILE=str(elsewhere)))
    assert len(found) == 1 and "signing key" in found[0]


def test_run_as_a_module_the_way_make_serve_does(tmp_path):
    env = {"PATH": os.environ["PATH"], "DEBUG": "1", "ALLOWED_HOSTS": "sightline.example.gov"}
    env["SIGHTLINE_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "portal.preflight"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "3 problems" in result.stderr
    for name in ("SECRET_KEY is not set", "DATABASE_URL is not set", "DEBUG is on"):
        assert name in result.stderr
    # The preflight never loads the settings, so it generated no key into the data directory.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_healthz_is_not_redirected_to_https_for_a_plain_http_probe(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    # Every other page still is, unless the proxy says the request came over HTTPS.
    redirected = client.get("/log/")
    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/log/"
    assert client.get("/log/", headers={"x-forwarded-proto": "https"}).status_code == 200


def gunicorn_settings(monkeypatch, **env: str) -> dict:
    for name in ("HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_CONTROL_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(REPO / "gunicorn.conf.py"))


def test_gunicorn_defaults_for_make_serve(monkeypatch):
    conf = gunicorn_settings(monkeypatch)
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["workers"] == 2 * len(os.sched_getaffinity(0)) + 1
    assert conf["timeout"] == 1800
    assert conf["accesslog"] == "-"
    assert conf["wsgi_app"] == "portal.wsgi:application"
    assert conf["control_socket_disable"] is True


def test_gunicorn_settings_follow_the_environment(monkeypatch):
    conf = gunicorn_settings(
        monkeypatch, HOST="10.0.0.5", PORT="9000", WEB_CONCURRENCY="3", GUNICORN_TIMEOUT="600"
    )
    assert conf["bind"] == ["10.0.0.5:9000"]
    assert (conf["workers"], conf["timeout"]) == (3, 600)
