"""POST /api/v1/queries/ and /outcomes/: the exact ingest contract, refusals, retries and auth."""

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from audit.log import services
from audit.log.parsing import parse_queries
from audit.models import LogState, MerkleNode, QueryLogEntry, QueryOutcome
from audit.transparency.verification import verify_log
from tests.factories import AgencyFactory, IntegrationFactory, OperatorFactory

URL = "/api/v1/queries/"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PLATE = "ABC-1234"


def query(**overrides):
    """A valid license-plate-reader query; overrides replace fields, None removes one."""
    item = {
        "technology": "license-plate-reader",
        "query_type": "plate-search",
        "occurred_at": "2026-03-04T14:05:00-06:00",
        "operator": "B4242",
        "target": PLATE,
        "offense_code": "240",
        "justification": "Stolen vehicle report 26-1234, silver sedan seen near Five Points.",
        "case_number": "BPD-2026-001234",
    }
    for name, value in overrides.items():
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return item


def post(client, body, **extra):
    return client.post(URL, body, format="json", **extra)


def post_raw(client, text):
    return client.generic("POST", URL, text, content_type="application/json")


def log_size():
    return LogState.objects.get(id=1).size


def hmac_of(normalized):
    key = settings.SIGHTLINE_TARGET_KEY.encode()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def one_recorded(integration):
    """The log already holds one entry, so 'nothing written' is checked against a non-empty log."""
    queries, _ = parse_queries(
        query(client_ref="already-there"),
        technologies=services.technology_query_types(),
        default_agency=integration.agency.code,
    )
    services.record_queries(integration=integration, queries=queries)
    assert QueryLogEntry.objects.count() == 1
    return QueryLogEntry.objects.get()


@pytest.fixture
def assert_nothing_written(one_recorded):
    """Call after a refused request: the log, its tree and its state are exactly as before."""
    before = (
        QueryLogEntry.objects.count(),
        log_size(),
        MerkleNode.objects.count(),
        QueryOutcome.objects.count(),
        LogState.objects.get(id=1).frontier,
    )

    def check():
        after = (
            QueryLogEntry.objects.count(),
            log_size(),
            MerkleNode.objects.count(),
            QueryOutcome.objects.count(),
            LogState.objects.get(id=1).frontier,
        )
        assert after == before
        assert before[0] == 1 and before[1] == 1

    return check


def assert_refused(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert "nothing was recorded" in body["detail"]
    return body


# --- Happy paths ------------------------------------------------------------------------------


def test_single_object_is_recorded_with_201_and_its_promise(api_client, integration):
    response = post(api_client, query())

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"sequence", "leaf_hash", "recorded_at", "flags"}
    assert body["sequence"] == 0
    assert HEX64.match(body["leaf_hash"])
    assert isinstance(body["flags"], list)
    recorded_at = datetime.fromisoformat(body["recorded_at"])
    assert recorded_at.utcoffset() == timedelta(0)
    assert abs(timezone.now() - recorded_at) < timedelta(minutes=1)

    entry = QueryLogEntry.objects.get()
    assert entry.sequence == 0
    assert entry.leaf_hash == body["leaf_hash"]
    assert entry.recorded_at == recorded_at
    assert entry.technology_id == "license-plate-reader"
    assert entry.query_type == "plate-search"
    assert entry.occurred_at == datetime(2026, 3, 4, 20, 5, tzinfo=UTC)
    assert entry.local_date.isoformat() == "2026-03-04"
    assert entry.integration_id == integration.pk
    assert entry.operator_badge == "B4242"
    assert entry.offense_code == "240"
    assert entry.case_number == "BPD-2026-001234"
    assert entry.justification.startswith("Stolen vehicle report")
    assert log_size() == 1
    # The leaf hash the client got is the one recomputed from the stored row.
    assert verify_log().size == 1


def test_array_answers_results_in_order(api_client):
    items = [
        query(operator="B1"),
        query(technology="face-recognition", query_type="photo-probe", target="ab" * 32),
        query(technology="nibin", query_type="casing-correlation", target=None, operator="B3"),
    ]
    response = post(api_client, items)

    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert [r["sequence"] for r in results] == [0, 1, 2]
    entries = list(QueryLogEntry.objects.order_by("sequence"))
    assert [e.technology_id for e in entries] == [
        "license-plate-reader",
        "face-recognition",
        "nibin",
    ]
    assert [r["leaf_hash"] for r in results] == [e.leaf_hash for e in entries]
    assert len({r["recorded_at"] for r in results}) == 1
    assert all(set(r) == {"sequence", "leaf_hash", "recorded_at", "flags"} for r in results)


