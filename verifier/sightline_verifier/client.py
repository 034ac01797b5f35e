"""Fetching a log's documents: over HTTP(S) with keep-alive and a few parallel requests, or
from a static mirror (a directory written by `manage.py export_tiles`, or its file:// URL);
and reading its tiles, from the full tile when a partial one is gone.

Nothing here judges what it fetched: a document that cannot be had raises FetchError (with the
HTTP status when the server answered one), and the verification modules decide what it means.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import threading
import time
import urllib.parse
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sightline_verifier.errors import FetchError, VerificationFailed
from sightline_verifier.merkle import HASH_SIZE
from sightline_verifier.tiles import Tile

__all__ = [
    "USER_AGENT",
    "DirectorySource",
    "FetchError",
    "HttpSource",
    "Source",
    "TileReader",
    "open_source",
    "parse_json",
]

VERSION = "2"
USER_AGENT = f"sightline-verifier/{VERSION} (Python http.client)"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_GZIP_MAGIC = b"\x1f\x8b"


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Decode strict JSON: UTF-8, no duplicate keys, no NaN/Infinity (ValueError otherwise).

    Strict because the verifier recomputes hashes from what it decoded: an ambiguous document
    could mean one thing to this program and another to someone else's.
    """
    return json.loads(
        body.decode("utf-8"),
        object_pairs_hook=_reject_duplicate_keys,
        parse_constant=_reject_constant,
    )


class Source:
    """Where a log's documents come from; paths are absolute ("/tlog/checkpoint").

    Subclasses implement ``get_bytes``; ``get_many`` may fetch in parallel but yields in order.
    """

    #: Path prefix of the C2SP tiles ("/tlog" on a live site, "" on a mirror).
    tlog_prefix = "/tlog"
    #: Whether the site has Sightline's JSON API (/api/v1/...); a static mirror has not.
    has_api = True

    def url(self, path: str) -> str:
        """A human-readable address of ``path``, for messages."""
        return path

    def get_bytes(self, path: str) -> bytes:
        """The body at ``path``; FetchError when it cannot be had."""
        raise NotImplementedError

    #: Requests (or file reads) in flight in ``get_many``.
    parallel = 1
    _pool: ThreadPoolExecutor | None = None

    def get_many(self, paths: Iterable[str]) -> Iterator[bytes]:
        """The bodies at ``paths``, in order, up to ``parallel`` fetched at once.

        At most a few times ``parallel`` bodies wait in memory, however many paths there are.
        """
        if self.parallel <= 1:
            for path in paths:
                yield self.get_bytes(path)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="fetch")
        window = 4 * self.parallel
        pending: deque[Future[bytes]] = deque()
        try:
            for path in paths:
                pending.append(self._pool.submit(self.get_bytes, path))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def get_json(self, path: str) -> Any:
        """The decoded (strict) JSON at ``path``; FetchError if missing or not JSON."""
        body = self.get_bytes(path)
        try:
            return parse_json(body)
        except ValueError as error:
            raise FetchError(
                f"{self.url(path)} did not answer with valid JSON ({error})."
            ) from None

    def close(self) -> None:
        """Release connections and threads (safe to call twice)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _gunzip(body: bytes, where: str) -> bytes:
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as error:
        raise FetchError(f"{where}: the gzip data is damaged ({error}).") from None


class HttpSource(Source):
    """A live site over HTTP(S): one keep-alive connection per thread, ``parallel`` threads.

    Busy answers (429, 502-504) and dropped connections are retried ``retries`` times with a
    short pause; any other error is raised at once as FetchError.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        retries: int = 2,
        parallel: int = 4,
        user_agent: str = USER_AGENT,
    ) -> None:
        """Prepare a client for the site at ``base_url`` (http or https; ValueError otherwise)."""
        parts = urllib.parse.urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"'{base_url}' is not an http:// or https:// address.")
        self.scheme = parts.scheme
        self.netloc = parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.base_url = urllib.parse.urlunsplit(
            (parts.scheme, parts.netloc, self.base_path, "", "")
        )
        self.timeout = timeout
        self.retries = retries
        self.parallel = max(1, parallel)
        self.user_agent = user_agent
        #: Seconds to wait before the first retry (then twice that, ...).
        self.retry_pause = 1.0
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        #: Bytes received (after any gzip decoding) and requests made, for the summary line.
        self.bytes_received = 0
        self.requests = 0

    def url(self, path: str) -> str:
        return self.base_url + path

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self.netloc, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def get_bytes(self, path: str) -> bytes:
        url = self.url(path)
        headers = {
            "User-Agent": self.user_agent,
            "Accept-Encoding": "gzip, identity",
            "Accept": "application/json" if path.startswith("/api/") else "*/*",
        }
        attempt = 0
        while True:
            try:
                conn = self._connection()
                conn.request("GET", self.base_path + path, headers=headers)
                response = conn.getresponse()
                body = response.read(MAX_RESPONSE_BYTES + 1)
                if response.will_close:
                    self._drop_connection()
            except (OSError, http.client.HTTPException) as error:
                self._drop_connection()
                # A kept-alive connection the server closed meanwhile fails once: retry it.
                if attempt < self.retries and not isinstance(error, ConnectionRefusedError):
                    attempt += 1
                    time.sleep(0.1 * self.retry_pause * attempt)
                    continue
                raise FetchError(f"could not fetch {url}: {error}") from None
            status = response.status
            if status in _RETRY_STATUSES and attempt < self.retries:
                attempt += 1
                time.sleep(self.retry_pause * attempt)
                continue
            if len(body) > MAX_RESPONSE_BYTES:
                raise FetchError(f"{url} sent more than {MAX_RESPONSE_BYTES} bytes.")
            if response.getheader("Content-Encoding", "").strip().lower() == "gzip":
                body = _gunzip(body, url)
            if status != 200:
                raise FetchError(
                    f"{url} answered HTTP {status}{_error_detail(body)}", status=status
                )
            with self._lock:
                self.requests += 1
                self.bytes_received += len(body)
            return body

    def close(self) -> None:
        super().close()
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _error_detail(body: bytes) -> str:
    """The server's own explanation of an HTTP error, if it sent a JSON one."""
    try:
        document = parse_json(body[: 64 * 1024])
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(document, dict) and document:
        return f": {json.dumps(document, ensure_ascii=False)[:300]}"
    return ""


