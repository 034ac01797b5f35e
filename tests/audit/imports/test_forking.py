"""An import read by two processes (`audit.imports.forking`) writes exactly what an import read
by one writes, refuses the same files with the same problems, and stops its reader whatever
happens. The files here are small, so the thresholds are lowered to make every import fork."""

import io
import os
import threading

import pytest
from django.db import transaction

from audit.flags import rules
from audit.imports import forking, preparing, reading, services
from audit.imports.errors import ExportRefused
from audit.imports.models import ImportRow, RowMatch, RowRecording
from audit.models import QueryLogEntry
from tests.audit.imports.conftest import snapshot

HEADER = "ID,Name,Org Name,Total Networks Searched,License Plate,Reason,Case #,Filters,Search Time,Search Type"  # noqa: E501


def export_text(rows: int, *, bad_lines: frozenset[int] = frozenset()) -> str:
    """A Flock export: rows with IDs and without (keyed by content, some repeated), partner
    agencies, placeholders; a bad time at each line number in `bad_lines`."""
    lines = [HEADER]
    for n in range(rows):
        line = n + 2
        row_id = "" if n % 5 == 3 else f"f-{9000 + n}"
        if n % 13 == 12:
            row_id = f"f-{9000 + n - 1}"  # the vendor's ID of the row before, again
        # Rows without an ID are keyed by their content: rows 3 and 8, 13 and 18... are the
        # same search twice.
        k = n // 10 if not row_id else n
        agency = "Birmingham AL PD" if k % 7 else "Tarrant PD"
        moment = f"2026-05-0{1 + k % 3} 10:{k % 60:02d}:00"
        if line in bad_lines:
            moment = "not a time"
        case = ["BPD-2026-0001", "N/A", "", "none"][k % 4]
        networks = "1" if k % 6 else '"1,500"'
        lines.append(
            f"{row_id},Jane Analyst,{agency},{networks},"
            f"PLT {k % 11:04d},Robbery of a store on 1st Ave,{case},,{moment},Search"
        )
    return "\r\n".join(lines) + "\r\n"


def import_text(path, text: str):
    path.write_text(text, encoding="utf-8")
    spec = services.export_spec(fmt="flock", agency_code="BPD")
    with open(path, "rb") as binary:
        return services.import_export(binary=binary, file_name=path.name, spec=spec)


def written() -> dict:
    """What the database holds after an import, without what differs from run to run (ids,
    times of recording, the entries' salts and leaf hashes)."""
    row_fields = [
        f.name for f in ImportRow._meta.concrete_fields if f.name not in ("id", "vendor_import")
    ]
    entry_fields = [
        f.attname
        for f in QueryLogEntry._meta.concrete_fields
        if f.name not in ("recorded_at", "salt", "leaf_hash", "integration")
    ]
    entries = list(QueryLogEntry.objects.order_by("sequence").values_list(*entry_fields))
    sequences = [e[0] for e in entries]
    return {
        "rows": list(ImportRow.objects.order_by("line").values_list(*row_fields)),
        "entries": entries,
        "flags": rules.stored_flags(sequences),
        "matches": list(RowMatch.objects.order_by("row__line").values_list("row__line", "entry")),
        "recordings": list(
            RowRecording.objects.order_by("row__line").values_list("row__line", "entry")
        ),
    }


@pytest.fixture
def forks(monkeypatch):
    """Every import forks (both passes), and what forked is counted."""
    started = []
    real = forking.Forked.__init__

    def counting(self, make, **kwargs):
        started.append(make)
        real(self, make, **kwargs)

    monkeypatch.setattr(services, "SPLIT_BYTES", 0)
    monkeypatch.setattr(services, "CHUNK", 7)
    # The reader sends pieces of 3 rows: the writer's chunks are then 9 rows, 3 pieces each.
    monkeypatch.setattr(preparing, "PIECE", 3)
    monkeypatch.setattr(forking.Forked, "__init__", counting)
    return started


def logged_searches(rows: int) -> list:
    """What the RTCC console logged of export_text's searches: every fourth row with an ID,
    a minute after the vendor's clock (the import matches these rows to them)."""
    from datetime import datetime, timedelta

    from tests.audit.queries import CHICAGO, make_query

    logged = []
    for n in range(1, rows, 4):
        if n % 5 == 3 or n % 13 == 12 or n % 7 == 0:
            continue  # no ID, an ID repeated, another agency
        moment = datetime(2026, 5, 1 + n % 3, 10, n % 60, tzinfo=CHICAGO) + timedelta(minutes=1)
        logged.append(make_query(target=f"PLT {n % 11:04d}", occurred_at=moment, operator="B4107"))
    return logged


