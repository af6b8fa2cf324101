"""``python -m bench advise PATH``: a team's repository in, a recommendation out.

The steps, each a room's job: the repository's tracked files at HEAD and its dependencies'
past (``intake.repository``); the team's install-and-test job (``their_job``); the shipped
strategies retargeted at the project (``candidates``); a run of all of them, their job as it
is written among them, in adaptive rounds within the budget (``execute``); hit rates from
replaying the repository's history through each candidate's keys (``history``); the decision
(``recommend``), ``recommendation.md`` (``render``) and ``recommended.yml`` (``rewrite``).
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ruamel.yaml import YAML

from bench import execute
from bench.advise.candidates import Candidate, Skipped, candidates_for, write_candidates
from bench.advise.project import DEFAULT_TEST_COMMAND, project_facts
from bench.advise.recommend import CandidateTimes, Rates, Verdict, decide
from bench.advise.render import Advice, render
from bench.advise.rewrite import actionlint, rewrite, unified_diff
from bench.advise.their_job import TheirJob, find_their_job
from bench.errors import BenchError
from bench.history.command import HistoryOptions, replay_history
from bench.history.expected import RunTimes, read_run, runs_per_month
from bench.history.strategy import load_strategies
from bench.intake.forms import find_input
from bench.intake.poetrylock import point_poetry_at_mirror
from bench.intake.repository import export_repository
from bench.intake.resolve import Target
from bench.intake.uvlock import point_locks_at_mirror
from bench.locking import BENCH_MIRROR_PORT
from bench.mirror.fetch import DEFAULT_WHEELHOUSE
from bench.plan import DEFAULT_PROFILE, WORKFLOWS, PlanOptions
from bench.results import TrialRecord
from bench.stopping import BUDGET, MIN_ROUNDS, OUT_OF_CONTENTION
from bench.vocabulary import REFERENCE_SCENARIO
from bench.workflow.expressions import ExpressionError, interpolate
from bench.workflow.interpreters import choose_interpreter
from bench.workflow.model import Workflow
from bench.workflow.parse import check_job, load_workflow, read_document

YOURS = "yours"
DEFAULT_BUDGET_MIN = 15.0
CAVEATS = (
    "Times are measured on this machine against a local mirror paced like a GitHub-hosted "
    "runner's network; a hosted runner's disk and CPU differ, so trust the ratios more than "
    "the seconds.",
    "Hit rates replay your branch's first-parent history (one push, one run); pull requests, "
    "scheduled runs and other workflows sharing the 10 GB store are not counted.",
    "Your job ran alone: needs, services and matrix cells other than the one chosen were set "
    "aside.",
)


@dataclass
class AdviseOptions:
    path: Path
    job: str | None = None
    matrix: list[str] = field(default_factory=list)
    test_cmd: str | None = None
    budget_min: float = DEFAULT_BUDGET_MIN
    out: Path | None = None
    profile: str = DEFAULT_PROFILE
    seed: int = 0
    # Not on the command line: what tests narrow to stay small and offline.
    strategies: list[str] = field(default_factory=list)  # shipped scenarios tried (default: all)
    reps: int | None = None  # fixed repetitions instead of adaptive rounds
    wheelhouse: Path = DEFAULT_WHEELHOUSE
    port: int = BENCH_MIRROR_PORT
    fetch: bool = True  # fill the wheelhouse (tests bring theirs filled)


@dataclass(frozen=True)
class AdviseResult:
    folder: Path
    recommendation: Path
    recommended: Path | None
    verdict: Verdict | None
    seconds: float
    trials: int
    unfinished: list[str] = field(default_factory=list)


def advise(options: AdviseOptions, out: TextIO = sys.stderr) -> AdviseResult:
    started = execute.budget_clock()  # the budget is the whole command's, intake included
    repo = options.path.resolve()
    if not (repo / ".git").exists() and not (repo / "HEAD").is_file():
        raise BenchError(f"{repo} is not a git repository; give a git checkout of the project")
    folder = _advise_folder(options.out, repo.name)
    exported = export_repository(repo, folder / "repository" / repo.name)
    mirror_index = f"http://127.0.0.1:{options.port}/simple/"
    for lock in point_locks_at_mirror(exported.folder, mirror_index):
        print(f"{lock.relative_to(folder)}: points at the mirror (index, file addresses)", file=out)
    poetry = point_poetry_at_mirror(exported.folder, mirror_index)
    for changed in poetry.changed:
        print(f"{changed.relative_to(folder)}: poetry reads the mirror (its first source, "
              "primary; poetry.lock's content hash to match)", file=out)  # fmt: skip
    if poetry.notice:
        print(f"notice: {poetry.notice}; poetry will read the public index and fail", file=out)
    their = find_their_job(exported.folder, options.job, options.test_cmd)
    test_command = options.test_cmd or their.test_command or DEFAULT_TEST_COMMAND
    print(f"your job: {their.workflow.name}:{their.job_id}; tests: {test_command}", file=out)
    if exported.previous_commit is None:
        print("no earlier revision of the dependency files: no partial state", file=out)
    blockers = _blockers(their, options.matrix)
    workflow = None
    if not blockers:
        workflow = load_workflow(their.workflow, their.job_id, _choice(options.matrix))
        test_command = in_cell(test_command, dict(workflow.matrix))
    facts = project_facts(find_input(exported.folder), test_command)
    shipped = sorted(WORKFLOWS.glob("*.yml"))
    if options.strategies:
        shipped = [p for p in shipped if p.stem in options.strategies]
    chosen, skipped = candidates_for(shipped, facts)
    python = None
    if workflow is None:
        skipped.append(Skipped(YOURS, "cannot run here: " + "; ".join(blockers)))
    else:
        cell = dict(workflow.matrix)
        python = their_python(workflow, exported.folder)
        if python:
            chosen = [with_python(c, python) for c in chosen]
        chosen.append(Candidate(YOURS, their_job_alone(their, cell, options.test_cmd)))
        print(f"your job's matrix cell: {cell or 'none'}; Python {python or '3.11'}", file=out)
    files = write_candidates(chosen, folder / "candidates")
    for skip in skipped:
        print(f"not tried: {skip.name}: {skip.reason}", file=out)
    caching = [path for path in files if load_strategies(path)]  # no-cache has nothing to replay
    history_options = HistoryOptions(repo=repo, workflows=caching, out=folder / "history")
    # The hit rates first: a state no run of a candidate meets is not measured, and the rounds
    # rank candidates by expected time with the same rates the answer uses. Archive sizes only
    # matter to the 10 GB eviction; the replay assumes 200 MB entries, which a single
    # project's history rarely fills the store with.
    replay = replay_history(history_options)
    planned_rates = _rates(chosen, replay)
    plan = PlanOptions(
        workflows=[str(p) for p in files],
        deps=[str(exported.folder)],
        reps=options.reps or MIN_ROUNDS,
        auto=options.reps is None,
        budget_min=options.budget_min if options.reps is None else None,
        profile=options.profile,
        seed=options.seed,
        weights={name: rates.weights() for name, rates in planned_rates.items()},
        baseline=YOURS,
    )
    state = execute.start_run(plan, folder / "runs", port=options.port)
    if options.fetch:
        target = Target(python_version=_patch_release(python) if python else "3.11")
        execute.fill_new_run(state, options.wheelhouse, out, target)
    execute.execute(
        state, wheelhouse=options.wheelhouse, port=options.port, out=out,
        budget_since=started,
    )  # fmt: skip
    times = read_run(state.run_dir)
    candidates, cadence = _candidate_times(chosen, times, replay, exported.folder.name)
    unfinished = unfinished_candidates(candidates, state.records)
    stopping = _stop_reasons(state.run_dir)
    rankable = _rankable(candidates) and not unfinished
    verdict = decide(candidates, baseline=YOURS) if rankable else None
    recommended, findings = _write_recommended(verdict, chosen, their, folder, test_command)
    advice = Advice(
        project=repo.name,
        baseline=YOURS,
        candidates=candidates,
        verdict=verdict,
        skipped=skipped,
        failures=_failures(state.run_dir),
        archive_mb={n: b / 1e6 for (_, n), b in times.archive_bytes.items()},
        runs_per_month=cadence or 0.0,
        uncertain=_uncertain(stopping),
        behind=_behind(stopping),
        caveats=list(CAVEATS),
        recommended_file=recommended.name if recommended else None,
        lint_findings=findings,
        unfinished=unfinished,
    )
    recommendation = folder / "recommendation.md"
    recommendation.write_text(render(advice))
    return AdviseResult(
        folder, recommendation, recommended, verdict, execute.budget_clock() - started,
        len(state.records), unfinished,
    )  # fmt: skip


def summary_lines(result: AdviseResult) -> list[str]:
    """The answer in a few lines for the terminal, then the paths."""
    verdict = result.verdict
    if verdict is None and result.unfinished:
        lines = [
            "advice: no recommendation yet: the budget ran out before "
            f"{', '.join(result.unfinished)} ran in every state they need (give more --budget)"
        ]
    elif verdict is None:
        lines = ["advice: no recommendation (no candidate ran in every state it needs)"]
    else:
        how = {
            True: "significantly faster than",
            False: "not yet told apart from",
            None: "ahead of",
        }
        lines = [
            f"advice: keep your job for now; {verdict.winner} is ahead, not surely"
            if verdict.saving_unsure
            else f"advice: use {verdict.winner}"
        ]
        if verdict.runner_up:
            said = "ties (within ±5 %) with" if verdict.tied else how[verdict.significant]
            lines.append(f"  {said} {verdict.runner_up}")
        if verdict.saving is not None:
            lines.append(f"  saves {verdict.saving.estimate:.1f} s per run against your job")
    lines.append(f"  {result.trials} trials in {result.seconds / 60:.1f} min")
    lines.append(f"recommendation: {result.recommendation}")
    if result.recommended is not None:
        lines.append(f"job to paste: {result.recommended} (diff: recommended.diff)")
    return lines


def _advise_folder(out: Path | None, name: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = (out or execute.RESULTS_ROOT) / f"advise-{name}-{stamp}"
    folder.mkdir(parents=True)
    return folder.resolve()


def in_cell(command: str, cell: dict[str, object]) -> str:
    """A test command written with matrix expressions, as it runs in the chosen cell."""
    if "${{" not in command:
        return command
    try:
        return interpolate(command, {"matrix": cell, "env": {}, "runner": {"os": "Linux"}}, {})
    except ExpressionError:
        return command


def their_python(workflow: Workflow, project: Path | None = None) -> str | None:
    """The Python version their setup step asks for, in the chosen cell: its
    ``python-version``, else the file it (or uv) reads, ``python-version-file`` or
    ``.python-version`` (None: not said)."""
    for step in workflow.steps:
        uses = (step.uses or "").split("@")[0]
        if uses not in ("actions/setup-python", "astral-sh/setup-uv"):
            continue
        if step.with_.get("python-version"):
            contexts = {"matrix": dict(workflow.matrix), "env": {}}
            try:
                value = interpolate(step.with_["python-version"], contexts, {})
            except ExpressionError:  # e.g. an input of a called workflow: not known here
                return None
            lines = [line.strip() for line in value.splitlines() if line.strip()]
            return lines[-1] if lines else None
        if project is not None:
            name = step.with_.get("python-version-file", ".python-version") or ".python-version"
            version = _first_version(project / name)
            if version:
                return version
    return None


def _first_version(path: Path) -> str | None:
    if path.name == "pyproject.toml" or not path.is_file():
        return None
    try:
        words = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError):
        return None
    return next((w for w in words if w), None)


def with_python(candidate: Candidate, python: str) -> Candidate:
    """The candidate on the Python version their job uses (the shipped ones say 3.11)."""
    text = candidate.text.replace("python-version: '3.11'", f"python-version: '{python}'")
    return Candidate(candidate.name, text)


def _minor(python: str) -> str:
    found = re.search(r"3\.\d+", python)
    return found.group(0) if found else "3.11"


def _patch_release(python: str) -> str:
    """The interpreter the job will run on (as setup-python chooses it, stand-ins included),
    as its patch release: resolving for "3.9" means 3.9.0 to pip and uv, which packages that
    exclude early patch releases refuse."""
    try:
        return choose_interpreter(python).interpreter.version
    except BenchError:
        return _minor(python)


def _choice(matrix: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in matrix)


def _blockers(their: TheirJob, matrix: list[str]) -> list[str]:
    document = read_document(their.workflow)
    return check_job(document, their.workflow, their.job_id, _choice(matrix) or None).blockers


def their_job_alone(their: TheirJob, cell: dict[str, object], test_cmd: str | None = None) -> str:
    """Their workflow with only the chosen job, in the chosen matrix cell: run as written,
    the other jobs and cells set aside; with ``--test-cmd``, the step that ran their tests
    runs that command instead (say, to leave out tests that need the internet)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    document = yaml.load(their.workflow.read_text())
    for job_id in [j for j in document["jobs"] if str(j) != their.job_id]:
        del document["jobs"][job_id]
    job = document["jobs"][their.job_id]
    job.pop("needs", None)
    if cell:
        job.setdefault("strategy", {})["matrix"] = {"include": [cell]}
    if test_cmd and their.test_command:
        for step in job.get("steps", []):
            if isinstance(step, dict) and their.test_command in str(step.get("run", "")):
                step["run"] = test_cmd
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def _candidate_times(
    chosen: list[Candidate], times: RunTimes, replay: dict, deps: str
) -> tuple[list[CandidateTimes], float | None]:
    rates_of = _rates(chosen, replay)
    runs = [e["runs"] for e in replay["strategies"].values() if e["runs"]]
    cadence = runs_per_month(runs[0], _span(replay)) if runs else None
    candidates = []
    for candidate in chosen:
        rates = rates_of[candidate.name]
        totals = {
            state: values
            for (set_name, scenario, state), values in times.totals.items()
            if set_name == deps and scenario == candidate.name
        }
        candidates.append(CandidateTimes(candidate.name, totals, rates))
    return candidates, cadence


