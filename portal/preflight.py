"""Refuse to start production with an unsafe environment, naming every problem at once.

    python -m portal.preflight        # `make serve` runs this first; exit 0 = safe to start

It reads the environment only and never imports the settings: loading the settings would
quietly generate a `SECRET_KEY` and a target key into the data directory, which is exactly
what a production start must not rely on.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_DISTINCT = 5  # as Django's own security.W009 check
# Words that mark a key copied from an example or a tutorial rather than generated.
PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "insecure",
    "secret",
    "placeholder",
    "example",
    "password",
    "dummy",
    "replace",
)
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}
TRUE_VALUES = {"1", "true", "yes", "on"}  # as portal.settings.env_bool
GENERATE_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in TRUE_VALUES


def _secret_key_problems(key: str) -> list[str]:
    if not key:
        return [f"SECRET_KEY is not set. Generate one with: {GENERATE_KEY}"]
    problems = []
    if len(key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"SECRET_KEY is {len(key)} characters long; use at least {MIN_SECRET_KEY_LENGTH} "
            f"random characters ({GENERATE_KEY})."
        )
    lowered = key.lower()
    found = [word for word in PLACEHOLDER_WORDS if word in lowered]
    if found:
        problems.append(
            f"SECRET_KEY looks like a placeholder (it contains '{found[0]}'); "
            f"generate a random one ({GENERATE_KEY})."
        )
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT:
        problems.append(
            f"SECRET_KEY uses fewer than {MIN_SECRET_KEY_DISTINCT} distinct characters; "
            "it is not random."
        )
    return problems


def _database_problems(url: str) -> list[str]:
    if not url:
        return [
            "DATABASE_URL is not set. Production runs on PostgreSQL, e.g. "
            "DATABASE_URL=postgres://sightline:PASSWORD@db.internal:5432/sightline "
            "(SQLite is for the demo only)."
        ]
    try:
        parts = urlsplit(url)
    except ValueError:
        return ["DATABASE_URL is not a valid URL."]
    scheme = parts.scheme.lower()
    if scheme not in POSTGRES_SCHEMES:
        shown = f"{scheme}://" if scheme else "a URL without a scheme"
        return [
            f"DATABASE_URL must point at PostgreSQL (postgres://...), not {shown}: "
            "SQLite is for the demo only."
        ]
    if not parts.path.strip("/"):
        return ["DATABASE_URL names no database (postgres://user@host:5432/DATABASE)."]
    return []


def _positive_int_problems(environ: Mapping[str, str], name: str, meaning: str) -> list[str]:
    value = environ.get(name, "")
    if value == "":
        return []
    if not value.strip().isdigit() or int(value) < 1:
        return [f"{name} must be a positive whole number ({meaning}), not {value!r}."]
    return []


def _key_paths(environ: Mapping[str, str]) -> tuple[Path, Path, Path]:
    """(data directory, signing key file, witness file) as portal.settings derives them."""
    data_dir = Path(environ.get("SIGHTLINE_DATA_DIR") or BASE_DIR / "var")
    signing = Path(environ.get("SIGHTLINE_SIGNING_KEY_FILE") or data_dir / "signing_key.pem")
    witness = Path(
        environ.get("SIGHTLINE_WITNESS_FILE") or signing.parent / "latest-tree-head.json"
    )
    return data_dir, signing, witness


def problems(environ: Mapping[str, str]) -> list[str]:
    """Every reason this environment must not serve production; empty when it may."""
    found = _secret_key_problems(environ.get("SECRET_KEY", ""))
    found += _database_problems(environ.get("DATABASE_URL", "").strip())
    if _is_true(environ.get("DEBUG")):
        found.append(
            "DEBUG is on. It shows tracebacks and settings to anyone; unset it or set DEBUG=0."
        )
    hosts = [h.strip() for h in environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    if not hosts:
        found.append(
            "ALLOWED_HOSTS is not set. List the names the site is served under, "
            "e.g. ALLOWED_HOSTS=sightline.example.gov"
        )
    elif "*" in hosts:
        found.append(
            "ALLOWED_HOSTS contains '*': any Host header would be believed (and put into "
            "password-reset links). List the site's names instead."
        )
    found += _positive_int_problems(environ, "PORT", "the port to listen on")
    found += _positive_int_problems(environ, "WEB_CONCURRENCY", "the number of workers")
    found += _positive_int_problems(environ, "GUNICORN_TIMEOUT", "seconds")
    _, signing, witness = _key_paths(environ)
    if witness.exists() and not signing.exists():
        found.append(
            f"The signing key {signing} is missing, but {witness} shows this log has published "
            "tree heads: restore the key from its backup (or fix SIGHTLINE_SIGNING_KEY_FILE)."
        )
    return found


def warnings(environ: Mapping[str, str]) -> list[str]:
    """Things that are allowed but that an operator should see at every start."""
    notes = []
    if not _is_true(environ.get("SECURE_SSL_REDIRECT", "1")):
        notes.append(
            "SECURE_SSL_REDIRECT is off: plain-HTTP requests are served as they are. Only do "
            "this when nothing but a TLS-terminating proxy can reach the server."
        )
    data_dir, signing, witness = _key_paths(environ)
    if not environ.get("SIGHTLINE_TARGET_KEY") and not (data_dir / "target_key").exists():
        notes.append(
            f"No target key in {data_dir / 'target_key'}: a new one will be generated. If this "
            "deployment has recorded queries before, stop and restore the key from its backup."
        )
    if not signing.exists() and not witness.exists():
        notes.append(
            f"No signing key at {signing}: a new one will be created at the first tree head. If "
            "this deployment has published tree heads before, stop and restore it from backup."
        )
    return notes


def main(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    for note in warnings(environ):
        print(f"preflight warning: {note}", file=sys.stderr)
    found = problems(environ)
    if found:
        print(
            f"Sightline refuses to start in production: {len(found)} problem"
            f"{'s' if len(found) != 1 else ''} with the environment.",
            file=sys.stderr,
        )
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        print("See docs/deploy.md for every setting.", file=sys.stderr)
        return 2
    print("preflight: the environment is safe for production.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
