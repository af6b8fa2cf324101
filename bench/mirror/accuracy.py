"""How closely the mirror's shaping matches a profile (``python -m bench mirror shaping``).

For each profile, in one run: one 100 MB file over one connection (bandwidth per connection),
four connections at once (the link's cap, where it binds), many small requests on a kept-alive
connection against the same requests unshaped (added latency), and a 100 MB paced cache
transfer at the profile's restore rate.
"""

from __future__ import annotations

import http.client
import statistics
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.mirror.server import MirrorServer
from bench.network.profiles import UNTHROTTLED, Profile
from bench.network.shaping import paced_copy

BANDWIDTH_TOLERANCE = 0.10
LATENCY_TOLERANCE_MS = 5.0
BIG_NAME = "bigpayload-1.0-py3-none-any.whl"


@dataclass(frozen=True)
class Check:
    what: str
    target: float
    measured: float
    unit: str
    within: bool

    def render(self) -> str:
        verdict = "ok" if self.within else "OUTSIDE"
        return f"  {self.what:<34} target {self.target:>9.2f} {self.unit:<6} measured " \
            f"{self.measured:>9.2f} {self.unit:<6} {verdict}"  # fmt: skip


def make_wheel(folder: Path, size: int) -> Path:
    """A valid wheel whose payload is ``size`` incompressible bytes (stored, not deflated)."""
    path = folder / BIG_NAME
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as wheel:
        wheel.writestr("bigpayload/__init__.py", "")
        block = (bytes(range(256)) * 4096)[: 1 << 20]
        with wheel.open("bigpayload/blob.bin", "w", force_zip64=True) as blob:
            written = 0
            while written < size:
                piece = block[: min(len(block), size - written)]
                blob.write(piece)
                written += len(piece)
        wheel.writestr(
            "bigpayload-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: bigpayload\nVersion: 1.0\n",
        )
        wheel.writestr("bigpayload-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        wheel.writestr("bigpayload-1.0.dist-info/RECORD", "")
    return path


def download(url_host: str, port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection(url_host, port, timeout=600)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        total = 0
        while chunk := response.read(1 << 20):
            total += len(chunk)
        return total
    finally:
        connection.close()


def measure(profile: Profile, megabytes: int = 100, log=print) -> list[Check]:
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="mirror-shaping-") as scratch_name:
        scratch = Path(scratch_name)
        wheelhouse = scratch / "wheelhouse"
        wheelhouse.mkdir()
        size = megabytes * 1_000_000
        make_wheel(wheelhouse, size)
        file_path = f"/files/{BIG_NAME}"
        with MirrorServer(wheelhouse, profile=profile) as mirror:
            if profile.index_mb_per_s > 0:
                start = time.perf_counter()
                received = download(mirror.host, mirror.port, file_path)
                elapsed = time.perf_counter() - start - profile.index_latency_s
                rate = received / elapsed / 1e6
                checks.append(_bandwidth("index, one connection", profile.index_mb_per_s, rate))
            if 0 < profile.link_mb_per_s < 4 * (profile.index_mb_per_s or float("inf")):
                rate = _parallel_rate(mirror, file_path, connections=4, size=size)
                checks.append(_bandwidth("index, 4 connections (link cap)",
                                         profile.link_mb_per_s, rate))  # fmt: skip
            shaped_latency = _request_latency(mirror)
        if profile.index_latency_ms > 0:
            with MirrorServer(wheelhouse, profile=UNTHROTTLED) as bare:
                base_latency = _request_latency(bare)
            added = (shaped_latency - base_latency) * 1000
            checks.append(
                Check("index, added latency per request", profile.index_latency_ms, added, "ms",
                      abs(added - profile.index_latency_ms) <= LATENCY_TOLERANCE_MS)
            )  # fmt: skip
        if profile.restore_mib_per_s > 0:
            source = wheelhouse / BIG_NAME
            start = time.perf_counter()
            paced_copy(source, scratch / "copy", profile.restore_bytes_per_s)
            elapsed = time.perf_counter() - start
            rate = source.stat().st_size / elapsed / (1024 * 1024)
            checks.append(_bandwidth("cache restore transfer", profile.restore_mib_per_s, rate,
                                     unit="MiB/s"))  # fmt: skip
    for check in checks:
        log(check.render())
    return checks


def _bandwidth(what: str, target: float, measured: float, unit: str = "MB/s") -> Check:
    within = abs(measured - target) <= BANDWIDTH_TOLERANCE * target
    return Check(what, target, measured, unit, within)


def _parallel_rate(mirror: MirrorServer, path: str, connections: int, size: int) -> float:
    part = size // connections
    results: list[int] = []

    def worker(index: int) -> None:
        first = index * part
        headers = {"Range": f"bytes={first}-{first + part - 1}"}
        results.append(download(mirror.host, mirror.port, path, headers))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start - mirror.profile.index_latency_s
    return sum(results) / elapsed / 1e6


def _request_latency(mirror: MirrorServer, requests: int = 40) -> float:
    connection = http.client.HTTPConnection(mirror.host, mirror.port, timeout=60)
    times = []
    try:
        for _ in range(requests):
            start = time.perf_counter()
            connection.request("GET", "/simple/")
            connection.getresponse().read()
            times.append(time.perf_counter() - start)
    finally:
        connection.close()
    return statistics.median(times)
