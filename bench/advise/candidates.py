"""The shipped strategies, retargeted at a user's project.

A shipped scenario is the strategy as a team would paste it, written for our sample sets: it
installs with ``-r requirements.txt``, tests with ``pytest tests/`` and hashes
``requirements.txt`` (or a lock file). Retargeting replaces exactly those three things with the
project's own (``ProjectFacts``) and keeps every cache step as it is. A strategy that cannot
apply (poetry's without a poetry.lock, pip's on a project whose lock belongs to another tool, a
scenario whose text does not have the expected install line) is skipped with the reason.

``no-cache`` installs with pip. A project whose lock file decides the install gets, as its
baseline without a cache, its own tool's strategy with the caching taken out, so "does caching
pay at all" is answered for poetry, pipenv and uv projects too.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from bench.advise.project import ProjectFacts
from bench.advise.rewrite import round_trip_yaml, step_uses

INSTALL_ARGUMENTS = "-r requirements.txt"
TEST_COMMAND = "pytest tests/"
_HASH_FILES = re.compile(r"hashFiles\('(\*\*/)?requirements\.txt'\)")
# A project is installed with its root and its development packages, as teams' jobs do.
_PROJECT_INSTALLS = {
    "poetry install --no-root": "poetry install",
    "pipenv install --deploy": "pipenv install --deploy --dev",
}
# The lock a shipped scenario installs from, by what its text runs.
_TOOL_MARKERS = {"poetry": "poetry install", "pipenv": "pipenv install", "uv": "uv sync"}
NO_CACHE = "no-cache"
# The strategy a lock tool's baseline without a cache is taken from.
_UNCACHED_SOURCE = {"poetry": "poetry", "pipenv": "pipenv", "uv": "setup-uv"}


@dataclass(frozen=True)
class Candidate:
    name: str
    text: str  # the retargeted workflow


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def retarget(name: str, text: str, facts: ProjectFacts) -> Candidate | Skipped:
    tool = next((t for t, marker in _TOOL_MARKERS.items() if marker in text), None)
    if tool is not None and tool != facts.lock_tool:
        return Skipped(name, f"installs from {tool}'s lock file; the project has no {tool} lock")
    if tool is None and INSTALL_ARGUMENTS in text and not facts.pip_arguments:
        return Skipped(
            name, f"installs with pip; the project's {facts.form} is installed by {facts.lock_tool}"
        )
    if tool is None and INSTALL_ARGUMENTS not in text:
        return Skipped(name, f"its install step has no {INSTALL_ARGUMENTS!r} to retarget")
    if TEST_COMMAND not in text:
        return Skipped(name, f"its test step has no {TEST_COMMAND!r} to retarget")
    patterns = ", ".join(f"'{pattern}'" for pattern in facts.key_files)
    retargeted = _HASH_FILES.sub(f"hashFiles({patterns})", text)
    retargeted = retargeted.replace(INSTALL_ARGUMENTS, facts.pip_arguments)
    retargeted = retargeted.replace(TEST_COMMAND, facts.test_command)
    for sample, project in _PROJECT_INSTALLS.items():
        retargeted = retargeted.replace(sample, project)
    return Candidate(name, retargeted)


def without_caching(name: str, text: str, source: str) -> str:
    """``text`` with its cache steps removed and its setup actions' caches turned off."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    yaml = round_trip_yaml()
    document = yaml.load(body)
    document["name"] = name
    for job in document["jobs"].values():
        steps = job["steps"]
        steps[:] = [step for step in steps if not step_uses(step).startswith("actions/cache")]
        for step in steps:
            inputs = step.get("with")
            if step_uses(step).startswith("actions/setup-python") and inputs is not None:
                inputs.pop("cache", None)
                inputs.pop("cache-dependency-path", None)
            if step_uses(step).startswith("astral-sh/setup-uv"):
                step.setdefault("with", {})["enable-cache"] = False  # it caches by default
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    header = f"# The baseline without a cache: {source} with its caching taken out.\n"
    return header + buffer.getvalue()


def candidates_for(
    workflows: list[Path], facts: ProjectFacts
) -> tuple[list[Candidate], list[Skipped]]:
    chosen: list[Candidate] = []
    skipped: list[Skipped] = []
    for path in workflows:
        outcome = retarget(path.stem, path.read_text(), facts)
        if isinstance(outcome, Skipped) and outcome.name == NO_CACHE:
            outcome = _uncached_baseline(path.parent, facts) or outcome
        (chosen if isinstance(outcome, Candidate) else skipped).append(outcome)
    return chosen, skipped


def _uncached_baseline(folder: Path, facts: ProjectFacts) -> Candidate | None:
    source = _UNCACHED_SOURCE.get(facts.lock_tool or "")
    if source is None or not (folder / f"{source}.yml").is_file():
        return None
    outcome = retarget(source, (folder / f"{source}.yml").read_text(), facts)
    if isinstance(outcome, Skipped):
        return None
    return Candidate(NO_CACHE, without_caching(NO_CACHE, outcome.text, source))


def write_candidates(candidates: list[Candidate], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for candidate in candidates:
        path = folder / f"{candidate.name}.yml"
        path.write_text(candidate.text)
        paths.append(path)
    return paths
