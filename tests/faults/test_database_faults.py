"""Faults in the middle of an ingest: the database connection dropping, a full disk, a worker
killed mid-request. Each must leave the log gapless and verifiable, tell the client to retry,
and the retry (same client_ref) must record every query exactly once."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection

from audit.models import QueryLogEntry
from audit.transparency.services import publish_tree_head
from audit.transparency.verification import verify_log
from tests.audit.queries import log_snapshot as snapshot

URL = "/api/v1/queries/"
REPO = Path(__file__).resolve().parents[2]


def batch(size: int, tag: str) -> list[dict]:
    return [
        {
            "technology": "license-plate-reader",
            "query_type": "plate-search",
            "occurred_at": "2026-02-10T12:00:00-06:00",
            "operator": f"B{n % 7}",
            "target": f"{tag}-{n}",
            # Every third query has no case number, so the batch also writes flags.
            "case_number": "" if n % 3 == 0 else f"BPD-2026-{n:04d}",
            "justification": "Carjacking investigation, suspect vehicle seen on camera.",
            "client_ref": f"{tag}-{n}",
        }
        for n in range(size)
    ]


def assert_gapless_and_verified(size: int) -> None:
    sequences = list(QueryLogEntry.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(size))
    verify_log()
    publish_tree_head()
    verify_log()


def assert_recorded_exactly_once(integration, body: list[dict]) -> None:
    refs = [q["client_ref"] for q in body]
    recorded = list(
        QueryLogEntry.objects.filter(integration=integration, client_ref__in=refs).values_list(
            "client_ref", flat=True
        )
    )
    assert sorted(recorded) == sorted(refs)


@pytest.fixture
def seeded(log_db, api_client, integration):
    """A log that already holds a batch and a published head, so faults hit a non-empty tree."""
    assert api_client.post(URL, batch(13, "seed"), format="json").status_code == 201
    publish_tree_head()
    return snapshot()


def failing_statement(table: str, verb: str, *, drop_connection: bool = False, message: str):
    """An execute wrapper that fails the first statement `verb` on `table`, as the database
    would; with drop_connection it also closes the connection underneath Django first."""
    state = {"failed": 0}

    # On PostgreSQL the log writes its rows with COPY: that is the statement that inserts them.
    verbs = (verb, "COPY") if verb == "INSERT" else (verb,)

    def wrapper(execute, sql, params, many, context):
        if not state["failed"] and sql.lstrip().upper().startswith(verbs) and f'"{table}"' in sql:
            state["failed"] += 1
            # SQLite is embedded: there is no server connection to lose (and closing it under
            # a live cursor leaves it open, locked). PostgreSQL's really goes away here.
            if drop_connection and context["connection"].vendor == "postgresql":
                context["connection"].connection.close()
            raise OperationalError(message)
        return execute(sql, params, many, context)

    return wrapper, state


def retry_records_exactly_once(api_client, integration, body, before) -> None:
    # Between requests Django drops a connection that failed (the test client does not).
    close_old_connections()
    connection.close()
    retried = api_client.post(URL, body, format="json")
    assert retried.status_code == 201, retried.content
    results = retried.json()["results"]
    assert [r["sequence"] for r in results] == list(range(before[0], before[0] + len(body)))
    assert snapshot()[:2] == (before[0] + len(body), before[1] + len(body))
    assert_recorded_exactly_once(integration, body)
    # A second retry is a replay: nothing new.
    assert api_client.post(URL, body, format="json").status_code == 200
    assert snapshot()[0] == before[0] + len(body)
    assert_gapless_and_verified(before[0] + len(body))


@pytest.mark.parametrize(
    ("table", "verb"),
    [
        ("audit_querylogentry", "INSERT"),
        ("audit_merklenode", "INSERT"),
        ("audit_logstate", "UPDATE"),
        ("audit_entryflags", "INSERT"),
    ],
)
def test_connection_dropping_mid_batch_rolls_back_and_the_retry_records_once(
    seeded, api_client, integration, table, verb
):
    body = batch(40, "drop")
    wrapper, state = failing_statement(
        table, verb, drop_connection=True, message="server closed the connection unexpectedly"
    )

    with connection.execute_wrapper(wrapper):
        response = api_client.post(URL, body, format="json")

    assert state["failed"] == 1  # the fault really happened, mid-batch
    assert response.status_code == 503, response.content
    assert int(response["Retry-After"]) > 0
    detail = response.json()["detail"]
    assert "Nothing was recorded" in detail and "same client_ref" in detail
    connection.close()
    assert snapshot() == seeded
    assert_gapless_and_verified(seeded[0])
    retry_records_exactly_once(api_client, integration, body, seeded)


@pytest.mark.parametrize("table", ["audit_querylogentry", "audit_merklenode"])
def test_a_full_disk_is_a_503_with_retry_after_and_nothing_partial(
    seeded, api_client, integration, table
):
    body = batch(40, "disk")
    wrapper, state = failing_statement(table, "INSERT", message="database or disk is full")

    with connection.execute_wrapper(wrapper):
        response = api_client.post(URL, body, format="json")

    assert state["failed"] == 1
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body_json = response.json()
    assert "unavailable or out of space" in body_json["detail"]
    assert body_json["errors"]["database"]
    assert snapshot() == seeded
    retry_records_exactly_once(api_client, integration, body, seeded)


def test_a_full_disk_on_an_outcome_is_a_503_too(seeded, api_client):
    wrapper, _ = failing_statement("audit_queryoutcome", "INSERT", message="disk full")
    with connection.execute_wrapper(wrapper):
        response = api_client.post(f"{URL}0/outcomes/", {"outcome": "lead"}, format="json")
    assert response.status_code == 503
    assert "Retry-After" in response


# --- A worker killed mid-request (real gunicorn, real HTTP) ------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, key: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{URL}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def gunicorn(log_db, tmp_path):
    """`gunicorn` with the project's config, one sync worker, on the test database."""
    port = _free_port()
    marker = tmp_path / "stalled"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.server_settings",
        "FAULT_DB_NAME": str(connection.settings_dict["NAME"]),
        "FAULT_MARKER": str(marker),
        "SIGHTLINE_SIGNING_KEY_FILE": str(settings.SIGHTLINE_SIGNING_KEY_FILE),
        "SIGHTLINE_TARGET_KEY": settings.SIGHTLINE_TARGET_KEY,
        "SIGHTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.faults.stalling_wsgi:application"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"gunicorn did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    try:
        yield port, marker
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        connection.close()