def test_sequences_are_gapless_across_requests(api_client):
    assert post(api_client, query()).json()["sequence"] == 0
    batch = post(api_client, [query(operator=f"B{n}") for n in range(5)]).json()["results"]
    assert [r["sequence"] for r in batch] == [1, 2, 3, 4, 5]
    assert post(api_client, query()).json()["sequence"] == 6
    assert list(QueryLogEntry.objects.values_list("sequence", flat=True)) == list(range(7))
    assert log_size() == 7


def test_an_array_of_1000_is_accepted(api_client):
    response = post(api_client, [query(operator=f"B{n}") for n in range(1000)])
    assert response.status_code == 201
    assert [r["sequence"] for r in response.json()["results"]] == list(range(1000))
    assert QueryLogEntry.objects.count() == 1000
    assert log_size() == 1000


def test_raw_plate_is_never_stored_only_its_hmac(api_client):
    response = post(api_client, query(target="abc-1234"))
    assert response.status_code == 201

    entry = QueryLogEntry.objects.get()
    assert entry.target_fingerprint == hmac_of("ABC1234")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_querylogentry")
        (row,) = cursor.fetchall()
    stored = " ".join(str(value) for value in row).upper()
    for form in ("ABC1234", "ABC-1234", "ABC 1234"):
        assert form not in stored


@pytest.mark.parametrize("other", ["ABC 123", "abc123", " a-b-c 1 2 3 ", "ABC-123"])
def test_plate_forms_share_one_fingerprint(api_client, other):
    post(api_client, [query(target="abc-123"), query(target=other)])
    first, second = QueryLogEntry.objects.order_by("sequence")
    assert first.target_fingerprint == second.target_fingerprint == hmac_of("ABC123")


def test_different_plates_have_different_fingerprints(api_client):
    post(api_client, [query(target="ABC123"), query(target="ABC124")])
    first, second = QueryLogEntry.objects.order_by("sequence")
    assert first.target_fingerprint != second.target_fingerprint


def test_face_probe_digest_is_fingerprinted_not_stored(api_client):
    digest = "C0FFEE" * 10 + "ABCD"
    post(
        api_client,
        query(technology="face-recognition", query_type="video-still-probe", target=digest),
    )
    entry = QueryLogEntry.objects.get()
    assert entry.target_fingerprint == hmac_of(digest.lower())
    assert (
        digest.lower()
        not in json.dumps(list(QueryLogEntry.objects.values().get().values()), default=str).lower()
    )


def test_nibin_without_target_is_accepted(api_client):
    response = post(api_client, query(technology="nibin", query_type="firearm-trace", target=None))
    assert response.status_code == 201, response.content
    entry = QueryLogEntry.objects.get()
    assert entry.technology_id == "nibin"
    assert entry.target_fingerprint == ""


def test_defaults_requesting_agency_and_scope(api_client, home_agency):
    post(api_client, query())
    entry = QueryLogEntry.objects.get()
    assert entry.requesting_agency_code == "BPD"
    assert entry.requesting_agency == home_agency
    assert entry.scope == "local"
    assert entry.result_count is None
    assert entry.client_ref is None
    assert entry.on_behalf_of == ""
    assert entry.supervisor_badge == ""


def test_all_optional_fields_are_recorded(api_client):
    partner = AgencyFactory(code="MPD", name="Montgomery Police Department")
    operator = OperatorFactory(badge_number="M77", agency=partner)
    supervisor = OperatorFactory(badge_number="S1", agency=partner, is_supervisor=True)
    response = post(
        api_client,
        query(
            operator="M77",
            supervisor="S1",
            requesting_agency="mpd",
            on_behalf_of="Hoover Police Department",
            scope="regional",
            result_count=0,
            client_ref="rtcc-7",
            offense_code="13a",
        ),
    )
    assert response.status_code == 201, response.content
    entry = QueryLogEntry.objects.get()
    assert entry.requesting_agency_code == "MPD"
    assert entry.requesting_agency == partner
    assert entry.operator == operator
    assert entry.supervisor == supervisor
    assert entry.supervisor_badge == "S1"
    assert entry.on_behalf_of == "Hoover Police Department"
    assert entry.scope == "regional"
    assert entry.result_count == 0
    assert entry.client_ref == "rtcc-7"
    assert entry.offense_code == "13A"


