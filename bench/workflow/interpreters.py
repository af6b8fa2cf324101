"""Which interpreter on this machine stands for a setup-python ``python-version``.

A hosted runner installs the exact patch release asked for; this machine has one patch release
per minor version. An exact ``3.12.3`` therefore takes the machine's newest 3.12, and says so in
the step's log (the cache key then names the version actually used, as it would on GitHub).
"""

from __future__ import annotations

import re

from bench.errors import BenchError
from bench.runner.pythons import Interpreter, select_interpreter

_EXACT = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def interpreter_for(spec: str) -> tuple[Interpreter, str | None]:
    """The interpreter, and a note when it is another patch release than the one asked for."""
    try:
        return select_interpreter(spec), None
    except BenchError:
        exact = _EXACT.match(spec.strip())
        if exact is None:
            raise
        minor = f"{exact.group(1)}.{exact.group(2)}"
        try:
            found = select_interpreter(minor)
        except BenchError:
            raise BenchError(
                f"python-version {spec!r} matches no interpreter on this machine (nor does "
                f"{minor}); change the workflow's python-version"
            ) from None
        return found, f"python-version {spec}: this machine has {found.version}, used instead"
