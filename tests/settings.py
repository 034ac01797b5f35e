"""Test settings: the real settings, with plain-HTTP test requests and fast password hashing."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SIGHTLINE_TARGET_KEY", "test-target-key-not-secret")
_keys = Path(tempfile.mkdtemp(prefix="sightline-test-keys-"))
os.environ.setdefault("SIGHTLINE_SIGNING_KEY_FILE", str(_keys / "signing_key.pem"))

from portal.settings import *  # noqa: E402,F403
from portal.settings import DATABASES  # noqa: E402

# The test client speaks plain HTTP; tests that check HTTPS behaviour send secure requests.
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A file-backed test database (not SQLite's shared in-memory one) so concurrent writers wait
# on the busy timeout as they do in production.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(_keys / "test.sqlite3")}
elif os.environ.get("TEST_DB_NAME"):
    # Lets two suites share one PostgreSQL server without sharing a test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TEST_DB_NAME"]}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
