"""The shipped strategies, retargeted at a user's project.

A shipped scenario is the strategy as a team would paste it, written for our sample sets: it
installs with ``-r requirements.txt``, tests with ``pytest tests/`` and hashes
``requirements.txt`` (or a lock file). Retargeting replaces exactly those three things with the
project's own (``ProjectFacts``) and keeps every cache step as it is. A strategy that cannot
apply (poetry's without a poetry.lock, pip's on a project whose lock belongs to another tool, a
scenario whose text does not have the expected install line) is skipped with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.advise.project import ProjectFacts

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


def candidates_for(
    workflows: list[Path], facts: ProjectFacts
) -> tuple[list[Candidate], list[Skipped]]:
    chosen: list[Candidate] = []
    skipped: list[Skipped] = []
    for path in workflows:
        outcome = retarget(path.stem, path.read_text(), facts)
        (chosen if isinstance(outcome, Candidate) else skipped).append(outcome)
    return chosen, skipped


def write_candidates(candidates: list[Candidate], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for candidate in candidates:
        path = folder / f"{candidate.name}.yml"
        path.write_text(candidate.text)
        paths.append(path)
    return paths
