"""The cache keys setup-python computes, as a plain function of their parts (setup-uv's: ``uvkey``).

Shared by the actions that run (``actions.py``) and the history replay (``bench/history``), so
the two cannot drift. Spec: ``shared/spec/actions-cache.md`` sections 7 and 8.
"""

from __future__ import annotations

from dataclasses import dataclass

SETUP_PYTHON_DEPENDENCY_FILES = {
    "pip": ["**/requirements.txt"],
    "pipenv": ["**/Pipfile.lock"],
    "poetry": ["**/poetry.lock"],
}
SETUP_PYTHON_PIP_FALLBACK = ["**/pyproject.toml"]  # when the requirements hash to nothing


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
