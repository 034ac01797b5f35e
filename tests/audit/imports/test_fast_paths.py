"""The importer's shortcuts give what the plain computation gives: fingerprints kept by target
as written, and flags of just-recorded rows (computed from what was written, not re-read)."""

import pytest

from audit.flags import rules
from audit.imports import formats, services
from audit.models import QueryLogEntry
from tests.audit.imports.conftest import run_import
from tests.audit.imports.helpers import fake_fingerprint, read_file


def test_kept_fingerprints_equal_fingerprints_computed_each_time(monkeypatch):
    calls = []

    def counting(technology, target):
        calls.append(target)
        return fake_fingerprint(technology, target)

    _, plain, _ = read_file("flock_standard.csv")
    _, kept, _ = read_file("flock_standard.csv", fingerprint=counting)
    assert [r.target_fingerprint for r in kept] == [r.target_fingerprint for r in plain]
    assert len(calls) == len(set(calls))  # each target as written, once
    # The store is bounded: cleared when full, and the answers stay the same.
    monkeypatch.setattr(formats, "_FINGERPRINTS_KEPT", 1)
    _, bounded, _ = read_file("flock_standard.csv", fingerprint=counting)
    assert [r.target_fingerprint for r in bounded] == [r.target_fingerprint for r in plain]


@pytest.mark.django_db
def test_flags_stored_at_import_equal_the_flags_recomputed_from_the_log(known_names):
    run_import("flock_standard.csv")
    entries = list(QueryLogEntry.objects.order_by("sequence"))
    assert entries
    stored = rules.stored_flags([e.sequence for e in entries])
    recomputed = rules.flags_for_entries(entries)
    assert {s: stored.get(s, []) for s in recomputed} == recomputed
    assert all(rules.NOT_LOGGED_BY_RTCC in flags for flags in recomputed.values())
    # One entry at a time gives the same flags as the batch.
    for entry in entries:
        assert rules.flags_for_entries([entry]) == {entry.sequence: recomputed[entry.sequence]}


def test_the_row_writer_writes_every_column_of_an_import_row():
    # Preparer.values builds plain tuples in the order of this list: a column added to ImportRow
    # must be added to it (and to the tuple the writer builds).
    from audit.imports.models import ImportRow

    written = [field.name for field in services._ROW_FIELDS]
    assert len(written) == len(set(written))
    assert set(written) == {f.name for f in ImportRow._meta.concrete_fields if not f.primary_key}


@pytest.mark.django_db
def test_rows_kept_by_the_fast_writer_read_back_as_the_orm_reads_them(known_names):
    from django.utils import timezone

    from audit.imports.models import ImportRow

    _, rows, _ = read_file("flock_standard.csv")
    run_import("flock_standard.csv")
    kept = {row.line: row for row in ImportRow.objects.all()}
    assert sorted(kept) == sorted(row.line for row in rows)
    for row in rows:
        stored = kept[row.line]
        assert stored.occurred_at == row.occurred_at
        assert stored.local_date == timezone.localtime(row.occurred_at).date()
        assert stored.as_read == row.as_read
        assert (stored.row_key, stored.reason, stored.case_number, stored.networks) == (
            row.row_key,
            row.reason,
            row.case_number,
            row.networks,
        )


