"""Pages of the audit app: the public verification page and the auditor workspace.

Thin: each view checks the role, parses its form, calls a selector or service and renders.
Every auditor search, entry view, sample and export is recorded (who watched the watchers).
"""

import secrets
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.generic import ListView, TemplateView

from audit.flags.rules import DESCRIPTIONS
from audit.models import AccessRecord, AuditReview, LogState, QueryLogEntry
from audit.transparency import checkpoints, signing
from audit.transparency.selectors import latest_tree_head
from audit.workspace import exports, services
from audit.workspace.forms import EntrySearchForm, PeriodForm, ReviewForm, SampleForm
from audit.workspace.selectors import (
    attach_flags,
    flag_summary,
    inclusion_status,
    random_sample,
    review_queue,
    search_entries,
    with_review_status,
)
from portal.roles import ADMINISTRATOR, AUDITOR, RoleRequiredMixin

PAGE_SIZE = 50


class LogView(TemplateView):
    """Public: the latest signed tree head, the public key and how to verify the log."""

    template_name = "audit/log.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["head"] = latest_tree_head()
        context["public_key"] = signing.public_key_document()
        context["verifier_key"] = checkpoints.verifier_key()
        context["log_size"] = LogState.objects.values_list("size", flat=True).first() or 0
        return context


class AuditorMixin(RoleRequiredMixin):
    allowed_roles = (AUDITOR,)

    def record(self, action: str, filters: dict | None = None, row_count: int | None = None):
        services.record_access(
            user=self.request.user,
            action=action,
            path=self.request.get_full_path(),
            filters=filters,
            row_count=row_count,
        )


def _page(request, queryset):
    paginator = Paginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    attach_flags(page.object_list)
    return page


class WorkspaceView(AuditorMixin, TemplateView):
    """Search the raw log with filters; results paginate, sort and show flags."""

    template_name = "audit/workspace.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = EntrySearchForm(self.request.GET or None)
        context.update(form=form, page=None)
        if form.is_bound and not form.is_valid():
            return context
        filters = form.active_filters() if form.is_bound else {}
        cleaned = form.cleaned_data if form.is_bound else {}
        entries = search_entries(cleaned, sort=cleaned.get("sort", ""))
        page = _page(self.request, entries.select_related("operator"))
        self.record(AccessRecord.Action.SEARCH, filters, page.paginator.count)
        context.update(
            page=page,
            filters=filters,
            query_string=urlencode({k: v for k, v in self.request.GET.items() if k != "page"}),
            export_query=urlencode(filters),
        )
        return context


class EntryDetailView(AuditorMixin, TemplateView):
    """Everything recorded about one entry, its flags, outcomes, reviews and inclusion proof."""

    template_name = "audit/entry_detail.html"

    def get_entry(self) -> QueryLogEntry:
        entries = QueryLogEntry.objects.select_related(
            "operator", "supervisor", "requesting_agency", "technology"
        ).prefetch_related(
            "outcomes",
            Prefetch("reviews", queryset=AuditReview.objects.select_related("reviewer")),
        )
        return get_object_or_404(entries, sequence=self.kwargs["sequence"])

    def get_context_data(self, review_form=None, **kwargs):
        context = super().get_context_data(**kwargs)
        entry = attach_flags([self.get_entry()])[0]
        self.record(AccessRecord.Action.VIEW, {"sequence": entry.sequence}, 1)
        reviews = list(entry.reviews.all())
        context.update(
            entry=entry,
            flags=[(flag, DESCRIPTIONS.get(flag, "")) for flag in entry.flag_list],
            reviews=reviews,
            current_review=reviews[-1] if reviews else None,
            review_form=review_form or ReviewForm(),
            inclusion=inclusion_status(entry.sequence),
        )
        return context

    def post(self, request, *args, **kwargs):
        entry = self.get_entry()
        form = ReviewForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(review_form=form), status=400)
        services.record_review(entry=entry, reviewer=request.user, **form.cleaned_data)
        self.record(AccessRecord.Action.REVIEW, {"sequence": entry.sequence}, 1)
        messages.success(request, f"Review of entry {entry.sequence} recorded.")
        return redirect("audit:entry-detail", sequence=entry.sequence)