@pytest.mark.django_db
def test_an_import_read_by_two_processes_writes_what_one_process_writes(
    known_names, tmp_path, settings, forks, record
):
    text = export_text(60)
    record(*logged_searches(60))
    settings.SIGHTLINE_IMPORT_READ_AHEAD = False
    with transaction.atomic():  # undone, so that the same rows import again below
        alone = import_text(tmp_path / "alone.csv", text)
        one_process = written()
        transaction.set_rollback(True)
    assert forks == []
    assert snapshot() == (0, 0, 0, 0, *snapshot()[4:])

    settings.SIGHTLINE_IMPORT_READ_AHEAD = True
    together = import_text(tmp_path / "together.csv", text)
    assert len(forks) == 2  # the first pass split, then the second read ahead
    assert written() == one_process
    assert alone.scan.rows_read == together.scan.rows_read == 60
    assert (together.kept, together.duplicates, together.matched, together.recorded) == (
        alone.kept,
        alone.duplicates,
        alone.matched,
        alone.recorded,
    )
    assert together.recorded > 0
    assert together.matched >= 8  # rows in every place of the writer's chunks and pieces
    assert together.duplicates == 4  # rows 12, 25, 38 and 51 repeat the ID before them
    assert together.scan.repeats == alone.scan.repeats != set()
    assert (together.scan.covers_from, together.scan.covers_to) == (
        alone.scan.covers_from,
        alone.scan.covers_to,
    )


@pytest.mark.django_db
def test_a_bad_file_is_refused_with_the_same_problems_by_two_processes(
    known_names, tmp_path, settings, forks
):
    # Bad times on lines read by either process, rows with and without an ID among them.
    text = export_text(40, bad_lines=frozenset({3, 6, 9, 10, 25, 41}))
    refusals = []
    for together in (False, True):
        settings.SIGHTLINE_IMPORT_READ_AHEAD = together
        before = snapshot()
        with pytest.raises(ExportRefused) as refused:
            import_text(tmp_path / f"bad-{together}.csv", text)
        assert snapshot() == before  # nothing written
        refusals.append(refused.value)
    alone, together = refusals
    assert len(forks) == 1  # the first pass only: the file never reaches the second
    assert [p.line for p in together.problems] == [3, 6, 9, 10, 25, 41]
    assert [(p.line, p.message) for p in together.problems] == [
        (p.line, p.message) for p in alone.problems
    ]
    assert str(together) == str(alone)


def test_problems_of_two_readers_are_merged_in_line_order_within_the_limit():
    from audit.imports.errors import ProblemList
    from audit.imports.reading import Scan

    mine = ProblemList(limit=3)
    for line in (2, 6, 9):
        mine.add(line, f"bad time on {line}")
    mine.add(12, "one past the limit: counted, not listed")
    found = Scan("digest", 1, {}, [], 1, rows_read=10, problems=mine)
    # The other reader's share: two rows of its own, and the file's own problem that stopped
    # both readers at line 20 (an unclosed quote), which counts once.
    mine.add(20, "unclosed quote")
    theirs = [(3, "bad time on 3"), (5, "bad time on 5"), (20, "unclosed quote")]
    stop = (20, "unclosed quote")
    reading._add_part(found, (8, None, None, theirs, 3, stop), stop)
    assert found.rows_read == 18
    assert [(p.line, p.message) for p in found.problems.listed] == [
        (2, "bad time on 2"),
        (3, "bad time on 3"),
        (5, "bad time on 5"),
    ]
    assert found.problems.total == 5 + 3 - 1
    assert found.problems.unlisted == 4


def only_reader_processes() -> list:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.name == "sightline-import-reader"]


@pytest.mark.django_db
def test_a_reader_that_fails_stops_the_import_with_its_traceback(
    known_names, tmp_path, monkeypatch, forks
):
    def failing(self, rows):
        raise ValueError("the reader broke on purpose")

    monkeypatch.setattr(preparing.Preparer, "chunk", failing)
    with pytest.raises(RuntimeError, match="reader process failed") as failed:
        import_text(tmp_path / "export.csv", export_text(30))
    assert "ValueError: the reader broke on purpose" in str(failed.value)
    assert only_reader_processes() == []


