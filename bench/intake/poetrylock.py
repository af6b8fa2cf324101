"""A poetry project pointed at the mirror, in the run's copy of the repository.

Poetry has no setting that swaps the public index for another: a project without a primary
source of its own reads the public index, which a fake runner cannot reach. So the copy the jobs
check out gets one more source in ``pyproject.toml``, the mirror as ``primary`` (which turns the
public index off), and its ``poetry.lock`` the content hash poetry computes for the changed file
(the source is part of what the hash covers, so without it ``poetry install`` would refuse the
lock as stale). Nothing else changes: versions, hashes and markers stay byte for byte, and lock
entries without a source of their own are installed from the first source, the mirror.
``hashFiles`` over the two files differs in value from GitHub's, never in when it changes: both
revisions of a run are rewritten alike.

The mirror goes first among the project's sources: lock entries without a source of their own
install from the first one. The hash follows poetry's ``Locker._get_content_hash``: sha256 of
the sorted JSON of the relevant parts of ``[project]``, ``[dependency-groups]`` and
``[tool.poetry]``; a lock written by a poetry before 2.3 hashed without the groups, so the
variant that gave the lock's own hash is the one used. The tests check it against poetry.

Only the project at the repository's root is rewritten, at HEAD and in the previous revision's
overlay (``previous/``, which holds only the files that changed: the other one is HEAD's, so
both are written there when either differs).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.depsets import PREVIOUS_DIR, REMOVED_LIST

MIRROR_SOURCE = "bench-mirror"
_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_RELEVANT_KEYS = (*_LEGACY_KEYS, "group")
_RELEVANT_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")
_CONTENT_HASH = re.compile(r'^(content-hash\s*=\s*)"([0-9a-f]*)"', re.MULTILINE)
_SOURCE_HEADER = re.compile(r"^\[\[tool\.poetry\.source\]\]\s*$", re.MULTILINE)


def content_hash(pyproject: dict[str, Any], with_groups: bool = True) -> str:
    """The ``content-hash`` poetry records in ``poetry.lock`` for this ``pyproject.toml``."""
    project = pyproject.get("project", {})
    groups = pyproject.get("dependency-groups", {}) if with_groups else {}
    tool_poetry = pyproject.get("tool", {}).get("poetry", {})
    relevant_project = {k: project[k] for k in _RELEVANT_PROJECT_KEYS if project.get(k) is not None}
    relevant_poetry = {}
    for key in _RELEVANT_KEYS:
        value = tool_poetry.get(key)
        if value is None and (key not in _LEGACY_KEYS or relevant_project or groups):
            continue
        relevant_poetry[key] = value
    content: dict[str, Any] = {}
    if relevant_project:
        content["project"] = relevant_project
    if groups:
        content["dependency-groups"] = groups
    if content:
        content["tool"] = {"poetry": relevant_poetry}
    else:
        content = relevant_poetry  # a [tool.poetry]-only project: its keys at the top level
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def reads_the_mirror(pyproject: dict[str, Any]) -> bool:
    """Whether poetry already installs this project from a loopback primary source."""
    sources = pyproject.get("tool", {}).get("poetry", {}).get("source", [])
    return any(
        isinstance(source, dict)
        and (source.get("priority") == "primary" or source.get("default") is True)
        and re.match(r"https?://(127\.0\.0\.1|localhost)[:/]", str(source.get("url", "")))
        for source in sources
    )


@dataclass(frozen=True)
class PoetryRewrite:
    changed: list[Path]  # the files written
    notice: str | None = None  # why nothing was written, when the project cannot be rewritten


def point_poetry_at_mirror(folder: Path, index_url: str) -> PoetryRewrite:
    """Point the poetry project at ``folder``'s root (a copy the harness owns) at the mirror,
    at HEAD and in ``previous/``; nothing is written unless every revision can be."""
    pyproject, lock = folder / "pyproject.toml", folder / "poetry.lock"
    if not pyproject.is_file() or not lock.is_file():
        return PoetryRewrite([])
    head = (pyproject.read_text(), lock.read_text())
    revisions = {folder: head}
    overlay = folder / PREVIOUS_DIR
    removed = _removed(overlay)
    if "pyproject.toml" not in removed and "poetry.lock" not in removed:
        old = overlay / "pyproject.toml", overlay / "poetry.lock"
        if any(path.is_file() for path in old):
            revisions[overlay] = tuple(  # type: ignore[assignment]
                path.read_text() if path.is_file() else text
                for path, text in zip(old, head, strict=True)
            )
    writes: dict[Path, str] = {}
    for where, (pyproject_text, lock_text) in revisions.items():
        try:
            rewritten = _rewrite(pyproject_text, lock_text, index_url)
        except tomllib.TOMLDecodeError as error:
            return PoetryRewrite([], f"poetry's sources cannot be extended here ({error})")
        if rewritten is not None:
            writes[where / "pyproject.toml"], writes[where / "poetry.lock"] = rewritten
    for path, text in writes.items():
        path.write_text(text)
    return PoetryRewrite(sorted(writes))


def _rewrite(pyproject_text: str, lock_text: str, index_url: str) -> tuple[str, str] | None:
    """The two files pointed at the mirror, or None when poetry reads it already."""
    data = tomllib.loads(pyproject_text)
    if reads_the_mirror(data):
        return None
    first_source = _SOURCE_HEADER.search(pyproject_text)
    if first_source is None:
        new_text = pyproject_text.rstrip("\n") + "\n\n" + _mirror_source(index_url)
    else:  # before the project's own sources: the first source serves unsourced lock entries
        at = first_source.start()
        new_text = pyproject_text[:at] + _mirror_source(index_url) + "\n" + pyproject_text[at:]
    new_data = tomllib.loads(new_text)  # an inline ``source = [...]`` cannot take a table
    found = _CONTENT_HASH.search(lock_text)
    with_groups = not (
        found is not None
        and found.group(2) == content_hash(data, with_groups=False)
        and found.group(2) != content_hash(data)
    )
    new_hash = content_hash(new_data, with_groups)
    return new_text, _CONTENT_HASH.sub(rf'\g<1>"{new_hash}"', lock_text)  # hex: no escapes


def _removed(overlay: Path) -> set[str]:
    listing = overlay / REMOVED_LIST
    return set(listing.read_text().split()) if listing.is_file() else set()


def _mirror_source(index_url: str) -> str:
    return (
        "[[tool.poetry.source]]\n"
        f'name = "{MIRROR_SOURCE}"\n'
        f'url = "{index_url}"\n'
        'priority = "primary"\n'
    )
