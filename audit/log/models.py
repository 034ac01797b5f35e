"""The log itself: the append-only base, technologies and their policies, agencies, operators,
integrations, and the query log with its outcomes."""

import hashlib

from django.db import models
from django.db.models import Q
from django.db.models.functions import Left
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove a row of an append-only table."""


class AppendOnlyQuerySet(models.QuerySet):
    """Queryset whose bulk edit paths refuse to run (the database triggers refuse them too)."""

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: update refused.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: delete refused.")

    # bulk_update goes through update(); keep the message specific anyway.
    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only: update refused.")


class AppendOnlyModel(models.Model):
    """A model whose rows, once written, are never changed or removed."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only: update refused.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only: delete refused.")


class Scope(models.TextChoices):
    """Whose data a query searched."""

    LOCAL = "local", _("Local")
    REGIONAL = "regional", _("Regional")
    NATIONAL = "national", _("National")


class Technology(models.Model):
    """A surveillance technology the center runs, with the policy that governs its use."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("In use")
        PILOT = "pilot", _("Pilot")
        SUSPENDED = "suspended", _("Suspended")
        PROHIBITED = "prohibited", _("Prohibited")

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(help_text=_("Plain-language description for the public."))
    collects = models.TextField(blank=True, help_text=_("What it collects."))
    does_not_collect = models.TextField(blank=True, help_text=_("What it does not collect."))
    retention_days = models.PositiveIntegerField(default=365)
    vendor_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    query_types = models.JSONField(default=list, help_text=_("Allowed query types (slugs)."))

    # The policy in force; every change is recorded by django-auditlog.
    policy_text = models.TextField(blank=True)
    requires_case_number = models.BooleanField(default=True)
    requires_supervisor_approval = models.BooleanField(default=False)
    allowed_offense_categories = models.JSONField(
        default=list, blank=True, help_text=_("NIBRS offense groups allowed; empty allows any.")
    )
    min_justification_length = models.PositiveSmallIntegerField(default=20)
    daily_volume_threshold = models.PositiveIntegerField(
        default=50, help_text=_("Queries per operator per day above which a query is flagged.")
    )
    repeated_target_limit = models.PositiveSmallIntegerField(
        default=5,
        help_text=_("Searches of one target by one operator allowed within the window below."),
    )
    repeated_target_days = models.PositiveSmallIntegerField(default=30)

    # The public text in Spanish (the public pages ship in English and Spanish); an empty
    # translation falls back to the English text.
    name_es = models.CharField(_("name (Spanish)"), max_length=100, blank=True)
    description_es = models.TextField(_("description (Spanish)"), blank=True)
    collects_es = models.TextField(_("what it collects (Spanish)"), blank=True)
    does_not_collect_es = models.TextField(_("what it does not collect (Spanish)"), blank=True)
    policy_text_es = models.TextField(_("policy text (Spanish)"), blank=True)

    TRANSLATED = ("name", "description", "collects", "does_not_collect", "policy_text")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "technologies"

    def __str__(self) -> str:
        return self.name

    def localized(self, field: str, language: str) -> str:
        """The public text of a field in a language, the English text when none is given."""
        if field not in self.TRANSLATED:
            raise ValueError(f"{field} is not a translated field")
        if language != "en":
            translated = getattr(self, f"{field}_{language}", "")
            if translated:
                return translated
        return getattr(self, field)


class Agency(models.Model):
    """A law-enforcement agency: the city's own department or a partner/outside agency."""

    class Kind(models.TextChoices):
        MUNICIPAL = "municipal", _("Municipal police")
        COUNTY = "county", _("County")
        STATE = "state", _("State")
        FEDERAL = "federal", _("Federal")
        OTHER = "other", _("Other")

    code = models.CharField(max_length=32, unique=True, help_text=_("Short code, like an ORI."))
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MUNICIPAL)
    is_home = models.BooleanField(default=False, help_text=_("The city's own department."))

    class Meta:
        ordering = ["-is_home", "name"]
        verbose_name_plural = "agencies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_home"], condition=Q(is_home=True), name="one_home_agency"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Operator(models.Model):
    """A person who runs queries, identified in the log by badge number."""

    badge_number = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=100, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="operators")
    is_supervisor = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    technologies = models.ManyToManyField(
        Technology, through="Certification", related_name="certified_operators", blank=True
    )

    class Meta:
        ordering = ["badge_number"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.badge_number})"


class Certification(models.Model):
    """An operator's training certification on one technology."""

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE)
    technology = models.ForeignKey(Technology, on_delete=models.PROTECT)
    certified_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operator", "technology"], name="one_certification")
        ]

    def __str__(self) -> str:
        return f"{self.operator} on {self.technology} since {self.certified_on}"


# An integration's id is its API key's prefix (this many characters, unique per integration:
# rest_framework_api_key's model and key generator), a dot, then the hashed key. The prefix alone
# tells integrations apart; a test holds the generator to it.
INTEGRATION_PREFIX = 8


