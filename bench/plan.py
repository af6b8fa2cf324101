"""The plan: scenarios x dependency sets x cache states x repetitions, in shuffled rounds.

Each repetition is one round holding every cell once, in an order shuffled by the run's seed,
so drift on the machine spreads over all cells instead of biasing the ones run last. In the
first round the cold cells come first (still shuffled among themselves), so that their runs
also prime the warm cells.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.depsets import DEPS_ROOT, DependencySet, load_set, shipped_sets
from bench.errors import BenchError
from bench.results import STATES
from bench.workflow.model import Workflow
from bench.workflow.parse import load_workflow

SCENARIOS_ROOT = Path(__file__).resolve().parents[1] / "scenarios"
WORKFLOWS = SCENARIOS_ROOT / "workflows"
MANIFEST = SCENARIOS_ROOT / "scenarios.toml"
QUICK_SETS = ("cli",)
QUICK_STATES = ("cold", "warm")
DEFAULT_REPS = 3
DEFAULT_PROFILE = "github-hosted"


@dataclass(frozen=True)
class Scenario:
    name: str
    workflow: Path
    job: Workflow = field(compare=False, repr=False)  # parsed once, when the plan is made
    needs: tuple[str, ...] = ("requirements.txt",)
    states: tuple[str, ...] = STATES


@dataclass(frozen=True)
class Cell:
    scenario: Scenario
    deps: DependencySet
    state: str

    @property
    def id(self) -> str:
        return f"{self.scenario.name}/{self.deps.name}/{self.state}"


@dataclass(frozen=True)
class Trial:
    cell: Cell
    repetition: int  # 1-based; one round per repetition
    order: int  # position in the whole run

    @property
    def id(self) -> str:
        return f"{self.cell.id}/{self.repetition}"


@dataclass
class PlanOptions:
    """Everything that decides a run's plan; saved with the run so --resume rebuilds it."""

    scenarios: list[str] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    job: str | None = None  # the job of each --workflow file (None: its only job)
    matrix: list[str] = field(default_factory=list)  # KEY=VALUE choices of a matrix cell
    states: list[str] = field(default_factory=lambda: list(STATES))
    reps: int = DEFAULT_REPS
    profile: str = DEFAULT_PROFILE
    seed: int = 0
    quick: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PlanOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def shipped_scenarios(manifest: Path = MANIFEST, folder: Path = WORKFLOWS) -> dict[str, Scenario]:
    settings = tomllib.loads(manifest.read_text()) if manifest.is_file() else {}
    scenarios = {}
    for path in sorted(folder.glob("*.yml")):
        entry = settings.get(path.stem, {})
        scenarios[path.stem] = Scenario(
            name=path.stem,
            workflow=path,
            job=load_workflow(path),
            needs=tuple(entry.get("needs", ["requirements.txt"])),
            states=tuple(entry.get("states", STATES)),
        )
    return scenarios


def select_scenarios(options: PlanOptions) -> list[Scenario]:
    shipped = shipped_scenarios()
    chosen: list[Scenario] = []
    for name in options.scenarios:
        if name not in shipped:
            raise BenchError(f"no scenario {name!r}; give one of {', '.join(shipped)}")
        chosen.append(shipped[name])
    choice = dict(item.split("=", 1) for item in options.matrix)
    for text in options.workflows:
        path = Path(text).resolve()  # a broken workflow is reported before anything runs
        job = load_workflow(path, options.job, choice)
        chosen.append(Scenario(name=path.stem, workflow=path, job=job))
    return chosen or list(shipped.values())


def select_sets(options: PlanOptions) -> list[DependencySet]:
    names = options.deps or (list(QUICK_SETS) if options.quick else shipped_sets(DEPS_ROOT))
    return [load_set(name) for name in names]


def build_plan(options: PlanOptions) -> list[Trial]:
    for state in options.states:
        if state not in STATES:
            raise BenchError(f"unknown cache state {state!r}; give some of {', '.join(STATES)}")
    if options.reps < 1:
        raise BenchError("--reps must be at least 1")
    cells = [
        Cell(scenario, deps, state)
        for scenario in select_scenarios(options)
        for deps in select_sets(options)
        if all(deps.has(name) for name in scenario.needs)
        for state in scenario.states
        if state in options.states and (state != "partial" or deps.previous is not None)
    ]
    if not cells:
        raise BenchError("the selection leaves no trial to run; widen --scenario/--deps/--states")
    trials: list[Trial] = []
    rng = random.Random(options.seed)
    for repetition in range(1, options.reps + 1):
        round_cells = list(cells)
        rng.shuffle(round_cells)
        if repetition == 1:
            # Cold cells first in the first round: each successful cold trial then primes its
            # warm cells, which saves one untimed priming run per scenario and set.
            round_cells.sort(key=lambda cell: cell.state != "cold")
        for cell in round_cells:
            trials.append(Trial(cell, repetition, order=len(trials) + 1))
    return trials
