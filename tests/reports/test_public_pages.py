"""The public transparency pages and open data: what they show, that every query count equals a
recount of the signed public leaves, small-cell suppression, caching per signed head, the
language switch, and that no private field ever reaches a public surface."""

import csv
import io
import json
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from sightline_verifier.merkle import TreeBuilder

from audit.models import QueryLogEntry, Technology
from audit.transparency import services
from reports.models import Contract, Expenditure, PublicRollup, PublicRollupState
from reports.public import advance_public_rollup
from tests.factories import OperatorFactory
from tests.reports.helpers import FACE, LPR, NIBIN, QUERY_TYPES, local_time

PUBLIC_PAGES = ["/", f"/technologies/{LPR}/", f"/technologies/{FACE}/", "/spending/", "/open-data/"]
DOWNLOADS = [
    "/open-data/leaves.csv",
    "/open-data/leaves.jsonl",
    "/open-data/daily.csv",
    "/open-data/spending.csv",
    "/open-data/tree-head.json",
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def with_table_csvs(urls: list[str]) -> list[str]:
    """`urls` and the CSV of every table the public pages offer."""
    urls = list(urls)
    for path in PUBLIC_PAGES:
        page = body(Client().get(path))
        for table in set(re.findall(r"table=([a-z0-9-]+)&amp;format=csv", page)):
            urls.append(f"{path}?table={table}&format=csv")
    return urls


def assert_nothing_shows(urls: list[str], secrets: list[str]) -> int:
    """Fetch every url anonymously in English and Spanish: each answers 200 and none shows any
    of `secrets` (lower case). Returns how many answers were read."""
    checked = 0
    for language in ("en", "es"):
        client = Client(HTTP_ACCEPT_LANGUAGE=language)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            text = body(response).lower()
            leaked = [secret for secret in secrets if secret in text]
            assert leaked == [], f"{url} ({language}) shows {leaked}"
            checked += 1
    return checked


def publish():
    return services.publish_tree_head(force=True)


def days_ago(n: int, hour: int = 14):
    return local_time(timezone.localdate() - timedelta(days=n), hour)


def table_csv(client: Client, path: str, table: str) -> list[list[str]]:
    response = client.get(path, {"table": table, "format": "csv"})
    assert response.status_code == 200, (path, table)
    return list(csv.reader(io.StringIO(body(response))))


def headline(client: Client, path: str = "/") -> dict[str, list[str]]:
    rows = table_csv(client, path, "headline")
    return {row[0]: row[1:] for row in rows[1:]}


def leaves(client: Client) -> list[dict]:
    return [json.loads(line) for line in body(client.get("/open-data/leaves.jsonl")).splitlines()]


@pytest.fixture
def varied(maker):
    """Queries across technologies, categories, agencies, scopes and dates, then a signed head."""
    queries = []
    specs = [
        (LPR, "240", "BPD", "local", 1),
        (LPR, "240", "MGM", "regional", 3),
        (LPR, "13A", "BPD", "local", 40),
        (FACE, "09A", "BPD", "local", 2),
        (FACE, "120", "ALEA", "national", 200),
        (NIBIN, "13A", "BPD", "local", 400),
        (NIBIN, "13A", "XOUT", "local", 5),
    ]
    for index, (technology, offense, agency, scope, age) in enumerate(specs):
        for copy in range(index % 3 + 1):
            queries.append(
                maker.query(
                    technology=technology,
                    query_type=QUERY_TYPES[technology][copy % len(QUERY_TYPES[technology])],
                    offense_code=offense,
                    requesting_agency=agency,
                    scope=scope,
                    occurred_at=days_ago(age),
                    case_number="" if copy == 1 else "BPD-2026-000100",
                    supervisor="S900" if technology == FACE else "",
                    on_behalf_of="MGM" if agency == "XOUT" else "",
                )
            )
    maker.record(queries)
    head = publish()
    return head


# --- What the pages show ------------------------------------------------------------------


def test_pages_render_for_anyone(varied, anon_client):
    for path in PUBLIC_PAGES:
        response = anon_client.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
    home = body(anon_client.get("/"))
    for technology in Technology.objects.all():
        assert technology.name in home
        assert f"/technologies/{technology.slug}/" in home
    assert f"{varied.tree_size} queries in the latest signed tree head" in home


def test_unknown_technology_is_404(db, anon_client):
    assert anon_client.get("/technologies/crystal-ball/").status_code == 404


def test_empty_log_says_so_and_downloads_of_leaves_are_404(db, anon_client):
    page = body(anon_client.get("/"))
    assert "No queries have been recorded and signed yet" in page
    assert anon_client.get("/open-data/").status_code == 200
    assert anon_client.get("/spending/").status_code == 200
    for path in ["/open-data/leaves.csv", "/open-data/daily.csv", "/open-data/tree-head.json"]:
        assert anon_client.get(path).status_code == 404, path
    assert anon_client.get("/open-data/spending.csv").status_code == 200


def test_headline_figures(varied, anon_client):
    figures = headline(anon_client)
    queries = figures["Queries (signed log)"]
    # 30 days: specs aged 1, 3, 2 and 5 days (1 + 2 + 1 + 1 copies); all time: every query.
    assert queries[0] == "5"
    assert queries[2] == str(varied.tree_size)
    assert figures["Searches for partner agencies"][2] == "4"  # MGM (2 copies) and ALEA (2)
    assert figures["Searches for unregistered outside agencies"][2] == "1"  # XOUT
    assert figures["Made on behalf of another agency"][2] == "1"
    with_case = QueryLogEntry.objects.exclude(case_number="").count()
    assert figures["Share with a case number"][2] == f"{with_case * 100 / varied.tree_size:.1f}%"


def test_technology_page_counts_only_that_technology(varied, anon_client):
    figures = headline(anon_client, f"/technologies/{NIBIN}/")
    assert figures["Queries (signed log)"][2] == str(
        QueryLogEntry.objects.filter(technology_id=NIBIN).count()
    )
    page = body(anon_client.get(f"/technologies/{NIBIN}/"))
    assert "A case number is required for every search." in page
    assert "immigration enforcement" in page


# --- Every count equals a recount of the signed leaves ----------------------------------------


def test_counts_cover_exactly_the_signed_head(varied, maker, anon_client):
    maker.record([maker.query(occurred_at=days_ago(1)), maker.query(occurred_at=days_ago(1))])
    assert QueryLogEntry.objects.count() == varied.tree_size + 2
    first = anon_client.get("/")
    assert first["X-Page-Cache"] == "miss"
    assert headline(anon_client)["Queries (signed log)"][2] == str(varied.tree_size)
    assert anon_client.get("/")["X-Page-Cache"] == "hit"

    head = publish()
    assert head.tree_size == varied.tree_size + 2
    after = anon_client.get("/")
    assert after["X-Page-Cache"] == "miss"  # a new head invalidates the cached page
    assert f"{head.tree_size} queries in the latest signed tree head" in body(after)
    assert headline(anon_client)["Queries (signed log)"][2] == str(head.tree_size)


def test_trend_and_purposes_equal_a_recount_of_the_leaves(varied, anon_client):
    signed = leaves(anon_client)
    assert len(signed) == varied.tree_size
    names = dict(Technology.objects.values_list("slug", "name"))
    by_month = Counter((e["leaf"]["technology"], e["leaf"]["date"][:7]) for e in signed)
    trend = table_csv(anon_client, "/", "trend")
    header = trend[0]
    for row in trend[1:]:
        for column, value in zip(header[1:], row[1:], strict=True):
            slug = next(s for s, n in names.items() if n == column)
            assert int(value) == by_month.get((slug, row[0]), 0), (row[0], column)
    assert sum(int(v) for row in trend[1:] for v in row[1:]) == varied.tree_size  # all < 2 years

    year_ago = (timezone.localdate() - timedelta(days=365)).isoformat()
    by_category = Counter(
        e["leaf"]["offense_category"] for e in signed if e["leaf"]["date"] > year_ago
    )
    purposes = table_csv(anon_client, "/", "purposes")
    assert {row[0]: int(row[-1]) for row in purposes[1:]} == dict(by_category)


def test_daily_open_data_equals_a_recount_of_the_leaves(varied, anon_client):
    signed = leaves(anon_client)
    expected = Counter(
        (
            e["leaf"]["date"],
            e["leaf"]["technology"],
            e["leaf"]["agency"],
            e["leaf"]["offense_category"],
            e["leaf"]["scope"],
        )
        for e in signed
    )
    with_case = Counter(
        (e["leaf"]["date"], e["leaf"]["technology"], e["leaf"]["agency"],
         e["leaf"]["offense_category"], e["leaf"]["scope"])
        for e in signed
        if e["leaf"]["case_number_present"]
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(body(anon_client.get("/open-data/daily.csv")))))
    got = {
        (r["date"], r["technology"], r["agency"], r["offense_category"], r["scope"]): r
        for r in rows
    }
    assert set(got) == set(expected)
    for key, row in got.items():
        assert int(row["queries"]) == expected[key]
        assert int(row["with_case_number"]) == with_case.get(key, 0)


