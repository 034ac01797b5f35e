"""Policy flags: each flag with a positive and a negative case, the API's sorted flags, reflag."""

from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.flags import rules as flags
from audit.flags.services import reflag
from audit.log.parsing import QueryInput
from audit.log.services import RecordedQuery, record_queries
from audit.models import Agency, EntryFlags, QueryLogEntry, Technology
from tests.audit import queries
from tests.audit.queries import (
    CHICAGO,
    FACE,
    GOOD_REASON,
    LPR,
    NIBIN,
    flag_pairs,
    query_plan,
    stored_flags_of,
)
from tests.factories import AgencyFactory, CertificationFactory, OperatorFactory

BADGE = "B4242"
SUPERVISOR = "S900"


def at(day: int, hour: int = 14, minute: int = 5, month: int = 3) -> datetime:
    """A local (Birmingham) time in 2026; early March is before the DST change on March 8."""
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


TARGETS = {LPR: "ABC 123", FACE: "probe-digest-1", NIBIN: ""}
OFFENSES = {LPR: "240", FACE: "09A", NIBIN: "13A"}


def make_query(**overrides) -> QueryInput:
    """A compliant license-plate-reader query by the certified home operator; overrides win."""
    technology = overrides.pop("technology", LPR)
    fields = {
        "occurred_at": at(4),
        "operator": BADGE,
        "offense_code": OFFENSES[technology],
        "supervisor": SUPERVISOR if technology == FACE else "",
        "case_number": "BPD-2026-001234",
        "result_count": 3,
        **overrides,
    }
    return queries.make_query(technology, fields.pop("target", TARGETS[technology]), **fields)


@pytest.fixture
def operator(home_agency):
    """The home agency's operator, certified on every technology since 2025, and a supervisor."""
    op = OperatorFactory(badge_number=BADGE, agency=home_agency, unit="RTCC")
    for technology in Technology.objects.all():
        CertificationFactory(operator=op, technology=technology, certified_on=date(2025, 1, 1))
    OperatorFactory(badge_number=SUPERVISOR, agency=home_agency, is_supervisor=True)
    return op


@pytest.fixture
def record(integration, operator):
    def _record(*queries: QueryInput) -> list[RecordedQuery]:
        return record_queries(integration=integration, queries=list(queries))

    return _record


@pytest.fixture
def flags_of(record):
    """Record one query (make_query overrides) and return its flags as a set."""

    def _flags_of(**overrides) -> set[str]:
        (result,) = record(make_query(**overrides))
        stored = stored_flags_of(result.sequence)
        assert stored == set(result.flags), "returned flags differ from the stored ones"
        assert list(result.flags) == sorted(result.flags)
        return set(result.flags)

    return _flags_of


def set_policy(slug: str, **fields) -> Technology:
    technology = Technology.objects.get(slug=slug)
    for name, value in fields.items():
        setattr(technology, name, value)
    technology.save()
    return technology


# --- A compliant query has no flag ------------------------------------------------------------


@pytest.mark.parametrize("technology", [LPR, FACE, NIBIN])
def test_a_compliant_query_has_no_flags(flags_of, technology):
    assert flags_of(technology=technology) == set()


def test_every_flag_name_is_listed_once_and_described():
    assert len(set(flags.ALL_FLAGS)) == len(flags.ALL_FLAGS) == 15
    assert set(flags.DESCRIPTIONS) == set(flags.ALL_FLAGS)


# --- missing-case-number ----------------------------------------------------------------------


def test_missing_case_number_is_flagged(flags_of):
    assert flags_of(case_number="") == {flags.MISSING_CASE_NUMBER}


def test_missing_case_number_not_flagged_when_policy_does_not_require_one(flags_of):
    set_policy(LPR, requires_case_number=False)
    assert flags_of(case_number="") == set()


# --- missing-justification --------------------------------------------------------------------


