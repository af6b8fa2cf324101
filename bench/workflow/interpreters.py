"""Which interpreter on this machine stands for a setup-python ``python-version``.

A hosted runner installs the exact patch release asked for; this machine has one patch release
per minor version. An exact ``3.12.3`` therefore takes the machine's newest 3.12, and says so in
the step's log (the cache key then names the version actually used, as it would on GitHub).

A CPython newer than any on this machine (``3.14``, ``3.15-dev``, ``>=3.14``) is stood in for
by the machine's newest, by policy: the job runs, and the log, the step's record and
``check-workflow`` say what stood in (``InterpreterChoice.stood_in``). Older versions, PyPy,
free-threaded builds and anything else that matches nothing stay errors: there is no honest
stand-in for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from bench.errors import BenchError
from bench.runner.pythons import Interpreter, installed_interpreters, select_interpreter

_EXACT = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
# 3.14, 3.14.1, 3.14.x, 3.14-dev, 3.14.0-alpha.1, 3.14.0-rc.2: setup-python's CPython forms
_PLAIN = re.compile(r"^(\d+)\.(\d+)(?:\.(?:\d+|x))?(?:-(?:dev|alpha|beta|rc)(?:\.\d+)?)?$")
_RANGE_START = ("<", ">", "=", "!", "~")


@dataclass(frozen=True)
class InterpreterChoice:
    interpreter: Interpreter
    note: str | None = None  # another patch release of the minor asked for (log only)
    stood_in: str | None = None  # the machine's newest for a newer CPython: log, record, check


def interpreter_for(spec: str) -> tuple[Interpreter, str | None]:
    """The interpreter, and a note when it is another patch release than the one asked for."""
    try:
        return select_interpreter(spec), None
    except BenchError:
        plain = _without_prerelease(spec.strip())
        if plain != spec.strip():  # 3.13-dev: the machine's 3.13 when it has one
            try:
                return interpreter_for(plain)
            except BenchError:
                pass
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


def choose_interpreter(spec: str) -> InterpreterChoice:
    """``interpreter_for``, else the machine's newest standing in for a newer CPython."""
    try:
        found, note = interpreter_for(spec)
        return InterpreterChoice(found, note)
    except BenchError:
        newest = newest_interpreter()
        if newest is None or not newer_than(spec, Version(newest.version)):
            raise
    return InterpreterChoice(newest, stood_in=stand_in_words(spec, newest.version))


def uv_python_choice(spec: str) -> InterpreterChoice | None:
    """setup-uv's ``python-version``: a Python the machine has (``None``: uv finds it), else
    the newest standing in for a newer one; anything else is an error (uv would download)."""
    try:
        select_interpreter(spec)
        return None
    except BenchError:
        choice = choose_interpreter(spec)
        if choice.stood_in is None:
            raise
        return choice


def stand_in_words(spec: str, version: str) -> str:
    return f"python-version {spec}: newer than any Python here; {version} (the newest) stands in"


def newest_interpreter() -> Interpreter | None:
    found = installed_interpreters()
    return found[-1] if found else None


def newer_than(spec: str, newest: Version) -> bool:
    """Whether ``spec`` asks only for CPython releases above ``newest``'s minor version."""
    spec = spec.strip()
    if spec.startswith(_RANGE_START):
        try:
            text = re.sub(r"(?<=[\d*])\s+(?=[<>=!~])", ",", spec).replace(" ", "")
            wanted = SpecifierSet(text, prereleases=True)
        except InvalidSpecifier:
            return False
        if newest in wanted:
            return False
        later = [Version(f"{newest.major}.{newest.minor + k}.0") for k in range(1, 6)]
        return any(version in wanted for version in later)
    found = _PLAIN.match(spec)
    if found is None:
        return False
    asked = (int(found.group(1)), int(found.group(2)))
    return asked > (newest.major, newest.minor)


def _without_prerelease(spec: str) -> str:
    return re.sub(r"-(dev|alpha|beta|rc)(\.\d+)?$", "", spec)