def test_leaves_downloads_match_the_api_and_the_signed_root(varied, anon_client):
    api = anon_client.get(f"/api/v1/log/entries?start=0&end={varied.tree_size}").json()["entries"]
    assert leaves(anon_client) == api
    rows = list(csv.DictReader(io.StringIO(body(anon_client.get("/open-data/leaves.csv")))))
    assert [int(r["sequence"]) for r in rows] == list(range(varied.tree_size))
    for row, entry in zip(rows, api, strict=True):
        assert row["leaf_hash"] == entry["leaf_hash"]
        assert row["date"] == entry["leaf"]["date"]
        assert row["case_number_present"] == json.dumps(entry["leaf"]["case_number_present"])
    tree = TreeBuilder()
    for entry in api:
        tree.append(bytes.fromhex(entry["leaf_hash"]))
    head = json.loads(body(anon_client.get("/open-data/tree-head.json")))
    assert head == anon_client.get("/api/v1/log/tree-head").json()
    assert head["tree_size"] == varied.tree_size
    assert tree.root().hex() == head["root_hash"]


def test_public_rollup_is_counted_once_per_head(varied, anon_client):
    assert not PublicRollupState.objects.exists()  # counted on the first request after a head
    anon_client.get("/open-data/daily.csv")
    state = PublicRollupState.objects.get(id=1)
    assert state.tree_size == varied.tree_size
    assert advance_public_rollup(varied) == 0  # already there: nothing counted twice
    total = sum(PublicRollup.objects.filter(granularity="day").values_list("queries", flat=True))
    monthly = sum(
        PublicRollup.objects.filter(granularity="month").values_list("queries", flat=True)
    )
    assert total == monthly == varied.tree_size


