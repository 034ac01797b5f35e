"""Root URLs: each app brings its own; the shell adds admin, login, API docs and health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal import twofactor, views

admin.site.site_header = "Sightline administration"
admin.site.site_title = "Sightline"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/two-factor/setup/", twofactor.setup, name=twofactor.SETUP),
    path("accounts/two-factor/verify/", twofactor.verify, name=twofactor.VERIFY),
    path("accounts/", include("django.contrib.auth.urls")),
    path("language/<str:code>/", views.switch_language, name="switch-language"),
    path("api/v1/", include("audit.api.urls")),
    path("api/v1/", include("reports.api_urls")),
    path("tlog/", include("audit.transparency.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("audit.urls")),
    path("", include("reports.urls")),
]
