"""Serializers of the audit API: the ingest contract (documented for OpenAPI) and outcomes."""

from rest_framework import serializers
from sightline_verifier.leaf import iso_utc

from audit.models import QueryLogEntry, QueryOutcome, Scope, SignedTreeHead


class QueryInSerializer(serializers.Serializer):
    """One query as RTCC software reports it. Validated by `audit.parsing` (the fast path)."""

    technology = serializers.CharField(help_text="face-recognition, license-plate-reader or nibin")
    query_type = serializers.CharField(help_text="One of the technology's query types.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset.")
    operator = serializers.CharField(max_length=32, help_text="Operator's badge number.")
    target = serializers.CharField(
        required=False,
        max_length=512,
        help_text="Plate or probe digest; never stored, only its keyed fingerprint. "
        "Required except for nibin.",
    )
    offense_code = serializers.CharField(required=False, allow_blank=True, max_length=8)
    justification = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    case_number = serializers.CharField(required=False, allow_blank=True, max_length=64)
    supervisor = serializers.CharField(required=False, allow_blank=True, max_length=32)
    requesting_agency = serializers.CharField(required=False, allow_blank=True, max_length=32)
    on_behalf_of = serializers.CharField(required=False, allow_blank=True, max_length=200)
    scope = serializers.ChoiceField(choices=Scope.values, required=False, default=Scope.LOCAL)
    result_count = serializers.IntegerField(required=False, min_value=0)
    client_ref = serializers.CharField(required=False, max_length=128)


class RecordedQuerySerializer(serializers.Serializer):
    sequence = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    recorded_at = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())


class RecordedBatchSerializer(serializers.Serializer):
    results = RecordedQuerySerializer(many=True)


class OutcomeInSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=QueryOutcome.Kind.values)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class OutcomeOutSerializer(serializers.ModelSerializer):
    sequence = serializers.IntegerField(source="entry_id")
    recorded_at = serializers.SerializerMethodField()

    class Meta:
        model = QueryOutcome
        fields = ["id", "sequence", "outcome", "note", "recorded_at"]

    def get_recorded_at(self, outcome) -> str:
        return iso_utc(outcome.recorded_at)  # UTC, like every time the ingest API returns


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(required=False)


class EntrySerializer(serializers.ModelSerializer):
    """A log entry as auditors see it (every recorded field, its flags, outcomes and review)."""

    technology = serializers.CharField(source="technology_id")
    operator_name = serializers.CharField(source="operator.name", default="")
    unit = serializers.CharField(source="operator.unit", default="")
    flags = serializers.ListField(source="flag_list", child=serializers.CharField())
    outcomes = serializers.SerializerMethodField()
    review_status = serializers.CharField()

    class Meta:
        model = QueryLogEntry
        fields = [
            "sequence",
            "recorded_at",
            "occurred_at",
            "technology",
            "query_type",
            "requesting_agency_code",
            "on_behalf_of",
            "operator_badge",
            "operator_name",
            "unit",
            "supervisor_badge",
            "offense_code",
            "offense_category",
            "case_number",
            "justification",
            "scope",
            "result_count",
            "target_fingerprint",
            "client_ref",
            "flags",
            "outcomes",
            "review_status",
            "leaf_hash",
        ]

    def get_outcomes(self, entry) -> list[str]:
        return [outcome.outcome for outcome in entry.outcomes.all()]


class TreeHeadSerializer(serializers.ModelSerializer):
    """A published tree head exactly as /api/v1/log/tree-head serves it."""

    class Meta:
        model = SignedTreeHead
        fields = ["tree_size", "root_hash", "timestamp", "signature", "key_id"]
