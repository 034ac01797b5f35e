"""The import pages, for auditors and administrators: upload, preview, import with progress,
history, and each import's reconciliation. Thin: parse, call a service or selector, render.
"""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import TemplateView

from audit.imports import exports, selectors, services, staging
from audit.imports.errors import ExportRefused
from audit.imports.formats import TARGET_MARK
from audit.imports.forms import ListFilterForm, UploadForm
from audit.models import AccessRecord
from audit.workspace.services import record_access
from portal.roles import AUDITOR, RoleRequiredMixin

PAGE_SIZE = 50
PROGRESS_MARK = "<!-- progress -->"


class ImportPageMixin(RoleRequiredMixin):
    allowed_roles = (AUDITOR,)  # administrators hold every role

    def record(self, action: str, filters: dict | None = None, row_count: int | None = None):
        record_access(
            user=self.request.user,
            action=action,
            path=self.request.get_full_path(),
            filters=filters,
            row_count=row_count,
        )


class ImportsView(ImportPageMixin, TemplateView):
    """The upload form and the history of imports; POST previews, imports or cancels."""

    template_name = "audit/imports/index.html"

    def get_context_data(self, form=None, refused=None, **kwargs):
        context = super().get_context_data(**kwargs)
        page = Paginator(selectors.import_history(), PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        counts = selectors.counts_of(list(page.object_list))
        context.update(
            form=form or UploadForm(),
            refused=refused,
            page=page,
            history=[(i, counts[i.pk]) for i in page.object_list],
        )
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "preview")
        token = request.POST.get("token", "")
        if action == "cancel":
            staging.discard(token)
            return redirect("audit:imports")
        if action == "import":
            return self._import(token)
        return self._preview()

    def _preview(self):
        form = UploadForm(self.request.POST, self.request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        options = {
            "fmt": data["format"],
            "agency_code": data["agency"].code,
            "technology_slug": data["technology"],
            "zone_name": data["timezone"].strip(),
        }
        try:
            spec = services.export_spec(**options, mapping_text=data["mapping"])
        except ExportRefused as refused:
            return self.render_to_response(
                self.get_context_data(form=form, refused=refused), status=400
            )
        token = staging.stage(
            upload=data["file"],
            user_id=self.request.user.pk,
            options=options,
            mapping_text=data["mapping"],
        )
        path, meta = staging.staged(token, self.request.user.pk)
        try:
            with path.open("rb") as binary:
                scan = services.scan_export(binary=binary, spec=spec)
        except ExportRefused as refused:
            staging.discard(token)
            return self.render_to_response(
                self.get_context_data(form=form, refused=refused), status=400
            )
        if scan.problems:
            staging.discard(token)  # nothing to import: keep no copy of the file
        context = {
            "spec": spec,
            "scan": scan,
            "file_name": meta["file_name"],
            "token": token,
            "target_column": scan.columns.get("target"),
            "target_mark": TARGET_MARK,
        }
        return self.response_class(
            request=self.request,
            template="audit/imports/preview.html",
            context=context,
            status=400 if scan.problems else 200,
        )

    def _import(self, token: str):
        found = staging.staged(token, self.request.user.pk)
        if found is None:
            raise Http404("That upload is no longer held; upload the file again.")
        path, meta = found
        try:
            spec = services.export_spec(**meta["options"], mapping_text=meta["mapping_text"])
        except ExportRefused as refused:
            staging.discard(token)
            return self.render_to_response(self.get_context_data(refused=refused), status=400)
        head, tail = render_to_string(
            "audit/imports/run.html", {"file_name": meta["file_name"]}, self.request
        ).split(PROGRESS_MARK)
        user = self.request.user

        def stream():
            yield head
            try:
                with path.open("rb") as binary:
                    run = services.ImportRun(
                        binary=binary,
                        file_name=meta["file_name"],
                        spec=spec,
                        user=user,
                        via="upload page",
                    )
                    for stage, done, total in run.steps():
                        yield _progress_line(stage, done, total)
                result = run.result
                url = reverse("audit:import-detail", args=[result.vendor_import.pk])
                yield format_html(
                    '<li role="status"><strong>{}</strong> {} <a href="{}">{}</a>.</li>',
                    _("Done."),
                    _(
                        "%(kept)s new rows, %(duplicates)s already imported; %(matched)s "
                        "matched to the log, %(recorded)s recorded as not logged by the RTCC."
                    )
                    % {
                        "kept": f"{result.kept:,}",
                        "duplicates": f"{result.duplicates:,}",
                        "matched": f"{result.matched:,}",
                        "recorded": f"{result.recorded:,}",
                    },
                    url,
                    _("See the reconciliation of import %(id)s") % {"id": result.vendor_import.pk},
                )
            except ExportRefused as refused:
                yield format_html(
                    '<li role="alert" class="error">{}</li>', str(refused).replace("\n", "; ")
                )
            finally:
                staging.discard(token)
            yield tail

        response = StreamingHttpResponse(stream(), content_type="text/html; charset=utf-8")
        response["Cache-Control"] = "no-store"
        response["X-Accel-Buffering"] = "no"  # let a proxy pass each progress line at once
        return response


STAGES = {"checking": gettext_lazy("Checking"), "importing": gettext_lazy("Importing")}


def _progress_line(stage: str, done: int, total: int | None) -> str:
    name = STAGES.get(stage, stage.capitalize())
    if total:
        return format_html(
            '<li>{}: <progress max="{}" value="{}"></progress> {}</li>',
            name,
            total,
            done,
            _("%(done)s of %(total)s rows") % {"done": f"{done:,}", "total": f"{total:,}"},
        )
    return format_html("<li>{}: {}</li>", name, _("%(done)s rows read") % {"done": f"{done:,}"})


class ImportDetailView(ImportPageMixin, TemplateView):
    """One import: what was imported, and its reconciliation with the log (or its CSV)."""

    template_name = "audit/imports/detail.html"

    def get(self, request, *args, **kwargs):
        vendor_import = get_object_or_404(selectors.import_history(), pk=kwargs["pk"])
        form = ListFilterForm(request.GET or None)
        which, search = selectors.MATCHED, ""
        if form.is_bound and form.is_valid():
            which = form.cleaned_data["list"] or selectors.MATCHED
            search = form.cleaned_data["q"]
        items = selectors.reconciliation_list(vendor_import, which, search)
        filters = {"import": str(vendor_import.pk), "list": which, "q": search}
        if request.GET.get("format") == "csv":
            self.record(AccessRecord.Action.EXPORT, {**filters, "format": "csv"})
            response = StreamingHttpResponse(
                exports.csv_lines(items, which), content_type="text/csv; charset=utf-8"
            )
            name = f"sightline-import-{vendor_import.pk}-{which}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
        self.record(AccessRecord.Action.SEARCH, filters, page.paginator.count)
        context = self.get_context_data(
            vendor_import=vendor_import,
            form=form if form.is_bound else ListFilterForm(initial={"list": which}),
            which=which,
            lists=[
                (key, label, count)
                for (key, label), count in zip(
                    selectors.LISTS.items(),
                    selectors.list_counts(vendor_import).values(),
                    strict=True,
                )
            ],
            search=search,
            groups=selectors.groupings(vendor_import, which, search),
            page=page,
            counts=selectors.counts_of([vendor_import])[vendor_import.pk],
            query_string=_query({"list": which, "q": search}),
        )
        return self.render_to_response(context)


def _query(params: dict) -> str:
    return urlencode({k: v for k, v in params.items() if v})
