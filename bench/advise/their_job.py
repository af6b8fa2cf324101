"""Which of the team's jobs is "what you do today": the one that installs and tests the project.

Every job in ``.github/workflows/*.y*ml`` with a dependency step (Python or uv set up, a cache,
an install) and a test command is a candidate; ``--job`` picks one by id; otherwise a job
named like a test job wins, then the first. The choice and the others are reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.advise.project import read_test_command
from bench.advise.rewrite import is_dependency_step
from bench.errors import BenchError

WORKFLOWS = Path(".github") / "workflows"
_TEST_WORD = re.compile(r"\b(pytest|tox|nox|unittest)\b")
_TEST_NAMES = ("test", "tests", "pytest", "ci", "build")


@dataclass(frozen=True)
class TheirJob:
    workflow: Path
    job_id: str
    test_command: str | None
    others: tuple[str, ...]  # the other candidate jobs, as file:job


def find_their_job(project: Path, job: str | None = None, test_cmd: str | None = None) -> TheirJob:
    """The job; with ``test_cmd`` given, a job need not run a test command we recognise."""
    found: list[tuple[Path, str, str | None]] = []
    for path in sorted((project / WORKFLOWS).glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise BenchError(f"cannot read {path}: {error}".splitlines()[0]) from None
        jobs = data.get("jobs") if isinstance(data, dict) else None
        for job_id, body in (jobs or {}).items():
            steps = body.get("steps") if isinstance(body, dict) else None
            if not isinstance(steps, list):
                continue
            steps = [s for s in steps if isinstance(s, dict)]
            if any(_checks_out_another_repository(s) for s in steps):
                continue  # it tests another project (a downstream job), not this one
            scripts = [str(s.get("run", "")) for s in steps]
            test = read_test_command(scripts) or _script_test_command(scripts, project)
            if any(is_dependency_step(s) for s in steps) and (test or test_cmd):
                found.append((path, str(job_id), test))
    names = [f"{p.relative_to(project)}:{j}" for p, j, _ in found]
    if not found:
        raise BenchError(
            f"no job in {project / WORKFLOWS} installs Python dependencies and runs tests; "
            "give the test command with --test-cmd and a workflow"
        )
    if job is not None:
        chosen = [entry for entry in found if entry[1] == job]
        if not chosen:
            raise BenchError(f"no job {job!r} installs and tests; give one of {', '.join(names)}")
    else:
        chosen = [e for e in found if e[1].lower() in _TEST_NAMES] or found
    path, job_id, test = chosen[0]
    others = tuple(n for n in names if n != f"{path.relative_to(project)}:{job_id}")
    return TheirJob(path, job_id, test, others)


def _script_test_command(scripts: list[str], project: Path) -> str | None:
    """A step that runs one of the repository's own scripts which runs the tests (a
    ``scripts/test`` that calls pytest): that step's line is the test command."""
    found = None
    for script in scripts:
        words = script.strip().split()
        if len(words) == 0 or "\n" in script.strip():
            continue
        path = words[1] if words[0] in ("sh", "bash") and len(words) > 1 else words[0]
        file = project / path.removeprefix("./")
        try:
            inside = file.is_file() and file.resolve().is_relative_to(project.resolve())
            if inside and _TEST_WORD.search(file.read_text(errors="replace")):
                found = script.strip()
        except OSError:
            continue
    return found


def _checks_out_another_repository(step: dict) -> bool:
    uses = str(step.get("uses", ""))
    inputs = step.get("with")
    return (
        uses.startswith("actions/checkout@")
        and isinstance(inputs, dict)
        and bool(str(inputs.get("repository", "")).strip())
    )
