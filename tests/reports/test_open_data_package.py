"""/open-data/datapackage.json: a Frictionless Data Package of every download, from the same
definition as the data dictionary page, and valid for the official validator run against a
served site (with no way out to the internet)."""

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from django.core.cache import cache
from django.test import Client

from audit.models import Technology
from audit.transparency import services
from reports import open_data
from reports.models import Contract, Expenditure, Vendor
from tests.reports.helpers import FACE, LPR, NIBIN, QueryMaker, local_time

PACKAGE_URL = "/open-data/datapackage.json"
SECRET_REASON = "Witness saw the silver sedan leave Five Points at speed"
SECRET_CASE = "BPD-2026-987654"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def record_some(maker: QueryMaker) -> None:
    """Queries of each technology and scope, two payments, then a signed head."""
    q = maker.query
    maker.record(
        [
            q(
                occurred_at=local_time(date(2026, 3, 4), 14),
                justification=SECRET_REASON,
                case_number=SECRET_CASE,
            ),
            q(
                occurred_at=local_time(date(2026, 3, 4), 15),
                requesting_agency="MGM",
                scope="regional",
            ),
            q(
                technology=FACE,
                query_type="photo-probe",
                supervisor="S900",
                offense_code="09A",
                target="probe-1",
                occurred_at=local_time(date(2026, 3, 5), 9),
            ),
            q(
                technology=NIBIN,
                query_type="firearm-trace",
                case_number="",
                scope="national",
                offense_code="13A",
                target="",
                on_behalf_of="MGM",
                occurred_at=local_time(date(2026, 3, 6), 23),
            ),
        ]
    )
    vendor = Vendor.objects.create(name="Roadside Optics")
    contract = Contract.objects.create(
        vendor=vendor,
        technology=Technology.objects.get(slug=LPR),
        title="LPR cameras, hosted",
        total_value=Decimal("412500.00"),
        start_date=date(2024, 11, 1),
        end_date=date(2026, 10, 31),
        funding_source="grant",
        council_resolution="2024-233",
    )
    Expenditure.objects.create(contract=contract, date=date(2025, 7, 1), amount=Decimal("1234.5"))
    Expenditure.objects.create(contract=contract, date=date(2025, 7, 1), amount=Decimal("1234.5"))
    services.publish_tree_head(force=True)


