"""The auditor workspace: roles x every URL, search filters, entry detail, reviews, review queue,
random samples, summaries and the access log (who watched the watchers)."""

import csv
import io
from collections import Counter
from datetime import date

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone

from audit.log.services import record_outcome
from audit.models import (
    AccessRecord,
    AppendOnlyError,
    AuditReview,
    QueryLogEntry,
    QueryOutcome,
    Technology,
)
from audit.transparency.services import publish_tree_head
from audit.workspace.services import record_review
from tests.audit.queries import FACE, LPR, NIBIN, at, flag_pairs, make_query
from tests.factories import AgencyFactory, CertificationFactory, OperatorFactory


def sequences(page_or_list) -> list[int]:
    return [entry.sequence for entry in page_or_list]


@pytest.fixture
def operators(home_agency):
    """Certified operators in three units, a supervisor and an outside agency."""
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office")
    found = {}
    for badge, unit in (("B100", "RTCC"), ("B200", "Homicide"), ("B300", "Patrol")):
        op = OperatorFactory(badge_number=badge, agency=home_agency, unit=unit)
        for technology in Technology.objects.all():
            CertificationFactory(operator=op, technology=technology, certified_on=date(2025, 1, 1))
        found[badge] = op
    OperatorFactory(badge_number="S900", agency=home_agency, unit="RTCC", is_supervisor=True)
    return found


@pytest.fixture
def log(record, integration):
    """Five entries with known fields, flags and outcomes; returns their sequences by name."""
    names = ["plate", "face", "nibin", "night", "marshals"]
    seqs = record(
        make_query(occurred_at=at(2), operator="B100", target="ABC 123"),
        make_query(
            FACE,
            target="probe-digest-1",
            occurred_at=at(3, 10),
            operator="B200",
            offense_code="09A",
            case_number="BPD-26-0002",
        ),
        make_query(
            NIBIN,
            target=None,
            occurred_at=at(4, 11),
            operator="B100",
            requesting_agency="JCSO",
            on_behalf_of="ATF Birmingham",
            offense_code="13A",
            case_number="JCSO-77",
        ),
        make_query(
            query_type="partial-plate-search",
            target="XYZ 999",
            occurred_at=at(5, 3),
            operator="B300",
            offense_code="",
            justification="investigation",
            case_number="BPD-26-0003",
        ),
        make_query(
            target="abc123",
            occurred_at=at(6, 15),
            operator="B100",
            offense_code="120",
            on_behalf_of="US Marshals",
        ),
    )
    entries = dict(zip(names, seqs, strict=True))
    by_seq = {e.sequence: e for e in QueryLogEntry.objects.all()}
    record_outcome(integration=integration, entry=by_seq[entries["plate"]], outcome="lead")
    record_outcome(integration=integration, entry=by_seq[entries["marshals"]], outcome="arrest")
    flags = {s: set() for s in seqs}
    for seq, flag in flag_pairs():
        flags[seq].add(flag)
    assert flags == {
        entries["plate"]: set(),
        entries["face"]: set(),
        entries["nibin"]: {"outside-agency"},
        entries["night"]: {"missing-offense", "outside-staffed-hours", "vague-justification"},
        entries["marshals"]: {"outside-agency"},
    }
    return entries


