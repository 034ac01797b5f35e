"""URLs of the reports API under /api/v1/."""

from django.urls import path

from reports import api

app_name = "reports-api"

urlpatterns = [
    path("stats/", api.StatisticsView.as_view(), name="stats"),
]
