"""The audit app's HTTP API: ingest for integrations and the public, verifiable log."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from audit.api.authentication import (
    IngestRateThrottle,
    IntegrationKeyAuthentication,
    IsAuditor,
    IsIntegration,
    ingest_rate_in_words,
)
from audit.api.schema import AUDITOR_ERRORS, KEY_ERRORS, PARAMETER_ERRORS, PUBLIC_ERRORS
from audit.api.serializers import (
    EntrySerializer,
    ErrorSerializer,
    OutcomeInSerializer,
    OutcomeOutSerializer,
    QueryInSerializer,
    RecordedQuerySerializer,
    TreeHeadSerializer,
)
from audit.log.parsing import IngestRejected, parse_queries
from audit.log.services import (
    IdempotencyConflict,
    record_outcome,
    record_queries,
    technology_query_types,
)
from audit.models import AccessRecord, QueryLogEntry, SignedTreeHead
from audit.transparency import checkpoints, signing
from audit.transparency.selectors import (
    MAX_ENTRIES_PER_PAGE,
    consistency_proof,
    inclusion_proof,
    latest_tree_head,
    public_entries,
    tree_head_document,
    tree_head_of_size,
)
from audit.workspace.forms import EntrySearchForm
from audit.workspace.selectors import attach_flags, search_entries, with_review_status
from audit.workspace.services import record_access

REFUSED = "The request was refused: nothing was recorded."
# Seconds a client waits before retrying when the database is unreachable or full.
DATABASE_RETRY_AFTER = 30
logger = logging.getLogger(__name__)


def exception_handler(exc, context):
    """DRF's handler, with refused ingest requests and conflicts in one documented shape."""
    if isinstance(exc, IngestRejected):
        return Response({"detail": exc.detail, "errors": exc.errors}, status=400)
    if isinstance(exc, IdempotencyConflict):
        message = "Already recorded with different content under this client_ref."
        errors: dict = {"client_ref": [f"'{ref}': {message}" for ref in exc.client_refs]}
        if exc.positions is not None:
            errors = {str(position): {"client_ref": [message]} for position in exc.positions}
        return Response({"detail": f"{exc}. {REFUSED}", "errors": errors}, status=409)
    if isinstance(exc, exceptions.ParseError):
        problem = f"Malformed JSON: {exc.detail}."
        return Response({"detail": f"{problem} {REFUSED}", "errors": {"body": [problem]}}, 400)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        problem = f"The request body is larger than {limit} MB; send fewer queries per request."
        return Response({"detail": f"{problem} {REFUSED}", "errors": {"body": [problem]}}, 413)
    if isinstance(exc, exceptions.Throttled):
        response = drf_exception_handler(exc, context)  # sets Retry-After
        problem = (
            f"Rate limit exceeded: each API key may make {ingest_rate_in_words()} to the ingest "
            f"API. Retry after {response['Retry-After']} seconds."
        )
        response.data = {"detail": f"{problem} {REFUSED}", "errors": {"rate": [problem]}}
        return response
    if isinstance(exc, (OperationalError, InterfaceError)):
        # A query that happened must never be lost: tell the client to send it again. The
        # transaction was rolled back, so the retry (same client_ref) records it exactly once.
        request = context["request"]
        logger.exception("Database unavailable while answering %s", request.path)
        set_rollback()
        problem = "The database is unavailable or out of space just now."
        if request.method == "POST":
            problem += (
                " Nothing was recorded: send the same request again (same client_ref) after "
                f"{DATABASE_RETRY_AFTER} seconds."
            )
        else:
            problem += f" Try again after {DATABASE_RETRY_AFTER} seconds."
        return Response(
            {"detail": problem, "errors": {"database": [problem]}},
            status=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    return drf_exception_handler(exc, context)


class EntryPagination(CursorPagination):
    ordering = "-sequence"
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


def _search_filters(request) -> dict:
    form = EntrySearchForm(request.query_params)
    if not form.is_valid():
        raise exceptions.ValidationError(form.errors)
    return form.cleaned_data


def _record_access(request, action: str, filters: dict, count: int) -> None:
    record_access(
        user=request.user,
        action=action,
        path=request.get_full_path(),
        filters={k: str(v) for k, v in filters.items() if v not in (None, "")},
        row_count=count,
    )


class QueryCollectionView(APIView):
    """POST (integrations): record queries. GET (auditors): search the log, cursor-paginated."""

    authentication_classes = [IntegrationKeyAuthentication, SessionAuthentication]
    throttle_classes = [IngestRateThrottle]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsIntegration()]
        return [IsAuditor()]

    @extend_schema(
        operation_id="search_queries",
        parameters=[
            OpenApiParameter(name, str, required=False) for name in EntrySearchForm.base_fields
        ],
        responses={200: EntrySerializer(many=True), 400: PARAMETER_ERRORS, **AUDITOR_ERRORS},
    )
    def get(self, request):
        filters = _search_filters(request)
        paginator = EntryPagination()
        entries = search_entries(filters).select_related("operator")
        page = paginator.paginate_queryset(
            entries.prefetch_related("outcomes").order_by("-sequence"), request, view=self
        )
        attach_flags(page)
        _record_access(request, AccessRecord.Action.SEARCH, filters, len(page))
        return paginator.get_paginated_response(EntrySerializer(page, many=True).data)

    @extend_schema(
        operation_id="record_queries",
        request=QueryInSerializer,
        responses={
            201: RecordedQuerySerializer,
            200: OpenApiResponse(RecordedQuerySerializer, description="Idempotent replay."),
            **KEY_ERRORS,
            409: ErrorSerializer,
        },
        description="Send one query object, or a JSON array of 1 to 1000 of them; an array "
        'answers `{"results": [...]}` in order. Nothing is written unless all are accepted.',
    )
    def post(self, request):
        integration = request.auth
        queries, was_array = parse_queries(
            request.data,
            technologies=technology_query_types(),
            default_agency=integration.agency.code,
        )
        try:
            results = record_queries(integration=integration, queries=queries)
        except IdempotencyConflict as conflict:
            if was_array:
                refs = set(conflict.client_refs)
                conflict.positions = [i for i, q in enumerate(queries) if q.client_ref in refs]
            raise
        code = status.HTTP_201_CREATED if any(r.created for r in results) else status.HTTP_200_OK
        if was_array:
            return Response({"results": [r.as_response() for r in results]}, status=code)
        return Response(results[0].as_response(), status=code)