class ReviewQueueView(AuditorMixin, TemplateView):
    """Flagged entries not yet reviewed, oldest first."""

    template_name = "audit/review_queue.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = _page(self.request, review_queue().select_related("operator"))
        self.record(AccessRecord.Action.SEARCH, {"queue": "review"}, page.paginator.count)
        context["page"] = page
        return context


class SampleView(AuditorMixin, TemplateView):
    """A reproducible random sample of a period, stratified by technology."""

    template_name = "audit/sample.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = SampleForm(self.request.GET or None)
        context.update(form=form, entries=None)
        if not form.is_bound or not form.is_valid():
            return context
        params = dict(form.cleaned_data)
        if params["seed"] is None:
            params["seed"] = secrets.randbelow(2**31)
        sequences = random_sample(**params)
        entries = attach_flags(
            list(
                with_review_status(
                    QueryLogEntry.objects.filter(sequence__in=sequences)
                ).select_related("operator")
            )
        )
        filters = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in params.items()}
        self.record(AccessRecord.Action.SAMPLE, filters, len(entries))
        context.update(
            entries=entries,
            seed=params["seed"],
            export_query=urlencode(
                {f"sample_{k}" if k in ("size", "seed") else k: v for k, v in filters.items()}
            ),
        )
        return context


class SummaryView(AuditorMixin, TemplateView):
    """Counts of flags by kind, unit and operator for a period."""

    template_name = "audit/summary.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET or None)
        today = timezone.localdate()
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        else:
            start, end = today.replace(day=1), today
        summary = flag_summary(start=start, end=end)
        self.record(
            AccessRecord.Action.SUMMARY,
            {"start": start.isoformat(), "end": end.isoformat()},
            summary["total"],
        )
        context.update(form=form, start=start, end=end, summary=summary, descriptions=DESCRIPTIONS)
        return context


class ExportView(AuditorMixin, TemplateView):
    """Stream the filtered log as CSV, JSON Lines or XLSX; the export records its row count."""

    template_name = "audit/export_error.html"

    def get(self, request, *args, **kwargs):
        fmt = request.GET.get("format", "csv")
        form = EntrySearchForm(request.GET)
        sample = SampleForm(
            {
                "start": request.GET.get("start"),
                "end": request.GET.get("end"),
                "size": request.GET.get("sample_size"),
                "seed": request.GET.get("sample_seed"),
            }
        )
        errors = {}
        if fmt not in exports.FORMATS:
            errors["format"] = [f"Choose one of: {', '.join(exports.FORMATS)}."]
        if not form.is_valid():
            errors.update(form.errors)
        wants_sample = "sample_size" in request.GET
        if wants_sample and not sample.is_valid():
            errors.update({f"sample_{k}": v for k, v in sample.errors.items()})
        if errors:
            return self.render_to_response({"errors": errors}, status=400)

        size = LogState.objects.values_list("size", flat=True).get(id=1)
        entries = search_entries(form.cleaned_data).filter(sequence__lt=size)
        if wants_sample:
            entries = entries.filter(sequence__in=random_sample(**sample.cleaned_data))
        filters = form.active_filters()
        if wants_sample:
            filters.update(sample_size=str(sample.cleaned_data["size"]),
                           sample_seed=str(sample.cleaned_data["seed"]))  # fmt: skip
        count = entries.count()
        self.record(AccessRecord.Action.EXPORT, {**filters, "format": fmt}, count)

        content_type, extension = exports.FORMATS[fmt]
        period = f"{filters.get('start', 'beginning')}_to_{filters.get('end', 'latest')}"
        filename = f"sightline-log_{period}.{extension}"
        data = exports.row_chunks(entries)
        if fmt == "xlsx":
            return FileResponse(
                exports.xlsx_file(data), as_attachment=True, filename=filename,
                content_type=content_type,
            )  # fmt: skip
        lines = exports.csv_lines(data) if fmt == "csv" else exports.jsonl_lines(data)
        response = StreamingHttpResponse(lines, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Row-Count"] = str(count)
        return response


class AccessLogView(RoleRequiredMixin, ListView):
    """For administrators: every auditor search, view and export, newest first."""

    allowed_roles = (ADMINISTRATOR,)
    template_name = "audit/access_log.html"
    paginate_by = PAGE_SIZE
    context_object_name = "records"

    def get_queryset(self):
        return AccessRecord.objects.select_related("user").order_by("-at", "-id")
