"""Shared by the benchmarks: a private Django environment, machine facts and realistic queries.

Nothing here is timed. The environment is configured before Django is imported, so every
benchmark runs against its own fresh (or explicitly kept) SQLite database and keys.
"""

import http.client
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

AGENCY = "BPD"
BPD_OPERATORS = 48  # RTCC analysts and investigators
BPD_SUPERVISORS = 4


def configure_environment(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """Point Sightline at `data_dir` (SQLite, keys) with production settings; returns the env.

    DEBUG stays off (as in production); only the HTTPS redirect is switched off because the
    benchmark talks plain HTTP to 127.0.0.1. DATABASE_URL is removed so SQLite is used, unless
    `database_url` names another database (the keys stay in `data_dir`).
    """
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SIGHTLINE_DATA_DIR": str(data_dir),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
        }
    )
    return dict(os.environ)


def with_database(url: str, name: str) -> str:
    """`url` (a PostgreSQL server) with its database replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def fresh_postgres_database(url: str, prefix: str) -> Iterator[str]:
    """A new, empty database at the PostgreSQL server of `url`, dropped afterwards (with
    Django's connections to it closed first); yields its URL."""
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(url, name)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(
    port: int,
    proc: subprocess.Popen,
    timeout: float = 60.0,
    ready: Callable[[], bool] = lambda: True,
) -> None:
    """Wait until GET /healthz on `port` answers 200 (and `ready()` holds); fail if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The server exited with code {proc.returncode} while starting.")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200 and ready():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"The server did not answer /healthz within {timeout:.0f} s.")


def setup_django(data_dir: Path, database_url: str | None = None) -> None:
    """Configure, set up Django and migrate the database (in `data_dir`, or `database_url`)."""
    configure_environment(data_dir, database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def ensure_reference_data():
    """The BPD agency, its operators and one integration; returns (integration, key or None).

    The key is only known when the integration is created here (keys are stored hashed).
    """
    from audit.log import services
    from audit.models import Agency, Integration, Operator

    agency, _ = Agency.objects.get_or_create(
        code=AGENCY,
        defaults={"name": "Birmingham Police Department", "kind": "municipal", "is_home": True},
    )
    if not Operator.objects.filter(agency=agency).exists():
        Operator.objects.bulk_create(
            [
                Operator(
                    badge_number=f"B{4100 + n}",
                    name=f"Operator {n}",
                    unit="RTCC Supervisors" if n < BPD_SUPERVISORS else "RTCC Analysts - Day",
                    agency=agency,
                    is_supervisor=n < BPD_SUPERVISORS,
                )
                for n in range(BPD_OPERATORS + BPD_SUPERVISORS)
            ]
        )
    integration = Integration.objects.filter(agency=agency, name="bench console").first()
    if integration is not None:
        return integration, None
    return services.create_integration(agency=agency, name="bench console")


def machine_info() -> dict:
    """What the figures were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    import django

    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "django": django.get_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def print_machine(info: dict) -> None:
    print(f"when:    {info['timestamp']}")
    print(
        f"machine: {info['cpu_count']} CPUs ({info['cpu_model']}), {info['platform']}\n"
        f"         Python {info['python']}, SQLite {info['sqlite']}, Django {info['django']}, "
        f"load average {info['load_avg_1m']} at start"
    )


class QueryFactory:
    """Realistic ingest payloads (plain JSON dicts), deterministic for a seed.

    The mix of technologies, query types, offenses and justifications is the demo data's
    (`audit.demo`): mostly plate searches, specific justifications with a place, a few vague or
    missing ones, supervisors on most face-recognition searches. Query n of `total` happened at
    n/total of the way through the `days` before now, as a live feed sends them (in time order).
    """

    def __init__(self, seed: int, *, total: int, days: int = 730):
        from audit.log import demo

        self.demo = demo
        self.rng = random.Random(seed)
        self.end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self.start = self.end - timedelta(days=days)
        self.total = max(total, 1)
        self.step = (self.end - self.start).total_seconds() / self.total
        self.tz = ZoneInfo("America/Chicago")
        self.slugs = list(demo.MIX)
        self.shares = [demo.MIX[s][0] for s in self.slugs]
        self.operators = [f"B{4100 + n}" for n in range(BPD_SUPERVISORS, BPD_OPERATORS)]
        self.supervisors = [f"B{4100 + n}" for n in range(BPD_SUPERVISORS)]
        self.plates = [self._plate() for _ in range(5000)]

    def _plate(self) -> str:
        rng = self.rng
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        county, a, b = rng.randint(1, 67), rng.choice(letters), rng.choice(letters)
        return f"{county}{a}{b} {rng.randint(100, 999)}"

    def _weighted(self, table: dict[str, int]) -> str:
        return self.rng.choices(list(table), weights=list(table.values()))[0]

    def query(self, n: int) -> dict:
        rng, demo = self.rng, self.demo
        slug = rng.choices(self.slugs, weights=self.shares)[0]
        _, types, offenses = demo.MIX[slug]
        offense = self._weighted(offenses)
        roll = rng.random()
        if roll < 0.003:
            justification, offense = rng.choice(demo.DISALLOWED), ""
        elif roll < 0.05:
            justification = rng.choice(demo.VAGUE)
        elif roll < 0.07:
            justification = ""
        else:
            template = demo.SPECIFIC.get(offense, demo.SPECIFIC[""])
            justification = template.format(place=rng.choice(demo.PLACES))
        seconds = min(n, self.total - 1) * self.step + rng.uniform(0, min(self.step, 60))
        moment = (self.start + timedelta(seconds=int(seconds))).astimezone(self.tz)
        day = moment.date()
        item = {
            "technology": slug,
            "query_type": self._weighted(types),
            "occurred_at": moment.isoformat(),
            "operator": rng.choice(self.operators),
            "offense_code": offense,
            "justification": justification,
            "case_number": ""
            if rng.random() < 0.07
            else f"{AGENCY}-{day.year}-{rng.randint(1, 48000):06d}",
            "scope": "local" if rng.random() < 0.8 else "regional",
            "result_count": rng.randint(0, 40),
            "client_ref": f"rtcc-{n:010d}",
        }
        if slug == "nibin":
            if rng.random() < 0.6:
                item["target"] = f"NIBIN-{rng.randint(10**7, 10**8 - 1)}"
        elif slug == "face-recognition":
            item["target"] = f"{rng.getrandbits(256):064x}"
        else:
            item["target"] = rng.choice(self.plates)
        if (slug == "face-recognition" and rng.random() < 0.93) or rng.random() < 0.1:
            item["supervisor"] = rng.choice(self.supervisors)
        if rng.random() < 0.035:
            item["on_behalf_of"] = rng.choice(["JCSO", "Hoover Police Department", "USMS"])
        return item

    def batch(self, start: int, count: int) -> list[dict]:
        return [self.query(n) for n in range(start, start + count)]