def download(client: Client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, path
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def package(client: Client) -> dict:
    response = client.get(PACKAGE_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def test_package_describes_every_download_with_the_served_columns(maker, anon_client):
    record_some(maker)
    described = package(anon_client)
    assert described["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    resources = {r["name"]: r for r in described["resources"]}
    assert list(resources) == ["leaves", "leaves-jsonl", "daily", "spending", "tree-head"]
    for name in ("leaves", "daily", "spending"):
        resource = resources[name]
        assert resource["type"] == "table"
        assert resource["format"] == "csv"
        body = download(anon_client, f"/open-data/{resource['path']}").decode()
        header = next(csv.reader(io.StringIO(body)))
        assert [f["name"] for f in resource["schema"]["fields"]] == header, name
        assert all(f["description"] for f in resource["schema"]["fields"]), name
    assert resources["leaves"]["schema"]["primaryKey"] == ["sequence"]
    assert resources["daily"]["schema"]["primaryKey"] == [
        "date",
        "technology",
        "agency",
        "offense_category",
        "scope",
    ]
    assert resources["spending"]["schema"]["primaryKey"] == ["payment_id"]
    types = {f["name"]: f["type"] for f in resources["leaves"]["schema"]["fields"]}
    assert types["date"] == "date"
    assert types["case_number_present"] == "boolean"
    assert types["sequence"] == "integer"
    scope = next(f for f in resources["daily"]["schema"]["fields"] if f["name"] == "scope")
    assert scope["constraints"] == {"required": True, "enum": ["local", "regional", "national"]}
    amount = next(f for f in resources["spending"]["schema"]["fields"] if f["name"] == "amount_usd")
    assert amount["type"] == "number"
    # The spending file keeps plain decimals: two payments of 1234.50, each its own row.
    spending = list(
        csv.DictReader(io.StringIO(download(anon_client, "/open-data/spending.csv").decode()))
    )
    assert [row["amount_usd"] for row in spending] == ["1234.50", "1234.50"]
    assert len({row["payment_id"] for row in spending}) == 2


def test_package_carries_the_licence_and_the_signed_head_it_matches(maker, anon_client, settings):
    record_some(maker)
    described = package(anon_client)
    assert described["licenses"] == [
        {"path": settings.SIGHTLINE_DATA_LICENCE_URL, "title": settings.SIGHTLINE_DATA_LICENCE}
    ]
    head_bytes = download(anon_client, "/open-data/tree-head.json")
    head = json.loads(head_bytes)
    assert head["tree_size"] == 4
    assert described["sightline:signedTreeHead"] == head
    assert described["created"] == head["timestamp"]
    tree_head = next(r for r in described["resources"] if r["name"] == "tree-head")
    assert tree_head["hash"] == "sha256:" + hashlib.sha256(head_bytes).hexdigest()
    assert described["homepage"] == "http://testserver/open-data/"


def test_dictionary_page_and_package_say_the_same(maker, anon_client):
    record_some(maker)
    html = anon_client.get("/open-data/").content.decode()
    resources = {r["name"]: r for r in package(anon_client)["resources"]}
    for name in ("leaves", "daily", "spending"):
        table = re.search(rf'<table id="dictionary-{name}">(.*?)</table>', html, re.S)
        assert table is not None, name
        rows = re.findall(
            r"<tr><th scope=\"row\"><code>([^<]+)</code></th><td>([^<]+)</td><td>([^<]+)</td></tr>",
            table.group(1),
        )
        on_page = [(unescape(n), unescape(t), unescape(d)) for n, t, d in rows]
        in_package = [
            (f["name"], f["type"], f["description"]) for f in resources[name]["schema"]["fields"]
        ]
        assert on_page == in_package, name
        assert len(on_page) >= 9


def test_package_and_downloads_keep_private_fields_out(maker, anon_client):
    record_some(maker)
    texts = [json.dumps(package(anon_client))] + [
        download(anon_client, f"/open-data/{r['path']}").decode()
        for r in package(anon_client)["resources"]
    ]
    names = {
        f["name"]
        for r in package(anon_client)["resources"]
        for f in r.get("schema", {}).get("fields", [])
    }
    assert not names & {
        "operator",
        "badge",
        "case_number",
        "justification",
        "target",
        "occurred_at",
    }
    signed_at = package(anon_client)["sightline:signedTreeHead"]["timestamp"]
    for text in texts:
        for secret in (SECRET_REASON, SECRET_CASE, "B4242", "S900", "ABC123"):
            assert secret not in text
        # Dates only: the one time of day anywhere is when the head was signed.
        without_head = text.replace(signed_at, "").replace("sha256:", "")  # a hash's prefix
        assert not re.search(r"\d{1,2}:\d{2}", without_head)


def test_package_without_a_signed_head_describes_spending_only(db, anon_client):
    described = package(anon_client)
    assert [r["name"] for r in described["resources"]] == ["spending"]
    assert "sightline:signedTreeHead" not in described


def test_withheld_daily_counts_are_declared_missing_values(maker, anon_client, settings):
    settings.SIGHTLINE_PUBLIC_MIN_CELL = 3
    record_some(maker)
    daily = next(r for r in package(anon_client)["resources"] if r["name"] == "daily")
    assert daily["schema"]["missingValues"] == ["", "fewer than 3"]
    # The same words in the file whatever the visitor's language.
    spanish = Client(headers={"accept-language": "es"})
    rows = list(csv.DictReader(io.StringIO(download(spanish, "/open-data/daily.csv").decode())))
    assert rows and all(row["queries"] == "fewer than 3" for row in rows)


# --- The official validator against a served site -------------------------------------------


def test_frictionless_validates_the_served_package(log_db, live_server, maker):
    """`frictionless validate <site>/open-data/datapackage.json`, as a data user would run it.

    The validator is pointed at a proxy that answers nothing for any host but the live server,
    so a package that needed a remote profile or schema would fail here rather than quietly use
    the internet.
    """
    record_some(maker)
    url = f"{live_server.url}{PACKAGE_URL}"
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    env = {
        **os.environ,
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "http_proxy": closed,
        "https_proxy": closed,
        "NO_PROXY": "localhost,127.0.0.1",
        "no_proxy": "localhost,127.0.0.1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--json", url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["valid"] is True, json.dumps(
        report["errors"] + [t["errors"] for t in report["tasks"]]
    )
    assert result.returncode == 0
    tasks = {task["name"]: task for task in report["tasks"]}
    assert set(tasks) == {"leaves", "leaves-jsonl", "daily", "spending", "tree-head"}
    assert all(task["valid"] for task in tasks.values())
    # It read every row, not just the descriptor.
    assert tasks["leaves"]["stats"]["rows"] == 4
    assert tasks["leaves-jsonl"]["stats"]["rows"] == 4
    assert tasks["spending"]["stats"]["rows"] == 2
    assert tasks["daily"]["stats"]["rows"] == 4  # (date, technology, agency, category, scope)


def test_frictionless_finds_a_file_that_breaks_its_schema(log_db, live_server, maker, monkeypatch):
    """The validator run above can fail: a spending file whose amounts are not numbers does."""
    record_some(maker)
    real = open_data.plain_amount
    monkeypatch.setattr(open_data, "plain_amount", lambda amount: f"${real(amount)}")
    result = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--json", live_server.url + PACKAGE_URL],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1"},
    )
    report = json.loads(result.stdout)
    assert report["valid"] is False
    spending = next(task for task in report["tasks"] if task["name"] == "spending")
    assert {error["type"] for error in spending["errors"]} == {"type-error"}
    assert {error["fieldName"] for error in spending["errors"]} == {"amount_usd"}