def client_for(users, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    return client


@pytest.fixture
def auditor(users):
    return client_for(users, "auditor")


@pytest.fixture
def auditor_user(users):
    return users["auditor"]


# --- Roles x every URL ------------------------------------------------------------------------

ROLES = ["anonymous", "council", "auditor", "administrator", "superuser", "no_role"]
LOGIN = "login"  # 302 to /accounts/login/?next=...
ADMIN_LOGIN = "admin-login"  # 302 to /admin/login/?next=...
API_DENIED = (401, 403)

PUBLIC = dict.fromkeys(ROLES, 200)
AUDITOR_PAGE = {
    "anonymous": LOGIN,
    "council": 403,
    "no_role": 403,
    "auditor": 200,
    "administrator": 200,
    "superuser": 200,
}
AUDITOR_API = {**AUDITOR_PAGE, "anonymous": API_DENIED}
COUNCIL_PAGE = {**AUDITOR_PAGE, "council": 200}  # reports: council, auditors and up
ADMINISTRATOR_PAGE = {**AUDITOR_PAGE, "auditor": 403}
INTEGRATION_ONLY = dict.fromkeys(ROLES, API_DENIED)
LOGIN_REQUIRED = {**dict.fromkeys(ROLES, 200), "anonymous": LOGIN}
STAFF_ONLY = {
    **dict.fromkeys(ROLES, ADMIN_LOGIN),
    "administrator": 200,
    "superuser": 200,
}
REDIRECTS = dict.fromkeys(ROLES, 302)
TWO_FACTOR_VERIFY = {**AUDITOR_PAGE, "auditor": 302, "administrator": 302, "superuser": 302}
NO_SUCH_IMPORT = {**AUDITOR_PAGE, "auditor": 404, "administrator": 404, "superuser": 404}


def access_table(seq: int) -> dict[str, list[tuple[str, str, dict, dict]]]:
    """URL name -> [(method, path, data, expected status per role)]; every URL must be here."""
    entries = "/api/v1/log/entries?start=0&end=3"
    return {
        "reports:home": [("GET", "/", {}, PUBLIC)],
        "reports:technology": [("GET", f"/technologies/{LPR}/", {}, PUBLIC)],
        "reports:spending": [("GET", "/spending/", {}, PUBLIC)],
        "reports:open-data": [("GET", "/open-data/", {}, PUBLIC)],
        "reports:datapackage": [("GET", "/open-data/datapackage.json", {}, PUBLIC)],
        "reports:leaves-csv": [("GET", "/open-data/leaves.csv", {}, PUBLIC)],
        "reports:leaves-jsonl": [("GET", "/open-data/leaves.jsonl", {}, PUBLIC)],
        "reports:daily-csv": [("GET", "/open-data/daily.csv", {}, PUBLIC)],
        "reports:spending-csv": [("GET", "/open-data/spending.csv", {}, PUBLIC)],
        "reports:tree-head-json": [("GET", "/open-data/tree-head.json", {}, PUBLIC)],
        "reports:council-dashboard": [("GET", "/reports/", {}, COUNCIL_PAGE)],
        "reports:annual-report": [("GET", f"/reports/annual/{LPR}/", {}, COUNCIL_PAGE)],
        "reports:plotly-js": [("GET", "/assets/plotly.min.js", {}, PUBLIC)],
        "healthz": [("GET", "/healthz", {}, PUBLIC)],
        "favicon": [("GET", "/favicon.ico", {}, dict.fromkeys(ROLES, 301))],
        "audit:log": [("GET", "/log/", {}, PUBLIC)],
        "login": [("GET", "/accounts/login/", {}, PUBLIC)],
        "logout": [("POST", "/accounts/logout/", {}, REDIRECTS)],
        "password_change": [("GET", "/accounts/password_change/", {}, LOGIN_REQUIRED)],
        "password_change_done": [("GET", "/accounts/password_change/done/", {}, LOGIN_REQUIRED)],
        "two-factor-setup": [("GET", "/accounts/two-factor/setup/", {}, AUDITOR_PAGE)],
        # Without a device yet, the code prompt sends auditors and administrators to set one up.
        "two-factor-verify": [("GET", "/accounts/two-factor/verify/", {}, TWO_FACTOR_VERIFY)],
        "password_reset": [("GET", "/accounts/password_reset/", {}, PUBLIC)],
        "password_reset_done": [("GET", "/accounts/password_reset/done/", {}, PUBLIC)],
        "password_reset_confirm": [("GET", "/accounts/reset/MQ/bad-token/", {}, PUBLIC)],
        "password_reset_complete": [("GET", "/accounts/reset/done/", {}, PUBLIC)],
        "switch-language": [("GET", "/language/es/?next=/spending/", {}, REDIRECTS)],
        "audit-api:queries": [
            ("GET", "/api/v1/queries/", {}, AUDITOR_API),
            ("POST", "/api/v1/queries/", {}, INTEGRATION_ONLY),
        ],
        "audit-api:query-detail": [("GET", f"/api/v1/queries/{seq}/", {}, AUDITOR_API)],
        "audit-api:outcomes": [
            ("POST", f"/api/v1/queries/{seq}/outcomes/", {"outcome": "lead"}, INTEGRATION_ONLY)
        ],
        "audit-api:public-key": [("GET", "/api/v1/log/public-key", {}, PUBLIC)],
        "audit-api:tree-head": [("GET", "/api/v1/log/tree-head", {}, PUBLIC)],
        "audit-api:tree-heads": [("GET", "/api/v1/log/tree-heads", {}, PUBLIC)],
        "tlog:checkpoint": [("GET", "/tlog/checkpoint", {}, PUBLIC)],
        "tlog:tile": [("GET", "/tlog/tile/0/000.p/3", {}, PUBLIC)],
        "tlog:entries": [("GET", "/tlog/tile/entries/000.p/3", {}, PUBLIC)],
        "reports-api:stats": [("GET", "/api/v1/stats/", {}, PUBLIC)],
        "audit-api:entries": [("GET", entries, {}, PUBLIC)],
        "audit-api:inclusion-proof": [
            ("GET", "/api/v1/log/proof/inclusion?leaf_index=0&tree_size=3", {}, PUBLIC)
        ],
        "audit-api:consistency-proof": [
            ("GET", "/api/v1/log/proof/consistency?first=1&second=3", {}, PUBLIC)
        ],
        "schema": [("GET", "/api/schema/", {}, PUBLIC)],
        "api-docs": [("GET", "/api/docs/", {}, PUBLIC)],
        "audit:workspace": [("GET", "/audit/", {}, AUDITOR_PAGE)],
        "audit:entry-detail": [("GET", f"/audit/entries/{seq}/", {}, AUDITOR_PAGE)],
        "audit:review-queue": [("GET", "/audit/review-queue/", {}, AUDITOR_PAGE)],
        "audit:sample": [
            (
                "GET",
                "/audit/sample/?start=2026-03-01&end=2026-03-31&size=2&seed=1",
                {},
                AUDITOR_PAGE,
            )
        ],
        "audit:summary": [("GET", "/audit/summary/", {}, AUDITOR_PAGE)],
        "audit:export": [("GET", "/audit/export/?format=csv", {}, AUDITOR_PAGE)],
        "audit:access-log": [("GET", "/audit/access-log/", {}, ADMINISTRATOR_PAGE)],
        "audit:imports": [("GET", "/audit/imports/", {}, AUDITOR_PAGE)],
        "audit:import-detail": [("GET", "/audit/imports/404/", {}, NO_SUCH_IMPORT)],
    }


ADMIN_PREFIX = "admin/"
ADMIN_CHANGELISTS = [
    "/admin/audit/technology/",
    "/admin/audit/agency/",
    "/admin/audit/operator/",
    "/admin/audit/integration/",
    "/admin/audit/querylogentry/",
    "/admin/audit/queryoutcome/",
    "/admin/audit/signedtreehead/",
    "/admin/audit/witness/",
    "/admin/audit/cosignature/",
    "/admin/auth/user/",
]


def all_patterns(resolver=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str]]:
    """(route, name) of every URL pattern of the project; name is namespaced, "" if unnamed."""
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            inner = f"{namespace}:{inner}" if namespace and inner else inner or namespace
            found.extend(all_patterns(pattern, prefix + str(pattern.pattern), inner))
        else:
            name = pattern.name or ""
            found.append(
                (
                    prefix + str(pattern.pattern),
                    f"{namespace}:{name}" if namespace and name else name,
                )
            )
    return found


