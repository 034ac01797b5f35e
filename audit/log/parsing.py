"""Parsing of ingest payloads into validated queries, naming every field that cannot be understood.

Only what the portal cannot understand is refused here (wrong types, missing fields, unknown
technology or query type, bad timestamps). Breaking policy is never a parse error: such a query
is recorded and flagged. This is the hot path of ingest, so it is plain Python rather than a
serializer; `audit.serializers.QueryInSerializer` documents the same contract for OpenAPI.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.models import Scope

MAX_BATCH = 1000
# A client clock this far ahead of ours is a broken clock, not a query that happened.
MAX_CLOCK_AHEAD = timedelta(days=1)
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)

FIELDS = {
    "technology",
    "query_type",
    "occurred_at",
    "operator",
    "target",
    "offense_code",
    "justification",
    "case_number",
    "supervisor",
    "requesting_agency",
    "on_behalf_of",
    "scope",
    "result_count",
    "client_ref",
}
# Optional string fields and their maximum lengths.
OPTIONAL_STRINGS = {
    "offense_code": 8,
    "justification": 4000,
    "case_number": 64,
    "supervisor": 32,
    "requesting_agency": 32,
    "on_behalf_of": 200,
}
# Codes compared upper case: stored as such, their length checked as such.
UPPER_CASED = frozenset({"offense_code", "requesting_agency"})
SCOPES = frozenset(Scope.values)
PLATE_TECHNOLOGY = "license-plate-reader"
TARGET_OPTIONAL = frozenset({"nibin"})


class IngestRejected(Exception):
    """The request cannot be understood; `errors` names each bad field (by index for arrays)."""

    def __init__(self, errors: dict[str, Any], detail: str = ""):
        super().__init__(detail or "The request was refused: nothing was recorded.")
        self.errors = errors
        self.detail = str(self)


# Not frozen: a frozen dataclass's __init__ costs seven times a plain one's, and bulk paths
# build one per query. Nothing changes a QueryInput once built.
@dataclass(slots=True)
class QueryInput:
    """One understood query, normalized, with the raw target already reduced to a fingerprint."""

    technology: str
    query_type: str
    occurred_at: datetime
    operator: str
    target_fingerprint: str
    offense_code: str
    justification: str
    case_number: str
    supervisor: str
    requesting_agency: str
    on_behalf_of: str
    scope: str
    result_count: int | None
    client_ref: str | None


def normalize_target(technology: str, target: str) -> str:
    """Plates compare upper case without spaces or dashes; digests compare case-insensitively."""
    if technology == PLATE_TECHNOLOGY:
        return "".join(ch for ch in target.upper() if ch not in " -\t")
    return target.strip().lower()


def fingerprint_target(technology: str, target: str) -> str:
    """HMAC-SHA256 of the normalized target under the deployment's key, hex."""
    key = settings.SIGHTLINE_TARGET_KEY.encode()
    normalized = normalize_target(technology, target).encode()
    return hmac.new(key, normalized, hashlib.sha256).hexdigest()


