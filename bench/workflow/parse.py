"""Read a workflow file: every job, whether the harness can run it, and the job a trial runs.

``check_file`` collects, for each job, every construct that blocks it (``check-workflow``
prints them all); ``load_workflow`` returns the one job (and matrix cell) to run, or raises an
error naming file, job, step and construct. Nothing blocking is skipped silently, because
skipping, say, a ``services:`` block would time a different job. Job keys that only matter
between jobs (``needs``, ``outputs``, ``if``…) are accepted for a job run alone and named in
the trial's log. Parsing loads no execution code: actions are looked up in ``registry``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError
from bench.workflow import matrix as matrices
from bench.workflow.cells import (
    input_defaults,
    interpreter_problems,
    linux_cells,
    set_aside_lines,
    stand_in_notes,
    static_if_contexts,
)
from bench.workflow.model import Step, Workflow
from bench.workflow.names import workflow_file_name
from bench.workflow.steps import (
    COMMENT,
    SHELL_HELP,
    Loader,
    parse_steps,
    shell_supported,
    string_map,
)

_WORKFLOW_KEYS = {"name", "on", "env", "jobs", "permissions", "concurrency", "defaults", "run-name"}
# Accepted for a job run alone; each is named in the log as set aside (see set_aside_lines).
_JOB_KEYS = {
    "runs-on",
    "steps",
    "env",
    "name",
    "defaults",
    "timeout-minutes",
    "strategy",
    "permissions",
    "concurrency",
    "continue-on-error",
    "if",
    "needs",
    "outputs",
    "environment",
}
_REFUSED_JOB_KEYS = {
    "services": "services: the harness runs no containers (service containers are not started)",
    "container": "container: the harness runs no containers (the job would run inside one)",
    "uses": "uses: calls a reusable workflow; run the called workflow's job instead",
}


class WorkflowError(BenchError):
    """A workflow the harness cannot run; the message names file, job, step and construct."""


@dataclass
class JobCheck:
    """One job of a file: what blocks it (empty when it runs) and, if it runs, the job."""

    job: str
    blockers: list[str] = field(default_factory=list)
    workflow: Workflow | None = None
    notes: list[str] = field(default_factory=list)  # what stands in when it runs (not blockers)

    @property
    def runnable(self) -> bool:
        return not self.blockers


def read_document(path: Path) -> dict:
    """The file's YAML as a mapping; an error when it cannot be read or is not a workflow."""
    try:
        text = path.read_text()
    except OSError as error:
        raise WorkflowError(f"cannot read workflow {path}: {error.strerror}") from None
    try:
        document = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise WorkflowError(f"{path}{where}: not valid YAML") from None
    if not isinstance(document, dict):
        raise WorkflowError(f"{path}: a workflow is a mapping with 'jobs'")
    return {("on" if key is True else key): value for key, value in document.items()}


def check_file(path: Path, matrix: Mapping[str, str] | None = None) -> list[JobCheck]:
    """Every job of the file with every construct that blocks it."""
    document = read_document(path)
    jobs = document.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return [JobCheck("-", ["no jobs: a workflow has a 'jobs' mapping"])]
    return [check_job(document, path, str(job_id), matrix) for job_id in jobs]


def load_workflow(
    path: Path, job: str | None = None, matrix: Mapping[str, str] | None = None
) -> Workflow:
    """The job ``job`` of the file (the only one when ``None``), in the chosen matrix cell."""
    return parse_workflow(read_document(path), path, job, matrix)


def parse_workflow(
    document: Any,
    path: Path,
    job: str | None = None,
    matrix: Mapping[str, str] | None = None,
) -> Workflow:
    if not isinstance(document, dict):
        raise WorkflowError(f"{path}: a workflow is a mapping with 'jobs'")
    document = {("on" if key is True else key): value for key, value in document.items()}
    jobs = document.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        raise WorkflowError(f"{path}: no jobs")
    names = [str(name) for name in jobs]
    if job is None:
        if len(names) != 1:
            raise WorkflowError(
                f"{path} has {len(names)} jobs ({', '.join(names)}); choose one with --job NAME"
            )
        job = names[0]
    elif job not in names:
        raise WorkflowError(f"{path} has no job {job!r}; its jobs: {', '.join(names)}")
    checked = check_job(document, path, job, matrix)
    if checked.workflow is None:
        more = len(checked.blockers) - 1
        tail = f" (and {more} more: see python -m bench check-workflow {path})" if more else ""
        raise WorkflowError(f"{path}: job {job!r}: {checked.blockers[0]}{tail}")
    return checked.workflow


