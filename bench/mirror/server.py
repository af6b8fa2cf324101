"""Serve a wheelhouse on loopback with the public index's HTTP behaviour.

URLs::

    /simple/                       the project list (HTML or JSON by Accept)
    /simple/<project>/             a project's files; other spellings redirect to the PEP 503 name
    /files/<filename>              a distribution file (Range, HEAD)
    /files/<filename>.metadata     a wheel's core metadata (PEP 658 / 714)
    /-/stats                       the per-session counters as JSON

Traffic is counted under the current client session (``with mirror.session(name)``). Sessions
are time windows, not URLs, because a URL that differed from trial to trial would also change
every tool's cache keys: trials run one after another, so each trial is its own window.

Pages carry ``Cache-Control: max-age=600, public`` and an ``ETag`` (``If-None-Match`` gives
304); files carry ``Cache-Control: max-age=365000000, immutable, public``, ``ETag``,
``Last-Modified`` and ``Accept-Ranges: bytes``, as the public index sends them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from bench.errors import BenchError
from bench.mirror import pages
from bench.mirror.distfiles import DistFile, read_metadata, scan_wheelhouse
from bench.network.profiles import UNTHROTTLED, Profile
from bench.network.shaping import CHUNK, Pacer, wait_for

PAGE_CACHE_CONTROL = "max-age=600, public"
FILE_CACHE_CONTROL = "max-age=365000000, immutable, public"
DEFAULT_SESSION = "-"


@dataclass
class Counters:
    requests: int = 0
    bytes_sent: int = 0
    not_modified: int = 0
    files_served: int = 0
    file_bytes: int = 0
    metadata_served: int = 0
    pages_served: int = 0


class MirrorServer:
    """The index, started and stopped in-process (``with MirrorServer(...) as mirror``)."""

    def __init__(
        self,
        wheelhouse: str | Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        profile: Profile = UNTHROTTLED,
    ) -> None:
        if not 0 <= port <= 65535:
            raise BenchError(f"port {port} is out of range; give 1-65535, or 0 for a free port")
        self.wheelhouse = Path(wheelhouse)
        self.profile = profile
        self.files = {f.filename: f for f in scan_wheelhouse(self.wheelhouse)}
        self.projects = pages.group_by_project(list(self.files.values()))
        self.link = Pacer(profile.link_bytes_per_s) if profile.link_bytes_per_s > 0 else None
        self._counters: dict[str, Counters] = defaultdict(Counters)
        self._lock = threading.Lock()
        self._metadata: dict[str, bytes] = {}
        self.current_session = DEFAULT_SESSION
        try:
            self._httpd = _Server((host, port), _handler_for(self))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise BenchError(
                    f"port {port} on {host} is already in use; pick another with --port, "
                    "or 0 for a free one"
                ) from None
            raise BenchError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MirrorServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses and counters ------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def index_url(self) -> str:
        return f"{self.url}/simple/"

    @contextmanager
    def session(self, name: str) -> Iterator[None]:
        """Count every request made until the block ends under ``name``."""
        previous = self.current_session
        self.current_session = name
        try:
            yield
        finally:
            self.current_session = previous

    def stats(self, session: str = DEFAULT_SESSION) -> Counters:
        with self._lock:
            return Counters(**asdict(self._counters[session]))

    def all_stats(self) -> dict[str, Counters]:
        with self._lock:
            return {name: Counters(**asdict(c)) for name, c in self._counters.items()}

    def count(self, session: str, **increments: int) -> None:
        with self._lock:
            counters = self._counters[session]
            for name, value in increments.items():
                setattr(counters, name, getattr(counters, name) + value)

    def metadata_of(self, file: DistFile) -> bytes:
        with self._lock:
            cached = self._metadata.get(file.filename)
        if cached is None:
            cached = read_metadata(self.wheelhouse / file.filename)
            with self._lock:
                self._metadata[file.filename] = cached
        return cached


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A client that sends "Connection: close" (urllib, as setup-uv's install uses) leaves the
    # server's side of each connection in TIME_WAIT; without SO_REUSEADDR the fixed port then
    # stays refused for a minute after the run. Linux still refuses a second live listener.
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        """A client that hangs up mid-download (uv stops fetching when one file fails) is not
        the mirror's error: say nothing. Anything else is printed as the standard server does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler_for(mirror: MirrorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.mirror = mirror
    return Handler