def test_unknown_operator_and_agency_are_recorded_not_refused(api_client):
    response = post(api_client, query(operator="T999", requesting_agency="NOPE", supervisor="X1"))
    assert response.status_code == 201, response.content
    entry = QueryLogEntry.objects.get()
    assert entry.operator_badge == "T999"
    assert entry.operator is None
    assert entry.requesting_agency_code == "NOPE"
    assert entry.requesting_agency is None
    assert entry.supervisor_badge == "X1"
    assert entry.supervisor is None


def test_policy_breaking_query_is_recorded(api_client):
    """No case number, no justification, no offense: recorded (and flagged later), not refused."""
    response = post(api_client, query(case_number=None, justification="", offense_code=None))
    assert response.status_code == 201
    entry = QueryLogEntry.objects.get()
    assert (entry.case_number, entry.justification, entry.offense_code) == ("", "", "")


# --- Refused: 400, named fields, nothing written ---------------------------------------------


def test_malformed_json_is_refused(api_client, assert_nothing_written):
    body = assert_refused(post_raw(api_client, '{"technology": "nibin",'))
    assert body["detail"].startswith("Malformed JSON")
    assert_nothing_written()


@pytest.mark.parametrize("text", ['"a string"', "42", "null", "true"])
def test_body_must_be_object_or_array(api_client, assert_nothing_written, text):
    body = assert_refused(post_raw(api_client, text))
    assert "JSON object or an array" in body["errors"]["non_field_errors"][0]
    assert_nothing_written()


def test_empty_array_is_refused(api_client, assert_nothing_written):
    body = assert_refused(post(api_client, []))
    assert "The array is empty" in body["errors"]["non_field_errors"][0]
    assert_nothing_written()


def test_array_over_1000_is_refused(api_client, assert_nothing_written):
    body = assert_refused(post(api_client, [query(operator=f"B{n}") for n in range(1001)]))
    assert "1001" in body["errors"]["non_field_errors"][0]
    assert "at most 1000" in body["errors"]["non_field_errors"][0]
    assert_nothing_written()


def test_array_item_not_an_object(api_client, assert_nothing_written):
    body = assert_refused(post(api_client, [query(), "oops"]))
    assert body["errors"] == {"1": {"non_field_errors": ["Each query must be a JSON object."]}}
    assert_nothing_written()


FUTURE = (datetime.now(UTC) + timedelta(days=3)).isoformat()

BAD_FIELDS = [
    # (overrides, field, message substring)
    ({"technology": 7}, "technology", "Must be a string"),
    ({"technology": ["nibin"]}, "technology", "Must be a string"),
    ({"technology": "drone"}, "technology", "Unknown technology 'drone'"),
    ({"query_type": 3}, "query_type", "Must be a string"),
    ({"query_type": "photo-probe"}, "query_type", "not a query type of license-plate-reader"),
    ({"query_type": "plate-lookup"}, "query_type", "Allowed: hotlist-alert"),
    ({"result_count": "3"}, "result_count", "whole number"),
    ({"result_count": -1}, "result_count", "whole number"),
    ({"result_count": True}, "result_count", "whole number"),
    ({"result_count": 2.5}, "result_count", "whole number"),
    ({"scope": "global"}, "scope", "Must be one of: local, national, regional"),
    ({"scope": 1}, "scope", "Must be one of"),
    ({"occurred_at": "2026-03-04T14:05:00"}, "occurred_at", "UTC offset"),
    ({"occurred_at": "yesterday"}, "occurred_at", "is not an ISO 8601 timestamp"),
    ({"occurred_at": "2026-13-40T10:00:00Z"}, "occurred_at", "is not an ISO 8601 timestamp"),
    ({"occurred_at": 1772654700}, "occurred_at", "ISO 8601 string"),
    ({"occurred_at": FUTURE}, "occurred_at", "in the future"),
    ({"occurred_at": "1999-12-31T23:00:00Z"}, "occurred_at", "before 2000"),
    ({"operator": ""}, "operator", "non-empty string"),
    ({"operator": "   "}, "operator", "non-empty string"),
    ({"operator": 4242}, "operator", "non-empty string"),
    ({"operator": "B" * 33}, "operator", "At most 32"),
    ({"target": 123}, "target", "Must be a string"),
    ({"target": ""}, "target", "May not be blank"),
    ({"target": "A" * 513}, "target", "At most 512"),
    ({"justification": 5}, "justification", "Must be a string"),
    ({"case_number": "C" * 65}, "case_number", "At most 64"),
    ({"supervisor": 12}, "supervisor", "Must be a string"),
    ({"requesting_agency": False}, "requesting_agency", "Must be a string"),
    ({"on_behalf_of": {"x": 1}}, "on_behalf_of", "Must be a string"),
    ({"offense_code": 240}, "offense_code", "Must be a string"),
    # Upper case can be longer than the text sent: "ß" becomes "SS" (found on PostgreSQL,
    # whose column is 8 characters, by the Hypothesis test of the ingest).
    ({"offense_code": "0000000ß"}, "offense_code", "At most 8 characters once upper-cased"),
    ({"requesting_agency": "ß" * 17}, "requesting_agency", "At most 32 characters once"),
    ({"client_ref": ""}, "client_ref", "1 to 128"),
    ({"client_ref": "r" * 129}, "client_ref", "1 to 128"),
    ({"client_ref": 17}, "client_ref", "1 to 128"),
    ({"plate": "ABC123"}, "plate", "Unknown field"),
    ({"target": None}, "target", "required for this technology"),
    (
        {"technology": "face-recognition", "query_type": "photo-probe", "target": None},
        "target",
        "required for this technology",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    BAD_FIELDS,
    ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_FIELDS)],
)
def test_bad_field_is_named_and_nothing_written(
    api_client, assert_nothing_written, overrides, field, message
):
    body = assert_refused(post(api_client, query(**overrides)))
    assert list(body["errors"]) == [field]
    assert message in " ".join(body["errors"][field])
    assert_nothing_written()


