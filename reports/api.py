"""The public statistics API: counts that anyone can recompute from the signed public leaves."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.api.schema import NOT_PUBLISHED, PUBLIC_ERRORS
from audit.transparency import selectors as log_selectors
from reports.snapshots import public_statistics, snapshot_for


class StatisticsView(APIView):
    """GET: counts by technology and month, offense category and agency for a signed head."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="public_statistics",
        parameters=[OpenApiParameter("tree_size", int, required=False)],
        responses={200: OpenApiTypes.OBJECT, 404: NOT_PUBLISHED, **PUBLIC_ERRORS},
    )
    def get(self, request):
        raw = request.query_params.get("tree_size")
        if raw is None:
            head = log_selectors.latest_tree_head()
            if head is None:
                raise exceptions.NotFound("No tree head has been published yet.")
        else:
            if not raw.isdigit():
                raise exceptions.ValidationError({"tree_size": ["Must be a whole number."]})
            head = log_selectors.tree_head_of_size(int(raw))
            if head is None:
                raise exceptions.NotFound(f"No tree head of size {raw} was published.")
        snapshot = snapshot_for(head.tree_size)
        document = {
            "tree_size": head.tree_size,
            "tree_head": log_selectors.tree_head_document(head),
            **public_statistics(snapshot, settings.SIGHTLINE_PUBLIC_MIN_CELL),
        }
        response = Response(document)
        response["Cache-Control"] = "public, max-age=30"
        return response
