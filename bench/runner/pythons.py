"""The interpreters on this machine that ``actions/setup-python`` may stand for.

A hosted runner downloads CPython into its tool cache; here the matching interpreter already on
the machine is used, in a fresh venv per trial (so nothing is installed into the host's Python).
"""

from __future__ import annotations

import glob
import os
import subprocess
from dataclasses import dataclass
from functools import cache

from packaging.version import InvalidVersion, Version

from bench.errors import BenchError

_CANDIDATE_GLOBS = (
    "/usr/bin/python3.*",
    "/usr/local/bin/python3.*",
    os.path.expanduser("~/.pyenv/versions/*/bin/python3"),
    "/opt/hostedtoolcache/Python/*/x64/bin/python3",
)


@dataclass(frozen=True)
class Interpreter:
    version: str  # e.g. "3.11.7"
    path: str


@cache
def installed_interpreters() -> tuple[Interpreter, ...]:
    found: dict[str, Interpreter] = {}
    for pattern in _CANDIDATE_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if not os.access(path, os.X_OK) or path.endswith("-config"):
                continue
            version = version_of(path)
            if version and version not in found:
                found[version] = Interpreter(version, os.path.realpath(path))
    return tuple(sorted(found.values(), key=lambda i: Version(i.version)))


def version_of(path: str) -> str | None:
    """The full version of the interpreter at ``path`` (None when it does not run)."""
    try:
        result = subprocess.run(
            [path, "-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stdout.strip()
    return text if result.returncode == 0 and text else None


def select_interpreter(spec: str) -> Interpreter:
    """The newest interpreter matching ``3.11``, ``3.11.7``, ``3.x`` or ``>=3.11``-style specs."""
    spec = spec.strip()
    candidates = installed_interpreters()
    matching = [i for i in candidates if _matches(i.version, spec)]
    if not matching:
        have = ", ".join(i.version for i in candidates) or "none"
        raise BenchError(
            f"python-version {spec!r} matches no interpreter on this machine (found: {have}); "
            "change the workflow's python-version"
        )
    return matching[-1]


def _matches(version: str, spec: str) -> bool:
    if spec.startswith(("<", ">", "=", "!", "~")):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return Version(version) in SpecifierSet(spec)
        except InvalidSpecifier:
            raise BenchError(f"python-version {spec!r} is not a version or range") from None
    parts = spec.split(".")
    ours = version.split(".")
    if parts[-1] == "x":
        parts = parts[:-1]
    try:
        Version(".".join(parts) or "0")
    except InvalidVersion:
        raise BenchError(f"python-version {spec!r} is not a version or range") from None
    return ours[: len(parts)] == parts
