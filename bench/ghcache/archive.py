"""Cache archives made and unpacked with GNU tar exactly as the ``@actions/cache`` toolkit does.

Create (in a fresh temporary folder)::

    tar --posix -cf cache.tzst --exclude cache.tzst -P -C <workspace> \
        --files-from manifest.txt --use-compress-program zstdmt

Extract::

    tar -xf <archive> -P -C <workspace> --use-compress-program unzstd

(``-z`` and ``cache.tgz`` instead when zstd is missing.) The one addition is bookkeeping that does
not change the archive's bytes: while creating, tar also writes its verbose member listing to a
file, so that a restore can refuse a member that would land outside the runner without
decompressing the archive a second time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.ghcache.glob import GlobOptions, glob, parse_pattern_lines
from bench.ghcache.keys import ZSTD

MANIFEST_NAME = "manifest.txt"
LISTING_NAME = "members.txt"
TAR_ENV = {"LC_ALL": "C"}


class ArchiveError(BenchError):
    """tar failed, or an archive is unreadable."""


class ArchiveEscape(ArchiveError):
    """A member would be written outside the runner's root."""


@dataclass(frozen=True)
class Member:
    name: str
    kind: str  # tar's type letter: "-" file, "d" directory, "l" symlink, "h" hard link, ...
    link: str = ""


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
    return ["tar", "-xf", str(archive), "-P", "-C", workspace, *decompress_args(compression)]


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


def extract_archive(archive: Path, *, workspace: str, compression: str) -> None:
    Path(workspace).mkdir(parents=True, exist_ok=True)
    _run_tar(extract_command(archive, workspace, compression), cwd=Path(workspace))


def _run_tar(command: list[str], *, cwd: Path) -> str:
    if shutil.which("tar") is None:
        raise ArchiveError("GNU tar is required on PATH; install it (the runner images have it).")
    env = {**os.environ, **TAR_ENV}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()
        last = detail[-1] if detail else f"exit status {result.returncode}"
        raise ArchiveError(
            f"{' '.join(command[:2])} failed with exit code {result.returncode}: {last}"
        )
    return result.stdout


# --- member listing and confinement -------------------------------------------------------

_LINE = re.compile(
    r"^(?P<kind>.)\S*\s+\S+\s+(?P<size>\S+)(?:,\s*\S+)?\s+"  # mode, owner, size (or major,minor)
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})? (?P<rest>.*)$"  # date, time, name
)
_ESCAPE = re.compile(r"\\([0-7]{3}|.)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "b": "\b"}


def _unescape(text: str) -> str:
    """Undo tar's 'escape' quoting style (octal bytes, C escapes, doubled backslash)."""
    if "\\" not in text:
        return text
    raw = bytearray()
    position = 0
    for found in _ESCAPE.finditer(text):
        raw += text[position : found.start()].encode("latin-1", errors="replace")
        code = found.group(1)
        if len(code) == 3:
            raw.append(int(code, 8))
        else:
            raw += _SIMPLE_ESCAPES.get(code, code).encode("latin-1", errors="replace")
        position = found.end()
    raw += text[position:].encode("latin-1", errors="replace")
    return os.fsdecode(bytes(raw))


def parse_listing(listing: str) -> list[Member]:
    members = []
    for line in listing.splitlines():
        if not line.strip():
            continue
        found = _LINE.match(line)
        if not found:
            raise ArchiveError(f"cannot read tar's member listing line: {line!r}")
        kind, rest = found.group("kind"), found.group("rest")
        link = ""
        if kind == "l" and " -> " in rest:
            rest, link = rest.split(" -> ", 1)
        elif kind == "h" and " link to " in rest:
            rest, link = rest.split(" link to ", 1)
        members.append(Member(name=_unescape(rest), kind=kind, link=_unescape(link)))
    return members


def listing_totals(listing: str) -> tuple[int, int]:
    """Bytes and regular files an archive holds, read from its member listing (no walk)."""
    total = files = 0
    for line in listing.splitlines():
        found = _LINE.match(line)
        if found and found.group("kind") == "-" and found.group("size").isdigit():
            total += int(found.group("size"))
            files += 1
    return total, files


def check_members(members: list[Member], *, workspace: str, root: str) -> None:
    """Refuse the first member that would be written outside ``root``.

    Covers ``../`` and absolute names, hard links to outside, and members that would be
    written through a symbolic link of the same archive that points outside.
    """
    root = os.path.normpath(root)
    outward_links: list[str] = []
    for member in members:
        target = _landing(member.name, workspace)
        if not _inside(target, root):
            raise ArchiveEscape(
                f"archive member '{member.name}' would be written to {target}, outside the "
                f"runner root {root}; refusing to extract"
            )
        for link in outward_links:
            if target.startswith(link + os.sep):
                raise ArchiveEscape(
                    f"archive member '{member.name}' would be written through the symbolic "
                    f"link {link}, which points outside the runner root {root}; refusing to "
                    "extract"
                )
        if member.kind == "l":
            pointed = os.path.normpath(os.path.join(os.path.dirname(target), member.link))
            if not _inside(pointed, root):
                outward_links.append(target)
        elif member.kind == "h" and not _inside(_landing(member.link, workspace), root):
            raise ArchiveEscape(
                f"archive member '{member.name}' is a hard link to '{member.link}', outside "
                f"the runner root {root}; refusing to extract"
            )


def _landing(name: str, workspace: str) -> str:
    return os.path.normpath(name if name.startswith("/") else os.path.join(workspace, name))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