def test_forked_items_come_back_in_order_and_leaving_early_stops_the_reader():
    def endless():
        n = 0
        while True:
            yield ("item", n, [n] * 3)
            n += 1

    forked = forking.Forked(endless)
    taken = []
    for item in forked:
        taken.append(item)
        if len(taken) == 3:
            break
    forked.close()
    assert taken == [("item", 0, [0, 0, 0]), ("item", 1, [1, 1, 1]), ("item", 2, [2, 2, 2])]
    assert only_reader_processes() == []


def test_a_refusal_in_the_reader_is_raised_as_the_same_refusal():
    from audit.imports.errors import Problem

    def refusing():
        yield "first"
        raise ExportRefused([Problem(7, "bad time"), Problem(9, "truncated row")], unlisted=2)

    forked = forking.Forked(refusing)
    items = []
    with pytest.raises(ExportRefused) as refused:
        for item in forked:
            items.append(item)
    forked.close()
    assert items == ["first"]
    assert [(p.line, p.message) for p in refused.value.problems] == [
        (7, "bad time"),
        (9, "truncated row"),
    ]
    assert refused.value.unlisted == 2


def test_a_reader_killed_midway_is_reported():
    import signal

    def dying():
        yield 1
        os.kill(os.getpid(), signal.SIGKILL)
        yield 2

    forked = forking.Forked(dying)
    with pytest.raises(RuntimeError, match=r"reader process stopped \(exit code -9\)"):
        list(forked)
    forked.close()


def test_the_reader_reads_the_file_through_its_own_position(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"0123456789" * 100)
    with open(path, "rb") as binary:
        binary.read(10)
        assert forking.reopenable(binary)
        forked = forking.Forked(lambda: iter([forking.own_reading(binary).read(5)]))
        assert list(forked) == [b"01234"]
        forked.close()
        assert binary.tell() == 10  # the importer's position is its own
        assert binary.read(3) == b"012"
    in_memory = io.BytesIO(b"abcdef")
    in_memory.read(2)
    assert forking.own_reading(in_memory).read() == b"abcdef"


@pytest.mark.django_db(transaction=True)  # the thread's own connection sees the agencies
def test_an_import_run_off_the_main_thread_reads_in_that_thread(known_names, tmp_path, forks):
    from django.db import connection

    outcome = {}

    def run():
        try:
            outcome["can_fork"] = forking.can_fork()
            outcome["result"] = import_text(tmp_path / "export.csv", export_text(30))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome["can_fork"] is False
    assert forks == []
    # Rows 3 and 8, 13 and 18, 23 and 28 are the same searches twice: each kept (as "#2");
    # rows 12 and 25 repeat the vendor ID before them: skipped.
    assert (outcome["result"].kept, outcome["result"].duplicates) == (28, 2)
    assert forking.can_fork() is True  # this test's own (main) thread may


def test_the_reader_runs_ahead_by_the_items_it_may_hold(tmp_path):
    """Items larger than the pipe holds: the reader makes `ahead` more while none is read."""
    import time

    made = tmp_path / "made"
    made.write_text("")

    def big_items():
        for n in range(12):
            with open(made, "a") as log:
                log.write(f"{n}\n")
            yield bytes(256 * 1024)

    forked = forking.Forked(big_items, ahead=4)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(made.read_text().split()) < 5:
        time.sleep(0.05)
    time.sleep(0.3)  # what it makes beyond that, it would make meanwhile
    ahead = len(made.read_text().split())
    items = list(forked)
    forked.close()
    # Four held as bytes, one being sent, one waiting to be held; never all twelve.
    assert 5 <= ahead <= 7
    assert len(items) == 12 and all(len(item) == 256 * 1024 for item in items)


def test_a_reader_whose_importer_stops_listening_ends():
    """The importer gone (its end of the pipe closed) while the reader still reads: the
    reader's next send fails and the reader process ends instead of waiting forever."""

    def endless():
        while True:
            yield bytes(256 * 1024)

    forked = forking.Forked(endless, ahead=2)
    next(iter(forked))
    forked._receiving.close()  # as if the importer had died
    forked._reader.join(10)
    assert not forked._reader.is_alive()
    assert forked._reader.exitcode == 1
    forked.close()


def test_stopping_the_reader_ignores_the_importers_own_sigterm_handler():
    """A web server worker handles SIGTERM by finishing its request: its reader must not."""
    import signal
    import time

    def slow():
        yield "first"
        time.sleep(60)  # reading on, not sending: only the signal can stop it
        yield "second"

    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # as a worker's "exit later"
    try:
        forked = forking.Forked(slow)
        assert next(iter(forked)) == "first"
        forked.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert forked._reader.exitcode == -signal.SIGTERM  # not -SIGKILL, five seconds later
    assert only_reader_processes() == []