def test_every_url_pattern_has_an_access_rule():
    table = access_table(0)
    uncovered = [
        (route, name)
        for route, name in all_patterns()
        if (name or route) not in table and not route.startswith(ADMIN_PREFIX)
    ]
    assert uncovered == [], f"URLs without a role rule in this test: {uncovered}"
    assert len(all_patterns()) > len(table)  # the walk found the project's URLs
    # Every path in the table reaches the URL it stands for (no typo hides a URL).
    for name, checks in table.items():
        for _method, path, _data, _expected in checks:
            assert resolve(path.split("?")[0]).view_name == name, path


@pytest.fixture
def walk_log(record):
    seqs = record(*(make_query(target=f"W{n}", occurred_at=at(2 + n)) for n in range(3)))
    assert publish_tree_head(force=True).tree_size == 3
    return seqs


def _check(response, expected) -> str | None:
    status = response.status_code
    if expected == LOGIN:
        if status != 302 or not response["Location"].startswith("/accounts/login/?next="):
            return f"expected redirect to login, got {status} {response.get('Location')}"
    elif expected == ADMIN_LOGIN:
        if status != 302 or not response["Location"].startswith("/admin/login/?next="):
            return f"expected redirect to admin login, got {status} {response.get('Location')}"
    elif isinstance(expected, tuple):
        if status not in expected:
            return f"expected one of {expected}, got {status}"
    elif status != expected:
        return f"expected {expected}, got {status}"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_every_url_for_every_role(users, walk_log, role):
    log_before = (QueryLogEntry.objects.count(), QueryOutcome.objects.count())
    problems = []
    shared = client_for(users, role)
    for checks in access_table(walk_log[0]).values():
        for method, path, data, expected in checks:
            # POSTs (logout, language) get their own client so they cannot affect other checks.
            client = shared if method == "GET" else client_for(users, role)
            response = client.get(path, data) if method == "GET" else client.post(path, data)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            problem = _check(response, expected[role])
            if problem:
                problems.append(f"{method} {path}: {problem}")
    admin_checks = [("/admin/", STAFF_ONLY[role])]
    if role == "superuser":
        admin_checks += [(path, 200) for path in ADMIN_CHANGELISTS]
    elif STAFF_ONLY[role] == ADMIN_LOGIN:
        admin_checks += [(path, ADMIN_LOGIN) for path in ADMIN_CHANGELISTS]
    for path, expected in admin_checks:
        problem = _check(shared.get(path), expected)
        if problem:
            problems.append(f"GET {path}: {problem}")
    assert problems == []
    # Nobody without an integration key wrote to the log.
    assert (QueryLogEntry.objects.count(), QueryOutcome.objects.count()) == log_before
    # Only users who were let in left access records.
    recorded_users = set(AccessRecord.objects.values_list("user__username", flat=True))
    if role in ("auditor", "administrator", "superuser"):
        assert recorded_users == {users[role].username}
    else:
        assert recorded_users == set()