def check_job(
    document: dict, path: Path, job_id: str, wanted: Mapping[str, str] | None = None
) -> JobCheck:
    """One job: its blockers, and the ``Workflow`` to run when there are none.

    The cell run is the chosen one, else the first that runs on Linux and whose steps all run
    here (a Python the machine has, no step refused): a matrix often holds a Windows cell or a
    Python newer than the machine's, and the job still runs in its other cells. When no cell
    runs, the blockers are those of the first cell that runs on Linux (or the runs-on reasons).
    """
    check = JobCheck(job_id)
    problems = check.blockers
    for key in document:
        if key not in _WORKFLOW_KEYS and key != COMMENT:
            problems.append(f"workflow key {key!r} is not supported by the harness")
    raw = document["jobs"][job_id]
    if not isinstance(raw, dict):
        problems.append("a job is a mapping with 'steps'")
        return check
    for key in raw:
        if key == COMMENT or (key in ("with", "secrets") and "uses" in raw):
            continue
        if key in _REFUSED_JOB_KEYS:
            problems.append(_REFUSED_JOB_KEYS[key])
        elif key not in _JOB_KEYS:
            problems.append(f"job key {key!r} is not supported by the harness")
    workflow_env = string_map(document.get("env"), "env", problems)
    contexts = matrices.static_contexts(workflow_env, input_defaults(document))
    cells, linux, refusals = linux_cells(raw, contexts, wanted, problems)
    raw_steps = raw.get("steps")
    if "uses" in raw:
        return check
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("no steps")
        return check
    root = _repository_root(path)
    chosen: tuple[dict[str, Any], str, list[Step]] | None = None
    first_problems: list[str] | None = None
    for cell, runs_on in linux:
        cell_problems: list[str] = []
        static = static_if_contexts(contexts, cell)
        steps = parse_steps(raw_steps, "", cell_problems, root, 0, static)
        found, notes = interpreter_problems(steps, contexts | {"matrix": cell}, static)
        cell_problems += found
        if not cell_problems and (chosen is None or not notes):
            chosen = (cell, runs_on, steps)
            check.notes = notes + stand_in_notes(steps, static)
            if not notes:  # a cell whose Pythons are all here beats one with a stand-in
                break
        if first_problems is None and cell_problems:
            first_problems = cell_problems
    if chosen is None:
        if first_problems is None:  # no Linux cell: its steps' problems still count
            first_problems = []
            parse_steps(raw_steps, "", first_problems, root, 0, static_if_contexts(contexts, {}))
        problems.extend(refusals if not linux else [])
        problems.extend(first_problems)
    shell, working_directory = _defaults(document, raw, problems)
    if "runs-on" not in raw:
        problems.append("no runs-on")
    if problems or chosen is None:
        return check
    cell, runs_on, steps = chosen
    check.workflow = Workflow(
        path=path,
        name=str(document.get("name") or workflow_file_name(path)),
        job_name=job_id,
        env=workflow_env,
        job_env=string_map(raw.get("env"), "job env", problems),
        steps=steps,
        matrix=cell,
        default_shell=shell,
        default_working_directory=working_directory,
        runs_on=runs_on,
        set_aside=tuple(set_aside_lines(raw, cells, cell, runs_on)),
        cells=cells,
    )
    return check


def _repository_root(path: Path) -> Path:
    """The repository holding the workflow: above ``.github/workflows``, else its folder."""
    resolved = path.resolve()
    if resolved.parent.name == "workflows" and resolved.parent.parent.name == ".github":
        return resolved.parents[2]
    return resolved.parent


def _defaults(document: dict, job: dict, problems: list[str]) -> tuple[str | None, str | None]:
    shell = working_directory = None
    for source in (document.get("defaults"), job.get("defaults")):
        if not source:
            continue
        run = source.get("run", {}) if isinstance(source, dict) else {}
        shell = run.get("shell", shell)
        working_directory = run.get("working-directory", working_directory)
    if shell is not None and not shell_supported(str(shell)):
        problems.append(f"default shell {shell!r} is not supported ({SHELL_HELP})")
    return shell, working_directory
