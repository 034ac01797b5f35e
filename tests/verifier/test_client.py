"""Fetching: HTTP keep-alive, parallel requests in order, gzip, retries, errors; mirrors on disk."""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sightline_verifier.client import DirectorySource, HttpSource, open_source, parse_json
from sightline_verifier.errors import FetchError


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are written apart
    server: _Server

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.requests.append(self.path)
            server.ports.add(self.client_address[1])
            busy = server.busy_left > 0 and self.path == "/busy"
            if busy:
                server.busy_left -= 1
        if busy:
            self._send(503, b"busy")
        elif self.path.startswith("/gz/"):
            self._send(200, gzip.compress(self.path.encode()), {"Content-Encoding": "gzip"})
        elif self.path == "/missing":
            self._send(404, b'{"detail": "No such thing."}', {"Content-Type": "application/json"})
        elif self.path == "/not-json":
            self._send(200, b"{nope")
        else:
            self._send(200, self.path.encode())

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[str] = []
        self.ports: set[int] = set()
        self.busy_left = 0


@contextmanager
def running() -> Iterator[tuple[_Server, str]]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_requests_reuse_one_kept_alive_connection():
    with running() as (server, url):
        source = HttpSource(url, parallel=1)
        bodies = [source.get_bytes(f"/a/{i}") for i in range(20)]
        source.close()

    assert bodies == [f"/a/{i}".encode() for i in range(20)]
    assert len(server.ports) == 1


def test_parallel_fetches_come_back_in_order_on_a_few_connections():
    with running() as (server, url):
        source = HttpSource(url, parallel=4)
        bodies = list(source.get_many(f"/p/{i}" for i in range(300)))
        source.close()

    assert bodies == [f"/p/{i}".encode() for i in range(300)]
    assert 1 <= len(server.ports) <= 4
    assert source.requests == 300


def test_gzip_bodies_are_decoded():
    with running() as (_, url):
        source = HttpSource(url)
        assert source.get_bytes("/gz/tile") == b"/gz/tile"
        source.close()


def test_an_error_status_is_a_fetch_error_with_the_status_and_the_server_detail():
    with running() as (_, url):
        source = HttpSource(url + "/")
        with pytest.raises(FetchError, match=r"/missing answered HTTP 404: .*No such thing") as err:
            source.get_bytes("/missing")
        assert err.value.status == 404
        with pytest.raises(FetchError, match=r"did not answer with valid JSON"):
            source.get_json("/not-json")
        source.close()


def test_a_busy_server_is_retried():
    with running() as (server, url):
        server.busy_left = 2
        source = HttpSource(url, retries=2)
        source.retry_pause = 0.01
        assert source.get_bytes("/busy") == b"/busy"
        server.busy_left = 3
        with pytest.raises(FetchError) as error:
            source.get_bytes("/busy")
        assert error.value.status == 503
        source.close()


def test_a_refused_connection_is_a_fetch_error_without_status():
    with running() as (_, url):
        pass  # closed: nothing listens on the port any more
    source = HttpSource(url)
    with pytest.raises(FetchError, match=r"could not fetch http://127.0.0.1:\d+/x") as error:
        source.get_bytes("/x")
    assert error.value.status is None


def test_a_mirror_directory_serves_plain_and_gzipped_files(tmp_path):
    (tmp_path / "tile" / "0").mkdir(parents=True)
    (tmp_path / "checkpoint").write_bytes(b"plain\n")
    (tmp_path / "tile" / "0" / "000").write_bytes(gzip.compress(b"zipped in place"))
    (tmp_path / "tile" / "0" / "001.gz").write_bytes(gzip.compress(b"zipped beside"))
    raw = b"\x1f\x8b" + bytes(30)  # a hash tile that merely starts like gzip
    (tmp_path / "tile" / "0" / "002").write_bytes(raw)
    source = DirectorySource(tmp_path)

    assert source.get_bytes("/checkpoint") == b"plain\n"
    assert source.get_bytes("/tile/0/000") == b"zipped in place"
    assert source.get_bytes("/tile/0/001") == b"zipped beside"
    assert source.get_bytes("/tile/0/002") == raw
    assert list(source.get_many(["/checkpoint", "/tile/0/001"])) == [b"plain\n", b"zipped beside"]
    with pytest.raises(FetchError) as missing:
        source.get_bytes("/tile/0/003")
    assert missing.value.status == 404
    with pytest.raises(FetchError):
        source.get_bytes("/../etc/passwd")


def test_open_source_tells_sites_from_mirrors(tmp_path):
    site = open_source("https://sightline.example.org/")
    assert (site.tlog_prefix, site.has_api) == ("/tlog", True)
    mirror = open_source("https://archive.example.org/sightline", mirror=True)
    assert (mirror.tlog_prefix, mirror.has_api) == ("", False)
    assert isinstance(open_source(tmp_path.as_uri(), mirror=True), DirectorySource)
    assert isinstance(open_source(str(tmp_path), mirror=True), DirectorySource)
    with pytest.raises(ValueError, match="is not an http:// or https:// address"):
        open_source(tmp_path.as_uri())
    with pytest.raises(ValueError, match="is not an http:// or https:// address"):
        open_source("ftp://example.org/", mirror=True)
    with pytest.raises(ValueError, match="is not a directory"):
        open_source(str(tmp_path / "nothing"), mirror=True)


@pytest.mark.parametrize(
    "body", [b'{"a": 1, "a": 2}', b'{"a": NaN}', b"\xff"], ids=["duplicate", "nan", "utf8"]
)
def test_json_that_could_be_read_two_ways_is_refused(body):
    with pytest.raises(ValueError):
        parse_json(body)
