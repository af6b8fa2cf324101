"""The mirror's HTTP behaviour, its wheelhouse, profiles and errors (no package tools)."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.mirror.distfiles import scan_wheelhouse, sha256_of
from bench.mirror.server import MirrorServer
from bench.network.profiles import DEFAULT_PROFILE, get_profile, load_profiles
from tests.packages import build_set

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    build_set(folder)
    return folder


@pytest.fixture
def mirror(wheelhouse):
    with MirrorServer(wheelhouse) as server:
        yield server


def get(mirror: MirrorServer, path: str, method: str = "GET", **headers: str):
    connection = http.client.HTTPConnection(mirror.host, mirror.port, timeout=10)
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_wheelhouse_scan_reads_names_versions_and_metadata(wheelhouse) -> None:
    files = {f.filename: f for f in scan_wheelhouse(wheelhouse)}
    one = files["tinyone-1.0-py3-none-any.whl"]
    assert (one.project, one.version, one.requires_python) == ("tinyone", "1.0", ">=3.8")
    assert one.sha256 == sha256_of(wheelhouse / one.filename)
    assert one.metadata_sha256
    src = files["tinysrc-0.5.tar.gz"]
    assert (src.project, src.version, src.metadata_sha256) == ("tinysrc", "0.5", "")


def test_root_page_lists_projects_in_html_and_json(mirror) -> None:
    response, body = get(mirror, "/simple/")
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/vnd.pypi.simple.v1+html"
    assert b'<a href="tinyone/">tinyone</a>' in body
    response, body = get(mirror, "/simple/", Accept=JSON)
    assert response.getheader("Content-Type") == JSON
    assert [p["name"] for p in json.loads(body)["projects"]] == ["tinyone", "tinysrc", "tinytwo"]


def test_project_page_has_hashes_requires_python_and_metadata(mirror, wheelhouse) -> None:
    digest = sha256_of(wheelhouse / "tinyone-1.0-py3-none-any.whl")
    _, body = get(mirror, "/simple/tinyone/")
    html = body.decode()
    assert f'href="../../files/tinyone-1.0-py3-none-any.whl#sha256={digest}"' in html
    assert 'data-requires-python="&gt;=3.8"' in html
    assert 'data-core-metadata="sha256=' in html and "data-dist-info-metadata" in html
    _, body = get(mirror, "/simple/tinyone/", Accept=f"{JSON}, text/html;q=0.1")
    page = json.loads(body)
    assert page["meta"]["api-version"] == "1.1"
    assert page["versions"] == ["1.0"]
    (entry,) = page["files"]
    assert entry["hashes"] == {"sha256": digest}
    assert entry["requires-python"] == ">=3.8"
    assert entry["core-metadata"]["sha256"]


def test_metadata_file_matches_its_advertised_hash(mirror) -> None:
    import hashlib

    _, page = get(mirror, "/simple/tinytwo/", Accept=JSON)
    (entry,) = json.loads(page)["files"]
    response, body = get(mirror, "/files/tinytwo-2.0-py3-none-any.whl.metadata")
    assert response.status == 200
    assert hashlib.sha256(body).hexdigest() == entry["core-metadata"]["sha256"]
    assert b"Requires-Dist: tinyone>=1.0" in body


def test_unnormalised_project_name_redirects(mirror) -> None:
    response, _ = get(mirror, "/simple/TinyOne/")
    assert response.status == 301
    assert response.getheader("Location") == "/simple/tinyone/"


def test_unknown_project_and_file_are_404(mirror) -> None:
    assert get(mirror, "/simple/nothing/")[0].status == 404
    assert get(mirror, "/files/nothing-1.0.tar.gz")[0].status == 404


def test_file_headers_are_the_public_indexs(mirror, wheelhouse) -> None:
    name = "tinyone-1.0-py3-none-any.whl"
    response, body = get(mirror, f"/files/{name}")
    assert body == (wheelhouse / name).read_bytes()
    assert response.getheader("Cache-Control") == "max-age=365000000, immutable, public"
    assert response.getheader("ETag")
    assert response.getheader("Last-Modified").endswith("GMT")
    assert response.getheader("Accept-Ranges") == "bytes"


def test_pages_revalidate_with_etag(mirror) -> None:
    response, _ = get(mirror, "/simple/tinytwo/")
    assert response.getheader("Cache-Control") == "max-age=600, public"
    etag = response.getheader("ETag")
    again, body = get(mirror, "/simple/tinytwo/", **{"If-None-Match": etag})
    assert (again.status, body) == (304, b"")
    other, _ = get(mirror, "/simple/tinytwo/", **{"If-None-Match": '"other"'})
    assert other.status == 200


def test_range_requests(mirror, wheelhouse) -> None:
    name = "tinyone-1.0-py3-none-any.whl"
    data = (wheelhouse / name).read_bytes()
    response, body = get(mirror, f"/files/{name}", Range="bytes=10-19")
    assert (response.status, body) == (206, data[10:20])
    assert response.getheader("Content-Range") == f"bytes 10-19/{len(data)}"
    _, tail = get(mirror, f"/files/{name}", Range="bytes=-5")
    assert tail == data[-5:]
    _, rest = get(mirror, f"/files/{name}", Range=f"bytes={len(data) - 3}-")
    assert rest == data[-3:]
    bad, _ = get(mirror, f"/files/{name}", Range=f"bytes={len(data)}-")
    assert bad.status == 416
    assert bad.getheader("Content-Range") == f"bytes */{len(data)}"


def test_head_sends_headers_only(mirror, wheelhouse) -> None:
    name = "tinyone-1.0-py3-none-any.whl"
    response, body = get(mirror, f"/files/{name}", method="HEAD")
    assert response.status == 200
    assert body == b""
    assert int(response.getheader("Content-Length")) == (wheelhouse / name).stat().st_size


def test_counters_are_kept_per_session(mirror, wheelhouse) -> None:
    name = "tinyone-1.0-py3-none-any.whl"
    size = (wheelhouse / name).stat().st_size
    with mirror.session("a"):
        get(mirror, f"/files/{name}")
        get(mirror, f"/files/{name}")
    with mirror.session("b"):
        get(mirror, "/simple/")
    a, b = mirror.stats("a"), mirror.stats("b")
    assert (a.requests, a.files_served, a.file_bytes) == (2, 2, 2 * size)
    assert (b.requests, b.files_served, b.pages_served) == (1, 0, 1)
    _, body = get(mirror, "/-/stats")
    assert json.loads(body)["a"]["file_bytes"] == 2 * size


def test_many_concurrent_connections(mirror, wheelhouse) -> None:
    from concurrent.futures import ThreadPoolExecutor

    name = "tinytwo-2.0-py3-none-any.whl"
    expected = (wheelhouse / name).read_bytes()
    with mirror.session("many"), ThreadPoolExecutor(max_workers=48) as pool:
        bodies = list(pool.map(lambda _: get(mirror, f"/files/{name}")[1], range(96)))
    assert all(body == expected for body in bodies)
    assert mirror.stats("many").files_served == 96


# --- bad input --------------------------------------------------------------------------------


def test_missing_wheelhouse_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(BenchError, match=r"the wheelhouse .* does not exist; fill it with"):
        MirrorServer(tmp_path / "absent")


def test_port_out_of_range(wheelhouse) -> None:
    with pytest.raises(BenchError, match=r"port 70000 is out of range"):
        MirrorServer(wheelhouse, port=70000)


def test_busy_port(wheelhouse) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BenchError, match=rf"port {port} on 127.0.0.1 is already in use"):
            MirrorServer(wheelhouse, port=port)


# --- profiles ---------------------------------------------------------------------------------


def test_profiles_file_has_the_required_profiles_with_sources() -> None:
    profiles = load_profiles()
    for name in (
        "github-hosted",
        "unthrottled",
        "slow",
        "github-hosted-slow",
        "github-hosted-fast",
    ):
        assert name in profiles
    hosted = profiles[DEFAULT_PROFILE]
    assert (hosted.restore_mib_per_s, hosted.restore_overhead_s) == (66, 0.6)
    assert hosted.restore_bytes_per_s == 66 * 1024 * 1024  # MiB, as actions/cache prints it
    assert hosted.index_bytes_per_s == 88 * 1_000_000  # MB, as the CDN figures are
    assert set(hosted.sources) >= {"index_mb_per_s", "restore_mib_per_s", "index_latency_ms"}
    assert profiles["github-hosted-slow"].restore_mib_per_s == 52
    assert profiles["github-hosted-fast"].restore_mib_per_s == 120


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(BenchError, match=r"unknown network profile 'moon'; choose one of: "):
        get_profile("moon")


def test_bad_profile_file(tmp_path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[x]\nindex_mb_per_s = -1\n")
    with pytest.raises(BenchError, match=r"index_mb_per_s must be a number >= 0"):
        load_profiles(path)
    path.write_text("[x]\nbandwidth = 1\n")
    with pytest.raises(BenchError, match=r"unknown fields: \['bandwidth'\]"):
        load_profiles(path)


def test_the_fixed_port_is_free_again_right_after_clients_that_close(wheelhouse) -> None:
    """urllib (setup-uv's install) sends ``Connection: close``, so the server's side of each
    connection lingers in TIME_WAIT; the next run must still be able to listen on the port."""
    import urllib.request

    with MirrorServer(wheelhouse, port=0) as first:
        port = first.port
        for _ in range(3):
            with urllib.request.urlopen(first.index_url()) as response:
                assert response.status == 200
    with MirrorServer(wheelhouse, port=port) as second:
        assert second.port == port