def _parse_time(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    if not isinstance(value, str):
        return None, "Must be an ISO 8601 string with a UTC offset."
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None, f"'{value[:40]}' is not an ISO 8601 timestamp."
    if moment.tzinfo is None:
        return None, "Must include a UTC offset, e.g. 2026-03-04T14:05:00-06:00 or ...Z."
    moment = moment.astimezone(UTC)
    if moment < EARLIEST_OCCURRED_AT:
        return None, "Is before 2000-01-01."
    if moment > now + MAX_CLOCK_AHEAD:
        return None, "Is more than a day in the future; check the client's clock."
    return moment, None


def _parse_one(
    item: Any, technologies: dict[str, frozenset[str]], default_agency: str, now: datetime
) -> tuple[QueryInput | None, dict[str, list[str]]]:
    if not isinstance(item, dict):
        return None, {"non_field_errors": ["Each query must be a JSON object."]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(item) - FIELDS)
    for name in unknown:
        errors[name] = ["Unknown field."]
    for name, value in item.items():
        # PostgreSQL text cannot hold NUL, and no real field needs it.
        if isinstance(value, str) and "\x00" in value and name in FIELDS:
            errors[name] = ["May not contain the NUL character (U+0000)."]

    technology = item.get("technology")
    query_types: frozenset[str] | None = None
    if technology is None:
        errors["technology"] = ["This field is required."]
    elif not isinstance(technology, str):
        errors["technology"] = ["Must be a string."]
    elif technology not in technologies:
        known = ", ".join(sorted(technologies))
        errors["technology"] = [f"Unknown technology '{technology[:60]}'. Known: {known}."]
    else:
        query_types = technologies[technology]

    query_type = item.get("query_type")
    if query_type is None:
        errors["query_type"] = ["This field is required."]
    elif not isinstance(query_type, str):
        errors["query_type"] = ["Must be a string."]
    elif query_types is not None and query_type not in query_types:
        allowed = ", ".join(sorted(query_types))
        errors["query_type"] = [
            f"'{query_type[:60]}' is not a query type of {technology}. Allowed: {allowed}."
        ]

    occurred_at = None
    if "occurred_at" not in item or item["occurred_at"] is None:
        errors["occurred_at"] = ["This field is required."]
    else:
        occurred_at, problem = _parse_time(item["occurred_at"], now)
        if problem:
            errors["occurred_at"] = [problem]

    operator = item.get("operator")
    if operator is None:
        errors["operator"] = ["This field is required."]
    elif not isinstance(operator, str) or not operator.strip():
        errors["operator"] = ["Must be a non-empty string (the operator's badge number)."]
    elif len(operator) > 32:
        errors["operator"] = ["At most 32 characters."]

    target = item.get("target")
    target_optional = query_types is None or technology in TARGET_OPTIONAL
    if target is None:
        if not target_optional:
            errors["target"] = ["This field is required for this technology."]
    elif not isinstance(target, str):
        errors["target"] = ["Must be a string."]
    elif len(target) > 512:
        errors["target"] = ["At most 512 characters."]
    elif not target.strip() and not target_optional:
        errors["target"] = ["May not be blank for this technology."]

    strings: dict[str, str] = {}
    for name, limit in OPTIONAL_STRINGS.items():
        value = item.get(name)
        if value is None:
            strings[name] = ""
        elif not isinstance(value, str):
            errors[name] = ["Must be a string."]
        elif len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
        else:
            value = value.strip()
            if name in UPPER_CASED:
                value = value.upper()
                if len(value) > limit:  # upper case can be longer: "ß" becomes "SS"
                    errors[name] = [f"At most {limit} characters once upper-cased."]
                    continue
            strings[name] = value

    scope = item.get("scope")
    if scope is None:
        scope = Scope.LOCAL.value
    elif not isinstance(scope, str) or scope not in SCOPES:
        errors["scope"] = [f"Must be one of: {', '.join(sorted(SCOPES))}."]

    result_count = item.get("result_count")
    if result_count is not None and (
        type(result_count) is not int or result_count < 0 or result_count > 2_147_483_647
    ):
        errors["result_count"] = ["Must be a whole number, zero or more."]

    client_ref = item.get("client_ref")
    if client_ref is not None and (
        not isinstance(client_ref, str) or not client_ref or len(client_ref) > 128
    ):
        errors["client_ref"] = ["Must be a string of 1 to 128 characters."]

    if errors:
        return None, errors
    return (
        QueryInput(
            technology=technology,
            query_type=query_type,
            occurred_at=occurred_at,
            operator=operator.strip(),
            target_fingerprint=fingerprint_target(technology, target)
            if target and target.strip()
            else "",
            offense_code=strings["offense_code"],
            justification=strings["justification"],
            case_number=strings["case_number"],
            supervisor=strings["supervisor"],
            requesting_agency=strings["requesting_agency"] or default_agency.upper(),
            on_behalf_of=strings["on_behalf_of"],
            scope=scope,
            result_count=result_count,
            client_ref=client_ref,
        ),
        {},
    )


def parse_queries(
    payload: Any, *, technologies: dict[str, frozenset[str]], default_agency: str
) -> tuple[list[QueryInput], bool]:
    """Parse one query object or an array of 1..1000; returns (queries, was_array).

    Raises IngestRejected naming every bad field (keyed by index for arrays) and nothing is
    recorded. `technologies` maps each slug to its allowed query types.
    """
    now = timezone.now()
    if isinstance(payload, dict):
        query, errors = _parse_one(payload, technologies, default_agency, now)
        if errors:
            raise IngestRejected(errors)
        return [query], False
    if not isinstance(payload, list):
        raise IngestRejected(
            {"non_field_errors": ["The body must be a JSON object or an array of objects."]}
        )
    if not payload:
        raise IngestRejected({"non_field_errors": ["The array is empty: send 1 to 1000 queries."]})
    if len(payload) > MAX_BATCH:
        raise IngestRejected(
            {
                "non_field_errors": [
                    f"The array holds {len(payload)} queries; at most {MAX_BATCH} are accepted."
                ]
            }
        )
    queries: list[QueryInput] = []
    all_errors: dict[str, Any] = {}
    seen_refs: dict[str, int] = {}
    for index, item in enumerate(payload):
        query, errors = _parse_one(item, technologies, default_agency, now)
        if query is not None and query.client_ref is not None:
            first = seen_refs.setdefault(query.client_ref, index)
            if first != index:
                errors = {"client_ref": [f"Repeats the client_ref of item {first}."]}
        if errors:
            all_errors[str(index)] = errors
        else:
            queries.append(query)
    if all_errors:
        raise IngestRejected(all_errors)
    return queries, True
