"""The period picker of the council reports."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports import periods
from reports.periods import default_period

KINDS = [
    ("fiscal-year", _("Fiscal year")),
    ("year", _("Calendar year")),
    ("quarter", _("Quarter")),
    ("month", _("Month")),
    ("custom", _("Custom range")),
]


class PeriodPickerForm(forms.Form):
    kind = forms.ChoiceField(choices=KINDS, label=_("Period"))
    year = forms.IntegerField(
        label=_("Year"),
        min_value=2000,
        max_value=2100,
        required=False,
        help_text=_("For a fiscal year, the year it ends in."),
    )
    quarter = forms.IntegerField(label=_("Quarter"), min_value=1, max_value=4, required=False)
    month = forms.IntegerField(label=_("Month"), min_value=1, max_value=12, required=False)
    start = forms.DateField(
        label=_("Start"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("End"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    REQUIRED = {
        "fiscal-year": ("year",),
        "year": ("year",),
        "quarter": ("year", "quarter"),
        "month": ("year", "month"),
        "custom": ("start", "end"),
    }

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        for name in self.REQUIRED.get(kind, ()):
            if cleaned.get(name) in (None, ""):
                self.add_error(name, _("Required for this kind of period."))
        start, end = cleaned.get("start"), cleaned.get("end")
        for name in ("start", "end"):
            day = cleaned.get(name)
            if day and not 2000 <= day.year <= 2100:
                self.add_error(name, _("Choose a date between 2000 and 2100."))
        if kind == "custom" and start and end and end < start:
            self.add_error("end", _("The end date is before the start date."))
        return cleaned

    def period(self) -> periods.Period:
        """The chosen period; the current fiscal year when nothing valid was chosen."""
        if not self.is_bound or not self.is_valid():
            return default_period(timezone.localdate())
        data = self.cleaned_data
        kind = data["kind"]
        if kind == "fiscal-year":
            return periods.fiscal_year(data["year"])
        if kind == "year":
            return periods.calendar_year(data["year"])
        if kind == "quarter":
            return periods.quarter(data["year"], data["quarter"])
        if kind == "month":
            return periods.month(data["year"], data["month"])
        return periods.custom(data["start"], data["end"])
