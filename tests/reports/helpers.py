"""Helpers for the reports tests: queries built like the ingest API builds them, and recording."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from audit.log import services
from audit.log.parsing import QueryInput, fingerprint_target
from audit.models import Integration, QueryLogEntry

CHICAGO = ZoneInfo("America/Chicago")
LPR = "license-plate-reader"
FACE = "face-recognition"
NIBIN = "nibin"
QUERY_TYPES = {
    LPR: ["plate-search", "partial-plate-search", "vehicle-attribute-search", "hotlist-alert"],
    FACE: ["photo-probe", "video-still-probe"],
    NIBIN: ["casing-correlation", "firearm-trace"],
}
GOOD_REASON = "Stolen vehicle report 26-1234, silver sedan seen near Five Points."


def local_time(day: date, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0):
    """A Birmingham wall-clock time on `day`, as an aware UTC datetime (what the log stores)."""
    moment = datetime.combine(day, time(hour, minute, second, micro), tzinfo=CHICAGO)
    return moment.astimezone(UTC)


@dataclass
class QueryMaker:
    """Builds QueryInputs with sensible defaults and records them through the service."""

    integration: Integration
    operator: str = "B4242"
    recorded: list[int] = field(default_factory=list)

    def query(self, **overrides) -> QueryInput:
        technology = overrides.get("technology", LPR)
        fields = {
            "technology": technology,
            "query_type": QUERY_TYPES[technology][0],
            "occurred_at": local_time(date(2026, 3, 4), 14),
            "operator": self.operator,
            "target": "ABC123",
            "offense_code": "240",
            "justification": GOOD_REASON,
            "case_number": "BPD-2026-001234",
            "supervisor": "",
            "requesting_agency": "BPD",
            "on_behalf_of": "",
            "scope": "local",
            "result_count": 1,
            "client_ref": None,
        }
        fields.update(overrides)
        target = fields.pop("target")
        fields["target_fingerprint"] = fingerprint_target(technology, target) if target else ""
        return QueryInput(**fields)

    def record(self, queries: list[QueryInput]) -> list[services.RecordedQuery]:
        results = services.record_queries(integration=self.integration, queries=queries)
        self.recorded.extend(r.sequence for r in results if r.created)
        return results

    def outcome(self, sequence: int, outcome: str) -> None:
        services.record_outcomes(
            outcomes=[services.OutcomeInput(sequence, outcome, self.integration)]
        )

    def entry(self, sequence: int) -> QueryLogEntry:
        return QueryLogEntry.objects.get(sequence=sequence)