def test_an_integration_key_reads_no_raw_entries(api_client, walk_log):
    assert api_client.get("/api/v1/queries/").status_code in API_DENIED
    assert api_client.get(f"/api/v1/queries/{walk_log[0]}/").status_code in API_DENIED
    response = api_client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_inactive_auditor_is_refused(users, walk_log):
    user = users["auditor"]
    user.is_active = False
    user.save()
    client = Client()
    client.force_login(user)
    assert client.get("/audit/").status_code in (302, 403)
    assert client.get("/api/v1/queries/").status_code in API_DENIED


# --- Search filters ---------------------------------------------------------------------------


def search(client, **params) -> list[int]:
    response = client.get("/audit/", params)
    assert response.status_code == 200
    page = response.context["page"]
    assert page is not None, response.context["form"].errors
    return sequences(page.object_list)


def api_search(client, **params) -> list[int]:
    response = client.get("/api/v1/queries/", params)
    assert response.status_code == 200, response.content
    return [row["sequence"] for row in response.json()["results"]]


@pytest.fixture
def reviewed_log(log, users):
    """The log fixture with a compliant review of 'plate' and a non-compliant one of 'nibin'."""
    by_seq = {e.sequence: e for e in QueryLogEntry.objects.all()}
    reviewer = users["auditor"]
    record_review(
        entry=by_seq[log["plate"]], reviewer=reviewer, finding="needs-follow-up", note="Check."
    )
    record_review(entry=by_seq[log["plate"]], reviewer=reviewer, finding="compliant", note="Fine.")
    record_review(
        entry=by_seq[log["nibin"]], reviewer=reviewer, finding="non-compliant", note="No MOU."
    )
    return log


FILTER_CASES = [
    ({"start": "2026-03-03", "end": "2026-03-05"}, ["face", "nibin", "night"]),
    ({"start": "2026-03-05"}, ["night", "marshals"]),
    ({"end": "2026-03-02"}, ["plate"]),
    ({"technology": LPR}, ["plate", "night", "marshals"]),
    ({"query_type": "partial-plate-search"}, ["night"]),
    ({"agency": "JCSO"}, ["nibin"]),
    ({"agency": "jcso"}, ["nibin"]),
    ({"on_behalf_of": "marshals"}, ["marshals"]),
    ({"operator": "B100"}, ["plate", "nibin", "marshals"]),
    ({"unit": "Homicide"}, ["face"]),
    ({"offense_code": "09a"}, ["face"]),
    ({"offense_category": "Robbery"}, ["marshals"]),
    ({"offense_category": "unspecified"}, ["night"]),
    ({"case_number": "BPD-26-0001"}, ["plate", "marshals"]),
    ({"flag": "any"}, ["nibin", "night", "marshals"]),
    ({"flag": "none"}, ["plate", "face"]),
    ({"flag": "outside-staffed-hours"}, ["night"]),
    ({"flag": "outside-agency"}, ["nibin", "marshals"]),
    ({"flag": "repeated-target"}, []),
    ({"review_status": "unreviewed"}, ["face", "night", "marshals"]),
    ({"review_status": "compliant"}, ["plate"]),
    ({"review_status": "non-compliant"}, ["nibin"]),
    ({"review_status": "needs-follow-up"}, []),  # superseded by the later compliant review
    ({"outcome": "lead"}, ["plate"]),
    ({"outcome": "arrest"}, ["marshals"]),
    ({"outcome": "false-match"}, []),
    ({"target": "abc-123"}, ["plate", "marshals"]),
    ({"target": "abc-123", "technology": LPR}, ["plate", "marshals"]),
    ({"target": "abc-123", "technology": FACE}, []),
    ({"target": "PROBE-DIGEST-1"}, ["face"]),
    ({"operator": "B100", "technology": LPR, "flag": "none"}, ["plate"]),
]


def test_search_filters_narrow_results(auditor, reviewed_log):
    # One log for all cases (each case a fresh fixture would be slow); every mismatch is listed.
    everything = sorted(reviewed_log.values(), reverse=True)
    mismatches = []
    for params, expected in FILTER_CASES:
        want = sorted((reviewed_log[name] for name in expected), reverse=True)
        assert want != everything, f"{params} does not narrow anything"
        for source, found in (("page", search), ("api", api_search)):
            got = found(auditor, **params)
            if got != want:
                mismatches.append(f"{source} {params}: {got} != {want}")
    assert mismatches == []


def test_search_without_filters_lists_everything_newest_first(auditor, log):
    assert search(auditor) == sorted(log.values(), reverse=True)


def test_search_page_shows_flags_and_review_status(auditor, reviewed_log):
    response = auditor.get("/audit/", {"flag": "any"})
    html = response.content.decode()
    assert "outside-staffed-hours" in html
    assert "vague-justification" in html
    assert "non-compliant" in html
    assert "3 entries match" in html