# --- Small cells --------------------------------------------------------------------------------


def test_small_cells_are_shown_as_fewer_than(varied, anon_client, settings):
    settings.SIGHTLINE_PUBLIC_MIN_CELL = 3
    figures = headline(anon_client)
    assert figures["Searches for unregistered outside agencies"][2] == "fewer than 3"
    assert figures["Queries (signed log)"][2] == str(varied.tree_size)  # a big cell stays
    daily = body(anon_client.get("/open-data/daily.csv"))
    assert "fewer than 3" in daily
    assert not re.search(r",(1|2)(,|\r\n)", daily.split("\r\n", 1)[1])
    stats = anon_client.get("/api/v1/stats/").json()
    assert all(
        row["queries"] == "fewer than 3" or row["queries"] >= 3 for row in stats["by_agency"]
    )


# --- Caching and languages ----------------------------------------------------------------------


def test_signed_in_users_never_get_the_cached_anonymous_page(varied, anon_client, client_for):
    anon_client.get("/")
    assert anon_client.get("/")["X-Page-Cache"] == "hit"
    council = client_for("council")
    response = council.get("/")
    assert "X-Page-Cache" not in response
    assert "Log out (council-user)" in body(response)


def test_spanish_by_accept_language_and_by_the_switch(varied):
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    page = body(client.get("/"))
    assert '<html lang="es">' in page
    assert "Cifras principales" in page  # "Headline figures"
    assert "Reconocimiento facial" in page  # the technology's own Spanish name

    english = Client(HTTP_ACCEPT_LANGUAGE="es")
    switched = english.get("/language/en/", {"next": "/spending/"})
    assert switched.status_code == 302
    assert switched["Location"] == "/spending/"
    assert '<html lang="en">' in body(english.get("/spending/"))
    # Both languages are cached separately.
    assert "Cifras principales" in body(Client(HTTP_ACCEPT_LANGUAGE="es").get("/"))
    assert "Headline figures" in body(Client().get("/"))


def test_language_switch_refuses_other_sites_and_unknown_languages(anon_client):
    response = anon_client.get("/language/es/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert anon_client.get("/language/xx/").status_code == 404


def test_language_links_are_on_every_public_page(varied, anon_client):
    for path in PUBLIC_PAGES:
        page = body(anon_client.get(path))
        assert 'hreflang="es"' in page, path


# --- Policy history and spending ----------------------------------------------------------------


def test_policy_history_shows_changes_without_who_made_them(users, anon_client):
    admin = Client()
    admin.force_login(users["superuser"])
    technology = Technology.objects.get(slug=FACE)
    url = f"/admin/audit/technology/{technology.pk}/change/"
    form = admin.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        daily_volume_threshold=12,
        query_types=json.dumps(technology.query_types),
        allowed_offense_categories=json.dumps(technology.allowed_offense_categories),
    )
    response = admin.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    page = body(anon_client.get(f"/technologies/{FACE}/"))
    assert "History of policy changes" in page
    assert timezone.localdate().strftime("%Y-%m-%d") in page
    assert "12" in page
    assert "super-user" not in page
    assert "super@example.org" not in page