@pytest.mark.parametrize("justification", ["", "   "])
def test_missing_justification_is_flagged_and_not_also_vague(flags_of, justification):
    assert flags_of(justification=justification) == {flags.MISSING_JUSTIFICATION}


def test_a_given_justification_is_not_missing(flags_of):
    assert flags.MISSING_JUSTIFICATION not in flags_of(justification="Robbery at 5th Ave A")


# --- vague-justification ----------------------------------------------------------------------


VAGUE = [
    "investigation",
    "Suspicious vehicle",
    "n/a",
    "Investigation follow up on suspicious vehicle activity",  # long, but only generic words
    "Robbery at 5th Ave",  # specific but 18 characters, under the LPR minimum of 20
]


def test_vague_justification_is_flagged(flags_of):
    found = {text: flags_of(justification=text) for text in VAGUE}
    assert found == {key: {flags.VAGUE_JUSTIFICATION} for key in VAGUE}


def test_generic_words_are_vague_even_when_the_minimum_length_is_low(flags_of):
    set_policy(LPR, min_justification_length=1)
    assert flags_of(justification="Suspicious vehicle") == {flags.VAGUE_JUSTIFICATION}
    assert flags_of(justification="Carjacking") == set()


@pytest.mark.parametrize(
    "justification",
    [GOOD_REASON, "Robbery at 5th Ave A"],  # the second is exactly the minimum, 20 characters
)
def test_a_specific_justification_is_not_vague(flags_of, justification):
    assert flags_of(justification=justification) == set()


def test_the_minimum_length_is_the_technologys(flags_of):
    # Face recognition's minimum is 30: a 20-character reason is vague there, fine for plates.
    assert flags_of(technology=FACE, justification="Robbery at 5th Ave A") == {
        flags.VAGUE_JUSTIFICATION
    }


# --- missing-offense --------------------------------------------------------------------------


def test_missing_offense_is_flagged(flags_of):
    assert flags_of(offense_code="") == {flags.MISSING_OFFENSE}


def test_a_given_offense_is_not_missing(flags_of):
    assert flags_of(offense_code="120") == set()


# --- disallowed-offense -----------------------------------------------------------------------


PROHIBITED = [
    {"offense_code": "30A"},  # Illegal Entry into the United States: immigration violation
    {"offense_code": "30D"},
    {"justification": "Identify protest organizer seen near City Hall on Tuesday"},
    {"justification": "PROTESTERS blocking 20th Street, identify the leaders"},
    {"justification": "Locate driver for immigration status check on I-65"},
    {"justification": "Vehicle seen outside abortion clinic on Fifth Avenue"},
    {"justification": "Assist ICE with warrant service on the registered owner"},
    {"justification": "Plates of cars at the First Amendment rally in Linn Park"},
]
ORDINARY = [
    "Homicide at a gas station on 3rd Avenue North, shooter's car",
    "Stolen police cruiser seen near Five Points South",  # "police" is not "ICE"
    "Theft of an ice cream truck from the depot lot",  # nor is "ice cream"
    "Burglary of the Protestant church office on 8th Avenue",  # "Protestant" is not "protest"
]


def test_prohibited_purposes_are_disallowed(flags_of):
    missed = [case for case in PROHIBITED if flags.DISALLOWED_OFFENSE not in flags_of(**case)]
    assert missed == []


def test_ordinary_reasons_are_not_disallowed(flags_of):
    found = {text: flags_of(offense_code="09A", justification=text) for text in ORDINARY}
    assert found == {key: set() for key in ORDINARY}


def test_offense_outside_the_policys_allowed_categories_is_disallowed(flags_of):
    set_policy(LPR, allowed_offense_categories=["Homicide Offenses", "Robbery"])
    assert flags_of(offense_code="240") == {flags.DISALLOWED_OFFENSE}
    assert flags_of(offense_code="09A") == set()
    assert flags_of(offense_code="120") == set()
    # A blank offense is "missing", not also "disallowed".
    assert flags_of(offense_code="") == {flags.MISSING_OFFENSE}