def test_search_page_counts_with_the_languages_separators(auditor, record):
    record(*(make_query(target=f"P{n}", occurred_at=at(1 + n % 6, 9)) for n in range(1234)))
    assert "1,234 entries match" in auditor.get("/audit/").content.decode()
    spanish = auditor.get("/audit/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "1\xa0234 entradas coinciden" in spanish  # Spanish groups digits with a space


@pytest.fixture
def sixty(record):
    """60 entries over six days by three operators."""
    badges = ["B300", "B100", "B200"]
    return record(
        *(
            make_query(
                target=f"P{n}",
                operator=badges[n % 3],
                occurred_at=at(1 + n % 6, 8 + n % 10),
                case_number=f"C-{n}",
            )
            for n in range(60)
        )
    )


def test_search_paginates(auditor, sixty):
    first = auditor.get("/audit/")
    second = auditor.get("/audit/", {"page": 2})
    assert sequences(first.context["page"].object_list) == sorted(sixty, reverse=True)[:50]
    assert sequences(second.context["page"].object_list) == sorted(sixty, reverse=True)[50:]
    assert first.context["page"].paginator.num_pages == 2
    assert 'rel="next"' in first.content.decode()


def test_pagination_keeps_the_filters(auditor, sixty):
    response = auditor.get("/audit/", {"technology": LPR, "sort": "sequence", "page": 2})
    assert sequences(response.context["page"].object_list) == sorted(sixty)[50:]
    assert "page" not in response.context["query_string"]
    assert "technology=license-plate-reader" in response.context["query_string"]


SORT_KEYS = {
    "sequence": lambda e: e.sequence,
    "-sequence": lambda e: -e.sequence,
    "occurred_at": lambda e: (e.occurred_at, -e.sequence),
    "-occurred_at": lambda e: (-e.occurred_at.timestamp(), -e.sequence),
    "operator_badge": lambda e: (e.operator_badge, -e.sequence),
    "technology": lambda e: (e.technology_id, -e.sequence),
}


def test_search_sorts(auditor, sixty):
    entries = list(QueryLogEntry.objects.all())
    for sort, key in SORT_KEYS.items():
        expected = sequences(sorted(entries, key=key))[:50]
        assert search(auditor, sort=sort) == expected, sort


def test_api_search_paginates_with_a_cursor(auditor, sixty):
    seen = []
    url, params = "/api/v1/queries/", {"page_size": 25}
    while url:
        response = auditor.get(url, params)
        assert response.status_code == 200
        body = response.json()
        seen += [row["sequence"] for row in body["results"]]
        url, params = body["next"], {}
    assert seen == sorted(sixty, reverse=True)


INVALID_FILTERS = [
    ({"start": "2026-03-05", "end": "2026-03-01"}, "end"),
    ({"start": "not-a-date"}, "start"),
    ({"end": "2026-02-30"}, "end"),
    ({"technology": "tarot-cards"}, "technology"),
    ({"flag": "no-such-flag"}, "flag"),
    ({"review_status": "maybe"}, "review_status"),
    ({"outcome": "won"}, "outcome"),
    ({"offense_category": "Jaywalking"}, "offense_category"),
    ({"sort": "leaf_hash; DROP TABLE"}, "sort"),
    ({"target": "x" * 600}, "target"),
]


def test_invalid_filters_show_an_error_and_crash_nothing(auditor, log):
    for params, field in INVALID_FILTERS:
        response = auditor.get("/audit/", params)
        assert response.status_code == 200, params
        assert response.context["page"] is None, params
        assert field in response.context["form"].errors, params
        assert 'class="error"' in response.content.decode(), params
        api = auditor.get("/api/v1/queries/", params)
        assert api.status_code == 400, params
        assert field in api.json(), (params, api.json())
    assert not AccessRecord.objects.filter(action="search").exists()
    assert QueryLogEntry.objects.count() == 5


def test_end_before_start_names_the_problem(auditor, log):
    response = auditor.get("/audit/", {"start": "2026-03-05", "end": "2026-03-01"})
    assert "The end date is before the start date." in response.content.decode()


def test_odd_page_numbers_do_not_crash(auditor, log):
    for page in ["abc", "-1", "0", "999", ""]:
        response = auditor.get("/audit/", {"page": page})
        assert response.status_code == 200, page
        assert len(response.context["page"].object_list) == 5, page


def test_unknown_entry_is_404(auditor, log):
    assert auditor.get("/audit/entries/999999/").status_code == 404
    assert auditor.get("/api/v1/queries/999999/").status_code == 404


# --- Entry detail -----------------------------------------------------------------------------


def test_entry_detail_shows_fields_flags_and_outcomes(auditor, log, operators):
    response = auditor.get(f"/audit/entries/{log['night']}/")
    assert response.status_code == 200
    html = response.content.decode()
    entry = QueryLogEntry.objects.get(sequence=log["night"])
    for text in (
        f"Query log entry {entry.sequence}",
        "partial-plate-search",
        "License plate readers",
        "B300",
        operators["B300"].name,
        "Patrol",
        "BPD-26-0003",
        "investigation",
        entry.leaf_hash,
        entry.target_fingerprint,
        "2026-03-05 03:00",
        "outside-staffed-hours",
        "missing-offense",
        "vague-justification",
        "Made outside the center",
        "No outcome reported yet.",
        "Not reviewed yet.",
    ):
        assert text in html, text
    assert "Not yet covered" in html
    assert "Verified" not in html

    marshals = auditor.get(f"/audit/entries/{log['marshals']}/").content.decode()
    assert "Arrest" in marshals
    assert "US Marshals" in marshals
    assert "outside-agency" in marshals


def test_entry_detail_verifies_inclusion_once_a_head_covers_it(auditor, log, record):
    head = publish_tree_head(force=True)
    assert head.tree_size == 5
    html = auditor.get(f"/audit/entries/{log['night']}/").content.decode()
    assert "Verified" in html
    assert "Not yet covered" not in html
    assert head.root_hash in html

    (later,) = record(make_query(target="LATER", occurred_at=at(7)))
    html = auditor.get(f"/audit/entries/{later}/").content.decode()
    assert "Not yet covered" in html
    assert "Verified" not in html


def test_api_entry_detail(auditor, reviewed_log):
    body = auditor.get(f"/api/v1/queries/{reviewed_log['marshals']}/").json()
    assert body["sequence"] == reviewed_log["marshals"]
    assert body["flags"] == ["outside-agency"]
    assert body["outcomes"] == ["arrest"]
    assert body["on_behalf_of"] == "US Marshals"
    assert body["review_status"] == ""
    assert auditor.get(f"/api/v1/queries/{reviewed_log['plate']}/").json()["review_status"] == (
        "compliant"
    )


# --- Reviews ----------------------------------------------------------------------------------


def test_review_is_appended_and_a_later_one_supersedes(auditor, auditor_user, log):
    url = f"/audit/entries/{log['night']}/"
    response = auditor.post(url, {"finding": "needs-follow-up", "note": "Ask the unit why."})
    assert response.status_code == 302
    assert response["Location"] == url
    response = auditor.post(url, {"finding": "non-compliant", "note": "No reason recorded."})
    assert response.status_code == 302

    reviews = list(AuditReview.objects.filter(entry_id=log["night"]).order_by("id"))
    assert [(r.finding, r.note, r.reviewer) for r in reviews] == [
        ("needs-follow-up", "Ask the unit why.", auditor_user),
        ("non-compliant", "No reason recorded.", auditor_user),
    ]
    assert search(auditor, review_status="non-compliant") == [log["night"]]
    assert search(auditor, review_status="needs-follow-up") == []
    html = auditor.get(url).content.decode()
    assert "Ask the unit why." in html  # earlier reviews stay visible
    assert "No reason recorded." in html
    assert html.index("Non-compliant") > html.index("Needs follow-up")
    assert "(current)" in html
    assert AccessRecord.objects.filter(action="review", user=auditor_user).count() == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"finding": "compliant", "note": ""}, "note"),
        ({"finding": "compliant"}, "note"),
        ({"finding": "great", "note": "Looks fine."}, "finding"),
        ({"note": "Looks fine."}, "finding"),
    ],
)
def test_invalid_review_is_refused_and_nothing_written(auditor, log, data, field):
    response = auditor.post(f"/audit/entries/{log['night']}/", data)
    assert response.status_code == 400
    assert field in response.context["review_form"].errors
    assert 'class="error"' in response.content.decode()
    assert not AuditReview.objects.exists()
    assert not AccessRecord.objects.filter(action="review").exists()


