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
from bench.intake.forms import declared_names, find_input
from bench.stopping import DEFAULT_BUDGET_MIN, MIN_ROUNDS
from bench.vocabulary import STATES, Cell
from bench.workflow.model import Workflow
from bench.workflow.parse import load_workflow

SCENARIOS_ROOT = Path(__file__).resolve().parents[1] / "scenarios"
WORKFLOWS = SCENARIOS_ROOT / "workflows"
MANIFEST = SCENARIOS_ROOT / "scenarios.toml"
QUICK_SETS = ("cli",)
# The states a run measures unless --states says otherwise. Partial (a restore-keys hit) is
# opt-in: its priming runs on the previous revision and its cells would double the default
# matrix's time (spent-budget arithmetic in README's "How long it takes").
DEFAULT_STATES = ("cold", "warm")
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
class PlannedCell:
    """A cell with what it takes to run it: the parsed scenario and the dependency set."""

    scenario: Scenario
    deps: DependencySet
    state: str

    @property
    def identity(self) -> Cell:
        return Cell(self.deps.name, self.scenario.name, self.state)

    @property
    def id(self) -> str:
        return self.identity.id


@dataclass(frozen=True)
class Trial:
    cell: PlannedCell
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
    auto: bool = False  # --reps auto: rounds go on until bench.stopping says each cell may stop
    budget_min: float | None = None  # --budget: no trial starts after this many minutes
    retry_busy: bool = False  # re-run, at the end of a round, trials on a busy machine
    sync: bool = True  # flush earlier writes to disk (untimed) before each trial
    # advise: per scenario, the share of runs meeting each state (its history's hit rates).
    # A state a scenario never meets is not planned, and --reps auto ranks scenarios by
    # expected time (bench.stopping.expected_stop_reasons); ``baseline`` stays in the running.
    weights: dict[str, dict[str, float]] = field(default_factory=dict)
    baseline: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PlanOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class RunRequest:
    """What the command line was asked for; ``None`` is "not given" (defaults apply)."""

    scenarios: list[str] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    job: str | None = None
    matrix: list[str] = field(default_factory=list)  # KEY=VALUE
    states: list[str] | None = None
    reps: int | str | None = None  # a number, or "auto"
    budget: float | None = None  # minutes, with reps "auto"
    retry_busy: bool = False
    no_sync: bool = False
    profile: str | None = None
    seed: int | None = None
    quick: bool = False
    out: Path | None = None
    resume: Path | None = None

    def plan_choices(self) -> list[str]:
        """The options given that decide a plan (a resumed run keeps its own)."""
        chosen = [
            name for name in ("scenarios", "deps", "workflows", "matrix") if getattr(self, name)
        ]
        chosen += [
            name
            for name in ("job", "states", "reps", "budget", "profile", "seed", "out")
            if getattr(self, name) is not None
        ]
        flags = ("quick", "retry_busy", "no_sync")
        return chosen + [name for name in flags if getattr(self, name)]

    def options(self) -> PlanOptions:
        """The plan's options: what was given, else the defaults (``--quick`` has its own)."""
        auto = self.reps == "auto"
        if self.budget is not None and not auto:
            raise BenchError("--budget goes with --reps auto; add it, or drop --budget")
        if auto:
            reps = MIN_ROUNDS  # the least --reps auto runs a cell still in contention
        elif isinstance(self.reps, int):
            reps = self.reps
        else:
            reps = 1 if self.quick else DEFAULT_REPS
        return PlanOptions(
            scenarios=list(self.scenarios),
            deps=[str(Path(d).resolve()) if "/" in d or d == "." else d for d in self.deps],
            workflows=[str(Path(w).resolve()) for w in self.workflows],  # --resume elsewhere
            job=self.job,
            matrix=list(self.matrix),
            states=self.states or list(DEFAULT_STATES),
            reps=reps,
            auto=auto,
            budget_min=self.budget or (DEFAULT_BUDGET_MIN if auto else None),
            retry_busy=self.retry_busy,
            sync=not self.no_sync,
            profile=self.profile or DEFAULT_PROFILE,
            seed=self.seed if self.seed is not None else random.randrange(2**31),
            quick=self.quick,
        )


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
        if any(c.name == path.stem for c in chosen):
            raise BenchError(
                f"two scenarios are named {path.stem!r} (--workflow {text}); give each "
                "workflow file a name of its own"
            )
        scenario = Scenario(path.stem, path, job, needs=(), states=cache_states(job))
        chosen.append(scenario)  # a user's job needs no file beyond what its set holds
    return chosen or list(shipped.values())