def test_prohibited_purposes_are_configurable(flags_of, settings):
    settings.SIGHTLINE_PROHIBITED_PURPOSES = {
        "gatherings": {"offense_categories": ["Gambling Offenses"], "keywords": ["picnic"]}
    }
    assert flags.DISALLOWED_OFFENSE in flags_of(justification="Cars parked at the church picnic")
    assert flags.DISALLOWED_OFFENSE in flags_of(offense_code="39A")
    # The default keywords no longer apply.
    assert flags.DISALLOWED_OFFENSE not in flags_of(
        justification="Identify protest organizer seen near City Hall on Tuesday"
    )


# --- no-supervisor-approval -------------------------------------------------------------------


def test_face_recognition_without_supervisor_is_flagged(flags_of):
    assert flags_of(technology=FACE, supervisor="") == {flags.NO_SUPERVISOR_APPROVAL}


def test_face_recognition_with_supervisor_is_not_flagged(flags_of):
    assert flags_of(technology=FACE, supervisor=SUPERVISOR) == set()


def test_plate_reader_needs_no_supervisor(flags_of):
    assert flags_of(technology=LPR, supervisor="") == set()


def test_supervisor_requirement_follows_the_policy(flags_of):
    set_policy(LPR, requires_supervisor_approval=True)
    assert flags_of(technology=LPR, supervisor="") == {flags.NO_SUPERVISOR_APPROVAL}


# --- unknown-operator / uncertified-operator --------------------------------------------------


def test_unknown_operator_is_flagged_and_not_also_uncertified(flags_of):
    assert flags_of(operator="Z9999") == {flags.UNKNOWN_OPERATOR}


def test_known_operator_is_not_unknown(flags_of):
    assert flags.UNKNOWN_OPERATOR not in flags_of(operator=BADGE)


def test_operator_without_certification_is_flagged(flags_of, home_agency):
    OperatorFactory(badge_number="B5000", agency=home_agency)
    assert flags_of(operator="B5000") == {flags.UNCERTIFIED_OPERATOR}


def test_operator_certified_on_another_technology_only_is_flagged(flags_of, home_agency):
    op = OperatorFactory(badge_number="B5001", agency=home_agency)
    CertificationFactory(
        operator=op, technology=Technology.objects.get(slug=LPR), certified_on=date(2025, 1, 1)
    )
    assert flags_of(operator="B5001", technology=LPR) == set()
    assert flags_of(operator="B5001", technology=FACE) == {flags.UNCERTIFIED_OPERATOR}


@pytest.mark.parametrize(
    ("certified_on", "occurred_at", "flagged"),
    [
        (date(2026, 3, 5), at(4), True),  # certified the day after the query
        (date(2026, 3, 4), at(4), False),  # certified that day
        (date(2026, 3, 3), at(4), False),  # certified before
        # 23:30 local on March 4 is March 5 in UTC: the local date counts.
        (date(2026, 3, 5), at(4, 23, 30), True),
    ],
)
def test_certification_date_against_the_query_date(
    flags_of, home_agency, certified_on, occurred_at, flagged
):
    op = OperatorFactory(badge_number="B5002", agency=home_agency)
    CertificationFactory(
        operator=op, technology=Technology.objects.get(slug=LPR), certified_on=certified_on
    )
    expected = {flags.UNCERTIFIED_OPERATOR} if flagged else set()
    assert flags_of(operator="B5002", occurred_at=occurred_at) == expected


# --- unknown-agency / outside-agency ----------------------------------------------------------


def test_unknown_agency_is_flagged(flags_of):
    # Not registered, so not the home agency either.
    assert flags_of(requesting_agency="XYZPD") == {flags.UNKNOWN_AGENCY, flags.OUTSIDE_AGENCY}


def test_registered_agency_is_not_unknown(flags_of):
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office")
    assert flags.UNKNOWN_AGENCY not in flags_of(requesting_agency="JCSO")


