"""Pages of the audit app: the public verification page."""

from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("log/", views.LogView.as_view(), name="log"),
]
