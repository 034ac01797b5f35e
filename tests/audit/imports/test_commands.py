"""The import command: its summary, --dry-run, and refusals with a non-zero exit and nothing
written."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.imports.models import VendorImport
from tests.audit.imports.conftest import snapshot
from tests.audit.imports.helpers import DATA

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_audit_export", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_what_it_did_with_a_progress_bar(known_names):
    out, err = run(DATA / "flock_standard.csv", "--format", "flock", "--agency", "BPD")
    pk = VendorImport.objects.get().pk
    assert out.strip() == (
        f"Import {pk}: 5 rows read (2026-03-04 20:05 to 2026-03-10 14:15 UTC); 5 new, 0 already "
        "imported; 0 matched to the log, 5 recorded as not logged by the RTCC."
    )
    assert "Importing: 100%" in err
    assert VendorImport.objects.get().imported_via == "command"


def test_dry_run_prints_the_columns_and_writes_nothing(known_names):
    before = snapshot()
    out, _ = run(
        DATA / "generic_vendor.csv", "--format", "generic-csv", "--agency", "BPD",
        "--mapping", DATA / "generic_vendor.toml", "--dry-run", "--no-progress",
    )  # fmt: skip
    assert out.splitlines()[0] == (
        "Checked 3 rows (2026-03-04 20:05 to 2026-03-04 21:00 UTC); no problems. Nothing was "
        "written (--dry-run)."
    )
    assert "  search_type  <- Query Kind" in out.splitlines()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [DATA / "flock_truncated.csv", "--format", "flock", "--agency", "BPD"],
            "The file was refused (1 problem); nothing was imported.\n"
            "line 3: truncated row: 6 of 10 values (the row ends after 'Reason')",
        ),
        (
            [DATA / "generic_vendor.csv", "--format", "generic-csv", "--agency", "BPD",
             "--mapping", DATA / "flock_standard.csv"],
            "mapping file: is not valid TOML",
        ),
        ([DATA / "missing.csv", "--format", "flock", "--agency", "BPD"], "No such file:"),
    ],
)  # fmt: skip
def test_refusals_exit_non_zero_and_write_nothing(known_names, args, message):
    before = snapshot()
    with pytest.raises(CommandError) as refused:
        run(*args, "--no-progress")
    assert message in str(refused.value)
    assert snapshot() == before


def test_a_refused_command_exits_with_status_1(known_names, capsys):
    with pytest.raises(SystemExit) as exit_:
        from django.core.management import execute_from_command_line

        execute_from_command_line(
            ["manage.py", "import_audit_export", str(DATA / "flock_bad_time.csv"),
             "--format", "flock", "--agency", "BPD", "--no-progress"]
        )  # fmt: skip
    assert exit_.value.code == 1
    assert "line 3: Search Time: 'yesterday afternoon'" in capsys.readouterr().err
