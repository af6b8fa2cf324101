"""astral-sh/setup-uv's cache key (spec section 8), computed without running anything.

Kept apart from the action so that anything that wants the key a job would use (a replay of
a repository's history, say) can compute it from the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from bench.ghcache.hashfiles import hash_files
from bench.workflow.refs import ActionRef

DEFAULT_DEPENDENCY_GLOB = (
    "**/*requirements*.txt",
    "**/*requirements*.in",
    "**/*constraints*.txt",
    "**/*constraints*.in",
    "**/pyproject.toml",
    "**/uv.lock",
    "**/*.py.lock",
)
NO_DEPENDENCY_GLOB = "no-dependency-glob"


def default_dependency_glob(ref: ActionRef | None) -> tuple[str, ...]:
    """The default ``cache-dependency-glob`` of the version ``ref`` names.

    v6.0.0 wrote its default with an extglob (``**/*(requirements|constraints)*.(txt|in)``);
    it is written out here as the four patterns it stands for, which match the same files.
    """
    if ref is None or ref.at_least(6, 8):
        return DEFAULT_DEPENDENCY_GLOB
    if ref.at_least(6):
        return DEFAULT_DEPENDENCY_GLOB[:-1]
    if ref.at_least(5):
        return ("**/uv.lock", "**/requirements*.txt")
    return ("**/uv.lock",)


def enable_cache_default(ref: ActionRef | None) -> str:
    """``enable-cache`` defaults to ``auto`` from v5, ``false`` before."""
    return "auto" if ref is None or ref.at_least(5) else "false"


@dataclass(frozen=True)
class UvKeyParts:
    """What the key is made of; ``files_hash`` is hashFiles over the dependency glob ("" when
    nothing matched)."""

    python: str  # the python-version input as written, else the found version, else "unknown"
    files_hash: str
    os_name_version: str = "ubuntu-24.04"  # ID-VERSION_ID from /etc/os-release
    arch: str = "x86_64"
    platform: str = "unknown-linux-gnu"
    pruned: bool = False
    cache_python: bool = False
    suffix: str = ""
    uv_version: str = ""  # in the key before v5.1 only


def prune_default(ref: ActionRef | None) -> bool:
    """``prune-cache`` defaults to true before v9."""
    return ref is not None and not ref.at_least(9)


def setup_uv_key(parts: UvKeyParts, ref: ActionRef | None = None) -> str:
    """The primary key for the version ``ref`` names (the newest when ``None``).

    v7.1.6 and later:
    ``setup-uv-2-<arch>-<platform>-<os>-<python>[-pruned][-py]-<hash>[-<suffix>]``;
    v6.1 to v7.1.5 have no OS part and ``setup-uv-1``; v5.1 to v6.0 have neither ``-pruned``
    nor ``-py``; v5.0 has the uv version before the python part, and before v5 the uv version
    stands where the python part is. From v8.3 the python part and the suffix are URL-encoded.
    """
    newest = ref is None
    encoded = newest or ref.at_least(8, 3)
    python = quote(parts.python, safe="!*'()~") if encoded else parts.python
    suffix = quote(parts.suffix, safe="!*'()~") if encoded else parts.suffix
    digest = parts.files_hash or NO_DEPENDENCY_GLOB
    flags = ""
    if newest or ref.at_least(6, 1):
        flags = ("-pruned" if parts.pruned else "") + ("-py" if parts.cache_python else "")
    if newest or ref.at_least(7, 1, 6):
        head = f"setup-uv-2-{parts.arch}-{parts.platform}-{parts.os_name_version}"
    else:
        head = f"setup-uv-1-{parts.arch}-{parts.platform}"
    if not newest and not ref.at_least(5, 1):
        python = f"{parts.uv_version}-{python}" if ref.at_least(5) else parts.uv_version
    return f"{head}-{python}{flags}-{digest}" + (f"-{suffix}" if suffix else "")


def dependency_patterns(
    value: str | None, working: Path, home: str, ref: ActionRef | None = None
) -> list[str]:
    """``cache-dependency-glob`` (else the version's default), one pattern a line, made
    absolute against the working directory as the action does (``~`` is home, ``!`` kept)."""
    lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
    if not lines:
        lines = list(default_dependency_glob(ref))
    absolute = []
    for line in lines:
        negated = line.startswith("!")
        body = line[1:] if negated else line
        if body.startswith("~"):
            body = home + body[1:]
        resolved = body if body.startswith("/") else str(working / body)
        absolute.append(("!" if negated else "") + resolved)
    return absolute


def key_for_tree(
    workspace: Path,
    *,
    python: str,
    inputs: dict[str, str] | None = None,
    ref: ActionRef | None = None,
    os_name_version: str = "ubuntu-24.04",
    home: Path | None = None,
    uv_version: str = "",
) -> str:
    """The key setup-uv would compute for a checkout at ``workspace`` with these ``with:``
    inputs, without running anything (a replay of a repository's history wants it per commit).
    ``python`` is the python-version input, else the version ``uv python find`` would report."""
    inputs = inputs or {}
    home_text = str(home if home is not None else workspace.parent)
    working = workspace / inputs.get("working-directory", "").strip()
    patterns = dependency_patterns(inputs.get("cache-dependency-glob"), working, home_text, ref)
    digest = hash_files(
        patterns,
        workspace=workspace,
        home=home_text,
        follow_symbolic_links=True,
        workspace_only=False,
    )
    prune = inputs.get("prune-cache", "").strip().lower()
    cache_python = inputs.get("cache-python", "").strip().lower() == "true"
    parts = UvKeyParts(
        python=inputs.get("python-version", "").strip() or python,
        files_hash=digest,
        os_name_version=os_name_version,
        pruned=prune == "true" if prune else prune_default(ref),
        cache_python=cache_python,
        suffix=inputs.get("cache-suffix", "").strip(),
        uv_version=uv_version,
    )
    return setup_uv_key(parts, ref)
