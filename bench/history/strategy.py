"""A strategy's cache steps, read straight from its workflow's YAML.

Only what decides keys is read: ``actions/cache`` and ``actions/cache/restore`` (``key``,
``restore-keys``, ``path``), ``actions/cache/save``, ``actions/setup-python`` (its outputs, and
its ``cache:``), ``astral-sh/setup-uv``; plus the env and matrix the expressions may use. The
workflow parser of the job runner is not used: a history replay should accept jobs the harness
cannot run (several jobs, matrices), since it runs nothing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import BenchError
from bench.workflow.names import workflow_file_name

SCENARIOS_ROOT = Path(__file__).resolve().parents[2] / "scenarios"
KINDS = {
    "actions/cache": "cache",
    "actions/cache/restore": "restore",
    "actions/cache/save": "save",
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
}


@dataclass(frozen=True)
class StepSpec:
    """One step that computes a key or gives outputs keys use (setup-python)."""

    label: str
    kind: str  # cache, restore, save, setup-python, setup-uv
    uses: str
    step_id: str | None
    inputs: dict[str, str]
    env: dict[str, str]
    condition: str | None

    @property
    def major(self) -> int | None:
        ref = self.uses.partition("@")[2].lstrip("v")
        head = ref.split(".")[0]
        return int(head) if head.isdigit() and len(ref) < 40 else None


@dataclass(frozen=True)
class Strategy:
    name: str
    workflow: Path
    workflow_name: str
    job: str
    steps: tuple[StepSpec, ...]
    env: dict[str, str]  # workflow env, then job env
    matrix: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def caches(self) -> bool:
        return any(s.kind != "setup-python" or s.inputs.get("cache") for s in self.steps)

    def texts(self) -> list[str]:
        """Every template the keys come from (to tell whether they vary per run)."""
        out = list(self.env.values())
        for step in self.steps:
            out += list(step.inputs.values()) + list(step.env.values())
            out.append(step.condition or "")
        return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _env(block: Any, where: str) -> dict[str, str]:
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise BenchError(f"{where}: env must be a mapping")
    return {str(k): _text(v) for k, v in block.items()}


def load_strategies(
    path: Path, *, job: str | None = None, matrix: dict[str, str] | None = None, name: str = ""
) -> list[Strategy]:
    """The job(s) of a workflow file that cache, one strategy each."""
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise BenchError(f"cannot read workflow {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise BenchError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("jobs"), dict):
        raise BenchError(f"{path} has no jobs: mapping; give a GitHub Actions workflow file")
    jobs: dict[str, Any] = document["jobs"]
    if job is not None and job not in jobs:
        raise BenchError(f"{path} has no job {job!r}; its jobs: {', '.join(map(str, jobs))}")
    chosen = [job] if job is not None else [str(j) for j in jobs]
    workflow_env = _env(document.get("env"), str(path))
    strategies = []
    for job_id in chosen:
        body = jobs[job_id]
        if not isinstance(body, dict):
            continue
        label = name if name and len(chosen) == 1 else f"{path.name}:{job_id}"
        strategy = _strategy(path, document, job_id, body, workflow_env, matrix or {}, label)
        if strategy.caches:
            strategies.append(strategy)
    if job is not None and not strategies:
        raise BenchError(f"job {job!r} of {path} has no cache step to replay")
    return strategies


def _strategy(
    path: Path,
    document: dict[str, Any],
    job_id: str,
    body: dict[str, Any],
    workflow_env: dict[str, str],
    given: dict[str, str],
    label: str,
) -> Strategy:
    warnings: list[str] = []
    matrix: dict[str, Any] = {}
    declared = ((body.get("strategy") or {}) or {}).get("matrix") or {}
    if isinstance(declared, dict):
        for key, values in declared.items():
            if key in ("include", "exclude"):
                continue
            if key in given:
                matrix[key] = given[key]
            elif isinstance(values, list) and values:
                matrix[key] = values[0]
                if len(values) > 1:
                    warnings.append(
                        f"{label}: matrix {key} takes its first value {values[0]!r}; "
                        f"choose with --matrix {key}=VALUE"
                    )
            elif not isinstance(values, list):
                matrix[key] = values
    for key, value in given.items():
        matrix.setdefault(key, value)
    steps = []
    for index, step in enumerate(body.get("steps") or [], start=1):
        if not isinstance(step, dict) or "uses" not in step:
            continue
        uses = str(step["uses"])
        kind = KINDS.get(uses.split("@", 1)[0].strip().rstrip("/"))
        if kind is None:
            continue
        inputs = {str(k): _text(v) for k, v in (step.get("with") or {}).items()}
        condition = step.get("if")
        steps.append(
            StepSpec(
                label=str(step.get("name") or f"step {index} ({uses})"),
                kind=kind,
                uses=uses,
                step_id=str(step["id"]) if "id" in step else None,
                inputs=inputs,
                env=_env(step.get("env"), f"{path} step {index}"),
                condition=None if condition is None else _text(condition),
            )
        )
    return Strategy(
        name=label,
        workflow=path,
        workflow_name=str(document.get("name") or workflow_file_name(path)),
        job=job_id,
        steps=tuple(steps),
        env=workflow_env | _env(body.get("env"), f"{path} job {job_id}"),
        matrix=matrix,
        warnings=tuple(warnings),
    )


def shipped_strategies(names: list[str] | None = None) -> list[Strategy]:
    """The shipped scenarios that cache (``no-cache`` and the like have nothing to replay)."""
    folder = SCENARIOS_ROOT / "workflows"
    available = sorted(p.stem for p in folder.glob("*.yml"))
    known = tomllib.loads((SCENARIOS_ROOT / "scenarios.toml").read_text())
    for name in names or []:
        if name not in available:
            raise BenchError(f"no scenario {name!r}; shipped: {', '.join(available)}")
    result = []
    for name in names or available:
        if name not in available and name not in known:
            continue
        found = load_strategies(folder / f"{name}.yml", name=name)
        if names and not found:
            raise BenchError(f"scenario {name!r} caches nothing; there is nothing to replay")
        result += found
    return result
