"""Pages of the reports app. Thin: each picks its period, asks report/selectors, renders."""

from pathlib import Path
from urllib.parse import urlencode

import plotly
from csp.decorators import csp_update
from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import get_language, gettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from audit.models import Technology
from audit.transparency import selectors as log_selectors
from portal.cache import public_page_cache
from portal.roles import AUDITOR, COUNCIL, RoleRequiredMixin
from reports import annual, open_data, periods, public, report, vendor_exports
from reports import selectors as reports_selectors
from reports.forms import PeriodPickerForm
from reports.models import AnnualStatement, PublicRollupState

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


class TableReportMixin:
    """Renders sections of tables, or one table as CSV with ?table=<id>&format=csv."""

    def tables(self):
        """Every table of the page (reports: the tables of their sections)."""
        for section in self.sections():
            yield from section.tables

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            wanted = request.GET.get("table", "")
            for table in self.tables():
                if table.id == wanted:
                    response = HttpResponse(table.csv(), content_type="text/csv; charset=utf-8")
                    name = f"sightline-{table.id}-{self.file_label()}.csv"
                    response["Content-Disposition"] = f'attachment; filename="{name}"'
                    return response
            raise Http404(f"No table '{wanted}' in this report.")
        return super().get(request, *args, **kwargs)


def _head_size() -> int:
    """The latest signed tree head's size (-1 before the first head)."""
    size = log_selectors.latest_tree_size()
    return -1 if size is None else size


def _public_version() -> tuple:
    """The version of the public pages: the latest signed tree head's size, and where the
    vendor export imports stand (an import or a reconcile changes it, before any new head)."""
    return (_head_size(), *reports_selectors.vendor_exports_version())


# The pages read no query parameters but a table's CSV download (?table=<id>&format=csv).
public_page = method_decorator(
    public_page_cache(version=_public_version, params=("table", "format")), name="get"
)


def _by_id(tables) -> dict:
    """Tables by id, as templates can look them up (hyphens become underscores)."""
    return {table.id.replace("-", "_"): table for table in tables}


def localized_technologies(technologies) -> list[Technology]:
    """The technologies, each with `public_<field>` set to that field's text in the active
    language (the English text where no translation is given)."""
    language = get_language() or "en"
    technologies = list(technologies)
    for technology in technologies:
        for field in Technology.TRANSLATED:
            setattr(technology, f"public_{field}", technology.localized(field, language))
    return technologies


class PublicPageMixin(TableReportMixin):
    """A public page at the latest signed tree head, in the visitor's language."""

    def file_label(self) -> str:
        return timezone.localdate().isoformat()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        technologies = localized_technologies(Technology.objects.all())
        context.update(
            head=self.head,
            public_state=PublicRollupState.objects.filter(id=1).first(),
            technologies=technologies,
            names={t.slug: t.public_name for t in technologies},
            prohibited=[gettext(name) for name in settings.SIGHTLINE_PROHIBITED_PURPOSES],
            today=timezone.localdate(),
        )
        return context

    def get(self, request, *args, **kwargs):
        self.head = public.current_head()
        return super().get(request, *args, **kwargs)

    def tables(self):
        """The page's tables, built once per request (by `build_tables`)."""
        if not hasattr(self, "_tables"):
            self._tables = self.build_tables()
        return self._tables

    def build_tables(self) -> list:
        return []


