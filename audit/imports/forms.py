"""Forms of the import pages: the upload, and the filter of a reconciliation list."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from audit.imports.formats import FORMATS
from audit.imports.selectors import LISTS
from audit.models import Agency, Technology

MAX_MAPPING_BYTES = 64 * 1024


def _technology_choices():
    return [("", _("From the format or mapping")), *Technology.objects.values_list("slug", "name")]


class UploadForm(forms.Form):
    """An export file and what the importer says about it."""

    file = forms.FileField(label=_("Export file (CSV or XLSX)"))
    format = forms.ChoiceField(choices=list(FORMATS.items()), label=_("Format"))
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.all(),
        to_field_name="code",
        label=_("Agency whose export this is"),
    )
    technology = forms.ChoiceField(required=False, choices=_technology_choices)
    timezone = forms.CharField(
        required=False,
        max_length=64,
        label=_("Time zone of times that name none"),
        help_text=_("An IANA name such as America/Chicago; empty: %(zone)s.")
        % {"zone": settings.TIME_ZONE},
    )
    mapping = forms.FileField(
        required=False,
        label=_("Mapping file (generic-csv)"),
        help_text=_("A small TOML file: see docs/imports.md."),
    )

    def clean_mapping(self) -> str:
        upload = self.cleaned_data.get("mapping")
        if not upload:
            return ""
        if upload.size > MAX_MAPPING_BYTES:
            raise forms.ValidationError(_("A mapping file is a few lines; this one is too big."))
        return upload.read().decode("utf-8-sig", errors="replace")


class ListFilterForm(forms.Form):
    """Which reconciliation list to show, and a search within it."""

    list = forms.ChoiceField(choices=list(LISTS.items()), required=False)
    q = forms.CharField(
        required=False,
        max_length=200,
        label=_("Search"),
        help_text=_("Agency, operator, reason or case number; or a plate (matched exactly)."),
    )
