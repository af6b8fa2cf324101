"""Cache archives made and unpacked with GNU tar exactly as the ``@actions/cache`` toolkit does.

Create (in a fresh temporary folder)::

    tar --posix -cf cache.tzst --exclude cache.tzst -P -C <workspace> \
        --files-from manifest.txt --use-compress-program zstdmt

Extract::

    tar -xf <archive> -P -C <workspace> --use-compress-program unzstd

(``-z`` and ``cache.tgz`` instead when zstd is missing.) Two differences, neither of which changes
what is archived or extracted: while creating, tar also writes its verbose member listing to a
file (kept beside the archive for folder sizes; never trusted for anything else), and a restore
runs the decompressor itself and lets tar read the stream from ``bench.ghcache.confine``, which
checks each member's headers before tar sees them (``tar -xf - -P -C <workspace>``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bench.ghcache.confine import ArchiveError, ArchiveEscape, Confinement, pump
from bench.ghcache.glob import GlobOptions, glob, parse_pattern_lines
from bench.ghcache.keys import ZSTD

MANIFEST_NAME = "manifest.txt"
LISTING_NAME = "members.txt"
TAR_ENV = {"LC_ALL": "C"}


__all__ = ["ArchiveError", "ArchiveEscape"]
PIPE_SIZE = 1 << 20


@dataclass(frozen=True)
class Archive:
    path: Path
    size: int
    listing: str  # tar's verbose member listing (LC_ALL=C, escape quoting)


def archive_file_name(compression: str) -> str:
    return "cache.tzst" if compression == ZSTD else "cache.tgz"


def compress_args(compression: str) -> list[str]:
    return ["--use-compress-program", "zstdmt"] if compression == ZSTD else ["-z"]


def decompress_args(compression: str) -> list[str]:
    return ["--use-compress-program", "unzstd"] if compression == ZSTD else ["-z"]


def create_command(workspace: str, compression: str) -> list[str]:
    name = archive_file_name(compression)
    return [
        "tar", "--posix", "-cf", name, "--exclude", name, "-P", "-C", workspace,
        "--files-from", MANIFEST_NAME, *compress_args(compression),
    ]  # fmt: skip


def extract_command(archive: str | os.PathLike[str], workspace: str, compression: str) -> list[str]:
    """The toolkit's own extract command (the restore runs its two halves, gated)."""
    return ["tar", "-xf", str(archive), "-P", "-C", workspace, *decompress_args(compression)]


def decompress_command(archive: str | os.PathLike[str], compression: str) -> list[str]:
    """What tar runs for ``--use-compress-program unzstd`` / ``-z``, writing to stdout."""
    program = ["unzstd"] if compression == ZSTD else ["gzip", "-d"]
    return [*program, "-c", str(archive)]


def gated_extract_command(workspace: str) -> list[str]:
    return ["tar", "-xf", "-", "-P", "-C", workspace]


def resolve_cache_paths(paths: list[str], *, workspace: str, home: str) -> list[str]:
    """Expand the ``path`` input to manifest lines relative to the workspace.

    As the toolkit: globs expand, symbolic links are followed, no implicit descendants (so a
    ``!`` line removes only an entry the other lines listed), ``.`` for the workspace itself.
    """
    options = GlobOptions(implicit_descendants=False, follow_symbolic_links=True)
    lines = parse_pattern_lines("\n".join(paths))
    manifest = []
    for match in glob(lines, home=home, workdir=workspace, options=options):
        relative = os.path.relpath(match, workspace)
        manifest.append("." if relative == os.curdir else relative)
    return manifest


def create_archive(
    manifest: list[str], *, workspace: str, temp_dir: Path, compression: str
) -> Archive:
    """Write ``manifest`` and run tar in ``temp_dir`` (a folder of the caller's, made empty)."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    (temp_dir / MANIFEST_NAME).write_text("\n".join(manifest))
    command = [*create_command(workspace, compression), "-vv", "--index-file", LISTING_NAME]
    _run_tar(command, cwd=temp_dir)
    path = temp_dir / archive_file_name(compression)
    listing = (temp_dir / LISTING_NAME).read_text(encoding="ascii", errors="replace")
    return Archive(path=path, size=path.stat().st_size, listing=listing)


def list_archive(archive: Path, compression: str) -> str:
    """tar's verbose listing of an archive made elsewhere (decompresses it once)."""
    command = ["tar", "-tvv", "-f", str(archive), *decompress_args(compression)]
    return _run_tar(command, cwd=archive.parent)


