"""Read a workflow file: every job, whether the harness can run it, and the job a trial runs.

``check_file`` collects, for each job, every construct that blocks it (``check-workflow``
prints them all); ``load_workflow`` returns the one job (and matrix cell) to run, or raises an
error naming file, job, step and construct. Nothing blocking is skipped silently, because
skipping, say, a ``services:`` block would time a different job. Job keys that only matter
between jobs (``needs``, ``outputs``, ``if``…) are accepted for a job run alone and named in
the trial's log. Parsing loads no execution code: actions are looked up in ``registry``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError
from bench.runner.pythons import select_interpreter
from bench.workflow import matrix as matrices
from bench.workflow.expressions import (
    ExpressionError,
    condition_holds,
    interpolate,
    parse,
    split_template,
)
from bench.workflow.interpreters import interpreter_for
from bench.workflow.model import CompositeAction, CompositeInput, Step, Workflow
from bench.workflow.refs import parse_ref
from bench.workflow.registry import UnknownAction, find_spec

_WORKFLOW_KEYS = {"name", "on", "env", "jobs", "permissions", "concurrency", "defaults", "run-name"}
# Accepted for a job run alone; each is named in the log as set aside (see _set_aside).
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
_COMMENT = ("#", "uses-comment")  # a key no YAML document can hold: the comment after uses:
_ACTION_FILES = ("action.yml", "action.yaml")


class WorkflowError(BenchError):
    """A workflow the harness cannot run; the message names file, job, step and construct."""


@dataclass
class JobCheck:
    """One job of a file: what blocks it (empty when it runs) and, if it runs, the job."""

    job: str
    blockers: list[str] = field(default_factory=list)
    workflow: Workflow | None = None

    @property
    def runnable(self) -> bool:
        return not self.blockers


class _Loader(yaml.SafeLoader):
    """A safe loader that keeps the comment after each ``uses:`` value (pins name versions)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        mapping = super().construct_mapping(node, deep)
        for key_node, value_node in node.value:
            if key_node.value == "uses" and isinstance(value_node, yaml.ScalarNode):
                mapping[_COMMENT] = _comment_after(value_node.end_mark)
        return mapping


def _comment_after(mark: yaml.Mark) -> str:
    buffer = mark.buffer
    if buffer is None:
        return ""
    end = buffer.find("\n", mark.pointer)
    rest = buffer[mark.pointer : end if end != -1 else len(buffer)].rstrip("\0")
    found = re.search(r"(^|\s)#(.*)$", rest)
    return "#" + found.group(2) if found else ""


def read_document(path: Path) -> dict:
    """The file's YAML as a mapping; an error when it cannot be read or is not a workflow."""
    try:
        text = path.read_text()
    except OSError as error:
        raise WorkflowError(f"cannot read workflow {path}: {error.strerror}") from None
    try:
        document = yaml.load(text, Loader=_Loader)
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
        if key not in _WORKFLOW_KEYS and key != _COMMENT:
            problems.append(f"workflow key {key!r} is not supported by the harness")
    raw = document["jobs"][job_id]
    if not isinstance(raw, dict):
        problems.append("a job is a mapping with 'steps'")
        return check
    for key in raw:
        if key == _COMMENT or (key in ("with", "secrets") and "uses" in raw):
            continue
        if key in _REFUSED_JOB_KEYS:
            problems.append(_REFUSED_JOB_KEYS[key])
        elif key not in _JOB_KEYS:
            problems.append(f"job key {key!r} is not supported by the harness")
    workflow_env = _string_map(document.get("env"), "env", problems)
    contexts = matrices.static_contexts(workflow_env, _input_defaults(document))
    cells, linux, refusals = _linux_cells(raw, contexts, wanted, problems)
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
        static = _static_contexts(contexts, cell)
        steps = _parse_steps(raw_steps, "", cell_problems, root, 0, static)
        cell_problems += _interpreter_problems(steps, contexts | {"matrix": cell}, static)
        if not cell_problems:
            chosen = (cell, runs_on, steps)
            break
        if first_problems is None:
            first_problems = cell_problems
    if chosen is None:
        if first_problems is None:  # no Linux cell: its steps' problems still count
            first_problems = []
            _parse_steps(raw_steps, "", first_problems, root, 0, _static_contexts(contexts, {}))
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
        name=str(document.get("name") or path.stem),
        job_name=job_id,
        env=workflow_env,
        job_env=_string_map(raw.get("env"), "job env", problems),
        steps=steps,
        matrix=cell,
        default_shell=shell,
        default_working_directory=working_directory,
        runs_on=runs_on,
        set_aside=tuple(_set_aside(raw, cells, cell, runs_on)),
        cells=cells,
    )
    return check