@pytest.mark.parametrize("field", ["technology", "query_type", "occurred_at", "operator"])
@pytest.mark.parametrize("how", ["missing", "null"])
def test_missing_required_field(api_client, assert_nothing_written, field, how):
    item = query()
    if how == "missing":
        del item[field]
    else:
        item[field] = None
    body = assert_refused(post(api_client, item))
    assert body["errors"][field] == ["This field is required."]
    assert_nothing_written()


def test_every_bad_field_is_named_at_once(api_client, assert_nothing_written):
    body = assert_refused(
        post(api_client, {"technology": "drone", "occurred_at": "soon", "extra": 1})
    )
    assert set(body["errors"]) == {"technology", "query_type", "occurred_at", "operator", "extra"}
    assert_nothing_written()


def test_one_bad_item_refuses_the_whole_array_keyed_by_index(api_client, assert_nothing_written):
    items = [query(), query(occurred_at="2026-03-04 14:05"), query()]
    body = assert_refused(post(api_client, items))
    assert list(body["errors"]) == ["1"]
    assert "UTC offset" in body["errors"]["1"]["occurred_at"][0]
    assert_nothing_written()


def test_several_bad_items_are_each_named(api_client, assert_nothing_written):
    items = [query(scope="everywhere"), query(), query(technology="drone", result_count=-5)]
    body = assert_refused(post(api_client, items))
    assert set(body["errors"]) == {"0", "2"}
    assert list(body["errors"]["0"]) == ["scope"]
    assert set(body["errors"]["2"]) == {"technology", "result_count"}
    assert_nothing_written()


def test_duplicate_client_ref_inside_one_array(api_client, assert_nothing_written):
    items = [query(client_ref="r-1"), query(client_ref="r-2"), query(client_ref="r-1")]
    body = assert_refused(post(api_client, items))
    assert list(body["errors"]) == ["2"]
    assert "Repeats the client_ref of item 0" in body["errors"]["2"]["client_ref"][0]
    assert_nothing_written()


# --- Idempotent retries -----------------------------------------------------------------------


def test_retry_with_same_content_returns_original_and_writes_nothing(api_client):
    first = post(api_client, query(client_ref="rtcc-1"))
    assert first.status_code == 201
    before = (QueryLogEntry.objects.count(), log_size(), MerkleNode.objects.count())

    again = post(api_client, query(client_ref="rtcc-1"))

    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert (QueryLogEntry.objects.count(), log_size(), MerkleNode.objects.count()) == before


def test_retry_is_recognised_across_equivalent_forms(api_client):
    """The same instant in another offset, the same plate spelled differently, scope default."""
    first = post(api_client, query(client_ref="rtcc-2", target="abc-1234", scope="local"))
    again = post(
        api_client,
        query(client_ref="rtcc-2", target="ABC 1234", occurred_at="2026-03-04T20:05:00Z"),
    )
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert QueryLogEntry.objects.count() == 1


