"""A workflow's job, as plain data: the one job (and matrix cell) a trial runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.workflow.refs import ActionRef


@dataclass(frozen=True)
class Step:
    index: int  # 1-based, as the step's position in the job (or in its composite action)
    name: str | None
    id: str | None
    uses: str | None  # as written
    run: str | None
    with_: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    if_: str | None = None
    shell: str | None = None
    working_directory: str | None = None
    continue_on_error: bool | str = False
    action: ActionRef | None = None  # what ``uses`` names, with the comment after it
    composite: CompositeAction | None = None  # for ``uses: ./path`` (a local composite action)
    env_from: str | None = None  # ``env: ${{ matrix.env }}``: a mapping known when the step runs

    @property
    def label(self) -> str:
        """How errors and records name the step."""
        if self.name:
            return self.name
        if self.uses:
            return f"Run {self.uses}"
        first = (self.run or "").strip().splitlines()
        return f"Run {first[0]}" if first else f"step {self.index}"


@dataclass(frozen=True)
class CompositeInput:
    name: str
    default: str = ""
    required: bool = False


@dataclass(frozen=True)
class CompositeAction:
    """A local ``action.yml`` with ``runs.using: composite``."""

    path: Path  # the action's folder (``github.action_path``)
    name: str
    inputs: tuple[CompositeInput, ...]
    outputs: dict[str, str]  # name: value expression
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Workflow:
    path: Path
    name: str
    job_name: str  # the job's id
    env: dict[str, str]
    job_env: dict[str, str]
    steps: list[Step]
    matrix: dict[str, object] = field(default_factory=dict)  # the cell this run takes
    default_shell: str | None = None
    default_working_directory: str | None = None
    runs_on: str = "ubuntu-latest"
    set_aside: tuple[str, ...] = ()  # job keys accepted but not acted on, for the log
    cells: int = 1  # how many matrix cells the job has

    def run_scripts(self) -> list[str]:
        """Every ``run:`` script of the job, those of its local composite actions included."""
        return list(_run_scripts(self.steps))

    @property
    def matrix_label(self) -> str:
        """``python-version=3.12, os=ubuntu-latest``: how logs and records name the cell."""
        return ", ".join(f"{k}={_value_text(v)}" for k, v in self.matrix.items())


def _run_scripts(steps: list[Step]) -> Iterator[str]:
    for step in steps:
        if step.run:
            yield step.run
        if step.composite is not None:
            yield from _run_scripts(step.composite.steps)


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