def _rates(chosen: list[Candidate], replay: dict) -> dict[str, Rates]:
    """Each candidate's hit rates from a replay; one that caches nothing always misses."""
    rates = {}
    for candidate in chosen:
        entry = replay["strategies"].get(f"{candidate.name}.yml:{_job_of(candidate)}")
        if entry is not None and entry["runs"]:
            runs = entry["runs"]
            rates[candidate.name] = Rates(
                entry["exact"] / runs, entry["partial"] / runs, entry["miss"] / runs
            )
        else:
            rates[candidate.name] = Rates(0.0, 0.0, 1.0)
    return rates


def _job_of(candidate: Candidate) -> str:
    document = YAML(typ="safe").load(candidate.text)
    return str(next(iter(document["jobs"])))


def _span(replay: dict) -> int:
    """Seconds from the first to the last replayed push (history.json's ``first``/``last``)."""
    try:
        first, last = (datetime.fromisoformat(replay[k]) for k in ("first", "last"))
    except (KeyError, TypeError, ValueError):
        return 0
    return int((last - first).total_seconds())


def unfinished_candidates(
    candidates: list[CandidateTimes], records: list[TrialRecord]
) -> list[str]:
    """Candidates lacking a state their hit rates need that no trial even tried (the budget
    ended first); a state whose trials all failed is an answer, not unfinished."""
    tried = {(r.scenario, r.state) for r in records}
    return [c.name for c in candidates if any((c.name, s) not in tried for s in c.missing_states())]