def test_retry_of_a_whole_array_returns_200_with_original_results(api_client):
    items = [query(client_ref="a"), query(client_ref="b", operator="B2")]
    first = post(api_client, items)
    assert first.status_code == 201
    again = post(api_client, items)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert QueryLogEntry.objects.count() == 2


@pytest.mark.parametrize(
    "change",
    [
        {"justification": "Something else entirely, for another case."},
        {"target": "XYZ-9999"},
        {"occurred_at": "2026-03-04T14:06:00-06:00"},
        {"scope": "national"},
        {"result_count": 3},
    ],
)
def test_same_client_ref_with_different_content_is_409(api_client, change):
    post(api_client, query(client_ref="rtcc-9"))
    before = (QueryLogEntry.objects.count(), log_size(), MerkleNode.objects.count())

    response = post(api_client, query(client_ref="rtcc-9", **change))

    assert response.status_code == 409, response.content
    body = response.json()
    assert "rtcc-9" in body["detail"]
    assert "rtcc-9" in body["errors"]["client_ref"][0]
    assert (QueryLogEntry.objects.count(), log_size(), MerkleNode.objects.count()) == before


def test_conflict_inside_an_array_refuses_the_whole_array(api_client):
    post(api_client, query(client_ref="rtcc-9"))
    response = post(
        api_client, [query(client_ref="new-1"), query(client_ref="rtcc-9", scope="national")]
    )
    assert response.status_code == 409
    assert "rtcc-9" in response.json()["detail"]
    assert "new-1" not in response.json()["detail"]
    assert QueryLogEntry.objects.count() == 1
    assert log_size() == 1


def test_same_client_ref_from_another_integration_is_independent(api_client, home_agency):
    first = post(api_client, query(client_ref="shared-ref"))
    _, other_key = IntegrationFactory.create_with_key(agency=home_agency, name="Vendor connector")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")

    second = post(other, query(client_ref="shared-ref", scope="national"))

    assert second.status_code == 201, second.content
    assert second.json()["sequence"] == first.json()["sequence"] + 1
    assert QueryLogEntry.objects.filter(client_ref="shared-ref").count() == 2


def test_mixed_array_of_replay_and_new_item(api_client):
    original = post(api_client, query(client_ref="old")).json()
    post(api_client, query(operator="B9"))  # sequence 1, no client_ref

    response = post(api_client, [query(client_ref="new", operator="B5"), query(client_ref="old")])

    assert response.status_code == 201, response.content
    results = response.json()["results"]
    assert results[1] == original
    assert results[0]["sequence"] == 2
    assert QueryLogEntry.objects.count() == 3
    assert log_size() == 3


# --- Authentication ---------------------------------------------------------------------------


def _assert_not_recorded_for(response, status_codes=(401,)):
    assert response.status_code in status_codes, response.content
    assert QueryLogEntry.objects.count() == 0
    assert log_size() == 0
    return response.json()["detail"]


def test_no_key_is_401(anon_client, integration):
    response = post(anon_client, query())
    detail = _assert_not_recorded_for(response)
    assert "credentials were not provided" in detail
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header", ["Bearer abc.def", "Api-Key", "Api-Key   ", "api-key x.y", "Token x"]
)
def test_malformed_authorization_header_is_401(anon_client, integration_and_key, header):
    response = post(anon_client, query(), HTTP_AUTHORIZATION=header)
    assert "Authorization: Api-Key <key>" in _assert_not_recorded_for(response)


def test_wrong_secret_for_a_real_prefix_is_401(anon_client, integration_and_key):
    _, key = integration_and_key
    prefix = key.partition(".")[0]
    response = post(anon_client, query(), HTTP_AUTHORIZATION=f"Api-Key {prefix}.wrongsecret")
    assert _assert_not_recorded_for(response) == "Invalid API key."


def test_unknown_key_is_401(anon_client, integration):
    response = post(anon_client, query(), HTTP_AUTHORIZATION="Api-Key zzzzzzzz.notakey")
    assert _assert_not_recorded_for(response) == "Invalid API key."


def test_revoked_key_is_refused(api_client, integration):
    integration.revoked = True
    integration.save()
    response = post(api_client, query())
    assert "revoked" in _assert_not_recorded_for(response, (401, 403))


