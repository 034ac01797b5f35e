"""Keep the rollups in step with the log, inside the same transaction as each write."""

from django.dispatch import receiver

from audit.log import signals
from audit.models import QueryOutcome
from reports.models import FlagRollup, SliceRollup
from reports.rollups import Tally


@receiver(signals.queries_recorded)
def count_recorded_queries(sender, entries, flags, **kwargs):
    tally = Tally()
    tally.entries(entries, flags)
    tally.apply()


@receiver(signals.outcomes_recorded)
def count_outcomes(sender, outcomes, **kwargs):
    # The rollups count queries with an outcome, so a second "lead" on one query adds nothing.
    pairs = {(o.entry_id, o.outcome) for o in outcomes}
    known = set(
        QueryOutcome.objects.filter(entry_id__in={seq for seq, _ in pairs})
        .exclude(id__in=[o.id for o in outcomes])
        .values_list("entry_id", "outcome")
    )
    tally = Tally()
    tally.outcomes(sorted(pairs - known))
    tally.apply()


@receiver(signals.flags_replaced)
def recount_flags(sender, entries, before, after, **kwargs):
    tally = Tally()
    tally.reflagged(entries, before, after)
    tally.apply()
    days = {e.local_date for e in entries}
    window = {"period_start__gte": min(days).replace(day=1), "period_start__lte": max(days)}
    FlagRollup.objects.filter(queries=0, **window).delete()
    SliceRollup.objects.filter(dimension="flag", queries=0, **window).delete()