def test_requesting_agency_other_than_home_is_outside(flags_of):
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office")
    assert flags_of(requesting_agency="JCSO") == {flags.OUTSIDE_AGENCY}


@pytest.mark.parametrize("on_behalf_of", ["JCSO", "U.S. Marshals Service", "ATF"])
def test_on_behalf_of_another_agency_is_outside(flags_of, on_behalf_of):
    AgencyFactory(code="JCSO", name="Jefferson County Sheriff's Office")
    assert flags.OUTSIDE_AGENCY in flags_of(requesting_agency="BPD", on_behalf_of=on_behalf_of)


def test_home_agency_for_itself_is_not_outside(flags_of):
    assert flags_of(requesting_agency="BPD", on_behalf_of="") == set()


# --- outside-staffed-hours --------------------------------------------------------------------


def test_default_staffed_hours(flags_of, settings):
    assert settings.SIGHTLINE_STAFFED_HOURS == "05:00-24:00"
    # 03:00 is flagged; 14:00 and 23:59 are not; the window starts at 05:00 sharp.
    expected = {"03:00": True, "00:00": True, "04:59": True, "05:00": False, "14:00": False,
                "23:59": False}  # fmt: skip
    found = {}
    for hhmm in expected:
        hour, minute = (int(part) for part in hhmm.split(":"))
        found[hhmm] = flags_of(occurred_at=at(4, hour, minute))
        assert found[hhmm] <= {flags.OUTSIDE_STAFFED_HOURS}
    assert {hhmm: bool(flagged) for hhmm, flagged in found.items()} == expected


def test_staffed_hours_use_local_time_in_summer_too(flags_of):
    # 09:30 UTC in July is 04:30 CDT (outside); 10:30 UTC is 05:30 CDT (inside).
    assert flags_of(occurred_at=datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("UTC"))) == {
        flags.OUTSIDE_STAFFED_HOURS
    }
    assert flags_of(occurred_at=datetime(2026, 7, 1, 10, 30, tzinfo=ZoneInfo("UTC"))) == set()


STAFFED_CASES = {
    ("08:00-17:00", 14, 0): False,
    ("08:00-17:00", 7, 59): True,
    ("08:00-17:00", 17, 0): True,
    ("08:00-17:00", 3, 0): True,
    ("22:00-06:00", 23, 0): False,  # a window across midnight
    ("22:00-06:00", 3, 0): False,
    ("22:00-06:00", 14, 0): True,
}


def test_staffed_hours_setting_is_honoured(flags_of, settings):
    found = {}
    for spec, hour, minute in STAFFED_CASES:
        settings.SIGHTLINE_STAFFED_HOURS = spec
        flagged = flags_of(occurred_at=at(4, hour, minute))
        assert flagged <= {flags.OUTSIDE_STAFFED_HOURS}
        found[(spec, hour, minute)] = bool(flagged)
    assert found == STAFFED_CASES


# --- volume-anomaly ---------------------------------------------------------------------------


def test_volume_above_the_daily_threshold_is_flagged(record):
    set_policy(LPR, daily_volume_threshold=3)
    results = record(*(make_query(target=f"VOL{n}", occurred_at=at(4, 9 + n)) for n in range(4)))
    assert [set(r.flags) for r in results] == [set(), set(), set(), {flags.VOLUME_ANOMALY}]


def test_volume_counts_earlier_batches_of_the_same_day(record):
    set_policy(LPR, daily_volume_threshold=3)
    first = record(*(make_query(target=f"VOL{n}", occurred_at=at(4, 9 + n)) for n in range(3)))
    assert all(r.flags == () for r in first)
    (fourth,) = record(make_query(target="VOL3", occurred_at=at(4, 20)))
    assert fourth.flags == (flags.VOLUME_ANOMALY,)


