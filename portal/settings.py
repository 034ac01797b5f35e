"""Settings for Sightline, read from the environment (twelve-factor) with safe defaults."""

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Local state that must survive a lost database (keys) lives here, outside the database.
SIGHTLINE_DATA_DIR = Path(os.environ.get("SIGHTLINE_DATA_DIR", BASE_DIR / "var"))


def secret_from_file(path: Path, nbytes: int = 32) -> str:
    """Read a generated secret, creating it (mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(nbytes))
    return path.read_text().strip()


# Keys and the embedded database are readable by the portal's own user only.
SIGHTLINE_DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


DEBUG = env_bool("DEBUG", default=False)

# Deployments set SECRET_KEY; without it, a key generated once into the data directory is used
# one. Development falls back to a key generated into the data directory.
SECRET_KEY = os.environ.get("SECRET_KEY") or secret_from_file(SIGHTLINE_DATA_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    # First, so the site shell's templates override third-party ones (login, API docs).
    "portal",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "audit",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(), then the second factor for auditors and administrators.
    "django_otp.middleware.OTPMiddleware",
    "portal.twofactor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # django-axes must come last: it throttles failed logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portal.context_processors.site",
            ],
        },
    },
]

# Database: SQLite (WAL) by default so `make run` needs nothing else; PostgreSQL in production.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SIGHTLINE_DATA_DIR / "db.sqlite3",
            # Keep connections: opening one (with its PRAGMAs) costs more than a cached page.
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the
                # busy timeout instead of failing with "database is locked" mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Store UTC, show local time: the public `date` of an entry is its local date here.
TIME_ZONE = os.environ.get("TIME_ZONE", "America/Chicago")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from here (collectstatic)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Security ---------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A load balancer probes the app directly over plain HTTP: a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 60 * 60  # staff sessions expire after a working day
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# No inline script or style anywhere: every asset is a same-origin file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# django-axes: lock an account/IP pair out after repeated failed logins.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Auditors and administrators must confirm a TOTP code (authenticator app) after their password
# before any staff page or API. Off by default; deployments should turn it on.
SIGHTLINE_REQUIRE_2FA = env_bool("SIGHTLINE_REQUIRE_2FA", default=False)
OTP_TOTP_ISSUER = "Sightline"

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "audit.api.views.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sightline API",
    "DESCRIPTION": "Record surveillance-technology queries and read the verifiable public log.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
API_KEY_CUSTOM_HEADER = "HTTP_AUTHORIZATION"

# --- Sightline --------------------------------------------------------------------------------
# The city this deployment serves, shown in the site header.
SIGHTLINE_CITY_NAME = os.environ.get("SIGHTLINE_CITY_NAME", "Birmingham, Alabama")
# HMAC key for target fingerprints: plates and probe digests are never stored, only
# HMAC-SHA256(key, normalized target). Losing it makes old fingerprints unsearchable: back it up.
SIGHTLINE_TARGET_KEY = os.environ.get("SIGHTLINE_TARGET_KEY") or secret_from_file(
    SIGHTLINE_DATA_DIR / "target_key"
)
# The Ed25519 key that signs tree heads; created on first use, kept outside the database.
SIGHTLINE_SIGNING_KEY_FILE = Path(
    os.environ.get("SIGHTLINE_SIGNING_KEY_FILE", SIGHTLINE_DATA_DIR / "signing_key.pem")
)
# The latest published tree head, also kept outside the database (beside the key by default):
# verify_log compares the database with it, so a database restored from a backup older than
# a published head is caught. Back it up with the key; it is never served.
SIGHTLINE_WITNESS_FILE = Path(
    os.environ.get(
        "SIGHTLINE_WITNESS_FILE", SIGHTLINE_SIGNING_KEY_FILE.parent / "latest-tree-head.json"
    )
)
# A new tree head is published when the log has grown and the last head is this old (seconds).
SIGHTLINE_TREE_HEAD_INTERVAL = int(os.environ.get("SIGHTLINE_TREE_HEAD_INTERVAL", "60"))
# The log's identity in the C2SP formats: the first line of every checkpoint and the name of
# its signing key (served under /tlog/). Choose it once: witnesses and verifiers know the log by
# it, and a new origin is, to them, a new log. Default: the first allowed host + "/sightline".
SIGHTLINE_LOG_ORIGIN = os.environ.get("SIGHTLINE_LOG_ORIGIN") or (
    next((h.lstrip(".") for h in ALLOWED_HOSTS if h.strip(".*")), "localhost") + "/sightline"
)
# Seconds to wait for a witness (C2SP tlog-witness) to answer a checkpoint submission.
SIGHTLINE_WITNESS_TIMEOUT = int(os.environ.get("SIGHTLINE_WITNESS_TIMEOUT", "10"))
# Local hours the center is staffed ("HH:MM-HH:MM"); Birmingham's center runs 19 hours a day.
SIGHTLINE_STAFFED_HOURS = os.environ.get("SIGHTLINE_STAFFED_HOURS", "05:00-24:00")
# Purposes no technology may be used for: a query whose offense group or justification matches
# one is flagged `disallowed-offense`. Keywords match whole words, case-insensitively.
SIGHTLINE_PROHIBITED_PURPOSES = {
    "immigration enforcement": {
        "offense_categories": ["Immigration Violations"],
        "keywords": ["immigration", "immigrant", "deportation", "deport", "undocumented", "ICE"],
    },
    "reproductive health care": {
        "offense_categories": [],
        "keywords": ["abortion", "reproductive health", "family planning", "pregnancy"],
    },
    "protest or other First Amendment activity": {
        "offense_categories": [],
        "keywords": [
            "protest", "protests", "protester", "protesters", "demonstration", "demonstrators",
            "rally", "First Amendment", "march participants", "religious service", "journalist",
        ],
    },
}  # fmt: skip
# Month the fiscal year starts (Birmingham: July, so FY2026 = July 2025 - June 2026).
SIGHTLINE_FISCAL_YEAR_START_MONTH = int(os.environ.get("SIGHTLINE_FISCAL_YEAR_START_MONTH", "7"))
# Public aggregate cells below this count show as "fewer than N" (0 = off).
SIGHTLINE_PUBLIC_MIN_CELL = int(os.environ.get("SIGHTLINE_PUBLIC_MIN_CELL", "0"))
# The licence the open data is published under (shown on /open-data/).
SIGHTLINE_DATA_LICENCE = os.environ.get(
    "SIGHTLINE_DATA_LICENCE", "Creative Commons CC0 1.0 Universal (public domain dedication)"
)
SIGHTLINE_DATA_LICENCE_URL = os.environ.get(
    "SIGHTLINE_DATA_LICENCE_URL", "https://creativecommons.org/publicdomain/zero/1.0/"
)
# Public pages are cached per language and signed tree head; figures that are not in the signed
# log (flags, reviews, outcomes, spending) are at most this many seconds old.
SIGHTLINE_PUBLIC_PAGE_TIMEOUT = int(os.environ.get("SIGHTLINE_PUBLIC_PAGE_TIMEOUT", "300"))
# Entries are kept at least this long (CJIS Security Policy audit-log minimum: one year).
SIGHTLINE_LOG_RETENTION_DAYS = int(os.environ.get("SIGHTLINE_LOG_RETENTION_DAYS", "365"))
# A vendor export's row and a log entry of the same search match when their times are this
# many minutes apart or fewer: vendor and RTCC clocks differ (docs/imports.md).
SIGHTLINE_RECONCILE_TOLERANCE_MINUTES = int(
    os.environ.get("SIGHTLINE_RECONCILE_TOLERANCE_MINUTES", "10")
)
# An import of a file over 1 MB reads it in a second process too (half of the check, then the
# rows ahead of the writer), where that process can be forked safely (docs/imports.md); "0"
# reads in-process.
SIGHTLINE_IMPORT_READ_AHEAD = os.environ.get("SIGHTLINE_IMPORT_READ_AHEAD", "1") != "0"
# Requests per integration key to the ingest endpoints ("N/sec", "N/min", "N/hour", "N/day");
# past it the API answers 429 with Retry-After. Counts live in the default cache: per process
# unless CACHES names a cache the workers share.
SIGHTLINE_INGEST_RATE = os.environ.get("SIGHTLINE_INGEST_RATE", "600/min")
# Largest ingest request body accepted (bytes).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
