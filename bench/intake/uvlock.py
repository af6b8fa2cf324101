"""A project's ``uv.lock`` pointed at the mirror, in the run's copy of the repository.

uv installs a lock's registry packages from the file addresses the lock records, and treats a
lock whose registry is not the configured index as out of date (``uv sync --locked`` then
re-resolves, for every Python the project supports, and fails). On GitHub the lock's registry is
the public index; here the only index is the mirror. So the copy the jobs check out has each
registry package's ``source`` and file ``url`` rewritten to the mirror's, and nothing else
changed: versions, hashes, markers and every other source (git, path, direct URL) are kept byte
for byte. ``hashFiles('uv.lock')`` therefore differs in value from GitHub's, never in when it
changes: the two revisions of a run are rewritten alike.
"""

from __future__ import annotations

import re
from pathlib import Path

LOCK_NAME = "uv.lock"
_PACKAGE_HEADER = re.compile(r"^\[\[package\]\]\s*$", re.MULTILINE)
_REGISTRY_SOURCE = re.compile(r'^source = \{ registry = "', re.MULTILINE)
_REGISTRY = re.compile(r'(\bregistry = )"[^"]*"')  # a package's source, or a dependency's
_FILE_URL = re.compile(r'(\burl = )"[^"]*/([^"/]+)"')


def point_at_mirror(text: str, index_url: str) -> str:
    """``text`` (a uv.lock) with every registry package served by the mirror at ``index_url``."""
    files_url = index_url.rstrip("/").removesuffix("/simple") + "/files/"
    text = _REGISTRY.sub(lambda m: f'{m.group(1)}"{index_url}"', text)
    starts = [m.start() for m in _PACKAGE_HEADER.finditer(text)]
    if not starts:
        return text
    pieces = [text[: starts[0]]]
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        block = text[start:end]
        if _REGISTRY_SOURCE.search(block):
            block = _FILE_URL.sub(lambda m: f'{m.group(1)}"{files_url}{m.group(2)}"', block)
        pieces.append(block)
    return "".join(pieces)


def point_locks_at_mirror(folder: Path, index_url: str) -> list[Path]:
    """Rewrite every ``uv.lock`` under ``folder`` (a copy the harness owns); the ones changed."""
    changed = []
    for lock in sorted(folder.rglob(LOCK_NAME)):
        if not lock.is_file() or lock.is_symlink():
            continue
        text = lock.read_text()
        new = point_at_mirror(text, index_url)
        if new != text:
            lock.write_text(new)
            changed.append(lock)
    return changed