@with_charts
@public_page
class HomeView(PublicPageMixin, TemplateView):
    """Public: what each technology is, how it is used, how well the rules are kept, what it
    costs, and the signed head every count comes from."""

    template_name = "reports/home.html"

    def build_tables(self):
        today = timezone.localdate()
        names = public.localized_names()
        return [
            public.headline_table(today),
            public.trend_table(today, names),
            public.purposes_table(today, names),
            public.outcomes_table(today, names),
            vendor_exports.public_table(today, names),
            *public.spending_tables(names),
            public.cost_table(today, names),
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tables = _by_id(self.tables())
        summaries = public.technology_summaries(context["today"])
        for technology in context["technologies"]:
            technology.summary = summaries.get(technology.slug, {})
        context.update(tables=tables, spent=public.spending_to_date())
        return context


@with_charts
@public_page
class TechnologyView(PublicPageMixin, TemplateView):
    """Public: one technology's policy, rules, use, outcomes, cost and policy history."""

    template_name = "reports/technology.html"

    def technology(self) -> Technology:
        if not hasattr(self, "_technology"):
            self._technology = get_object_or_404(Technology, slug=self.kwargs["slug"])
        return self._technology

    def file_label(self) -> str:
        return f"{self.kwargs['slug']}-{timezone.localdate().isoformat()}"

    def build_tables(self):
        today, slug = timezone.localdate(), self.technology().slug
        names = public.localized_names()
        return [
            public.headline_table(today, slug),
            public.trend_table(today, names, slug),
            public.purposes_table(today, names, slug),
            public.agencies_table(today, slug),
            public.outcomes_table(today, names, slug),
            public.cost_table(today, names, slug),
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        technology = next(t for t in context["technologies"] if t.slug == self.technology().slug)
        context.update(
            technology=technology,
            tables=_by_id(self.tables()),
            history=reports_selectors.policy_history(technology),
        )
        return context


@with_charts
@public_page
class SpendingView(PublicPageMixin, TemplateView):
    """Public: contracts, vendors and money paid by fiscal year and funding source."""

    template_name = "reports/spending.html"

    def build_tables(self):
        return public.spending_tables(public.localized_names())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            tables=_by_id(self.tables()),
            contracts=reports_selectors.contracts_with_spending(),
            spent=public.spending_to_date(),
        )
        return context


@public_page
class OpenDataView(PublicPageMixin, TemplateView):
    """Public: the downloads, their data dictionary, the licence and how to verify them."""

    template_name = "reports/open_data.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            dictionary=open_data.DICTIONARY,
            licence=settings.SIGHTLINE_DATA_LICENCE,
            licence_url=settings.SIGHTLINE_DATA_LICENCE_URL,
        )
        return context


def _download(rows, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _signed_head():
    head = public.current_head()
    if head is None:
        raise Http404("No tree head has been published yet.")
    return head


@require_GET
def leaves_download(request, fmt: str):
    """Every public leaf of the latest signed head, as CSV or JSON Lines (streamed)."""
    head = _signed_head()
    name = f"sightline-leaves-{head.tree_size}"
    if fmt == "csv":
        return _download(open_data.leaves_csv(head.tree_size), f"{name}.csv", "text/csv")
    return _download(open_data.leaves_jsonl(head.tree_size), f"{name}.jsonl", "application/jsonl")


@require_GET
def daily_download(request):
    """Daily counts of the public leaves at the latest signed head (CSV)."""
    head = _signed_head()
    name = f"sightline-daily-{head.tree_size}.csv"
    return _download(open_data.daily_csv(), name, "text/csv")


@require_GET
def spending_download(request):
    """Every payment under every contract (CSV)."""
    name = f"sightline-spending-{timezone.localdate().isoformat()}.csv"
    return _download(open_data.spending_csv(), name, "text/csv")


@require_GET
def tree_head_download(request):
    """The signed tree head the other downloads match (JSON)."""
    head = _signed_head()
    response = HttpResponse(open_data.tree_head_json(head), content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="sightline-tree-head-{head.tree_size}.json"'
    )
    return response


@require_GET
def datapackage(request):
    """The Frictionless Data Package describing every download (JSON)."""
    head = public.current_head()
    homepage = request.build_absolute_uri(reverse("reports:open-data"))
    return JsonResponse(
        open_data.datapackage(head, homepage=homepage), json_dumps_params={"indent": 2}
    )


@with_charts
class CouncilReportView(RoleRequiredMixin, TableReportMixin, TemplateView):
    """Usage, compliance, outcomes and spending for a period, compared with the same span of
    earlier periods (a period still in progress: its days so far against the same days)."""

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

    def comparison(self) -> periods.Comparison:
        if not hasattr(self, "_comparison"):
            self._comparison = periods.compare(self.period()[1], timezone.localdate())
        return self._comparison

    def file_label(self) -> str:
        current = self.comparison().current
        return f"{current.start}_to_{current.end}"

    def sections(self):
        if not hasattr(self, "_sections"):
            self._sections = report.council_report(self.comparison())
        return self._sections

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form, period = self.period()
        comparison = self.comparison()
        completed = comparison.completed
        context.update(
            form=form,
            period=period,
            comparison=comparison,
            completed=completed,
            completed_query=urlencode(periods.picker_params(completed)) if completed else "",
            sections=self.sections(),
            technologies=localized_technologies(Technology.objects.all()),
            fiscal_year=periods.fiscal_year_of(comparison.current.end),
            query=self.request.GET.urlencode(),
            today=timezone.localdate(),
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
            self._sections = annual.annual_report(self.technology(), self.fiscal_year())
        return self._sections

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        technology, fy = self.technology(), self.fiscal_year()
        context.update(
            technology=localized_technologies([technology])[0],
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
