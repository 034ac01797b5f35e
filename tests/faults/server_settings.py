"""Settings of a gunicorn subprocess in the fault tests: the test settings, on the test database
the pytest process created (named in FAULT_DB_NAME)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["FAULT_DB_NAME"]
DATABASES["default"].pop("TEST", None)
