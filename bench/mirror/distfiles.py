"""What the index needs to know about each file in a wheelhouse.

Name, version, ``Requires-Python``, SHA-256, and for wheels the core metadata (served as the
PEP 658 ``.metadata`` file). Hashing a large wheelhouse takes seconds, so results are kept in a
small JSON file beside the files, keyed by name, size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from bench.errors import BenchError

CACHE_NAME = ".index-cache.json"
SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class DistFile:
    filename: str
    project: str  # canonical (PEP 503) name
    version: str
    sha256: str
    size: int
    mtime: float
    requires_python: str
    metadata_sha256: str  # "" for sdists

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


def scan_wheelhouse(wheelhouse: Path) -> list[DistFile]:
    """Every distribution file in ``wheelhouse``, sorted by project then file name."""
    if not wheelhouse.is_dir():
        raise BenchError(
            f"the wheelhouse {wheelhouse} does not exist; fill it with "
            "'python -m bench mirror fetch -r FILE' or pass --wheelhouse"
        )
    cache_path = wheelhouse / CACHE_NAME
    cached = _read_cache(cache_path)
    files = []
    for path in sorted(wheelhouse.iterdir()):
        if not path.is_file() or not _is_distribution(path.name):
            continue
        stat = path.stat()
        known = cached.get(path.name)
        if known and known.size == stat.st_size and known.mtime == stat.st_mtime:
            files.append(known)
        else:
            files.append(inspect(path))
    if {f.filename: f for f in files} != cached:
        _write_cache(cache_path, files)
    return sorted(files, key=lambda f: (f.project, f.filename))


def inspect(path: Path) -> DistFile:
    name, version = _name_and_version(path.name)
    metadata = read_metadata(path)
    headers = HeaderParser().parsestr(metadata.decode("utf-8", errors="replace"))
    stat = path.stat()
    return DistFile(
        filename=path.name,
        project=canonicalize_name(name),
        version=version,
        sha256=sha256_of(path),
        size=stat.st_size,
        mtime=stat.st_mtime,
        requires_python=headers.get("Requires-Python", "") or "",
        metadata_sha256=hashlib.sha256(metadata).hexdigest() if path.name.endswith(".whl") else "",
    )


def read_metadata(path: Path) -> bytes:
    """The core metadata: a wheel's ``*.dist-info/METADATA`` or an sdist's ``PKG-INFO``."""
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as wheel:
                for member in wheel.namelist():
                    parts = member.split("/")
                    if (
                        len(parts) == 2
                        and parts[0].endswith(".dist-info")
                        and parts[1] == "METADATA"
                    ):
                        return wheel.read(member)
            raise BenchError(f"{path.name} has no .dist-info/METADATA; it is not a valid wheel")
        if path.name.endswith(".tar.gz"):
            with tarfile.open(path) as sdist:
                for member in sdist.getmembers():
                    if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                        handle = sdist.extractfile(member)
                        return handle.read() if handle else b""
            return b""
        with zipfile.ZipFile(path) as sdist:
            for member in sdist.namelist():
                if member.count("/") == 1 and member.endswith("/PKG-INFO"):
                    return sdist.read(member)
        return b""
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as error:
        raise BenchError(f"cannot read {path}: {error}; remove it from the wheelhouse") from None


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _name_and_version(filename: str) -> tuple[str, str]:
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise BenchError(f"{filename} is not a distribution file name: {error}") from None
    return str(name), str(version)


def _is_distribution(filename: str) -> bool:
    return filename.endswith(".whl") or filename.endswith(SDIST_SUFFIXES)


def _read_cache(path: Path) -> dict[str, DistFile]:
    try:
        rows = json.loads(path.read_text())
        return {row["filename"]: DistFile(**row) for row in rows}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _write_cache(path: Path, files: list[DistFile]) -> None:
    partial = path.with_name(path.name + f".{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps([asdict(f) for f in files], indent=1))
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)  # a read-only wheelhouse still serves