def cache_states(job: Workflow) -> tuple[str, ...]:
    """The cache states a job can meet: cold only when it caches nothing; no partial state
    when no restore key can match an earlier revision's entry (setup-uv, setup-python's
    pipenv and poetry caches, ``actions/cache`` without ``restore-keys``)."""
    caches = [step for step in job.steps if _caches(step.uses or "", step.with_)]
    if not caches:
        return ("cold",)
    if any(_has_restore_keys(step.uses or "", step.with_) for step in caches):
        return STATES
    return ("cold", "warm")


def _caches(uses: str, inputs: dict[str, str]) -> bool:
    name = uses.split("@")[0].rstrip("/")
    if name in ("actions/cache", "actions/cache/restore"):
        return True
    if name == "actions/setup-python":
        return bool(inputs.get("cache", "").strip())
    if name == "astral-sh/setup-uv":
        return inputs.get("enable-cache", "auto").strip().lower() != "false"
    return False


def _has_restore_keys(uses: str, inputs: dict[str, str]) -> bool:
    name = uses.split("@")[0].rstrip("/")
    if name == "actions/setup-python":
        return inputs.get("cache", "").strip() == "pip"  # pip restores from its prefix
    return bool(inputs.get("restore-keys", "").strip())


def select_sets(options: PlanOptions) -> list[DependencySet]:
    names = options.deps or (list(QUICK_SETS) if options.quick else shipped_sets(DEPS_ROOT))
    return [load_set(name) for name in names]


def _is_shipped(scenario: Scenario) -> bool:
    return scenario.workflow.parent == WORKFLOWS


def _check_fits_shipped(deps: DependencySet) -> None:
    """Every shipped scenario ends with ``pytest tests/``: a set without both fails every trial."""
    names = declared_names(find_input(deps.path))
    if names is not None and "pytest" not in names:
        raise BenchError(
            f"dependency set {deps.path} pins no pytest, which every shipped scenario runs; "
            "add a pinned pytest to its requirements.txt"
        )
    if not (deps.path / "tests").is_dir():
        raise BenchError(
            f"dependency set {deps.path} has no tests/ folder, which every shipped scenario "
            "runs pytest on; add one with a smoke test"
        )


def _met(options: PlanOptions, scenario: str, state: str) -> bool:
    """Whether runs of ``scenario`` meet ``state`` at all, as far as the plan's weights say."""
    if not options.weights:
        return True
    return options.weights.get(scenario, {"cold": 1.0}).get(state, 0.0) > 0


def build_plan(options: PlanOptions) -> list[Trial]:
    for state in options.states:
        if state not in STATES:
            raise BenchError(f"unknown cache state {state!r}; give some of {', '.join(STATES)}")
    if options.reps < 1:
        raise BenchError("--reps must be at least 1")
    scenarios, sets = select_scenarios(options), select_sets(options)
    for deps in sets:
        find_input(deps.path)  # what it depends on is readable: bad input before any run folder
        if any(_is_shipped(scenario) for scenario in scenarios):
            _check_fits_shipped(deps)
    cells = [
        PlannedCell(scenario, deps, state)
        for scenario in scenarios
        for deps in sets
        if all(deps.has(name) for name in scenario.needs)
        for state in scenario.states
        if state in options.states and (state != "partial" or deps.previous is not None)
        if _met(options, scenario.name, state)
    ]
    if not cells:
        raise BenchError("the selection leaves no trial to run; widen --scenario/--deps/--states")
    trials: list[Trial] = []
    rng = random.Random(options.seed)
    planned_rounds = 1 if options.auto else options.reps  # auto: bench.stopping adds rounds
    for repetition in range(1, planned_rounds + 1):
        round_cells = list(cells)
        rng.shuffle(round_cells)
        if repetition == 1:
            # Cold cells first in the first round: each successful cold trial then primes its
            # warm cells, which saves one untimed priming run per scenario and set.
            round_cells.sort(key=lambda cell: cell.state != "cold")
        for cell in round_cells:
            trials.append(Trial(cell, repetition, order=len(trials) + 1))
    return trials
