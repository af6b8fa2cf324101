"""Read a workflow file into a ``Workflow``, refusing what the harness would not run faithfully.

Every key outside the supported subset is an error naming the file, the step and the key,
because silently skipping, say, a ``services:`` block would time a different job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError
from bench.workflow.actions import ActionError, find_action
from bench.workflow.expressions import ExpressionError, parse, split_template
from bench.workflow.model import Step, Workflow

# Keys accepted and ignored: they do not change what a single hosted job does on one runner.
_WORKFLOW_KEYS = {"name", "on", "env", "jobs", "permissions", "concurrency", "defaults", "run-name"}
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
}
_STEP_KEYS = {
    "name",
    "id",
    "uses",
    "run",
    "with",
    "env",
    "if",
    "shell",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
}
_SHELLS = {"bash", "sh", "python"}


class WorkflowError(BenchError):
    """A workflow the harness cannot run; the message names file, step and construct."""


def load_workflow(path: Path) -> Workflow:
    try:
        text = path.read_text()
    except OSError as error:
        raise WorkflowError(f"cannot read workflow {path}: {error.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise WorkflowError(f"{path}{where}: not valid YAML") from None
    return parse_workflow(document, path)


def parse_workflow(document: Any, path: Path) -> Workflow:
    where = str(path)
    if not isinstance(document, dict):
        raise WorkflowError(f"{where}: a workflow is a mapping with 'jobs'")
    document = {("on" if key is True else key): value for key, value in document.items()}
    _refuse_unknown(document, _WORKFLOW_KEYS, where)
    jobs = document.get("jobs")
    if not isinstance(jobs, dict) or len(jobs) != 1:
        names = ", ".join(jobs) if isinstance(jobs, dict) else "none"
        raise WorkflowError(f"{where}: a scenario is exactly one job (found: {names})")
    job_name, job = next(iter(jobs.items()))
    where_job = f"{where}: job {job_name!r}"
    if not isinstance(job, dict):
        raise WorkflowError(f"{where_job}: a job is a mapping with 'steps'")
    _refuse_unknown(job, _JOB_KEYS, where_job)
    steps = job.get("steps")
    if not isinstance(steps, list) or not steps:
        raise WorkflowError(f"{where_job}: no steps")
    shell, working_directory = _defaults(document, job, where_job)
    parsed_steps = [_parse_step(raw, i, where_job) for i, raw in enumerate(steps, start=1)]
    _check_unique_ids(parsed_steps, where_job)
    return Workflow(
        path=path,
        name=str(document.get("name") or path.stem),
        job_name=str(job_name),
        env=_string_map(document.get("env"), f"{where}: env"),
        job_env=_string_map(job.get("env"), f"{where_job}: env"),
        steps=parsed_steps,
        matrix=_matrix(job.get("strategy"), where_job),
        default_shell=shell,
        default_working_directory=working_directory,
    )


def _parse_step(raw: Any, index: int, where_job: str) -> Step:
    if not isinstance(raw, dict):
        raise WorkflowError(f"{where_job}: step {index} is not a mapping")
    where = f"{where_job}, step {index}" + (f" ({raw['name']!r})" if raw.get("name") else "")
    _refuse_unknown(raw, _STEP_KEYS, where)
    uses, run = raw.get("uses"), raw.get("run")
    if (uses is None) == (run is None):
        raise WorkflowError(f"{where}: a step has exactly one of 'uses' and 'run'")
    if run is not None and not isinstance(run, str):
        raise WorkflowError(f"{where}: 'run' must be a string")
    if uses is not None:
        try:
            _handler, accepted, _phase = find_action(str(uses))
        except ActionError as error:
            raise WorkflowError(f"{where}: {error}") from None
        for name in raw.get("with") or {}:
            if name not in accepted:
                raise WorkflowError(f"{where}: {uses} has no input {name!r}")
    shell = raw.get("shell")
    if shell is not None and str(shell).split()[0] not in _SHELLS:
        raise WorkflowError(f"{where}: shell {shell!r} is not supported (use bash, sh or python)")
    step = Step(
        index=index,
        name=str(raw["name"]) if raw.get("name") is not None else None,
        id=str(raw["id"]) if raw.get("id") is not None else None,
        uses=str(uses) if uses is not None else None,
        run=run,
        with_=_string_map(raw.get("with"), f"{where}: with"),
        env=_string_map(raw.get("env"), f"{where}: env"),
        if_=_condition(raw.get("if")),
        shell=str(shell) if shell is not None else None,
        working_directory=raw.get("working-directory"),
        continue_on_error=raw.get("continue-on-error", False),
    )
    _check_expressions(step, where)
    return step


def _check_expressions(step: Step, where: str) -> None:
    """Parse every ``${{ }}`` now, so a broken one is reported before anything runs."""
    texts = [step.run or "", step.name or "", *step.with_.values(), *step.env.values()]
    try:
        for text in texts:
            for is_expression, part in split_template(text):
                if is_expression:
                    parse(part)
        if step.if_ is not None:
            pieces = split_template(step.if_)
            if not any(is_expression for is_expression, _ in pieces):
                parse(step.if_)
            else:
                for is_expression, part in pieces:
                    if is_expression:
                        parse(part)
    except ExpressionError as error:
        raise WorkflowError(f"{where}: {error}") from None


def _condition(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refuse_unknown(mapping: dict, allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise WorkflowError(f"{where}: {key!r} is not supported by the harness")


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WorkflowError(f"{where} must be a mapping")
    return {str(k): _scalar(v) for k, v in value.items()}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise WorkflowError(f"expected a string, found {type(value).__name__}")
    return str(value)


def _defaults(document: dict, job: dict, where: str) -> tuple[str | None, str | None]:
    shell = working_directory = None
    for source in (document.get("defaults"), job.get("defaults")):
        if not source:
            continue
        run = source.get("run", {}) if isinstance(source, dict) else {}
        shell = run.get("shell", shell)
        working_directory = run.get("working-directory", working_directory)
    if shell is not None and str(shell).split()[0] not in _SHELLS:
        raise WorkflowError(f"{where}: default shell {shell!r} is not supported")
    return shell, working_directory


def _matrix(strategy: Any, where: str) -> dict[str, object]:
    """A matrix of one combination (``python-version: ['3.11']``); a real fan-out is refused."""
    if not strategy:
        return {}
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if not isinstance(matrix, dict):
        return {}
    combination: dict[str, object] = {}
    for key, values in matrix.items():
        if key in ("include", "exclude"):
            raise WorkflowError(f"{where}: strategy.matrix.{key} is not supported")
        values = values if isinstance(values, list) else [values]
        if len(values) != 1:
            raise WorkflowError(
                f"{where}: matrix key {key!r} has {len(values)} values; a scenario is one job, "
                "so give one value"
            )
        combination[str(key)] = values[0]
    return combination


def _check_unique_ids(steps: list[Step], where: str) -> None:
    seen: set[str] = set()
    for step in steps:
        if step.id is not None:
            if step.id in seen:
                raise WorkflowError(f"{where}: step id {step.id!r} is used twice")
            seen.add(step.id)
