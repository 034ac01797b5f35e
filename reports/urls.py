"""Pages of the reports app: the public transparency pages and open data, and council reports."""

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("technologies/<slug:slug>/", views.TechnologyView.as_view(), name="technology"),
    path("spending/", views.SpendingView.as_view(), name="spending"),
    path("open-data/", views.OpenDataView.as_view(), name="open-data"),
    path("open-data/leaves.csv", views.leaves_download, {"fmt": "csv"}, name="leaves-csv"),
    path("open-data/leaves.jsonl", views.leaves_download, {"fmt": "jsonl"}, name="leaves-jsonl"),
    path("open-data/daily.csv", views.daily_download, name="daily-csv"),
    path("open-data/spending.csv", views.spending_download, name="spending-csv"),
    path("open-data/tree-head.json", views.tree_head_download, name="tree-head-json"),
    path("open-data/datapackage.json", views.datapackage, name="datapackage"),
    path("reports/", views.CouncilReportView.as_view(), name="council-dashboard"),
    path("reports/annual/<slug:slug>/", views.AnnualReportView.as_view(), name="annual-report"),
    path("assets/plotly.min.js", views.plotly_js, name="plotly-js"),
]
