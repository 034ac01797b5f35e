"""Pages of the reports app. Thin: each picks its period, asks report/selectors, renders."""

from pathlib import Path

import plotly
from csp.decorators import csp_update
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from audit import selectors as log_selectors
from audit.models import Technology
from portal.roles import AUDITOR, COUNCIL, RoleRequiredMixin
from reports import periods, report
from reports.forms import PeriodPickerForm
from reports.models import AnnualStatement

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# plotly.js adds two <style> elements of its own (an empty one and its global rules); these
# hashes allow exactly those, so pages with charts keep style-src 'self' for everything else.
with_charts = method_decorator(
    csp_update(
        {
            "style-src": [
                "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
                "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
            ]
        }
    ),
    name="dispatch",
)


class HomeView(TemplateView):
    """Public: what each technology is and the latest signed state of the log."""

    template_name = "reports/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["technologies"] = Technology.objects.all()
        context["head"] = log_selectors.latest_tree_head()
        return context


class TableReportMixin:
    """Renders sections of tables, or one table as CSV with ?table=<id>&format=csv."""

    def sections(self):
        raise NotImplementedError

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            wanted = request.GET.get("table", "")
            for section in self.sections():
                for table in section.tables:
                    if table.id == wanted:
                        response = HttpResponse(table.csv(), content_type="text/csv; charset=utf-8")
                        name = f"sightline-{table.id}-{self.file_label()}.csv"
                        response["Content-Disposition"] = f'attachment; filename="{name}"'
                        return response
            raise Http404(f"No table '{wanted}' in this report.")
        return super().get(request, *args, **kwargs)


@with_charts
class CouncilReportView(RoleRequiredMixin, TableReportMixin, TemplateView):
    """Usage, compliance, outcomes and spending for a period, with two comparisons."""

    allowed_roles = (COUNCIL, AUDITOR)
    template_name = "reports/council.html"

    def period(self):
        if "kind" in self.request.GET:
            form = PeriodPickerForm(self.request.GET)
        else:
            today = timezone.localdate()
            form = PeriodPickerForm(
                initial={"kind": "fiscal-year", "year": periods.fiscal_year_of(today)}
            )
        return form, form.period()

    def file_label(self) -> str:
        _, period = self.period()
        return f"{period.start}_to_{period.end}"

    def sections(self):
        if not hasattr(self, "_sections"):
            self._sections = report.council_report(self.period()[1])
        return self._sections

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form, period = self.period()
        context.update(
            form=form,
            period=period,
            previous=periods.previous(period),
            year_earlier=periods.year_earlier(period),
            sections=self.sections(),
            technologies=Technology.objects.all(),
            fiscal_year=periods.fiscal_year_of(period.end),
            query=self.request.GET.urlencode(),
            today=timezone.localdate(),
            in_progress=period.end >= timezone.localdate(),
        )
        return context


@with_charts
class AnnualReportView(RoleRequiredMixin, TableReportMixin, TemplateView):
    """A technology's annual surveillance report for a fiscal year (CCOPS model shape)."""

    allowed_roles = (COUNCIL, AUDITOR)
    template_name = "reports/annual.html"

    def fiscal_year(self) -> int:
        """The ?fy= asked for; the current fiscal year when missing or not a year 2000-2100."""
        raw = self.request.GET.get("fy", "")
        if raw.isdigit() and 2000 <= int(raw) <= 2100:
            return int(raw)
        return periods.fiscal_year_of(timezone.localdate())

    def technology(self) -> Technology:
        return get_object_or_404(Technology, slug=self.kwargs["slug"])

    def file_label(self) -> str:
        return f"{self.kwargs['slug']}-FY{self.fiscal_year()}"

    def sections(self):
        if not hasattr(self, "_sections"):
            self._sections = report.annual_report(self.technology(), self.fiscal_year())
        return self._sections

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        technology, fy = self.technology(), self.fiscal_year()
        context.update(
            technology=technology,
            fy=fy,
            period=periods.fiscal_year(fy),
            sections=self.sections(),
            statement=AnnualStatement.objects.filter(technology=technology, fiscal_year=fy).first(),
            years=range(fy - 3, fy + 1),
            query=f"fy={fy}",
        )
        return context


@require_GET
@cache_control(public=True, max_age=86400)
def plotly_js(request):
    """plotly.min.js from the installed plotly package (no CDN; same-origin for the CSP)."""
    return FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript")