class EntryDetailAPIView(APIView):
    """GET (auditors): one entry with its flags, outcomes and review status."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuditor]

    @extend_schema(
        operation_id="get_query",
        responses={200: EntrySerializer, 404: ErrorSerializer, **AUDITOR_ERRORS},
    )
    def get(self, request, sequence: int):
        entries = with_review_status(
            QueryLogEntry.objects.select_related("operator").prefetch_related("outcomes")
        )
        entry = get_object_or_404(entries, sequence=sequence)
        attach_flags([entry])
        _record_access(request, AccessRecord.Action.VIEW, {"sequence": sequence}, 1)
        return Response(EntrySerializer(entry).data)


class OutcomeView(APIView):
    """POST: record what came of a query made by this integration's agency."""

    authentication_classes = [IntegrationKeyAuthentication]
    permission_classes = [IsIntegration]
    throttle_classes = [IngestRateThrottle]

    @extend_schema(
        operation_id="record_outcome",
        request=OutcomeInSerializer,
        responses={201: OutcomeOutSerializer, **KEY_ERRORS, 404: ErrorSerializer},
    )
    def post(self, request, sequence: int):
        entry = get_object_or_404(
            QueryLogEntry, sequence=sequence, integration__agency=request.auth.agency
        )
        serializer = OutcomeInSerializer(data=request.data)
        if not serializer.is_valid():
            return Response({"detail": REFUSED, "errors": serializer.errors}, status=400)
        outcome = record_outcome(integration=request.auth, entry=entry, **serializer.validated_data)
        return Response(OutcomeOutSerializer(outcome).data, status=status.HTTP_201_CREATED)


# --- The public, verifiable log (anonymous, read-only) ----------------------------------------


class PublicLogView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200:
            response.setdefault("Cache-Control", "public, max-age=30")
        return response


def _int_param(request, name: str, *, required: bool = True, minimum: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise exceptions.ValidationError({name: ["This parameter is required."]})
        return None
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: [f"'{raw[:30]}' is not a whole number."]}) from None
    if value < minimum:
        raise exceptions.ValidationError({name: [f"Must be at least {minimum}."]})
    return value


