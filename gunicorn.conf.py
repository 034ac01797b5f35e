"""gunicorn settings for `make serve` (production); every value can be overridden from the env.

HOST/PORT       where to listen (default 127.0.0.1:8000: a TLS-terminating proxy sits in front)
WEB_CONCURRENCY sync workers (default 2 x usable cores + 1)
GUNICORN_TIMEOUT seconds a worker may spend on one request (default 1800)
"""

import os


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours CPU pinning and container limits
    except AttributeError:
        return os.cpu_count() or 1


wsgi_app = "portal.wsgi:application"
bind = [f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '8000'}"]
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _usable_cores() + 1)
worker_class = "sync"
# A sync worker streaming an export sends no heartbeat: with gunicorn's default 30 s a large
# export was cut off mid-file. A whole-log CSV export of 1M entries takes minutes.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 1800)
graceful_timeout = 60
keepalive = 5
# The access log goes to standard output (journald or the container log collects it); errors to
# standard error. Behind the proxy the remote address is the proxy's, so log X-Forwarded-For.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %({x-forwarded-for}i)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# gunicorn's runtime control socket (`gunicornc`) defaults to one path per user account
# ($HOME/.gunicorn/gunicorn.ctl), which two instances on one machine would share. Off unless
# GUNICORN_CONTROL_SOCKET names a path for this instance.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
