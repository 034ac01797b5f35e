"""URLs of the C2SP tiled log, included under /tlog/."""

from django.urls import path, re_path

from audit.transparency import views

app_name = "tlog"

urlpatterns = [
    path("checkpoint", views.checkpoint, name="checkpoint"),
    re_path(
        r"^tile/entries/(?P<path>[0-9x/]+(?:\.p/[0-9]+)?)$", views.entry_bundle, name="entries"
    ),
    re_path(r"^tile/(?P<path>[0-9]+/[0-9x/]+(?:\.p/[0-9]+)?)$", views.hash_tile, name="tile"),
]
