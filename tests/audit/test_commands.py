"""The management commands: create_integration, seed_demo and verify_log."""

import random
import re
from datetime import date, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from rest_framework.test import APIClient

from audit.log import demo
from audit.log.db import create_append_only_triggers, drop_append_only_triggers
from audit.models import (
    Agency,
    Integration,
    LogState,
    Operator,
    QueryLogEntry,
    QueryOutcome,
    SignedTreeHead,
)
from audit.transparency.verification import verify_log
from reports.models import Contract

TODAY = "2026-01-15"
SEED_ARGS = ["--queries", "300", "--seed", "1", "--demo-password", "some-pass-1", "--today", TODAY,
             "--vendor-rows", "0"]  # fmt: skip


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def entry_content():
    return list(
        QueryLogEntry.objects.order_by("sequence").values_list(
            "technology",
            "query_type",
            "occurred_at",
            "operator_badge",
            "offense_code",
            "case_number",
            "requesting_agency_code",
            "target_fingerprint",
            "justification",
        )
    )


# --- create_integration -----------------------------------------------------------------------


def test_create_integration_prints_the_key_alone_on_the_last_line(home_agency):
    output = run("create_integration", "--agency", "bpd", "--name", "Genetec connector")

    lines = output.rstrip("\n").split("\n")
    assert len(lines) >= 2
    key = lines[-1]
    assert re.fullmatch(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", key)
    integration = Integration.objects.get()
    assert integration.agency == home_agency
    assert integration.name == "Genetec connector"
    assert integration.prefix == key.split(".")[0]
    assert key not in integration.hashed_key
    assert key.split(".")[1] not in "\n".join(lines[:-1])

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    response = client.post(
        "/api/v1/queries/",
        {
            "technology": "nibin",
            "query_type": "casing-correlation",
            "occurred_at": "2026-01-10T09:00:00-06:00",
            "operator": "B4101",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert QueryLogEntry.objects.get().integration == integration


def test_create_integration_unknown_agency_names_it_and_creates_nothing(home_agency):
    with pytest.raises(CommandError, match="Unknown agency code 'ZZZ'") as raised:
        run("create_integration", "--agency", "ZZZ", "--name", "x")
    assert "BPD" in str(raised.value)
    assert Integration.objects.count() == 0


@pytest.mark.parametrize("name", ["   ", "n" * 51])
def test_create_integration_refuses_bad_names(home_agency, name):
    with pytest.raises(CommandError, match="--name"):
        run("create_integration", "--agency", "BPD", "--name", name)
    assert Integration.objects.count() == 0


# --- seed_demo --------------------------------------------------------------------------------


@pytest.fixture
def seeded(db):
    output = run("seed_demo", *SEED_ARGS)
    return output


def test_seed_demo_loads_a_realistic_verifiable_log(seeded):
    assert set(Agency.objects.values_list("code", flat=True)) == {
        "BPD",
        "MPD",
        "HPD",
        "MOPD",
        "ALEA",
        "FTF",
    }
    home = Agency.objects.get(is_home=True)
    assert (home.code, home.name) == ("BPD", "Birmingham Police Department")
    assert 55 <= Operator.objects.count() <= 65
    assert Operator.objects.filter(unit__startswith="RTCC").count() >= 20

    assert QueryLogEntry.objects.count() == 300
    assert LogState.objects.get(id=1).size == 300
    assert list(QueryLogEntry.objects.values_list("sequence", flat=True)) == list(range(300))
    by_technology = {
        slug: QueryLogEntry.objects.filter(technology_id=slug).count()
        for slug in ("license-plate-reader", "face-recognition", "nibin")
    }
    assert by_technology["license-plate-reader"] > by_technology["face-recognition"] > 0
    assert by_technology["nibin"] > 0
    assert QueryLogEntry.objects.exclude(requesting_agency_code="BPD").exists()
    first, last = (
        QueryLogEntry.objects.order_by("occurred_at").first(),
        QueryLogEntry.objects.order_by("occurred_at").last(),
    )
    assert last.local_date <= date.fromisoformat(TODAY)
    assert first.local_date >= date.fromisoformat(TODAY) - timedelta(days=731)

    outcomes = set(QueryOutcome.objects.values_list("outcome", flat=True))
    assert {"lead", "no-match"} <= outcomes
    assert Contract.objects.count() > 0

    head = SignedTreeHead.objects.latest()
    assert head.tree_size == 300
    result = verify_log()
    assert result.size == 300
    assert result.root_hash == head.root_hash
    assert "signed tree head of size 300" in seeded


def test_seed_demo_imports_a_demo_vendor_export_that_reconciles_both_ways(db):
    from audit.flags.rules import NOT_LOGGED_BY_RTCC
    from audit.imports import selectors
    from audit.imports.models import ImportRow, RowRecording, VendorImport
    from tests.audit.queries import flagged_with

    output = run("seed_demo", *SEED_ARGS[:-1], "400")
    vendor_import = VendorImport.objects.get()
    assert (vendor_import.format, vendor_import.agency.code, vendor_import.rows_read) == (
        "flock",
        "BPD",
        400,
    )
    assert vendor_import.covers_to.date() <= date.fromisoformat(TODAY)
    counts = selectors.list_counts(vendor_import)
    # Rows the console logged match; the others were recorded and flagged; the center's other
    # plate searches of those weeks are missing from the vendor's log.
    assert counts["matched"] > 100 and counts["vendor"] > 100 and counts["sightline"] > 0
    assert counts["matched"] + counts["vendor"] == 400
    recorded = set(RowRecording.objects.values_list("entry_id", flat=True))
    assert len(recorded) == counts["vendor"]
    assert recorded == flagged_with(NOT_LOGGED_BY_RTCC)
    assert ImportRow.objects.filter(agency_name="Hoover Police Dept").exists()
    assert f"400 vendor rows: {counts['matched']} matched to the log" in output
    # Everything recorded, the console's entries and the vendor's, is in the signed log.
    head = SignedTreeHead.objects.latest()
    assert head.tree_size == QueryLogEntry.objects.count() > 300 + len(recorded)
    assert verify_log().root_hash == head.root_hash


def test_seed_demo_loaded_today_holds_no_search_after_the_moment_it_ran(db, monkeypatch):
    from django.utils import timezone

    from audit.imports.models import ImportRow

    # Loaded at 09:30 local time: the demo's day runs to 17:00 for the vendor's export and to
    # midnight for the log, and none of it may have happened yet.
    loaded = timezone.make_aware(datetime(2026, 3, 10, 9, 30))
    monkeypatch.setattr(timezone, "now", lambda: loaded)
    run("seed_demo", *SEED_ARGS[:6], "--vendor-rows", "300")
    assert timezone.localdate() == date(2026, 3, 10)
    entries = QueryLogEntry.objects.all()
    assert entries.filter(occurred_at__gt=loaded).count() == 0
    assert ImportRow.objects.filter(occurred_at__gt=loaded).count() == 0
    # The day's searches so far are there, the log's and the vendor's.
    assert entries.filter(local_date=date(2026, 3, 10)).exists()
    assert ImportRow.objects.filter(local_date=date(2026, 3, 10)).exists()


def test_seed_demo_refuses_a_day_after_today(db):
    from django.utils import timezone

    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match="--today must not be after today"):
        run("seed_demo", "--queries", "10", "--today", later)
    assert not Agency.objects.exists()


@pytest.mark.django_db(transaction=True)  # heads are published after commits
def test_seed_demo_keeps_a_head_published_while_it_loaded(settings):
    # With no interval between heads, one covering everything is published as the last batch
    # commits: the command keeps it and still creates the demo users.
    settings.SIGHTLINE_TREE_HEAD_INTERVAL = 0
    output = run("seed_demo", *SEED_ARGS)
    assert SignedTreeHead.objects.latest().tree_size == 300
    assert "signed tree head of size 300" in output
    assert (
        get_user_model().objects.filter(username__in=["council", "auditor", "admin"]).count() == 3
    )


def test_seed_demo_refuses_a_negative_number_of_vendor_rows(db):
    with pytest.raises(CommandError, match="--vendor-rows must be zero or more"):
        run("seed_demo", "--vendor-rows", "-1")


def test_seed_demo_creates_the_demo_users_in_their_groups(seeded):
    User = get_user_model()
    for username, group in (
        ("council", "council"),
        ("auditor", "auditor"),
        ("admin", "administrator"),
    ):
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.check_password("some-pass-1")
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.get(username="council").is_superuser
    assert not User.objects.get(username="auditor").is_superuser
    assert "some-pass-1" not in seeded


def test_seed_demo_prints_a_random_password_when_none_given(db):
    output = run("seed_demo", "--queries", "0", "--seed", "3", "--today", TODAY)
    password = re.search(r"password: (\S+)", output).group(1)
    assert len(password) >= 12
    assert get_user_model().objects.get(username="auditor").check_password(password)


def test_seed_demo_with_zero_queries_loads_everything_but_queries(db):
    run("seed_demo", "--queries", "0", "--seed", "1", "--demo-password", "some-pass-1")
    assert Agency.objects.count() == 6
    assert Operator.objects.exists()
    assert Contract.objects.exists()
    assert QueryLogEntry.objects.count() == 0
    assert (
        get_user_model().objects.filter(username__in=["council", "auditor", "admin"]).count() == 3
    )


def test_seed_demo_is_deterministic_for_a_seed_and_day(db):
    """Run it, capture, roll it back, run it again: the same entries (salts aside)."""

    class Rollback(Exception):
        pass

    captured = []
    for _ in range(2):
        with pytest.raises(Rollback), transaction.atomic():
            run("seed_demo", *SEED_ARGS)
            captured.append(entry_content())
            raise Rollback
        assert QueryLogEntry.objects.count() == 0
    assert len(captured[0]) == 300
    assert captured[0] == captured[1]


def _generate(seed, count=200):
    rng = random.Random(seed)
    start, end = date(2025, 1, 1), date(2025, 3, 1)
    return [
        (
            agency,
            q.technology,
            q.query_type,
            q.occurred_at,
            q.operator,
            q.offense_code,
            q.case_number,
            q.target_fingerprint,
        )
        for agency, q in demo.generate_queries(rng, count=count, start=start, end=end)
    ]


def test_generate_queries_is_deterministic_and_seed_dependent(seeded):
    first = _generate(7)
    assert len(first) == 200
    assert first == _generate(7)
    assert first != _generate(8)
    assert {row[1] for row in first} == {"license-plate-reader", "face-recognition", "nibin"}
    assert all(date(2025, 1, 1) <= row[3].date() <= date(2025, 3, 2) for row in first)


def test_generate_queries_yields_in_time_order(seeded):
    """Its docstring promises time order, so the log's sequences follow the clock."""
    moments = [row[3] for row in _generate(7)]
    assert moments == sorted(moments)


def test_seed_demo_refuses_a_non_empty_database(seeded):
    before = (QueryLogEntry.objects.count(), Agency.objects.count(), Operator.objects.count())
    with pytest.raises(CommandError, match="already has agencies"):
        run("seed_demo", *SEED_ARGS)
    assert (
        QueryLogEntry.objects.count(),
        Agency.objects.count(),
        Operator.objects.count(),
    ) == before


def test_seed_demo_if_empty_keeps_existing_data(seeded):
    before = QueryLogEntry.objects.count()
    output = run("seed_demo", "--if-empty", "--queries", "50")
    assert "already loaded" in output
    assert QueryLogEntry.objects.count() == before


def test_seed_demo_refuses_negative_queries(db):
    with pytest.raises(CommandError, match="--queries"):
        run("seed_demo", "--queries", "-1")
    assert Agency.objects.count() == 0
    assert QueryLogEntry.objects.count() == 0


def test_seed_demo_refuses_a_short_password(db):
    with pytest.raises(CommandError, match="at least 8"):
        run("seed_demo", "--queries", "0", "--demo-password", "short")
    assert Agency.objects.count() == 0


# --- verify_log -------------------------------------------------------------------------------


def test_verify_log_prints_ok_with_size_and_root(seeded):
    output = run("verify_log", "--no-progress")
    match = re.fullmatch(r"OK: (\d+) entries, root ([0-9a-f]{64})\n", output)
    assert match, output
    assert int(match.group(1)) == 300
    assert match.group(2) == SignedTreeHead.objects.latest().root_hash


def test_verify_log_on_an_empty_log(db):
    output = run("verify_log", "--no-progress")
    assert output == (
        "OK: 0 entries, root e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    )


def test_verify_log_fails_loudly_on_tampering(seeded):
    """Only deliberate DDL gets past the triggers; verify_log then names the changed entry."""
    drop_append_only_triggers(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_querylogentry SET justification = %s WHERE sequence = %s",
                ["nothing to see here", 123],
            )
    finally:
        create_append_only_triggers(connection)
    with pytest.raises(CommandError, match="FAILED: Entry 123"):
        run("verify_log", "--no-progress")
