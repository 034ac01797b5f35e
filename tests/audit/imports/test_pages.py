"""The import pages: who may see them, preview, import with progress, history, reconciliation
lists and their CSV; a refused upload writes nothing and keeps no copy of the file."""

import csv
import io
import os

import pytest
from django.test import Client

from audit.imports import staging
from audit.imports.models import VendorImport
from audit.models import AccessRecord
from tests.audit.imports.conftest import run_import, snapshot
from tests.audit.imports.helpers import DATA

pytestmark = pytest.mark.django_db


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.fixture
def auditor(users):
    client = Client()
    client.force_login(users["auditor"])
    return client


def upload(client, name, **fields):
    with open(DATA / name, "rb") as export:
        data = {"file": export, "format": "flock", "agency": "BPD", **fields}
        return client.post("/audit/imports/", data)


def staged_files(settings):
    directory = settings.SIGHTLINE_DATA_DIR / "import-staging"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture(autouse=True)
def _private_data_dir(settings, tmp_path):
    settings.SIGHTLINE_DATA_DIR = tmp_path


@pytest.mark.parametrize("role", ["council", "no_role"])
def test_council_and_users_without_a_role_are_refused(known_names, users, role):
    run_import("flock_standard.csv")
    client = Client()
    client.force_login(users[role])
    pk = VendorImport.objects.get().pk
    for path in ("/audit/imports/", f"/audit/imports/{pk}/", f"/audit/imports/{pk}/?format=csv"):
        assert client.get(path).status_code == 403, path
    with open(DATA / "flock_standard.csv", "rb") as export:
        response = client.post("/audit/imports/", {"file": export, "format": "flock"})
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(known_names):
    run_import("flock_standard.csv")
    pk = VendorImport.objects.get().pk
    for path in ("/audit/imports/", f"/audit/imports/{pk}/"):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("role", ["auditor", "administrator", "superuser"])
def test_auditors_and_administrators_see_the_history(known_names, users, role):
    run_import("flock_standard.csv", user=users["auditor"])
    client = Client()
    client.force_login(users[role])
    page = body(client.get("/audit/imports/"))
    assert "flock_standard.csv" in page
    assert users["auditor"].username in page


def test_preview_then_import_with_progress(known_names, auditor, users, settings):
    before = snapshot()
    preview = upload(auditor, "flock_bom_crlf.csv")
    assert preview.status_code == 200
    page = body(preview)
    assert "Preview of flock_bom_crlf.csv" in page
    assert "Import 3 rows" in page
    assert "Search Time" in page  # the column mapping
    assert "Armed robbery,<br>suspect vehicle<br>seen by witness" in page  # as it will be read
    assert "ABC 1234" not in page  # the target is shown fingerprinted
    assert snapshot() == before  # a preview writes nothing
    token = page.split('name="token" value="')[1].split('"')[0]
    assert staged_files(settings) == sorted([token, f"{token}.json"])

    response = auditor.post("/audit/imports/", {"action": "import", "token": token})
    assert response.streaming
    progress = body(response)
    vendor_import = VendorImport.objects.get()
    assert "Checking: 3 rows read" in progress
    assert "Importing: <progress" in progress
    assert f'<a href="/audit/imports/{vendor_import.pk}/">' in progress
    assert "Done." in progress and "3 new rows" in progress
    assert vendor_import.imported_by == users["auditor"]
    assert vendor_import.imported_via == "upload page"
    assert staged_files(settings) == []  # the upload is gone once imported

    # Another user cannot use someone's token; a used token is gone.
    assert auditor.post("/audit/imports/", {"action": "import", "token": token}).status_code == 404


def test_a_refused_upload_lists_problems_by_line_writes_nothing_keeps_nothing(
    known_names, auditor, settings
):
    before = snapshot()
    response = upload(auditor, "flock_bad_time.csv")
    assert response.status_code == 400
    page = body(response)
    assert "This file cannot be imported: 2 problems" in page
    assert "Line 3: Search Time: &#x27;yesterday afternoon&#x27; is not a date and time" in page
    assert "Line 4: Search Time:" in page
    assert "Import 1 rows" not in page
    assert snapshot() == before
    assert staged_files(settings) == []


def test_a_wrong_format_is_refused_on_the_form(known_names, auditor, settings):
    response = upload(auditor, "generic_vendor.xlsx")
    assert response.status_code == 400
    assert "this is an XLSX workbook, not Flock&#x27;s CSV export" in body(response)
    assert staged_files(settings) == []


def test_cancel_discards_the_upload(known_names, auditor, settings):
    page = body(upload(auditor, "flock_standard.csv"))
    token = page.split('name="token" value="')[1].split('"')[0]
    response = auditor.post("/audit/imports/", {"action": "cancel", "token": token})
    assert response.status_code == 302
    assert staged_files(settings) == []
    assert VendorImport.objects.count() == 0


def test_generic_upload_with_a_mapping_file(known_names, auditor):
    with (
        open(DATA / "generic_vendor.csv", "rb") as export,
        open(DATA / "generic_vendor.toml", "rb") as mapping,
    ):
        response = auditor.post(
            "/audit/imports/",
            {"file": export, "mapping": mapping, "format": "generic-csv", "agency": "BPD"},
        )
    page = body(response)
    assert response.status_code == 200, page
    assert "Query Kind" in page and "partial-plate-search" in page


def test_reconciliation_page_lists_searches_and_exports(rtcc_log, auditor, users):
    run_import("flock_standard.csv")
    pk = VendorImport.objects.get().pk
    page = body(auditor.get(f"/audit/imports/{pk}/"))
    assert "Matched: in both records (2)" in page
    assert "Only in the vendor&#x27;s export (3)" in page
    assert "Only in Sightline (2)" in page
    assert f'href="/audit/entries/{rtcc_log["A"]}/"' in page

    vendor = body(auditor.get(f"/audit/imports/{pk}/", {"list": "vendor", "q": "hoover"}))
    assert "Hoover Police Dept" in vendor and "R. Officer" in vendor
    assert "Jane Analyst" not in vendor.split("By agency")[1]

    export = auditor.get(f"/audit/imports/{pk}/", {"list": "vendor", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(body(export))))
    assert [r["line"] for r in rows] == ["3", "4", "6"]
    assert rows[1]["agency_as_written"] == "Hoover Police Dept"
    assert rows[1]["entry_recorded_from_this_row"] == "yes"
    assert "ABC 1234" not in body(export)

    sightline = auditor.get(f"/audit/imports/{pk}/", {"list": "sightline", "format": "csv"})
    entries = list(csv.DictReader(io.StringIO(body(sightline))))
    # In time order: C (March 4) before B (March 5).
    assert [int(e["entry_sequence"]) for e in entries] == [rtcc_log["C"], rtcc_log["B"]]
    actions = list(
        AccessRecord.objects.filter(user=users["auditor"]).values_list("action", flat=True)
    )
    assert actions.count("export") == 2 and actions.count("search") == 2


def test_staged_uploads_expire(known_names, settings):
    class Upload:
        name = "x.csv"

        def chunks(self):
            yield b"ID\n"

    token = staging.stage(upload=Upload(), user_id=1, options={}, mapping_text="")
    assert staging.staged(token, 1) is not None
    assert staging.staged(token, 2) is None  # someone else's
    assert staging.staged("../../etc/passwd", 1) is None
    for path in (settings.SIGHTLINE_DATA_DIR / "import-staging").iterdir():
        os.utime(path, (0, 0))
    staging.purge_stale()
    assert staging.staged(token, 1) is None
