"""Forms of the auditor workspace: log search filters, reviews and random samples."""

from django import forms
from django.utils.translation import gettext_lazy as _

from audit.flags.rules import ALL_FLAGS
from audit.log.nibrs import OFFENSE_GROUPS, UNSPECIFIED
from audit.models import AuditReview, QueryOutcome, Technology

SORTS = {
    "-sequence": _("Newest first"),
    "sequence": _("Oldest first"),
    "-occurred_at": _("Occurred, latest first"),
    "occurred_at": _("Occurred, earliest first"),
    "technology": _("Technology"),
    "operator_badge": _("Operator badge"),
}
REVIEW_STATUSES = [
    ("", _("Any")),
    ("unreviewed", _("Not reviewed")),
    *AuditReview.Finding.choices,
]


def _technology_choices():
    return [("", _("Any")), *Technology.objects.values_list("slug", "name")]


class DateRangeCheck:
    """Refuses a period whose end comes before its start."""

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end date is before the start date."))
        return cleaned


class EntrySearchForm(DateRangeCheck, forms.Form):
    """Every filter of the log search; the same names work as export and API parameters."""

    start = forms.DateField(
        required=False, label=_("From (date)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label=_("To (date)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    technology = forms.ChoiceField(required=False, choices=_technology_choices)
    query_type = forms.CharField(required=False, max_length=40)
    agency = forms.CharField(required=False, max_length=32, label=_("Requesting agency code"))
    on_behalf_of = forms.CharField(required=False, max_length=200, label=_("On behalf of"))
    operator = forms.CharField(required=False, max_length=32, label=_("Operator badge"))
    unit = forms.CharField(required=False, max_length=100)
    offense_code = forms.CharField(required=False, max_length=8)
    offense_category = forms.ChoiceField(
        required=False,
        choices=[("", _("Any")), *((g, g) for g in OFFENSE_GROUPS), (UNSPECIFIED, UNSPECIFIED)],
    )
    case_number = forms.CharField(required=False, max_length=64)
    flag = forms.ChoiceField(
        required=False,
        choices=[
            ("", _("Any or none")),
            ("any", _("Any flag")),
            ("none", _("No flags")),
            *((f, f) for f in ALL_FLAGS),
        ],
    )
    review_status = forms.ChoiceField(required=False, choices=REVIEW_STATUSES)
    outcome = forms.ChoiceField(
        required=False, choices=[("", _("Any")), *QueryOutcome.Kind.choices]
    )
    target = forms.CharField(
        required=False,
        max_length=512,
        label=_("Find by target"),
        help_text=_("A plate or probe digest; it is fingerprinted, never stored."),
    )
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))

    def active_filters(self) -> dict[str, str]:
        """The filters actually set, as strings (for links, access records and file names)."""
        return {
            name: value.isoformat() if hasattr(value, "isoformat") else str(value)
            for name, value in self.cleaned_data.items()
            if value not in (None, "") and name != "sort"
        }


class ReviewForm(forms.Form):
    finding = forms.ChoiceField(choices=AuditReview.Finding.choices, widget=forms.RadioSelect)
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class PeriodForm(DateRangeCheck, forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))


class SampleForm(PeriodForm):
    size = forms.IntegerField(min_value=1, max_value=10_000, initial=50, label=_("Entries"))
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        help_text=_("Leave empty for a new random seed; give a printed seed to reproduce."),
    )
