"""The machine's node, and whether it satisfies a setup-node version spec.

A hosted runner downloads the node release asked for; this machine has one node (the image's
``/usr/bin/node``), which is used whatever the spec: when it does not satisfy the spec it stands
in, and the log, the step's record and ``check-workflow`` say so. Node is not what the harness
measures (Python dependencies are): a job's node steps run on the machine's node or fail as
they would with a wrong node, and the comparison between caching strategies is unchanged.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache

# Where the image's node lives; the runner's PATH holds them (``sandbox.SYSTEM_PATH``, not
# imported: parsing a workflow loads nothing of the runner).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
_ALIASES = ("lts/", "latest", "current", "node", "stable")
_PART = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")


@cache
def machine_node(path: str = SYSTEM_PATH) -> tuple[str, str] | None:
    """(path, version without the v) of the node on ``path``; None when there is none."""
    found = shutil.which("node", path=path)
    if found is None:
        return None
    try:
        done = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip().lstrip("v")
    return (found, version) if done.returncode == 0 and version else None


def satisfies(version: str, spec: str) -> bool:
    """``version`` (``20.20.2``) against a node-version spec: ``20``, ``20.x``, ``v20.1.2``,
    ``>=18 <21``, ``^20.1``, ``~20.1``, ``18 || 20``; aliases (``lts/*``, ``latest``) resolve
    only online, so they are never satisfied here."""
    spec = spec.strip()
    if not spec or spec.startswith(_ALIASES):
        return False
    have = tuple(int(p) for p in version.split(".")[:3])
    return any(_all_hold(have, part.split()) for part in spec.split("||"))


def _all_hold(have: tuple[int, ...], comparators: list[str]) -> bool:
    comparators = _joined(comparators)
    return bool(comparators) and all(_holds(have, c) for c in comparators)


def _joined(words: list[str]) -> list[str]:
    """``>= 18`` written with a space is one comparator."""
    out: list[str] = []
    for word in words:
        if out and re.fullmatch(r"[<>=~^]+", out[-1]):
            out[-1] += word
        else:
            out.append(word)
    return out


def _holds(have: tuple[int, ...], comparator: str) -> bool:
    operator = re.match(r"^(>=|<=|>|<|=|\^|~)?", comparator).group(1) or ""  # type: ignore[union-attr]
    found = _PART.match(comparator[len(operator) :])
    if found is None:
        return False
    parts = [int(p) for p in found.groups() if p is not None and p not in "xX*"]
    if not parts:
        return True
    if operator in ("", "="):
        return list(have[: len(parts)]) == parts
    low = tuple(parts + [0] * (3 - len(parts)))
    if operator == ">=":
        return have >= low
    if operator == ">":
        return have[: len(parts)] > tuple(parts)
    if operator == "<":
        return have < low
    if operator == "<=":
        return have[: len(parts)] <= tuple(parts)
    if operator == "^":
        return have >= low and have[0] == low[0]
    # ~: the same minor when one is given, else the same major
    return have >= low and list(have[: min(len(parts), 2)]) == parts[:2]


def stand_in_words(spec: str, version: str) -> str:
    return f"node-version {spec}: not this machine's node; v{version} (the only one here) stands in"