def _rankable(candidates: list[CandidateTimes]) -> bool:
    return any(not c.missing_states() for c in candidates)


def _write_recommended(
    verdict: Verdict | None,
    chosen: list[Candidate],
    their: TheirJob,
    folder: Path,
    test_command: str,
) -> tuple[Path | None, list[str]]:
    if verdict is None:
        return None, []
    their_text = their.workflow.read_text()
    if verdict.winner == YOURS:
        new_text = their_text
    else:
        winner = next(c for c in chosen if c.name == verdict.winner)
        new_text = rewrite(their_text, their.job_id, winner.text, test_command)
    recommended = folder / "recommended.yml"
    recommended.write_text(new_text)
    name = f".github/workflows/{their.workflow.name}"
    (folder / "recommended.diff").write_text(unified_diff(their_text, new_text, name))
    return recommended, actionlint(recommended)


def _failures(run_dir: Path) -> dict[str, str]:
    from bench.results import latest_attempts, read_trials

    failures: dict[str, str] = {}
    for record in latest_attempts(read_trials(run_dir).records):
        if not record.succeeded and record.scenario not in failures:
            log = execute.trial_log(run_dir, record.trial_id)
            tail = log.read_text(errors="replace").splitlines()[-15:] if log.is_file() else []
            failures[record.scenario] = "\n".join([record.error or "failed", *tail])
    return failures


def _stop_reasons(run_dir: Path) -> dict[str, str]:
    from bench.results import RUN_FILE, read_json

    return dict(read_json(run_dir / RUN_FILE).get("stopping", {}))


def _uncertain(stopping: dict[str, str]) -> list[str]:
    return [f"{cell}: {why}" for cell, why in sorted(stopping.items()) if why == BUDGET]


def _behind(stopping: dict[str, str]) -> list[str]:
    """Candidates (``scenario/set/state`` cell ids) stopped out of contention."""
    names = {cell.split("/")[0] for cell, why in stopping.items() if why == OUT_OF_CONTENTION}
    return sorted(names)


__all__ = ["REFERENCE_SCENARIO", "AdviseOptions", "Skipped", "advise"]