@pytest.mark.django_db
def test_an_import_refreshes_the_planner_statistics_on_postgresql(known_names, monkeypatch):
    from django.db import connection

    from audit.imports import services
    from audit.log import bulk

    analyzed, calls = [], []
    real_cursor, real_refresh = bulk.connection.cursor, services.refresh_statistics

    def recording_cursor(*args, **kwargs):
        cursor = real_cursor(*args, **kwargs)
        execute = cursor.execute

        def spy(sql, params=None):
            if sql.startswith("ANALYZE"):
                analyzed.append(sql)
            return execute(sql, params)

        cursor.execute = spy
        return cursor

    def recording_refresh(models, **options):
        calls.append((models, options))
        return real_refresh(models, **options)

    monkeypatch.setattr(services, "CHUNK", 2)  # 5 rows: full chunks 1 and 2, then the rest
    monkeypatch.setattr(bulk.connection, "cursor", recording_cursor)
    monkeypatch.setattr(services, "refresh_statistics", recording_refresh)
    run_import("flock_standard.csv")
    # Asked after each of the 3 chunks whether a table has doubled, and at the end whether one
    # grew by a tenth (what each answer does: tests/audit/log/test_statistics.py).
    assert calls == [(services.GROWN, {})] * 3 + [(services.GROWN, {"growth": 1.1})]
    if connection.vendor != "postgresql":
        assert analyzed == []  # SQLite's planner keeps no such statistics unless asked
        return
    # Which tables were sampled depends on what earlier tests left in the files (a rollback
    # leaves its pages, and the planner's recorded pages, behind); never any but these.
    grown = {f'"{model._meta.db_table}"' for model in services.GROWN}
    assert all(set(sql.removeprefix("ANALYZE ").split(", ")) <= grown for sql in analyzed)


@pytest.mark.django_db
@pytest.mark.parametrize("stage", ["import", "reconcile"])
def test_each_chunk_waits_for_the_last_ones_checkpoint_and_starts_the_next(
    known_names, monkeypatch, stage
):
    """On SQLite the WAL of each chunk is copied in the background (audit.log.bulk.Checkpoints):
    every chunk asks to wait for the copy before its own transaction (the import waits every
    WAIT_EVERY chunks, reconcile every chunk) and starts its own after committing; the
    automatic checkpoint is back at the end."""
    from django.db import connection

    from audit.imports import reconciliation
    from audit.log import bulk

    calls = []
    monkeypatch.setattr(bulk.Checkpoints, "wait", lambda self: calls.append("wait"))
    monkeypatch.setattr(bulk.Checkpoints, "committed", lambda self: calls.append("committed"))
    monkeypatch.setattr(services, "CHUNK", 2)  # 5 rows: 3 chunks
    monkeypatch.setattr(reconciliation, "CHUNK", 2)
    result = run_import("flock_standard.csv")
    if stage == "reconcile":
        calls.clear()
        reconciliation.reconcile(vendor_import=result.vendor_import)
    # On SQLite (the test database is a file in WAL mode) the copy runs in the background and
    # leaving the run waits for the last one (tests/audit/log/test_checkpoints.py); on
    # PostgreSQL the calls are made and do nothing.
    assert calls == ["wait", "committed"] * 3
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone()[0] == 1000


def _links_agree_with_rows():
    """Every recorded row is linked to the entry recorded from it (its key is the entry's
    client_ref) and every matched row to an entry of its own target: the ids the writer used
    for the links were the rows' own."""
    from audit.imports.models import RowMatch, RowRecording

    recordings = RowRecording.objects.select_related("row", "entry")
    assert recordings.exists()
    for link in recordings:
        assert link.entry.client_ref == link.row.row_key
        assert link.row.vendor_import_id == link.vendor_import_id
    for link in RowMatch.objects.select_related("row", "entry"):
        assert link.entry.target_fingerprint == link.row.target_fingerprint
        assert link.row.vendor_import_id == link.vendor_import_id


@pytest.mark.django_db
def test_new_rows_ids_are_their_own_when_all_are_new_and_when_some_were_kept(known_names):
    from audit.imports.models import ImportRow

    first = run_import("flock_overlap_a.csv")  # every row new: ids counted from the last
    assert first.kept == first.scan.rows_read and first.recorded > 0
    _links_agree_with_rows()
    second = run_import("flock_overlap_b.csv")  # some rows kept already: ids read back
    assert 0 < second.duplicates < second.scan.rows_read
    assert second.recorded > 0
    _links_agree_with_rows()
    assert ImportRow.objects.count() == first.kept + second.kept
