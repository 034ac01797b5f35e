"""Pages of the audit app: the public verification page and the auditor workspace."""

from django.urls import include, path

from audit.workspace import views

app_name = "audit"

urlpatterns = [
    path("log/", views.LogView.as_view(), name="log"),
    path("audit/", views.WorkspaceView.as_view(), name="workspace"),
    path("audit/entries/<int:sequence>/", views.EntryDetailView.as_view(), name="entry-detail"),
    path("audit/review-queue/", views.ReviewQueueView.as_view(), name="review-queue"),
    path("audit/sample/", views.SampleView.as_view(), name="sample"),
    path("audit/summary/", views.SummaryView.as_view(), name="summary"),
    path("audit/export/", views.ExportView.as_view(), name="export"),
    path("audit/access-log/", views.AccessLogView.as_view(), name="access-log"),
    path("", include("audit.imports.urls")),
]