class DirectorySource(Source):
    """A static mirror on disk: ``<root>/checkpoint``, ``<root>/tile/...``.

    A file may be stored gzip-compressed, as it is or with a ``.gz`` suffix; both are read.
    """

    tlog_prefix = ""
    has_api = False

    def __init__(self, root: Path, *, parallel: int = 4) -> None:
        """Read the mirror at ``root`` (ValueError unless it is a directory)."""
        if not root.is_dir():
            raise ValueError(f"'{root}' is not a directory (a mirror written by export_tiles).")
        self.root = root.resolve()
        self.parallel = max(1, parallel)
        self._lock = threading.Lock()
        self.bytes_received = 0
        self.requests = 0

    def url(self, path: str) -> str:
        return str(self.root / path.lstrip("/"))

    def get_bytes(self, path: str) -> bytes:
        relative = path.lstrip("/")
        if ".." in relative.split("/") or "?" in relative:
            raise FetchError(f"{path} is not a file of a mirror.", status=404)
        target = self.root / relative
        try:
            body = target.read_bytes()
        except FileNotFoundError:
            try:
                body = _gunzip(target.with_name(target.name + ".gz").read_bytes(), str(target))
            except FileNotFoundError:
                raise FetchError(f"{target} is not in the mirror.", status=404) from None
            except OSError as error:
                raise FetchError(f"cannot read {target}: {error}") from None
        except OSError as error:
            raise FetchError(f"cannot read {target}: {error}") from None
        else:
            if body[:2] == _GZIP_MAGIC:
                # A raw hash tile may begin with these two bytes by chance: only a body that
                # really decompresses is taken as gzip.
                with contextlib.suppress(OSError, EOFError, zlib.error):
                    body = gzip.decompress(body)
        with self._lock:
            self.requests += 1
            self.bytes_received += len(body)
        return body


def open_source(location: str, *, mirror: bool = False, **http_options: Any) -> Source:
    """The source at ``location``: a live site's http(s) URL or, with ``mirror``, a static
    mirror (tiles at its root, no JSON API) as an http(s) URL, a file:// URL or a directory.

    ValueError for anything else.
    """
    parts = urllib.parse.urlsplit(location.strip())
    if parts.scheme in ("http", "https"):
        source = HttpSource(location, **http_options)
        if mirror:
            source.tlog_prefix = ""
            source.has_api = False
        return source
    if not mirror:
        raise ValueError(
            f"'{location}' is not an http:// or https:// address (a static mirror's directory "
            "or file:// URL is given with --mirror)."
        )
    parallel = http_options.get("parallel", 4)
    if parts.scheme == "file":
        return DirectorySource(Path(urllib.parse.unquote(parts.path)), parallel=parallel)
    if parts.scheme == "":
        return DirectorySource(Path(location), parallel=parallel)
    raise ValueError(
        f"'{location}' is not an http:// or https:// address, a file:// URL or a directory."
    )


class TileReader:
    """Reads hash tiles and bundles under the source's prefix; a missing partial tile is read
    from the full tile that replaced it (the spec lets a log delete partials)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.prefix = source.tlog_prefix

    def path(self, tile: Tile) -> str:
        return f"{self.prefix}/{tile.path}"

    def read(self, tile: Tile) -> bytes:
        try:
            data = self.source.get_bytes(self.path(tile))
        except FetchError as error:
            if tile.is_full or error.status != 404:
                raise refused(error, tile.path) from None
            try:
                data = self.source.get_bytes(self.path(tile.full()))
            except FetchError as again:
                raise refused(again, tile.path) from None
            if tile.entries:
                return data  # the caller takes the first ``width`` entries
            return data[: tile.width * HASH_SIZE]
        return data

    def read_many(self, wanted: Iterable[Tile]) -> Iterator[bytes]:
        """Full tiles in order, fetched in parallel; partial ones one by one with fallback."""
        wanted = list(wanted)
        full = [t for t in wanted if t.is_full]
        bodies = self.source.get_many(self.path(t) for t in full)
        for tile in wanted:
            if tile.is_full:
                try:
                    yield next(bodies)
                except FetchError as error:
                    raise refused(error, tile.path) from None
            else:
                yield self.read(tile)


def refused(error: FetchError, what: str) -> Exception:
    """A 4xx for a tile the checkpoint implies is a failure of the log; anything else is not."""
    if error.status is not None and 400 <= error.status < 500 and error.status != 429:
        return VerificationFailed(
            f"{what}: the log does not serve it, although its checkpoint implies it ({error})."
        )
    return error
