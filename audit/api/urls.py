"""URLs of the audit API under /api/v1/."""

from django.urls import path, re_path

from audit.api import views as api

app_name = "audit-api"

urlpatterns = [
    # The slash is optional: a client posting to .../queries must not be redirected (a
    # redirect drops the body) but recorded.
    re_path(r"^queries/?$", api.QueryCollectionView.as_view(), name="queries"),
    path("queries/<int:sequence>/", api.EntryDetailAPIView.as_view(), name="query-detail"),
    path("queries/<int:sequence>/outcomes/", api.OutcomeView.as_view(), name="outcomes"),
    path("log/public-key", api.PublicKeyView.as_view(), name="public-key"),
    path("log/tree-head", api.TreeHeadView.as_view(), name="tree-head"),
    path("log/tree-heads", api.TreeHeadListView.as_view(), name="tree-heads"),
    path("log/entries", api.EntriesView.as_view(), name="entries"),
    path("log/proof/inclusion", api.InclusionProofView.as_view(), name="inclusion-proof"),
    path("log/proof/consistency", api.ConsistencyProofView.as_view(), name="consistency-proof"),
]