def extract_archive(archive: Path, *, workspace: str, root: str, compression: str) -> int:
    """Extract as the toolkit does, refusing the archive at the first member that would write
    outside ``root`` (see ``bench.ghcache.confine``); returns the number of members.

    On a refusal, the members before it are extracted (all inside the root) and nothing else.
    """
    Path(workspace).mkdir(parents=True, exist_ok=True)
    confinement = Confinement(workspace, root)
    decompress = decompress_command(Path(archive).absolute(), compression)
    extract = gated_extract_command(workspace)
    _require(decompress[0])
    _require("tar")
    env = {**os.environ, **TAR_ENV}
    failure: ArchiveError | None = None
    members = 0
    with tempfile.TemporaryFile() as tar_errors, tempfile.TemporaryFile() as unpack_errors:
        source = subprocess.Popen(
            decompress, stdout=subprocess.PIPE, stderr=unpack_errors, env=env, cwd=workspace
        )
        tar = subprocess.Popen(
            extract, stdin=subprocess.PIPE, stderr=tar_errors, env=env, cwd=workspace
        )
        assert source.stdout is not None and tar.stdin is not None
        _widen(source.stdout)
        _widen(tar.stdin)
        stopped = True  # the decompressor is stopped early unless the stream ran to its end
        try:
            members = pump(source.stdout.fileno(), tar.stdin.fileno(), confinement.check)
            stopped = False
        except ArchiveEscape as error:
            failure = error
        except ArchiveError as error:  # the stream ended early: the decompressor says why
            failure, stopped = error, False
        except BrokenPipeError:
            pass  # tar stopped reading: its own status and message say why
        finally:
            with contextlib.suppress(BrokenPipeError):
                tar.stdin.close()
            if stopped:
                source.kill()
            source.stdout.close()
            tar.wait()
            source.wait()
        if isinstance(failure, ArchiveEscape):
            raise failure
        if source.returncode != 0 and not stopped:
            raise ArchiveError(_failed(decompress, source.returncode, unpack_errors))
        if failure is not None:
            raise failure
        if tar.returncode != 0:
            raise ArchiveError(_failed(extract, tar.returncode, tar_errors))
    return members


def _widen(pipe: IO[bytes]) -> None:
    """Larger pipes mean fewer switches between the three processes (best effort)."""
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)


def _failed(command: list[str], status: int, errors: IO[bytes]) -> str:
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else f"exit status {status}"
    return f"{' '.join(command[:2])} failed with exit code {status}: {last}"


def _require(program: str) -> None:
    if shutil.which(program) is None:
        raise ArchiveError(f"{program} is required on PATH; install it (the runner images have it)")


def _run_tar(command: list[str], *, cwd: Path) -> str:
    _require("tar")
    env = {**os.environ, **TAR_ENV}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        last = detail[-1] if detail else f"exit status {result.returncode}"
        raise ArchiveError(
            f"{' '.join(command[:2])} failed with exit code {result.returncode}: {last}"
        )
    return result.stdout


# --- member listing (folder sizes only) -------------------------------------------------------

_LINE = re.compile(
    r"^(?P<kind>.)\S*\s+\S+\s+(?P<size>\S+)(?:,\s*\S+)?\s+"  # mode, owner, size (or major,minor)
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})? (?P<rest>.*)$"  # date, time, name
)


def listing_totals(listing: str) -> tuple[int, int]:
    """Bytes and regular files an archive holds, read from its member listing (no walk)."""
    total = files = 0
    for line in listing.splitlines():
        found = _LINE.match(line)
        if found and found.group("kind") == "-" and found.group("size").isdigit():
            total += int(found.group("size"))
            files += 1
    return total, files