def test_a_worker_killed_mid_request_leaves_nothing_and_the_retry_records_once(
    gunicorn, integration_and_key
):
    port, marker = gunicorn
    integration, key = integration_and_key
    assert _post(port, key, batch(5, "warm"))[0] == 201
    before = snapshot()
    body = batch(400, "killed")

    outcome: dict = {}

    def first_attempt():
        try:
            outcome["response"] = _post(port, key, body)
        except OSError as problem:  # the connection dies with the worker
            outcome["error"] = problem

    sender = threading.Thread(target=first_attempt)
    sender.start()
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the worker never reached the write transaction"
        time.sleep(0.05)
    worker_pid, entries_written = (int(x) for x in marker.read_text().split())
    assert entries_written == len(body)  # the whole batch was inserted, not yet committed
    os.kill(worker_pid, signal.SIGKILL)
    sender.join(timeout=60)

    assert "error" in outcome or outcome["response"][0] >= 500
    connection.close()
    assert snapshot() == before  # the killed transaction left nothing behind
    assert_gapless_and_verified(before[0])

    # The client retries the same batch (gunicorn has started a new worker meanwhile).
    deadline = time.monotonic() + 30
    while True:
        try:
            status, answer = _post(port, key, body)
            break
        except OSError:
            assert time.monotonic() < deadline, "no new worker answered"
            time.sleep(0.2)
    assert status == 201, answer
    assert [r["sequence"] for r in answer["results"]] == list(
        range(before[0], before[0] + len(body))
    )
    connection.close()
    assert snapshot()[:2] == (before[0] + len(body), before[1] + len(body))
    assert_recorded_exactly_once(integration, body)
    assert_gapless_and_verified(before[0] + len(body))
