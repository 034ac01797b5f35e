"""Caching of public pages: one rendered copy per page, language and version of the data.

Anonymous visitors all see the same page, so it is rendered once and served from the cache
until its data changes. The `version` (for the transparency pages, the size of the latest
signed tree head) is part of the key, so publishing a new head invalidates every cached page
at once; SIGHTLINE_PUBLIC_PAGE_TIMEOUT bounds how stale the figures that are not in the signed
log can get.
Signed-in users always get a fresh page (their navigation differs and carries a CSRF token).
"""

import hashlib
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language

# Response headers kept with a cached page; the middleware adds the rest (CSP, security).
KEPT_HEADERS = ("Content-Type", "Content-Disposition", "Content-Language")


def public_page_cache(
    version: Callable[[], object], params: tuple[str, ...] = (), max_age: int = 60
):
    """Cache anonymous GETs of a view. Only the query parameters in `params` (those the view
    reads) are part of the key, so made-up parameters cannot push real pages out of the cache
    or force a render per request."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in ("GET", "HEAD") or request.user.is_authenticated:
                return view(request, *args, **kwargs)
            used = [(name, request.GET.getlist(name)) for name in params if name in request.GET]
            raw = f"{request.path}|{used}|{get_language()}|{version()}"
            key = "public-page:" + hashlib.sha256(raw.encode()).hexdigest()
            cached = cache.get(key)
            if cached is not None:
                content, headers = cached
                response = HttpResponse(content)
                for name, value in headers.items():
                    response[name] = value
                response["X-Page-Cache"] = "hit"
            else:
                response = view(request, *args, **kwargs)
                if response.status_code == 200 and not response.streaming:

                    def store(rendered):
                        headers = {h: rendered[h] for h in KEPT_HEADERS if h in rendered}
                        cache.set(
                            key,
                            (rendered.content, headers),
                            settings.SIGHTLINE_PUBLIC_PAGE_TIMEOUT,
                        )

                    if getattr(response, "is_rendered", True):
                        store(response)
                    else:
                        response.add_post_render_callback(store)
                response["X-Page-Cache"] = "miss"
            patch_cache_control(response, public=True, max_age=max_age)
            return response

        return wrapped

    return decorator
