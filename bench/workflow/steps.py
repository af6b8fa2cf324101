"""A job's steps (and a local composite action's) from YAML to the model, collecting every
problem; a step whose ``if:`` is false on Linux before anything runs blocks nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from bench.workflow.expressions import ExpressionError, condition_holds, parse, split_template
from bench.workflow.model import CompositeAction, CompositeInput, Step
from bench.workflow.refs import parse_ref
from bench.workflow.registry import UnknownAction, find_spec

COMMENT = ("#", "uses-comment")  # a key no YAML document can hold: the comment after uses:
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
SHELLS = {"bash", "sh", "python"}
SHELL_HELP = "use bash, sh, python or a command with {0} for the script"
_NOT_HERE = {"pwsh", "powershell", "cmd"}  # Windows' shells, even in a {0} template
_ACTION_FILES = ("action.yml", "action.yaml")


class Loader(yaml.SafeLoader):
    """A safe loader that keeps the comment after each ``uses:`` value (pins name versions)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        mapping = super().construct_mapping(node, deep)
        for key_node, value_node in node.value:
            if key_node.value == "uses" and isinstance(value_node, yaml.ScalarNode):
                mapping[COMMENT] = _comment_after(value_node.end_mark)
        return mapping


def _comment_after(mark: yaml.Mark) -> str:
    buffer = mark.buffer
    if buffer is None:
        return ""
    end = buffer.find("\n", mark.pointer)
    rest = buffer[mark.pointer : end if end != -1 else len(buffer)].rstrip("\0")
    found = re.search(r"(^|\s)#(.*)$", rest)
    return "#" + found.group(2) if found else ""


_STATIC_FUNCTIONS = {
    "success": lambda: True,
    "failure": lambda: False,
    "always": lambda: True,
    "cancelled": lambda: False,
}


def statically_false(condition: str | None, static: dict[str, Any] | None) -> bool:
    """Whether an ``if:`` is false before anything runs, from github, inputs, matrix and
    runner alone (``runner.os == 'Windows'``, ``matrix.python == '3.13'``…). Conditions on
    steps, env or needs are not decided here (they name contexts left out on purpose)."""
    if condition is None or static is None:
        return False
    try:
        return not condition_holds(condition, static, _STATIC_FUNCTIONS)
    except (ExpressionError, KeyError):
        return False


def parse_steps(
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
        if not (isinstance(raw, dict) and statically_false(condition(raw.get("if")), static)):
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
        if key not in _STEP_KEYS and key != COMMENT:
            problems.append(f"{where}: {key!r} is not supported by the harness")
    uses, run = raw.get("uses"), raw.get("run")
    if (uses is None) == (run is None):
        problems.append(f"{where}: a step has exactly one of 'uses' and 'run'")
    if run is not None and not isinstance(run, str):
        problems.append(f"{where}: 'run' must be a string")
        run = str(run)
    action = composite = None
    if uses is not None:
        action = parse_ref(str(uses), raw.get(COMMENT, ""))
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
    if shell is not None and not shell_supported(str(shell)):
        problems.append(f"{where}: shell {shell!r} is not supported ({SHELL_HELP})")
    step = Step(
        index=index,
        name=str(raw["name"]) if raw.get("name") is not None else None,
        id=str(raw["id"]) if raw.get("id") is not None else None,
        uses=str(uses) if uses is not None else None,
        run=run,
        with_=string_map(raw.get("with"), f"{where}: with", problems),
        env={}
        if lone_expression(raw.get("env"))
        else string_map(raw.get("env"), f"{where}: env", problems),
        env_from=raw["env"] if lone_expression(raw.get("env")) else None,
        if_=condition(raw.get("if")),
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
        document = yaml.load(found.read_text(), Loader=Loader)
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
                str(input_name), scalar(spec.get("default", "")), bool(spec.get("required"))
            )
        )
    outputs = {
        str(k): scalar(v.get("value", "")) if isinstance(v, dict) else ""
        for k, v in (document.get("outputs") or {}).items()
    }
    raw_steps = runs.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(f"{where}: {name} has no steps")
        return None
    inner = f"{where} → {name} "
    steps = parse_steps(raw_steps, inner, problems, root, depth + 1, static)
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


def shell_supported(shell: str) -> bool:
    """bash, sh, python (with options), or a custom command with ``{0}`` for the script."""
    try:
        words = shlex.split(shell)  # as the runner splits it: an unbalanced quote is refused
    except ValueError:
        return False
    if not words or words[0] in _NOT_HERE:
        return False
    return words[0] in SHELLS or "{0}" in words


def lone_expression(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    pieces = split_template(value.strip())
    return len(pieces) == 1 and pieces[0][0]


def condition(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def string_map(value: Any, where: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where} must be a mapping")
        return {}
    result = {}
    for key, item in value.items():
        if key == COMMENT:
            continue
        if isinstance(item, (dict, list)):
            problems.append(f"{where}: {key!r} must be a string, not a {type(item).__name__}")
            continue
        result[str(key)] = scalar(item)
    return result


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
