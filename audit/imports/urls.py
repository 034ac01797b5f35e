"""Pages of vendor imports, included in the audit app's urls (namespace `audit`)."""

from django.urls import path

from audit.imports import views

urlpatterns = [
    path("audit/imports/", views.ImportsView.as_view(), name="imports"),
    path("audit/imports/<int:pk>/", views.ImportDetailView.as_view(), name="import-detail"),
]