def _static_contexts(contexts: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    """What an ``if:`` may be judged on before the job runs (see ``_statically_false``)."""
    return {k: contexts[k] for k in ("github", "inputs")} | {
        "matrix": cell,
        "runner": {"os": "Linux", "arch": "X64", "environment": "github-hosted"},
    }


def _input_defaults(document: dict) -> dict[str, Any]:
    """A called or dispatched workflow's inputs, at their defaults."""
    triggers = document.get("on")
    defaults: dict[str, Any] = {}
    if isinstance(triggers, dict):
        for trigger in ("workflow_call", "workflow_dispatch"):
            spec = triggers.get(trigger)
            inputs = spec.get("inputs") if isinstance(spec, dict) else None
            for name, item in (inputs or {}).items():
                if isinstance(item, dict) and "default" in item:
                    defaults.setdefault(str(name), item["default"])
    return defaults


def _linux_cells(
    raw: dict,
    contexts: dict[str, Any],
    wanted: Mapping[str, str] | None,
    problems: list[str],
) -> tuple[int, list[tuple[dict[str, Any], str]], list[str]]:
    """The number of cells, the candidate cells that run on Linux (with their evaluated
    ``runs-on``) in order, and the reasons the others do not."""
    strategy = raw.get("strategy")
    raw_matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    try:
        cells = matrices.expand(raw_matrix, contexts)
    except matrices.MatrixError as error:
        if wanted:  # a matrix made by another job: the user names the cell
            cells = [dict(wanted)]
        else:
            problems.append(str(error))
            return 0, [], []
    candidates = matrices.choose(cells, wanted) if wanted else cells
    if wanted and not candidates:
        shown = "; ".join(_cell_text(c) for c in cells[:6]) + ("; …" if len(cells) > 6 else "")
        choice = ", ".join(f"{k}={v}" for k, v in wanted.items())
        problems.append(f"no matrix cell has {choice} (cells: {shown})")
        return len(cells), [], []
    if "runs-on" not in raw:
        return len(cells), [(c, "") for c in candidates], []  # reported after the steps
    linux: list[tuple[dict[str, Any], str]] = []
    refusals: dict[str, list[dict[str, Any]]] = {}  # reason: the cells it refuses
    for cell in candidates:
        try:
            runs_on = matrices.evaluate_value(raw["runs-on"], contexts | {"matrix": cell})
        except matrices.MatrixError as error:
            refusals.setdefault(f"runs-on: {error}", []).append(cell)
            continue
        if runs_on is None or runs_on == "":
            reason = (
                f"runs-on {raw['runs-on']} cannot be known here (it depends on an input "
                "without a default or on another job)"
            )
            refusals.setdefault(reason, []).append(cell)
            continue
        refused = matrices.runs_on_problem(runs_on)
        if refused is None:
            linux.append((cell, str(runs_on)))
        else:
            refusals.setdefault(refused, []).append(cell)
    lines = []
    for reason, refused_cells in refusals.items():  # each distinct reason once, in order
        if len(refused_cells) == 1 and refused_cells[0]:
            reason += f" (cell {_cell_text(refused_cells[0])})"
        elif len(refused_cells) > 1:
            reason += f" ({len(refused_cells)} cells)"
        lines.append(reason)
    return len(cells), linux, lines


def _interpreter_problems(
    steps: list[Step], contexts: dict[str, Any], static: dict[str, Any]
) -> list[str]:
    """Python versions that setup-python or setup-uv ask for and this machine does not have."""
    problems = []
    for step in steps:
        if step.action is None or _statically_false(step.if_, static):
            continue
        if step.action.name not in ("actions/setup-python", "astral-sh/setup-uv"):
            continue
        try:
            text = interpolate(step.with_.get("python-version", ""), contexts, {})
        except ExpressionError:
            continue  # known only when the job runs
        strict = step.action.name == "astral-sh/setup-uv"  # uv needs the very version
        for spec in [line.strip() for line in text.splitlines() if line.strip()]:
            try:
                select_interpreter(spec) if strict else interpreter_for(spec)
            except BenchError as error:
                problems.append(f"step {step.index}: {error}")
    return problems


_STATIC_FUNCTIONS = {
    "success": lambda: True,
    "failure": lambda: False,
    "always": lambda: True,
    "cancelled": lambda: False,
}


def _statically_false(condition: str | None, static: dict[str, Any] | None) -> bool:
    """Whether an ``if:`` is false before anything runs, from github, inputs, matrix and
    runner alone (``runner.os == 'Windows'``, ``matrix.python == '3.13'``…). Conditions on
    steps, env or needs are not decided here (they name contexts left out on purpose)."""
    if condition is None or static is None:
        return False
    try:
        return not condition_holds(condition, static, _STATIC_FUNCTIONS)
    except (ExpressionError, KeyError):
        return False


def _cell_text(cell: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items()) or "(empty)"


def _set_aside(raw: dict, cells: int, cell: dict[str, Any], runs_on: str) -> list[str]:
    """Log lines for the job keys accepted but not acted on when the job runs alone."""
    lines: list[str] = []
    note = matrices.third_party_note(runs_on)
    if note:
        lines.append(note)
    needs = raw.get("needs")
    if needs:
        names = needs if isinstance(needs, list) else [needs]
        lines.append(f"needs: {', '.join(map(str, names))} — run alone")
    if "if" in raw:
        lines.append(f"if: {raw['if']} — not evaluated, the job runs alone")
    if raw.get("outputs"):
        lines.append(f"outputs: {', '.join(map(str, raw['outputs']))} — no later job reads them")
    if "environment" in raw:
        environment = raw["environment"]
        if isinstance(environment, dict):
            environment = environment.get("name", "")
        lines.append(f"environment: {environment} — no deployment rules or secrets here")
    for key, why in (
        ("concurrency", "one trial runs at a time"),
        ("permissions", "no token here"),
        ("timeout-minutes", "not enforced"),
        ("continue-on-error", "the trial records the job's outcome"),
    ):
        if key in raw:
            lines.append(f"{key}: {raw[key]} — {why}")
    strategy = raw.get("strategy")
    if isinstance(strategy, dict):
        for key in ("fail-fast", "max-parallel"):
            if key in strategy:
                lines.append(f"strategy.{key}: {strategy[key]} — one cell runs")
    if cells > 1 or cell:
        label = ", ".join(f"{k}={v}" for k, v in cell.items())
        lines.append(f"matrix: runs the cell {label} (one of {cells})")
    return lines


def _repository_root(path: Path) -> Path:
    """The repository holding the workflow: above ``.github/workflows``, else its folder."""
    resolved = path.resolve()
    if resolved.parent.name == "workflows" and resolved.parent.parent.name == ".github":
        return resolved.parents[2]
    return resolved.parent


def _parse_steps(
    raw_steps: list,
    prefix: str,
    problems: list[str],
    root: Path,
    depth: int,
    static: dict[str, Any] | None = None,
) -> list[Step]:
    steps = []
    for i, raw in enumerate(raw_steps, 1):
        step_problems: list[str] = []
        steps.append(_parse_step(raw, i, prefix, step_problems, root, depth, static))
        if not (isinstance(raw, dict) and _statically_false(_condition(raw.get("if")), static)):
            problems.extend(step_problems)  # a step that cannot run here blocks nothing
    seen: set[str] = set()
    for step in steps:
        if step.id is not None:
            if step.id in seen:
                problems.append(f"{prefix}step id {step.id!r} is used twice")
            seen.add(step.id)
    return steps


def _parse_step(
    raw: Any,
    index: int,
    prefix: str,
    problems: list[str],
    root: Path,
    depth: int,
    static: dict[str, Any] | None = None,
) -> Step:
    if not isinstance(raw, dict):
        problems.append(f"{prefix}step {index} is not a mapping")
        return Step(index, None, None, None, "")
    where = f"{prefix}step {index}" + (f" ({raw['name']!r})" if raw.get("name") else "")
    for key in raw:
        if key not in _STEP_KEYS and key != _COMMENT:
            problems.append(f"{where}: {key!r} is not supported by the harness")
    uses, run = raw.get("uses"), raw.get("run")
    if (uses is None) == (run is None):
        problems.append(f"{where}: a step has exactly one of 'uses' and 'run'")
    if run is not None and not isinstance(run, str):
        problems.append(f"{where}: 'run' must be a string")
        run = str(run)
    action = composite = None
    if uses is not None:
        action = parse_ref(str(uses), raw.get(_COMMENT, ""))
        if action.local:
            composite = _load_composite(root, action.name, where, problems, depth, static)
            if composite is not None:
                names = {i.name for i in composite.inputs}
                for name in raw.get("with") or {}:
                    if name not in names:
                        problems.append(f"{where}: {action.name} has no input {name!r}")
        else:
            try:
                spec = find_spec(action)
            except UnknownAction as error:
                problems.append(f"{where}: {error}")
            else:
                for name in raw.get("with") or {}:
                    if spec.inputs is not None and name not in spec.inputs:
                        problems.append(f"{where}: {action.name} has no input {name!r}")
    shell = raw.get("shell")
    if shell is not None and str(shell).split()[0] not in _SHELLS:
        problems.append(f"{where}: shell {shell!r} is not supported (use bash, sh or python)")
    step = Step(
        index=index,
        name=str(raw["name"]) if raw.get("name") is not None else None,
        id=str(raw["id"]) if raw.get("id") is not None else None,
        uses=str(uses) if uses is not None else None,
        run=run,
        with_=_string_map(raw.get("with"), f"{where}: with", problems),
        env={}
        if _lone_expression(raw.get("env"))
        else _string_map(raw.get("env"), f"{where}: env", problems),
        env_from=raw["env"] if _lone_expression(raw.get("env")) else None,
        if_=_condition(raw.get("if")),
        shell=str(shell) if shell is not None else None,
        working_directory=raw.get("working-directory"),
        continue_on_error=raw.get("continue-on-error", False),
        action=action,
        composite=composite,
    )
    _check_expressions(step, where, problems)
    return step


def _load_composite(
    root: Path,
    name: str,
    where: str,
    problems: list[str],
    depth: int,
    static: dict[str, Any] | None,
) -> CompositeAction | None:
    """A local action's ``action.yml``: only composite actions run (no node, no docker)."""
    if depth > 5:
        problems.append(f"{where}: local actions nest more than 5 deep")
        return None
    folder = (root / name).resolve()
    found = next((folder / f for f in _ACTION_FILES if (folder / f).is_file()), None)
    if found is None:
        problems.append(f"{where}: no action.yml in {name} (looked in {folder})")
        return None
    try:
        document = yaml.load(found.read_text(), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        problems.append(f"{where}: {name}/{found.name} is not valid YAML")
        return None
    runs = document.get("runs") if isinstance(document, dict) else None
    using = runs.get("using") if isinstance(runs, dict) else None
    if using != "composite":
        problems.append(f"{where}: {name} is a {using or 'unknown'} action; only composite run")
        return None
    inputs = []
    for input_name, spec in (document.get("inputs") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        inputs.append(
            CompositeInput(
                str(input_name), _scalar(spec.get("default", "")), bool(spec.get("required"))
            )
        )
    outputs = {
        str(k): _scalar(v.get("value", "")) if isinstance(v, dict) else ""
        for k, v in (document.get("outputs") or {}).items()
    }
    raw_steps = runs.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(f"{where}: {name} has no steps")
        return None
    inner = f"{where} → {name} "
    steps = _parse_steps(raw_steps, inner, problems, root, depth + 1, static)
    for step in steps:
        if step.run is not None and step.shell is None:
            problems.append(f"{inner}step {step.index}: a composite run step needs 'shell'")
    return CompositeAction(
        folder, str(document.get("name") or name), tuple(inputs), outputs, tuple(steps)
    )


def _check_expressions(step: Step, where: str, problems: list[str]) -> None:
    """Parse every ``${{ }}`` now, so a broken one is reported before anything runs."""
    texts = [step.run or "", step.name or "", step.env_from or ""]
    texts += [*step.with_.values(), *step.env.values()]
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
        problems.append(f"{where}: {error}")


def _lone_expression(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    pieces = split_template(value.strip())
    return len(pieces) == 1 and pieces[0][0]


def _condition(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_map(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where} must be a mapping")
        return {}
    result = {}
    for key, item in value.items():
        if key == _COMMENT:
            continue
        if isinstance(item, (dict, list)):
            problems.append(f"{where}: {key!r} must be a string, not a {type(item).__name__}")
            continue
        result[str(key)] = _scalar(item)
    return result


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _defaults(document: dict, job: dict, problems: list[str]) -> tuple[str | None, str | None]:
    shell = working_directory = None
    for source in (document.get("defaults"), job.get("defaults")):
        if not source:
            continue
        run = source.get("run", {}) if isinstance(source, dict) else {}
        shell = run.get("shell", shell)
        working_directory = run.get("working-directory", working_directory)
    if shell is not None and str(shell).split()[0] not in _SHELLS:
        problems.append(f"default shell {shell!r} is not supported (use bash, sh or python)")
    return shell, working_directory
