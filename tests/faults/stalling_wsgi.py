"""The portal's WSGI app for the killed-worker fault test: the first big ingest batch stalls inside
its write transaction (after the entries and Merkle nodes are written, before the commit) so the
test can SIGKILL the worker exactly there. Test-only; never imported by the portal."""

import os
import time
from pathlib import Path

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from audit.log import signals  # noqa: E402  (after Django is set up)

MARKER = Path(os.environ["FAULT_MARKER"])


def _stall_first_batch(sender, entries, **kwargs):
    if MARKER.exists() or len(entries) < int(os.environ.get("FAULT_STALL_MIN_ENTRIES", "100")):
        return  # small batches, and the retry, go through
    MARKER.write_text(f"{os.getpid()} {len(entries)}")
    time.sleep(float(os.environ.get("FAULT_STALL_SECONDS", "60")))


signals.queries_recorded.connect(_stall_first_batch, weak=False)