class _Handler(BaseHTTPRequestHandler):
    mirror: MirrorServer
    protocol_version = "HTTP/1.1"
    server_version = "ci-cache-bench-mirror"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: counters say what happened

    def setup(self) -> None:
        super().setup()
        profile = self.mirror.profile
        self.pacer = Pacer(profile.index_bytes_per_s) if profile.index_bytes_per_s > 0 else None

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    # -- routing ---------------------------------------------------------------------------

    def _respond(self, *, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        session = self.mirror.current_session
        self.session = session
        self.send_body = send_body
        self.mirror.count(session, requests=1)
        latency = self.mirror.profile.index_latency_s
        if latency > 0:
            time.sleep(latency)
        if path == "/-/stats":
            stats = {k: asdict(v) for k, v in self.mirror.all_stats().items()}
            self._send_bytes(200, json.dumps(stats).encode(), "application/json", cache=None)
        elif path in ("/simple", "/simple/"):
            media = pages.choose_format(self.headers.get("Accept", ""))
            self._send_page(pages.root_page(list(self.mirror.projects), media), media)
        elif path.startswith("/simple/"):
            self._project(path[len("/simple/") :].strip("/"))
        elif path.startswith("/files/"):
            self._file(path[len("/files/") :])
        else:
            self._send_error(404, "not found")

    def _project(self, name: str) -> None:
        canonical = canonicalize_name(name)
        if canonical not in self.mirror.projects:
            self._send_error(404, f"no project named {name}")
            return
        if name != canonical:
            self.send_response(301)
            self.send_header("Location", f"/simple/{canonical}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        media = pages.choose_format(self.headers.get("Accept", ""))
        body = pages.project_page(canonical, self.mirror.projects[canonical], "../../files/", media)
        self._send_page(body, media)

    def _file(self, filename: str) -> None:
        if filename.endswith(".metadata"):
            dist = self.mirror.files.get(filename[: -len(".metadata")])
            if dist is None or not dist.is_wheel:
                self._send_error(404, f"no metadata for {filename}")
                return
            body = self.mirror.metadata_of(dist)
            etag = f'"{dist.metadata_sha256[:32]}"'
            if self._not_modified(etag):
                return
            self.mirror.count(self.session, metadata_served=1)
            self._send_bytes(
                200, body, "application/octet-stream", cache=FILE_CACHE_CONTROL, etag=etag,
                last_modified=dist.mtime,
            )  # fmt: skip
            return
        dist = self.mirror.files.get(filename)
        if dist is None:
            self._send_error(404, f"no file named {filename}")
            return
        etag = f'"{dist.sha256[:32]}"'
        if self._not_modified(etag):
            return
        start, end = 0, dist.size - 1
        status = 200
        wanted = self.headers.get("Range")
        if wanted:
            parsed = _parse_range(wanted, dist.size)
            if parsed is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{dist.size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = parsed
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", FILE_CACHE_CONTROL)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(dist.mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{dist.size}")
        self.end_headers()
        if not self.send_body:
            return
        self.mirror.count(self.session, files_served=1)
        remaining = length
        try:
            with open(self.mirror.wheelhouse / filename, "rb") as handle:
                handle.seek(start)
                while remaining > 0:
                    chunk = handle.read(min(CHUNK, remaining))
                    if not chunk:
                        break
                    self._write(chunk)
                    remaining -= len(chunk)
        finally:
            # Counted once per response, not per chunk: this loop is the mirror's hot path.
            self.mirror.count(self.session, file_bytes=length - remaining)

    # -- responses -------------------------------------------------------------------------

    def _not_modified(self, etag: str) -> bool:
        if etag not in [t.strip() for t in self.headers.get("If-None-Match", "").split(",")]:
            return False
        self.mirror.count(self.session, not_modified=1)
        self.send_response(304)
        self.send_header("ETag", etag)
        self.end_headers()
        return True

    def _send_page(self, body: bytes, media: str) -> None:
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        if self._not_modified(etag):
            return
        self.mirror.count(self.session, pages_served=1)
        self._send_bytes(200, body, media, cache=PAGE_CACHE_CONTROL, etag=etag, vary=True)

    def _send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        cache: str | None,
        etag: str | None = None,
        last_modified: float | None = None,
        vary: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if cache:
            self.send_header("Cache-Control", cache)
        if etag:
            self.send_header("ETag", etag)
        if last_modified is not None:
            self.send_header("Last-Modified", formatdate(last_modified, usegmt=True))
        if vary:
            self.send_header("Vary", "Accept, Accept-Encoding")
        self.end_headers()
        if self.send_body:
            for offset in range(0, len(body), CHUNK):
                self._write(body[offset : offset + CHUNK])

    def _send_error(self, status: int, message: str) -> None:
        self._send_bytes(
            status, f"{HTTPStatus(status).phrase}: {message}\n".encode(), "text/plain", cache=None
        )

    def _write(self, chunk: bytes) -> None:
        wait_for(self.pacer, self.mirror.link, size=len(chunk))
        self.wfile.write(chunk)
        self.mirror.count(self.session, bytes_sent=len(chunk))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range as (first, last), or None when it cannot be satisfied."""
    found = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not found or (not found.group(1) and not found.group(2)):
        return None
    first, last = found.group(1), found.group(2)
    if not first:
        count = int(last)
        if count == 0:
            return None
        return max(size - count, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end