def test_volume_counts_per_day_per_operator_per_technology(record, home_agency):
    set_policy(LPR, daily_volume_threshold=3)
    other = OperatorFactory(badge_number="B6000", agency=home_agency)
    for technology in Technology.objects.all():
        CertificationFactory(operator=other, technology=technology, certified_on=date(2025, 1, 1))
    record(*(make_query(target=f"VOL{n}", occurred_at=at(4, 9 + n)) for n in range(3)))
    results = record(
        make_query(target="NEXTDAY", occurred_at=at(5, 9)),  # another day
        make_query(target="OTHEROP", operator="B6000", occurred_at=at(4, 15)),  # another operator
        make_query(technology=NIBIN, occurred_at=at(4, 16)),  # another technology
    )
    assert [r.flags for r in results] == [(), (), ()]


def test_volume_of_a_new_batch_is_counted_from_the_operator_date_index_alone(record):
    """The recording path counts the day's earlier queries without reading the entries
    themselves (their technology is in the index); re-flagging keeps its own query."""
    set_policy(LPR, daily_volume_threshold=3)
    record(*(make_query(target=f"VOL{n}", occurred_at=at(4, 9 + n)) for n in range(3)))
    captured = []

    def capture(execute, sql, params, many, context):
        if "COUNT(" in sql and '"operator_badge" IN' in sql:
            captured.append((sql, list(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        (fourth,) = record(make_query(target="VOL3", occurred_at=at(4, 20)))
    assert fourth.flags == (flags.VOLUME_ANOMALY,)
    ((sql, params),) = captured
    assert '"sequence"' not in sql  # the whole log less the batch, not the log before it
    plan = query_plan(sql, params, avoid=("seqscan", "bitmapscan"))
    if connection.vendor == "sqlite":
        assert "USING COVERING INDEX entry_operator_date" in plan
    else:
        assert "Index Only Scan using entry_operator_date" in plan
    # Re-flagging (entries that need not be the log's last) counts the log before them.
    captured.clear()
    with connection.execute_wrapper(capture):
        again = flags.flags_for_entries(list(QueryLogEntry.objects.order_by("sequence")))
    assert again[fourth.sequence] == [flags.VOLUME_ANOMALY]
    ((sql, params),) = captured
    assert '"sequence" <' in sql


def test_volume_day_is_the_local_day(record):
    set_policy(LPR, daily_volume_threshold=1)
    # 23:30 on March 4 local (05:30 UTC March 5) and 08:00 on March 5 local: different days.
    results = record(
        make_query(target="A1", occurred_at=at(4, 23, 30)),
        make_query(target="A2", occurred_at=at(5, 8)),
    )
    assert [r.flags for r in results] == [(), ()]


# --- repeated-target --------------------------------------------------------------------------


def test_repeated_target_without_shared_case_number_is_flagged(record):
    # Limit 5 in 30 days: the sixth search of one plate is flagged, the fifth is not.
    results = record(
        *(make_query(occurred_at=at(1 + n), case_number=f"BPD-2026-{n:06d}") for n in range(6))
    )
    assert [set(r.flags) for r in results] == [set()] * 5 + [{flags.REPEATED_TARGET}]


def test_repeated_target_matches_the_normalized_plate(record):
    spellings = ["ABC 123", "abc-123", "ABC123", "a b c 1 2 3", "Abc-123", "abc 123"]
    results = record(
        *(
            make_query(target=plate, occurred_at=at(1 + n), case_number=f"C-{n}")
            for n, plate in enumerate(spellings)
        )
    )
    assert results[-1].flags == (flags.REPEATED_TARGET,)


def test_repeated_target_sharing_one_case_number_is_not_flagged(record):
    results = record(*(make_query(occurred_at=at(1 + n), case_number="BPD-1") for n in range(7)))
    assert [r.flags for r in results] == [()] * 7


def test_repeated_target_with_blank_case_numbers_is_flagged(record):
    set_policy(LPR, requires_case_number=False)
    results = record(*(make_query(occurred_at=at(1 + n), case_number="") for n in range(6)))
    assert results[-1].flags == (flags.REPEATED_TARGET,)
    assert [r.flags for r in results[:5]] == [()] * 5


def test_repeated_target_by_different_operators_is_not_flagged(record, home_agency):
    other = OperatorFactory(badge_number="B6001", agency=home_agency)
    CertificationFactory(
        operator=other, technology=Technology.objects.get(slug=LPR), certified_on=date(2025, 1, 1)
    )
    results = record(
        *(
            make_query(
                occurred_at=at(1 + n),
                operator=BADGE if n % 2 else "B6001",
                case_number=f"C-{n}",
            )
            for n in range(8)
        )
    )
    assert [r.flags for r in results] == [()] * 8


def test_repeated_target_outside_the_window_is_not_flagged(record):
    old = [
        make_query(occurred_at=at(1 + n, month=1), case_number=f"OLD-{n}") for n in range(5)
    ]  # January 1-5
    results = record(*old, make_query(occurred_at=at(4), case_number="NEW-1"))  # 58 days later
    assert [r.flags for r in results] == [()] * 6


def test_repeated_target_follows_the_policy(record):
    set_policy(LPR, repeated_target_limit=2, repeated_target_days=7)
    results = record(
        make_query(occurred_at=at(1), case_number="C-1"),
        make_query(occurred_at=at(2), case_number="C-2"),
        make_query(occurred_at=at(3), case_number="C-3"),
        make_query(occurred_at=at(3) + timedelta(days=10), case_number="C-4"),
    )
    assert [r.flags for r in results] == [(), (), (flags.REPEATED_TARGET,), ()]


# --- technology-not-authorized ----------------------------------------------------------------


def test_technology_status(flags_of):
    found = {}
    for status in Technology.Status:
        set_policy(LPR, status=status)
        found[status] = flags_of()
    assert found == {
        Technology.Status.SUSPENDED: {flags.TECHNOLOGY_NOT_AUTHORIZED},
        Technology.Status.PROHIBITED: {flags.TECHNOLOGY_NOT_AUTHORIZED},
        Technology.Status.ACTIVE: set(),
        Technology.Status.PILOT: set(),
    }


# --- Through the ingest API: names as documented, sorted --------------------------------------


def test_api_response_lists_flags_sorted(api_client, operator):
    body = {
        "technology": FACE,
        "query_type": "photo-probe",
        "occurred_at": "2026-03-04T03:00:00-06:00",
        "operator": "Z1",
        "target": "probe-digest-9",
        "justification": "investigation",
        "on_behalf_of": "ATF",
    }
    response = api_client.post("/api/v1/queries/", body, format="json")
    assert response.status_code == 201, response.content
    expected = [
        "missing-case-number",
        "missing-offense",
        "no-supervisor-approval",
        "outside-agency",
        "outside-staffed-hours",
        "unknown-operator",
        "vague-justification",
    ]
    assert response.json()["flags"] == expected
    assert sorted(stored_flags_of(response.json()["sequence"])) == expected


def test_api_batch_response_lists_each_querys_flags(api_client, operator):
    good = {
        "technology": LPR,
        "query_type": "plate-search",
        "occurred_at": "2026-03-04T14:00:00-06:00",
        "operator": BADGE,
        "target": "ABC 123",
        "offense_code": "240",
        "justification": GOOD_REASON,
        "case_number": "BPD-1",
    }
    bad = {**good, "offense_code": "30A", "case_number": "", "requesting_agency": "ZZZ"}
    response = api_client.post("/api/v1/queries/", [good, bad], format="json")
    assert response.status_code == 201, response.content
    assert [r["flags"] for r in response.json()["results"]] == [
        [],
        ["disallowed-offense", "missing-case-number", "outside-agency", "unknown-agency"],
    ]


# --- reflag -----------------------------------------------------------------------------------


def stored_flags() -> dict[int, set[str]]:
    found: dict[int, set[str]] = {
        s: set() for s in QueryLogEntry.objects.values_list("pk", flat=True)
    }
    for sequence, flag in flag_pairs():
        found[sequence].add(flag)
    return found


@pytest.fixture
def three_days(record):
    """Entries without a case number on March 3, 4 (one late at night) and 5, local dates."""
    results = record(
        make_query(occurred_at=at(3), case_number="", target="P1"),
        make_query(occurred_at=at(4, 10), case_number="", target="P2"),
        make_query(occurred_at=at(4, 23, 30), case_number="", target="P3"),  # March 5 in UTC
        make_query(occurred_at=at(5), case_number="", target="P4"),
    )
    assert all(r.flags == (flags.MISSING_CASE_NUMBER,) for r in results)
    return [r.sequence for r in results]


def run_reflag(*args) -> str:
    out, err = StringIO(), StringIO()
    call_command("reflag", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_reflag_applies_a_policy_change_to_the_period_only(three_days):
    march3, march4, march4_late, march5 = three_days
    set_policy(LPR, requires_case_number=False)

    output = run_reflag("--start", "2026-03-04", "--end", "2026-03-04")

    assert "Re-flagged 2 entries" in output
    after = stored_flags()
    assert after[march4] == set()
    assert after[march4_late] == set()  # its local date is March 4
    assert after[march3] == {flags.MISSING_CASE_NUMBER}
    assert after[march5] == {flags.MISSING_CASE_NUMBER}


def test_reflag_adds_flags_a_stricter_policy_finds(three_days):
    set_policy(LPR, min_justification_length=200)

    run_reflag("--start", "2026-03-01", "--end", "2026-03-31")

    after = stored_flags()
    assert set(after) == set(three_days)
    assert all(
        found == {flags.MISSING_CASE_NUMBER, flags.VAGUE_JUSTIFICATION} for found in after.values()
    )


def test_reflag_of_an_unchanged_policy_keeps_the_same_flags(three_days):
    before = stored_flags()
    run_reflag("--start", "2026-01-01", "--end", "2026-12-31")
    assert stored_flags() == before
    assert len(flag_pairs()) == 4


@pytest.mark.parametrize(
    "args",
    [
        ("--start", "2026-03-05", "--end", "2026-03-01"),  # end before start
        ("--start", "2026-13-01", "--end", "2026-12-31"),
        ("--start", "yesterday", "--end", "2026-03-31"),
        ("--start", "2026-03-01", "--end", "31/03/2026"),
    ],
)
def test_reflag_refuses_bad_periods_and_changes_nothing(three_days, args):
    set_policy(LPR, requires_case_number=False)
    before = stored_flags()
    with pytest.raises(CommandError):
        run_reflag(*args)
    assert stored_flags() == before
    assert all(found == {flags.MISSING_CASE_NUMBER} for found in before.values())


def test_reflag_service_reports_progress_and_count(three_days):
    set_policy(LPR, requires_case_number=False)
    progress: list[int] = []
    done = reflag(start=date(2026, 3, 3), end=date(2026, 3, 5), progress=progress.append)
    assert done == 4
    assert sum(progress) == 4
    assert not EntryFlags.objects.exists()


def test_reflag_sees_agency_and_certification_changes(record, home_agency):
    (result,) = record(make_query(requesting_agency="NEWPD", operator="B7000"))
    assert set(result.flags) == {
        flags.UNKNOWN_AGENCY,
        flags.OUTSIDE_AGENCY,
        flags.UNKNOWN_OPERATOR,
    }
    Agency.objects.create(code="NEWPD", name="New PD")
    run_reflag("--start", "2026-03-04", "--end", "2026-03-04")
    # The agency is now known (still outside); the entry keeps its recorded operator badge,
    # which is still not a registered operator.
    assert stored_flags()[result.sequence] == {flags.OUTSIDE_AGENCY, flags.UNKNOWN_OPERATOR}
