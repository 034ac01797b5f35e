"""The importer's shortcuts give what the plain computation gives: fingerprints kept by target
as written, and flags of just-recorded rows (computed from what was written, not re-read)."""

import pytest

from audit.flags import rules
from audit.imports import formats
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
