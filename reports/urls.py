"""Pages of the reports app: the public home page and the council reports."""

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("reports/", views.CouncilReportView.as_view(), name="council-dashboard"),
    path("reports/annual/<slug:slug>/", views.AnnualReportView.as_view(), name="annual-report"),
    path("assets/plotly.min.js", views.plotly_js, name="plotly-js"),
]