def test_council_cannot_review(users, log):
    council = client_for(users, "council")
    response = council.post(
        f"/audit/entries/{log['night']}/", {"finding": "compliant", "note": "x"}
    )
    assert response.status_code == 403
    assert not AuditReview.objects.exists()


def test_reviews_cannot_be_changed_or_removed(log, users):
    entry = QueryLogEntry.objects.get(sequence=log["night"])
    review = record_review(
        entry=entry, reviewer=users["auditor"], finding="compliant", note="Fine."
    )
    review.note = "Edited"
    with pytest.raises(AppendOnlyError):
        review.save()
    with pytest.raises(AppendOnlyError):
        review.delete()
    with pytest.raises(AppendOnlyError):
        AuditReview.objects.filter(pk=review.pk).update(finding="non-compliant")
    with pytest.raises(AppendOnlyError):
        AuditReview.objects.all().delete()
    for sql in ("UPDATE audit_auditreview SET note = 'x'", "DELETE FROM audit_auditreview"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert list(AuditReview.objects.values_list("finding", "note")) == [("compliant", "Fine.")]


def test_access_records_cannot_be_changed_or_removed(auditor, log):
    auditor.get("/audit/")
    record = AccessRecord.objects.get()
    with pytest.raises(AppendOnlyError):
        AccessRecord.objects.filter(pk=record.pk).update(row_count=0)
    with pytest.raises(AppendOnlyError):
        record.delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_accessrecord")
    assert AccessRecord.objects.count() == 1


# --- Review queue -----------------------------------------------------------------------------


def test_review_queue_lists_flagged_unreviewed_entries_oldest_first(auditor, log):
    response = auditor.get("/audit/review-queue/")
    assert response.status_code == 200
    flagged = [log["nibin"], log["night"], log["marshals"]]
    assert sequences(response.context["page"].object_list) == flagged

    auditor.post(f"/audit/entries/{log['night']}/", {"finding": "compliant", "note": "OK."})
    response = auditor.get("/audit/review-queue/")
    assert sequences(response.context["page"].object_list) == [log["nibin"], log["marshals"]]
    assert "2 flagged entries have not been reviewed" in response.content.decode()


def test_review_queue_is_empty_when_everything_is_reviewed(auditor, log):
    for name in ("nibin", "night", "marshals"):
        auditor.post(f"/audit/entries/{log[name]}/", {"finding": "compliant", "note": "OK."})
    response = auditor.get("/audit/review-queue/")
    assert sequences(response.context["page"].object_list) == []
    assert "Nothing to review" in response.content.decode()


# --- Random sample ----------------------------------------------------------------------------


@pytest.fixture
def sample_log(record):
    """March 10-20: 30 plate searches, 3 face searches, 1 NIBIN correlation; one in April."""
    queries = [
        make_query(target=f"S{n}", occurred_at=at(10 + n % 10), case_number=f"C-{n}")
        for n in range(30)
    ]
    queries += [make_query(FACE, target=f"F{n}", occurred_at=at(12 + n)) for n in range(3)]
    queries += [make_query(NIBIN, target=None, occurred_at=at(15))]
    queries += [make_query(NIBIN, target=None, occurred_at=at(1, month=4))]
    seqs = record(*queries)
    return {"lpr": seqs[:30], "face": seqs[30:33], "nibin": seqs[33:34], "april": seqs[34:]}


SAMPLE = {"start": "2026-03-01", "end": "2026-03-31", "size": 6}


def draw(client, **params) -> tuple[list[int], int, str]:
    response = client.get("/audit/sample/", {**SAMPLE, **params})
    assert response.status_code == 200
    entries = response.context["entries"]
    assert entries is not None, response.context["form"].errors
    return sorted(sequences(entries)), response.context["seed"], response.content.decode()


def test_sample_is_reproducible_from_its_seed(auditor, sample_log):
    first, seed, html = draw(auditor, seed=12345)
    again, _, _ = draw(auditor, seed=12345)
    other, _, _ = draw(auditor, seed=54321)
    assert seed == 12345
    assert first == again
    assert first != other
    assert "<code>12345</code>" in html


def test_sample_without_a_seed_prints_one_that_reproduces_it(auditor, sample_log):
    first, seed, html = draw(auditor)
    assert isinstance(seed, int)
    assert f"<code>{seed}</code>" in html
    assert draw(auditor, seed=seed)[0] == first


def test_sample_is_stratified_by_technology(auditor, sample_log):
    for seed in range(5):
        chosen, _, _ = draw(auditor, seed=seed)
        technologies = set(
            QueryLogEntry.objects.filter(sequence__in=chosen).values_list("technology", flat=True)
        )
        assert technologies == {LPR, FACE, NIBIN}
        assert not set(chosen) & set(sample_log["april"])  # outside the period
        assert len(set(chosen)) == len(chosen)


def test_sample_has_the_requested_size(auditor, sample_log):
    # "N entries from a period": 34 entries are in the period (30 / 3 / 1 by technology), so
    # any N from 3 (one per technology) to 34 can be met exactly while staying stratified.
    sizes = {}
    for size in (3, 4, 5, 6, 7, 10, 20):
        chosen, _, _ = draw(auditor, size=size, seed=7)
        sizes[size] = len(chosen)
    assert sizes == {size: size for size in sizes}


def test_sample_larger_than_the_period_takes_everything(auditor, sample_log):
    chosen, _, _ = draw(auditor, size=500, seed=1)
    in_march = sample_log["lpr"] + sample_log["face"] + sample_log["nibin"]
    assert chosen == sorted(in_march)


def test_invalid_sample_request_shows_errors(auditor, sample_log):
    response = auditor.get(
        "/audit/sample/", {"start": "2026-03-31", "end": "2026-03-01", "size": 5}
    )
    assert response.status_code == 200
    assert response.context["entries"] is None
    assert "end" in response.context["form"].errors
    assert not AccessRecord.objects.exists()


def test_sample_export_holds_exactly_the_sample(auditor, sample_log):
    response = auditor.get("/audit/sample/", {**SAMPLE, "seed": 99})
    chosen = sorted(sequences(response.context["entries"]))
    export = auditor.get(f"/audit/export/?format=csv&{response.context['export_query']}")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [int(row["sequence"]) for row in rows] == chosen
    record = AccessRecord.objects.filter(action="export").get()
    assert record.row_count == len(chosen)
    assert record.filters["sample_seed"] == "99"


# --- Summary ----------------------------------------------------------------------------------


@pytest.fixture
def summary_log(log, record):
    """The log fixture plus a flagged entry in April (outside the summarized period)."""
    (april,) = record(make_query(target="APR", occurred_at=at(2, 3, month=4), case_number=""))
    return {**log, "april": april}


def test_summary_counts_equal_direct_counts(auditor, summary_log, operators):
    response = auditor.get("/audit/summary/", {"start": "2026-03-01", "end": "2026-03-31"})
    assert response.status_code == 200
    summary = response.context["summary"]

    in_march = [
        (QueryLogEntry.objects.select_related("operator").get(sequence=sequence), flag)
        for sequence, flag in flag_pairs(
            entry__local_date__range=(date(2026, 3, 1), date(2026, 3, 31))
        )
    ]
    by_kind = Counter(flag for _, flag in in_march)
    by_unit = Counter(entry.operator.unit for entry, _ in in_march)
    by_operator = Counter(entry.operator_badge for entry, _ in in_march)
    assert by_kind == {
        "outside-agency": 2,
        "missing-offense": 1,
        "outside-staffed-hours": 1,
        "vague-justification": 1,
    }
    assert {row["flag"]: row["count"] for row in summary["by_kind"]} == by_kind
    assert {row["entry__operator__unit"]: row["count"] for row in summary["by_unit"]} == by_unit
    assert {
        row["entry__operator_badge"]: row["count"] for row in summary["by_operator"]
    } == by_operator
    entries_by_operator = {
        row["entry__operator_badge"]: row["entries"] for row in summary["by_operator"]
    }
    assert entries_by_operator == {"B100": 2, "B300": 1}
    assert summary["total"] == 5
    counts = [row["count"] for row in summary["by_kind"]]
    assert counts == sorted(counts, reverse=True)

    april = auditor.get("/audit/summary/", {"start": "2026-04-01", "end": "2026-04-30"})
    assert {r["flag"]: r["count"] for r in april.context["summary"]["by_kind"]} == {
        "missing-case-number": 1,
        "outside-staffed-hours": 1,
    }
    assert april.context["summary"]["total"] == 1


def test_summary_page_shows_the_counts(auditor, summary_log):
    html = auditor.get("/audit/summary/", {"start": "2026-03-01", "end": "2026-03-31"})
    html = html.content.decode()
    assert "outside-agency" in html
    assert "Homicide" not in html  # B200's unit has no flags
    assert "Patrol" in html
    assert "5 entries in the period." in html


def test_summary_defaults_to_this_month(auditor, summary_log):
    response = auditor.get("/audit/summary/")
    today = timezone.localdate()
    assert response.context["start"] == today.replace(day=1)
    assert response.context["end"] == today


# --- Access log (who watched the watchers) ----------------------------------------------------


def test_every_auditor_read_is_recorded(auditor, auditor_user, users, log):
    auditor.get("/audit/", {"operator": "B100", "technology": LPR})
    auditor.get(f"/audit/entries/{log['face']}/")
    auditor.get("/audit/sample/", {**SAMPLE, "seed": 3})
    auditor.get("/audit/summary/", {"start": "2026-03-01", "end": "2026-03-31"})
    export = auditor.get("/audit/export/", {"format": "csv", "flag": "any"})
    exported = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    auditor.get("/api/v1/queries/", {"operator": "b100"})
    auditor.get(f"/api/v1/queries/{log['night']}/")

    records = list(AccessRecord.objects.order_by("id"))
    assert {r.user for r in records} == {auditor_user}
    got = [(r.action, r.filters, r.row_count) for r in records]
    assert got == [
        ("search", {"operator": "B100", "technology": LPR}, 2),
        ("view", {"sequence": log["face"]}, 1),
        ("sample", {"start": "2026-03-01", "end": "2026-03-31", "size": 6, "seed": 3}, 5),
        ("summary", {"start": "2026-03-01", "end": "2026-03-31"}, 5),
        ("export", {"flag": "any", "format": "csv"}, len(exported) - 1),
        ("search", {"operator": "b100"}, 3),
        ("view", {"sequence": str(log["night"])}, 1),
    ]
    assert len(exported) - 1 == 3
    assert records[0].path == "/audit/?operator=B100&technology=license-plate-reader"
    assert all(r.at is not None for r in records)


def test_access_log_lists_records_for_administrators(users, auditor, log):
    auditor.get("/audit/", {"operator": "B300"})
    b"".join(auditor.get("/audit/export/", {"format": "jsonl"}).streaming_content)

    for role in ("administrator", "superuser"):
        response = client_for(users, role).get("/audit/access-log/")
        assert response.status_code == 200
        records = list(response.context["records"])
        assert [(r.user.username, r.action) for r in records] == [
            ("auditor-user", "export"),
            ("auditor-user", "search"),
        ]
        html = response.content.decode()
        assert "auditor-user" in html
        assert "operator=B300" in html
        assert "Export" in html
    assert client_for(users, "auditor").get("/audit/access-log/").status_code == 403


def test_refused_requests_leave_no_access_record(users, log):
    for role in ("anonymous", "council", "no_role"):
        client = client_for(users, role)
        client.get("/audit/")
        client.get(f"/audit/entries/{log['plate']}/")
        client.get("/audit/export/?format=csv")
        client.get("/api/v1/queries/")
    assert not AccessRecord.objects.exists()