def _published_size() -> int:
    head = latest_tree_head()
    return head.tree_size if head else 0


class PublicKeyView(PublicLogView):
    @extend_schema(
        operation_id="log_public_key",
        responses={200: OpenApiTypes.OBJECT},
        description="The Ed25519 key that signs tree heads, and `verifier_key`: the same key as "
        "a C2SP signed-note verifier key (`<origin>+<key ID>+<base64>`), which checks the "
        "checkpoints served at `/tlog/checkpoint`.",
    )
    def get(self, request):
        return Response(
            {**signing.public_key_document(), "verifier_key": checkpoints.verifier_key()}
        )


class TreeHeadPagination(CursorPagination):
    ordering = "tree_size"
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


class TreeHeadListView(PublicLogView, generics.ListAPIView):
    """Every published tree head, oldest first: a verifier fetches earlier heads from here."""

    queryset = SignedTreeHead.objects.order_by("tree_size")
    serializer_class = TreeHeadSerializer
    pagination_class = TreeHeadPagination

    @extend_schema(
        operation_id="log_tree_heads",
        responses={
            200: TreeHeadSerializer(many=True),
            404: OpenApiResponse(ErrorSerializer, description="A cursor this list never gave."),
            **PUBLIC_ERRORS,
        },
        description="Every published tree head, oldest first, in pages (follow `next`).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TreeHeadView(PublicLogView):
    @extend_schema(
        operation_id="log_tree_head",
        parameters=[OpenApiParameter("tree_size", int, required=False)],
        responses={200: OpenApiTypes.OBJECT, 404: ErrorSerializer, **PUBLIC_ERRORS},
    )
    def get(self, request):
        size = _int_param(request, "tree_size", required=False)
        head = latest_tree_head() if size is None else tree_head_of_size(size)
        if head is None:
            raise exceptions.NotFound(
                "No tree head has been published yet."
                if size is None
                else f"No tree head of size {size} was published."
            )
        return Response(tree_head_document(head))


class EntriesView(PublicLogView):
    @extend_schema(
        operation_id="log_entries",
        parameters=[OpenApiParameter("start", int), OpenApiParameter("end", int)],
        responses={200: OpenApiTypes.OBJECT, **PUBLIC_ERRORS},
    )
    def get(self, request):
        start = _int_param(request, "start")
        end = _int_param(request, "end")
        limit = MAX_ENTRIES_PER_PAGE
        if end <= start:
            raise exceptions.ValidationError({"end": ["Must be greater than start."]})
        if end - start > limit:
            raise exceptions.ValidationError({"end": [f"At most {limit} entries per call."]})
        return Response({"entries": public_entries(start, end)})


class InclusionProofView(PublicLogView):
    @extend_schema(
        operation_id="log_inclusion_proof",
        parameters=[OpenApiParameter("leaf_index", int), OpenApiParameter("tree_size", int)],
        responses={200: OpenApiTypes.OBJECT, **PUBLIC_ERRORS},
    )
    def get(self, request):
        index = _int_param(request, "leaf_index")
        size = _int_param(request, "tree_size", minimum=1)
        published = _published_size()
        if size > published:
            raise exceptions.ValidationError(
                {"tree_size": [f"Larger than the latest published tree head ({published})."]}
            )
        if index >= size:
            raise exceptions.ValidationError({"leaf_index": ["Must be less than tree_size."]})
        return Response(
            {
                "leaf_index": index,
                "tree_size": size,
                "audit_path": inclusion_proof(index, size),
            }
        )


class ConsistencyProofView(PublicLogView):
    @extend_schema(
        operation_id="log_consistency_proof",
        parameters=[OpenApiParameter("first", int), OpenApiParameter("second", int)],
        responses={200: OpenApiTypes.OBJECT, **PUBLIC_ERRORS},
    )
    def get(self, request):
        first = _int_param(request, "first", minimum=1)
        second = _int_param(request, "second", minimum=1)
        published = _published_size()
        if second > published:
            raise exceptions.ValidationError(
                {"second": [f"Larger than the latest published tree head ({published})."]}
            )
        if first > second:
            raise exceptions.ValidationError({"first": ["Must not be greater than second."]})
        return Response(
            {
                "first": first,
                "second": second,
                "consistency": consistency_proof(first, second),
            }
        )