class Integration(AbstractAPIKey):
    """A machine client (RTCC software, vendor connector) bound to one agency; key stored hashed."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="integrations")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "integration"
        verbose_name_plural = "integrations"


class LogPositionField(models.BigIntegerField):
    """A position in the log, 64 bits. As a primary key on SQLite it is declared `integer`,
    which makes it the table's rowid: declared `bigint` (as Django declares a BigIntegerField),
    it would be an ordinary column with a hidden rowid beside it and an automatic unique index
    of its own, one more B-tree that every append writes and every read by position walks
    first, and the other indexes would hold the rowid instead of the position. Columns that
    refer to it are declared the same way. Nothing changes on PostgreSQL (`bigint`)."""

    def db_type(self, connection):
        if connection.vendor == "sqlite":
            return "integer"
        return super().db_type(connection)


def target_prefix(fingerprint: str) -> int | None:
    """The integer by which the entries' target index finds a target fingerprint: its first 15
    hex digits (60 bits), None for no target.

    Two targets share a prefix only if their fingerprints (keyed HMACs) share 60 bits, which
    practically never happens but may: a read by prefix therefore also checks the fingerprint
    (`of_targets`) wherever it must be exact.
    """
    if not fingerprint:
        return None
    try:
        return int(fingerprint[:15], 16)
    except ValueError:  # not hex: fingerprints are, but any text gets one the same way
        return int.from_bytes(hashlib.sha256(fingerprint.encode()).digest()[:7], "big")


def target_prefixes(fingerprints) -> list[int]:
    """The distinct prefixes of these fingerprints (none for an empty one), sorted."""
    return sorted({prefix for prefix in map(target_prefix, fingerprints) if prefix is not None})


class EntryQuerySet(AppendOnlyQuerySet):
    def of_targets(self, fingerprints) -> "EntryQuerySet":
        """The entries that searched any of these target fingerprints, found through the
        target index (by prefix) and checked by fingerprint."""
        fingerprints = sorted(set(fingerprints))
        return self.filter(target_prefix__in=target_prefixes(fingerprints)).filter(
            target_fingerprint__in=fingerprints
        )


class QueryLogEntry(AppendOnlyModel):
    """One query against a surveillance system, as reported by an integration. Append-only.

    Agency, operator and supervisor are kept as the codes the client sent (so an unknown one is
    still recorded, and flagged); the foreign keys are resolved when the code is known.
    """

    sequence = LogPositionField(primary_key=True, help_text=_("Merkle leaf index."))
    recorded_at = models.DateTimeField(help_text=_("Server clock."))
    occurred_at = models.DateTimeField(help_text=_("Client clock."))
    local_date = models.DateField(help_text=_("Local date of occurred_at; the public date."))
    # Not indexed alone (nor the requesting agency or supervisor): no query reads entries by
    # them without a date, and each index costs every insert; entry_date_tech serves the rest.
    technology = models.ForeignKey(
        Technology, to_field="slug", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    query_type = models.CharField(max_length=40)
    # Its key is the API key's id (about 145 characters): its own index cost every insert that
    # much again. Reads by integration and client_ref go through client_ref_unique_per_integration,
    # keyed by the id's prefix (INTEGRATION_PREFIX).
    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    requesting_agency_code = models.CharField(max_length=32)
    requesting_agency = models.ForeignKey(
        Agency, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    on_behalf_of = models.CharField(max_length=200, blank=True)
    operator_badge = models.CharField(max_length=32)
    operator = models.ForeignKey(Operator, null=True, on_delete=models.PROTECT, related_name="+")
    supervisor_badge = models.CharField(max_length=32, blank=True)
    supervisor = models.ForeignKey(
        Operator, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    target_fingerprint = models.CharField(max_length=64, blank=True)
    # Derived from the fingerprint (`target_prefix`), for the target index only: not part of the
    # leaf, never shown. Null when no target was searched.
    target_prefix = models.BigIntegerField(null=True, editable=False)
    offense_code = models.CharField(max_length=8, blank=True)
    offense_category = models.CharField(max_length=64)
    justification = models.TextField(blank=True)
    case_number = models.CharField(max_length=64, blank=True)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.LOCAL)
    result_count = models.PositiveIntegerField(null=True)
    client_ref = models.CharField(max_length=128, null=True)
    salt = models.CharField(max_length=32, help_text=_("16 random bytes, hex."))
    leaf_hash = models.CharField(max_length=64)

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        verbose_name = "query log entry"
        verbose_name_plural = "query log entries"
        constraints = [
            # The integration by its key's prefix, unique per integration, not its whole id:
            # an index a sixth of the size, into which a client's own references (often
            # random) land at random places (bench/README.md, "Seventh session").
            models.UniqueConstraint(
                Left("integration", INTEGRATION_PREFIX),
                "client_ref",
                condition=Q(client_ref__isnull=False),
                name="client_ref_unique_per_integration",
            )
        ]
        indexes = [
            models.Index(fields=["local_date", "technology"], name="entry_date_tech"),
            # By target, then time: the repeated-target rule counts an operator's searches of
            # a target within its window from this index alone, and matching reads it too.
            # Keyed by the fingerprint's integer prefix (`target_prefix`), not the 64-character
            # fingerprint: a third of the size, and every entry lands at a random place in it.
            models.Index(
                fields=["target_prefix", "occurred_at", "operator_badge"],
                name="entry_target_prefix",
            ),
            # An operator's queries by day; with the technology, the daily-volume rule counts an
            # operator's queries of a day on each tool from this index alone.
            models.Index(
                fields=["operator_badge", "local_date", "technology"], name="entry_operator_date"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.technology_id} {self.query_type}"


class QueryOutcome(AppendOnlyModel):
    """What came of a query, reported later. Append-only: a later outcome adds, never edits."""

    class Kind(models.TextChoices):
        LEAD = "lead", _("Lead")
        ARREST = "arrest", _("Arrest")
        CHARGED = "charged", _("Charged")
        CLEARED = "cleared", _("Case cleared")
        NO_MATCH = "no-match", _("No match")
        FALSE_MATCH = "false-match", _("False match")
        NOT_USED = "not-used", _("Not used")

    entry = models.ForeignKey(QueryLogEntry, on_delete=models.PROTECT, related_name="outcomes")
    outcome = models.CharField(max_length=16, choices=Kind.choices)
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField()
    integration = models.ForeignKey(
        Integration, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["entry_id", "id"]

    def __str__(self) -> str:
        return f"{self.outcome} on #{self.entry_id}"
