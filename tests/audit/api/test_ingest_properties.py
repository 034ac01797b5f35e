"""Property tests of POST /api/v1/queries/: whatever JSON arrives, either exactly its entries are
recorded (all of them valid) or it is refused with 400 and nothing at all is written."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audit.models import QueryLogEntry
from tests.audit.queries import log_snapshot as snapshot

URL = "/api/v1/queries/"
TECHNOLOGIES = {
    "face-recognition": ["photo-probe", "video-still-probe"],
    "license-plate-reader": [
        "plate-search",
        "partial-plate-search",
        "vehicle-attribute-search",
        "hotlist-alert",
    ],
    "nibin": ["casing-correlation", "firearm-trace"],
}
CENTRAL = timezone(timedelta(hours=-6))
REQUIRED = ["technology", "query_type", "occurred_at", "operator"]
BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

no_nul = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])


def text(max_size: int, min_size: int = 0):
    return st.text(no_nul, min_size=min_size, max_size=max_size)


def code(max_size: int):
    """A code that fits once stored upper case ("ß" is two characters then: "SS")."""
    return text(max_size).filter(lambda value: len(value.strip().upper()) <= max_size)


@st.composite
def valid_queries(draw) -> dict:
    technology = draw(st.sampled_from(sorted(TECHNOLOGIES)))
    moment = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 2),
            max_value=datetime(2026, 1, 1),
            timezones=st.sampled_from([UTC, CENTRAL]),
        )
    )
    item = {
        "technology": technology,
        "query_type": draw(st.sampled_from(TECHNOLOGIES[technology])),
        "occurred_at": moment.isoformat(),
        # A letter first, so the value is never blank once trimmed.
        "operator": "B" + draw(text(31)),
    }
    if technology != "nibin" or draw(st.booleans()):
        item["target"] = "T" + draw(text(511))
    optional = {
        "offense_code": code(8),
        "justification": text(4000),
        "case_number": text(64),
        "supervisor": text(32),
        "requesting_agency": code(32),
        "on_behalf_of": text(200),
        "scope": st.sampled_from(["local", "regional", "national"]),
        "result_count": st.integers(0, 2_147_483_647),
    }
    for name in draw(st.sets(st.sampled_from(sorted(optional)))):
        item[name] = draw(optional[name])
    return item


@st.composite
def invalid_queries(draw) -> tuple[object, str | None]:
    """An item the API cannot understand, and the field it must name (None: the whole item)."""
    item = draw(valid_queries())
    how = draw(
        st.sampled_from(
            ["missing", "unknown", "wrong-type", "too-long", "nul", "bad-time", "not-an-object"]
        )
    )
    if how == "missing":
        field = draw(st.sampled_from(REQUIRED))
        del item[field]
        return item, field
    if how == "unknown":
        field = "x_" + draw(st.text("abcdefghij", min_size=1, max_size=8))
        item[field] = draw(st.integers())
        return item, field
    if how == "wrong-type":
        field, value = draw(
            st.sampled_from(
                [
                    ("result_count", "3"),
                    ("result_count", -1),
                    ("result_count", 1.5),
                    ("result_count", True),
                    ("operator", 42),
                    ("operator", "   "),
                    ("technology", ["nibin"]),
                    ("technology", "drone"),
                    ("query_type", "mind-reading"),
                    ("scope", "galactic"),
                    ("client_ref", ""),
                    ("case_number", {"n": 1}),
                ]
            )
        )
        item[field] = value
        return item, field
    if how == "too-long":
        field, limit = draw(
            st.sampled_from([("case_number", 64), ("justification", 4000), ("operator", 32)])
        )
        item[field] = "A" * (limit + 1)
        return item, field
    if how == "nul":
        item["justification"] = "before\x00after"
        return item, "justification"
    if how == "bad-time":
        item["occurred_at"] = draw(
            st.sampled_from(
                ["2026-03-04T14:05:00", "yesterday", "1999-12-31T23:00:00Z", "2999-01-01T00:00:00Z"]
            )
        )
        return item, "occurred_at"
    return draw(
        st.one_of(st.integers(), st.text(max_size=5), st.lists(st.none(), max_size=2))
    ), None


@st.composite
def payloads(draw) -> tuple[object, list[tuple[bool, str | None]], bool]:
    """(body, [(valid, field the refusal must name)] per item, whether the body is an array)."""
    items = draw(
        st.lists(
            st.one_of(
                valid_queries().map(lambda q: (q, True, None)),
                invalid_queries().map(lambda p: (p[0], False, p[1])),
            ),
            min_size=1,
            max_size=6,
        )
    )
    if len(items) == 1 and draw(st.booleans()):
        return items[0][0], [items[0][1:]], False
    return [i[0] for i in items], [i[1:] for i in items], True


@pytest.fixture
def client(api_client, settings):
    settings.SIGHTLINE_INGEST_RATE = "100000/min"  # the rate limit has its own tests
    cache.clear()
    return api_client


def assert_nothing_written(response, before):
    assert response.status_code == 400, response.content
    assert "nothing was recorded" in response.json()["detail"]
    assert snapshot() == before


@given(payload=payloads())
@BOUNDED
def test_valid_entries_are_recorded_exactly_or_nothing_is(client, integration, payload):
    body, expected, was_array = payload
    # Fresh client_refs for every run: Hypothesis replays examples while it shrinks.
    refs = []
    for item in body if was_array else [body]:
        if isinstance(item, dict) and item.get("client_ref") != "":
            item["client_ref"] = uuid.uuid4().hex
        refs.append(item.get("client_ref") if isinstance(item, dict) else None)
    before = snapshot()

    response = client.post(URL, body, format="json")

    event("accepted" if response.status_code == 201 else "refused")
    if all(valid for valid, _ in expected):
        assert response.status_code == 201, response.content
        results = response.json()["results"] if was_array else [response.json()]
        size, entries, _, _ = snapshot()
        assert (size, entries) == (before[0] + len(expected), before[1] + len(expected))
        assert [r["sequence"] for r in results] == list(range(before[0], size))
        for item, ref, result in zip(body if was_array else [body], refs, results, strict=True):
            entry = QueryLogEntry.objects.get(integration=integration, client_ref=ref)
            assert (entry.sequence, entry.leaf_hash) == (result["sequence"], result["leaf_hash"])
            assert (entry.technology_id, entry.query_type) == (
                item["technology"],
                item["query_type"],
            )
    else:
        assert_nothing_written(response, before)
        errors = response.json()["errors"]
        for index, (valid, field) in enumerate(expected):
            named = errors.get(str(index), {}) if was_array else errors
            if valid:
                assert str(index) not in errors
            elif field is not None:
                assert field in named, (field, errors)
            else:
                assert named, errors


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.one_of(st.sampled_from([*REQUIRED, "target", "client_ref"]), st.text(max_size=8)),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@given(
    body=st.one_of(
        json_values,
        # Valid queries with one field set to an arbitrary JSON value.
        st.tuples(
            valid_queries(), st.sampled_from([*REQUIRED, "target", "result_count"]), json_values
        ).map(lambda t: {**t[0], t[1]: t[2]}),
        st.lists(st.one_of(valid_queries(), json_values), min_size=1, max_size=5),
    )
)
@BOUNDED
def test_any_json_is_recorded_whole_or_refused_without_a_trace(client, body):
    before = snapshot()

    response = client.post(URL, body, format="json")

    event(f"status {response.status_code}")
    if response.status_code == 400:
        assert_nothing_written(response, before)
        return
    assert response.status_code == 201, response.content
    count = len(body) if isinstance(body, list) else 1
    size, entries, _, _ = snapshot()
    assert (size, entries) == (before[0] + count, before[1] + count)


@given(raw=st.binary(max_size=200))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_bytes_that_are_not_json_are_refused(client, raw):
    try:
        json.loads(raw)
    except ValueError:
        pass
    else:
        return  # valid JSON is the other tests' business
    before = snapshot()
    response = client.generic("POST", URL, raw, content_type="application/json")
    assert_nothing_written(response, before)
