"""The cache keys setup-python and setup-uv compute, as plain functions of their parts.

Shared by the actions that run (``actions.py``) and the history replay (``bench/history``), so
the two cannot drift. Spec: ``shared/spec/actions-cache.md`` sections 7 and 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

SETUP_PYTHON_DEPENDENCY_FILES = {
    "pip": ["**/requirements.txt"],
    "pipenv": ["**/Pipfile.lock"],
    "poetry": ["**/poetry.lock"],
}
SETUP_PYTHON_PIP_FALLBACK = ["**/pyproject.toml"]  # when the requirements hash to nothing

SETUP_UV_DEPENDENCY_GLOB = [
    "**/*requirements*.txt",
    "**/*requirements*.in",
    "**/*constraints*.txt",
    "**/*constraints*.in",
    "**/pyproject.toml",
    "**/uv.lock",
    "**/*.py.lock",
]
SETUP_UV_NO_GLOB = "no-dependency-glob"


@dataclass(frozen=True)
class CacheKeys:
    primary: str
    restore: tuple[str, ...] = ()


def setup_python_keys(
    *,
    runner_os: str,
    arch: str,
    os_version: str,
    os_name: str,
    python_version: str,
    manager: str,
    digest: str,
) -> CacheKeys:
    """setup-python's ``cache:`` key; pip also restores from the same key without the hash."""
    tool = "poetry-v2" if manager == "poetry" else manager
    os_part = f"-{os_version}-{os_name}" if runner_os == "Linux" else ""
    prefix = f"setup-python-{runner_os}-{arch}{os_part}-python-{python_version}-{tool}"
    return CacheKeys(f"{prefix}-{digest}", (prefix,) if manager == "pip" else ())


def setup_uv_python_part(python_version_input: str, python_found: str) -> str:
    if python_version_input:
        return quote(python_version_input, safe="")
    return python_found or "unknown"


def setup_uv_key(
    *,
    arch: str,
    platform: str,
    os_release: str,
    python: str,
    pruned: bool,
    cache_python: bool,
    digest: str,
    suffix: str,
) -> CacheKeys:
    """setup-uv's key; it passes no restore keys (the service still prefix-matches the key).

    ``python`` comes from ``setup_uv_python_part``.
    """
    key = f"setup-uv-2-{arch}-{platform}-{os_release}-{python}"
    if pruned:
        key += "-pruned"
    if cache_python:
        key += "-py"
    key += f"-{digest or SETUP_UV_NO_GLOB}"
    if suffix:
        key += f"-{suffix}"
    return CacheKeys(key)