def test_spending_page_and_csv(db, anon_client):
    from reports import demo

    payments = demo.seed_spending(today=timezone.localdate())
    assert payments > 0
    page = body(anon_client.get("/spending/"))
    for contract in Contract.objects.all():
        assert contract.title.replace("&", "&amp;").replace("'", "&#x27;") in page
    rows = list(csv.DictReader(io.StringIO(body(anon_client.get("/open-data/spending.csv")))))
    assert len(rows) == Expenditure.objects.count() == payments
    assert sum(float(r["amount_usd"]) for r in rows) == pytest.approx(
        float(sum(e.amount for e in Expenditure.objects.all()))
    )


# --- Privacy: no private field on any public surface ------------------------------------------

MARKERS = {
    "operator": "OPRMARK7731",
    "supervisor": "SUPMARK4419",
    "case_number": "CASEMARK-2026-88317",
    "justification": "Justification marker JUSTMARK55012 about a stolen sedan near Five Points",
    "client_ref": "REFMARK-90412",
    "target": "PLTMRK9",
    "on_behalf_of": "BHLFMARK",
    "operator_name": "Namemarkia Quillfeather",
}


def test_no_private_field_reaches_any_public_page_or_download(maker, home_agency, anon_client):
    OperatorFactory(badge_number=MARKERS["operator"], name=MARKERS["operator_name"],
                    agency=home_agency, unit="UNITMARK Squad")  # fmt: skip
    OperatorFactory(badge_number=MARKERS["supervisor"], agency=home_agency, is_supervisor=True)
    moment = days_ago(3).replace(minute=47, second=59, microsecond=123456)
    results = maker.record(
        [
            maker.query(
                technology=technology,
                query_type=QUERY_TYPES[technology][0],
                operator=MARKERS["operator"],
                supervisor=MARKERS["supervisor"],
                case_number=MARKERS["case_number"],
                justification=MARKERS["justification"],
                client_ref=f"{MARKERS['client_ref']}-{technology}",
                target=MARKERS["target"],
                on_behalf_of=MARKERS["on_behalf_of"],
                occurred_at=moment,
            )
            for technology in (LPR, FACE, NIBIN)
        ]
    )
    head = publish()
    entry = QueryLogEntry.objects.get(sequence=results[0].sequence)
    secrets = [v.lower() for v in MARKERS.values()] + [
        "justmark55012",
        "unitmark",
        entry.target_fingerprint.lower(),
        entry.salt.lower(),
        moment.strftime("%H:%M:%S"),  # the UTC time of day
        timezone.localtime(moment).strftime("%H:%M:%S"),  # and the local one
    ]

    urls = [
        *PUBLIC_PAGES,
        f"/technologies/{NIBIN}/",
        "/log/",
        *DOWNLOADS,
        "/api/v1/stats/",
        "/api/v1/log/tree-head",
        "/api/v1/log/public-key",
        f"/api/v1/log/entries?start=0&end={head.tree_size}",
        f"/api/v1/log/proof/inclusion?leaf_index=0&tree_size={head.tree_size}",
        f"/api/v1/log/proof/consistency?first=1&second={head.tree_size}",
        "/api/schema/",
    ]
    urls = with_table_csvs(urls)
    assert assert_nothing_shows(urls, secrets) == 2 * len(urls) > 30


def test_rebuild_counts_the_same_as_the_incremental_path(varied, maker, anon_client):
    anon_client.get("/")  # counted up to the first head
    maker.record([maker.query(occurred_at=days_ago(2)), maker.query(occurred_at=days_ago(40))])
    head = publish()
    anon_client.get("/open-data/")  # and incrementally up to the second

    def rows():
        return sorted(
            PublicRollup.objects.values_list(
                "granularity", "period_start", "technology", "agency", "offense_category",
                "scope", *PublicRollup.MEASURES,
            )
        )  # fmt: skip

    incremental = rows()
    out = io.StringIO()
    call_command("rebuild_rollups", stdout=out, stderr=io.StringIO())
    assert f"Rebuilt the public counts from {head.tree_size} signed entries." in out.getvalue()
    assert rows() == incremental
    assert PublicRollupState.objects.get(id=1).tree_size == head.tree_size


def test_made_up_parameters_share_the_cached_page(varied, anon_client):
    assert anon_client.get("/")["X-Page-Cache"] == "miss"
    assert anon_client.get("/?utm_source=x&x=1")["X-Page-Cache"] == "hit"
    csv_page = anon_client.get("/", {"table": "trend", "format": "csv"})
    assert csv_page["X-Page-Cache"] == "miss"  # a parameter the page reads is part of the key
    assert csv_page["Content-Type"].startswith("text/csv")
    again = anon_client.get("/", {"format": "csv", "table": "trend", "junk": "1"})
    assert again["X-Page-Cache"] == "hit"
    assert again.content == csv_page.content
