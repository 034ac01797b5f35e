"""The log as a C2SP tiled log under /tlog/: the checkpoint, hash tiles and entry bundles.

Public and read-only, like static files: anonymous GET only, readable from any origin (CORS),
no cookies involved. Full tiles never change and are cached for long; the checkpoint changes
with each head and is never cached.
"""

import gzip

from django.http import Http404, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe
from sightline_verifier.tiles import TileError

from audit.transparency import checkpoints, tiles
from audit.transparency.selectors import latest_tree_head

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
# What Sunlight and other tiled logs send: full tiles are immutable.
IMMUTABLE = "public, max-age=604800, immutable"
# A partial tile's bytes never change either, but the log may stop serving it once the full
# tile exists (the spec allows it): cache for a day only.
PARTIAL = "public, max-age=86400"


def _public(response: HttpResponse, cache_control: str) -> HttpResponse:
    response["Cache-Control"] = cache_control
    response["Access-Control-Allow-Origin"] = "*"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def checkpoint(request):
    """The latest checkpoint, with every cosignature held for its size."""
    head = latest_tree_head()
    if head is None:
        raise Http404("No tree head has been published yet.")
    return _public(
        HttpResponse(checkpoints.cosigned_checkpoint(head), content_type=TEXT), "no-store"
    )


def _tile(path: str, *, entries: bool):
    try:
        return tiles.published_tile(path, entries=entries)
    except (TileError, tiles.TileNotPublished):
        raise Http404("No such tile in any published tree.") from None


@require_safe
def hash_tile(request, path: str):
    """A hash tile, ``tile/<L>/<N>[.p/<W>]``."""
    tile = _tile(path, entries=False)
    response = HttpResponse(tiles.hash_tile_bytes(tile), content_type=BINARY)
    return _public(response, IMMUTABLE if tile.is_full else PARTIAL)


@require_safe
def entry_bundle(request, path: str):
    """An entry bundle, ``tile/entries/<N>[.p/<W>]``: gzip-compressed when the client accepts."""
    tile = _tile(f"entries/{path}", entries=True)
    data = tiles.entry_bundle_bytes(tile)
    response = HttpResponse(content_type=BINARY)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        # JSON leaves compress about fivefold; mtime=0 keeps the bytes identical every time.
        response.content = gzip.compress(data, mtime=0)
        response["Content-Encoding"] = "gzip"
    else:
        response.content = data
    patch_vary_headers(response, ["Accept-Encoding"])
    return _public(response, IMMUTABLE if tile.is_full else PARTIAL)