def test_expired_key_is_refused(api_client, integration):
    integration.expiry_date = timezone.now() - timedelta(minutes=1)
    integration.save()
    response = post(api_client, query())
    assert "expired" in _assert_not_recorded_for(response, (401, 403))


def test_key_with_future_expiry_still_works(api_client, integration):
    integration.expiry_date = timezone.now() + timedelta(days=30)
    integration.save()
    assert post(api_client, query()).status_code == 201


@pytest.mark.parametrize("role", ["council", "auditor", "superuser"])
def test_logged_in_users_without_key_cannot_post(integration, role):
    user = get_user_model().objects.create_user(username=f"u-{role}", password="pw-12345678")
    if role == "superuser":
        user.is_superuser = user.is_staff = True
        user.save()
    else:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    client = APIClient()
    client.force_login(user)

    _assert_not_recorded_for(post(client, query()), (401, 403))
    _assert_not_recorded_for(post(client, [query()]), (401, 403))


# --- Schema and docs --------------------------------------------------------------------------


def test_schema_documents_the_queries_endpoint(anon_client):
    response = anon_client.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    assert text.startswith("openapi: 3")
    assert "/api/v1/queries/:" in text
    assert "/api/v1/queries/{sequence}/outcomes/:" in text
    assert "operationId: record_queries" in text
    assert "client_ref" in text


def test_docs_are_served_without_external_hosts(anon_client):
    response = anon_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()
    assert not re.findall(r"https?://", html)
    assert not re.findall(r"""(?:src|href)=["']//""", html)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets
    assert all(a.startswith("/") for a in assets)
    script = anon_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "cdn" not in script.content.decode().lower()
    assert "/api/schema/" in script.content.decode()


# --- Outcomes ---------------------------------------------------------------------------------


def outcome_url(sequence):
    return f"/api/v1/queries/{sequence}/outcomes/"


def test_outcome_on_own_agency_entry_is_201(api_client, integration):
    sequence = post(api_client, query()).json()["sequence"]
    response = api_client.post(
        outcome_url(sequence), {"outcome": "arrest", "note": "Suspect arrested."}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sequence"] == sequence
    assert body["outcome"] == "arrest"
    assert body["note"] == "Suspect arrested."
    outcome = QueryOutcome.objects.get()
    assert outcome.entry_id == sequence
    assert outcome.integration_id == integration.pk
    assert outcome.outcome == "arrest"
    assert body["id"] == outcome.pk


def test_outcomes_append_and_another_integration_of_the_agency_may_report(api_client, home_agency):
    sequence = post(api_client, query()).json()["sequence"]
    _, key = IntegrationFactory.create_with_key(agency=home_agency, name="Case system")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert (
        api_client.post(outcome_url(sequence), {"outcome": "lead"}, format="json").status_code
        == 201
    )
    assert (
        other.post(outcome_url(sequence), {"outcome": "charged"}, format="json").status_code == 201
    )
    assert list(QueryOutcome.objects.values_list("outcome", flat=True)) == ["lead", "charged"]


def test_outcome_on_another_agencys_entry_is_404(api_client):
    _, partner_key = IntegrationFactory.create_with_key(agency=AgencyFactory(code="HPD"))
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Api-Key {partner_key}")
    sequence = post(partner, query()).json()["sequence"]

    response = api_client.post(outcome_url(sequence), {"outcome": "lead"}, format="json")

    assert response.status_code == 404
    assert QueryOutcome.objects.count() == 0


def test_outcome_on_missing_sequence_is_404(api_client):
    post(api_client, query())
    response = api_client.post(outcome_url(99), {"outcome": "lead"}, format="json")
    assert response.status_code == 404
    assert QueryOutcome.objects.count() == 0


@pytest.mark.parametrize("body", [{"outcome": "solved"}, {"outcome": 1}, {"note": "x"}, {}])
def test_invalid_outcome_is_400_naming_outcome(api_client, body):
    sequence = post(api_client, query()).json()["sequence"]
    response = api_client.post(outcome_url(sequence), body, format="json")
    assert response.status_code == 400
    payload = response.json()
    assert "outcome" in payload["errors"]
    assert "nothing was recorded" in payload["detail"]
    assert QueryOutcome.objects.count() == 0


def test_outcome_needs_a_key(anon_client, api_client):
    sequence = post(api_client, query()).json()["sequence"]
    response = anon_client.post(outcome_url(sequence), {"outcome": "lead"}, format="json")
    assert response.status_code == 401
    assert QueryOutcome.objects.count() == 0
