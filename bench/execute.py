"""Run a plan: prepare once, then every trial in order, recording each as it ends.

Store states are produced by really running jobs. A successful cold trial's store becomes the
snapshot its warm trials start from (so one cold run primes the warm ones); when a warm or
partial trial comes before any such run, an untimed priming run (on the current or the previous
revision) makes the snapshot. Snapshots live in the run's ``work/`` folder until the run ends,
so ``--resume`` can continue an interrupted run where it stopped.

Around each trial, untimed: the previous trial's writes are flushed (``os.sync``, unless the
plan says ``sync: false``), and the runner the trial used, renamed aside when the job ended, is
deleted (its time is recorded as ``cleanup_ns``). ``machine_busy`` is measured over the trial.
With ``--retry-busy``, trials over the busy threshold run again at the end of their round; with
``--reps auto``, rounds of the cells that need more trials follow the first one until
``bench.stopping`` lets every cell stop or the budget is spent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bench import metadata, results, stopping
from bench.busy import BusyMeter, machine_state
from bench.depsets import DependencySet
from bench.errors import BenchError
from bench.ghcache.keys import parse_multiline
from bench.ghcache.store import CacheStore
from bench.intake.resolve import RUNNER_TARGET, Target, compile_file
from bench.intake.sets import RESOLVED_DIR, set_requirements
from bench.locking import BENCH_MIRROR_PORT
from bench.mirror.fetch import DEFAULT_WHEELHOUSE, fetch
from bench.mirror.server import MirrorServer
from bench.network.profiles import get_profile
from bench.paths import output_folder
from bench.plan import SCENARIOS_ROOT, PlannedCell, PlanOptions, RunRequest, Trial, build_plan
from bench.results import StepTotals, TrialRecord
from bench.runfolder import RunLock, lock_run_folder
from bench.runner import reaper
from bench.runner.pipx import make_pipx, names_pipx, runner_python
from bench.runner.sandbox import create_sandbox, remove_sandbox, runner_environment
from bench.stats import BUSY_THRESHOLD, successful_totals
from bench.trial import JobOutcome, TrialSetup, copy_store, observed_state_error, run_job
from bench.vocabulary import Cell
from bench.workflow.expressions import ExpressionError, interpolate
from bench.workflow.interpreters import choose_interpreter
from bench.workflow.model import Workflow
from bench.workflow.setup_python import install_python, python_spec

RESULTS_ROOT = Path(__file__).resolve().parents[1] / "results"
LOGS_DIR = "logs"
budget_clock = time.monotonic  # what --budget is measured with (tests replace it)
# No trial starts in the budget's last half minute: it is for report.md and the figures
# (about 4 s) and what a launcher spends before the run (nox's venv: about 20 s).
FINISH_RESERVE_S = 30.0


@dataclass
class RunState:
    run_dir: Path
    options: PlanOptions
    trials: list[Trial]
    done: set[str] = field(default_factory=set)
    records: list[TrialRecord] = field(default_factory=list)
    stop_reasons: dict[str, str] = field(default_factory=dict)  # cell id -> why it stopped
    retries: dict[str, int] = field(default_factory=dict)  # trial id -> attempt now running
    lock: RunLock | None = field(default=None, repr=False)  # held from start/resume to the end


def ensure_port_free(port: int = BENCH_MIRROR_PORT) -> None:
    """Refuse to start when the mirror's port is taken (lock files name it, so it is fixed)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise BenchError(
                f"port {port} on 127.0.0.1 is in use (another bench run?); the lock files name "
                "this port, so stop whatever holds it and run again"
            ) from None


def new_run_dir(out: Path | None) -> Path:
    """A fresh folder under ``out`` (absolute: the jobs' tools run in other folders)."""
    parent = output_folder(out or RESULTS_ROOT, "--out")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = parent / f"{stamp}-{uuid.uuid4().hex[:6]}"
    try:
        run_dir.mkdir()
    except OSError as error:
        raise BenchError(
            f"cannot make a run folder in {parent}: {error.strerror}; give --out a writable folder"
        ) from None
    return run_dir


def open_run(request: RunRequest) -> RunState:
    """The command line's entry: start or resume as asked, then fill the wheelhouse."""
    if request.resume is not None:
        if request.plan_choices():
            raise BenchError("--resume continues a run with its own plan; drop the other options")
        state = resume_run(request.resume)
        ensure_port_free()
        fill_wheelhouse({t.cell.deps for t in state.trials}, DEFAULT_WHEELHOUSE, state.run_dir)
        return state
    state = start_run(request.options(), request.out)
    fill_new_run(state, DEFAULT_WHEELHOUSE)
    return state


def fill_new_run(
    state: RunState,
    wheelhouse: Path,
    out: TextIO = sys.stderr,
    target: Target = RUNNER_TARGET,
) -> None:
    """Fill the wheelhouse for a run just started; when a set cannot be resolved or fetched,
    no half-made run stays behind (its folder and lock go)."""
    try:
        fill_wheelhouse({t.cell.deps for t in state.trials}, wheelhouse, state.run_dir, out, target)
    except BaseException:
        if state.lock is not None:
            state.lock.release()
        shutil.rmtree(state.run_dir, ignore_errors=True)
        raise


def start_run(options: PlanOptions, out: Path | None, port: int = BENCH_MIRROR_PORT) -> RunState:
    trials = build_plan(options)  # errors in the selection come before anything is made
    get_profile(options.profile)
    output_folder(out or RESULTS_ROOT, "--out")  # bad input before the machine's state
    ensure_port_free(port)
    run_dir = new_run_dir(out)
    lock = lock_run_folder(run_dir)
    results.write_json_atomically(run_dir / results.PLAN_FILE, options.to_json())
    return RunState(run_dir, options, trials, lock=lock)


def resume_run(run_dir: Path, out: TextIO = sys.stderr) -> RunState:
    """The run in ``run_dir`` with its plan, ready to go on where it stopped.

    Refused while the run, or a process of its trials, is still alive. A last line cut by a
    crash (or any line that is not a whole record) is moved to ``trials.jsonl.damaged``.
    """
    run_dir = run_dir.resolve()
    options = PlanOptions.from_json(results.read_json(run_dir / results.PLAN_FILE))
    lock = lock_run_folder(run_dir)
    moved = results.set_aside_damaged_lines(run_dir)
    if moved:
        print(
            f"resume: moved {moved} damaged line(s) of {results.TRIALS_FILE} to "
            f"{results.TRIALS_FILE}{results.DAMAGED_SUFFIX} (their trials run again)",
            file=out,
        )
    state = RunState(run_dir, options, build_plan(options), lock=lock)
    lines = results.read_trials(run_dir)
    state.done = {record.trial_id for record in lines.records}
    state.records = list(lines.records)
    if (run_dir / results.RUN_FILE).is_file():  # why cells stopped in the earlier session(s)
        state.stop_reasons = dict(results.read_json(run_dir / results.RUN_FILE).get("stopping", {}))
    if options.auto:
        state.trials += _interrupted_round(state)
    return state


def _interrupted_round(state: RunState) -> list[Trial]:
    """With ``--reps auto`` only the first round is planned: the round an interruption cut,
    rebuilt from the cells that had not stopped, less the trials it already ran."""
    last = max((record.repetition for record in state.records), default=1)
    if last <= 1:
        return []
    cells = {t.cell.identity: t.cell for t in state.trials}
    order = max([t.order for t in state.trials] + [r.order for r in state.records]) + 1
    rebuilt = []
    for cell in cells.values():
        trial = Trial(cell, last, order=order + len(rebuilt))
        if cell.id not in state.stop_reasons and trial.id not in state.done:
            rebuilt.append(trial)
    return rebuilt


def fill_wheelhouse(
    sets: Iterable[DependencySet],
    wheelhouse: Path,
    resolved_in: Path,
    out: TextIO = sys.stderr,
    target: Target = RUNNER_TARGET,
) -> None:
    """Fetch, once, every file these sets and the tools need that the wheelhouse lacks.

    Sets that are not pinned with hashes are resolved first, into ``resolved_in``.
    """
    print("preparing: filling the wheelhouse (nothing is downloaded twice)", file=out)
    for requirements, python_version in wheelhouse_requirements(sets, resolved_in, target):
        fetch([requirements], wheelhouse=wheelhouse, python_version=python_version)


def wheelhouse_requirements(
    sets: Iterable[DependencySet], resolved_in: Path, target: Target = RUNNER_TARGET
) -> list[tuple[Path, str]]:
    """Every pinned file the jobs and the lock files need from the mirror, each with the
    Python its files are for. Besides the job's Python, the runner's own: pipx, and the tools
    it installs (``pipx install poetry``), run on the image's Python whatever the job sets up."""
    files = [(path, target.python_version) for path in tool_requirements(resolved_in, target)]
    if minor_of(target.python_version) != RUNNER_TARGET.python_version:
        files += [(path, RUNNER_TARGET.python_version) for path in tool_requirements(resolved_in)]
    for deps in sorted(set(sets), key=lambda d: d.name):
        files += [
            (path, target.python_version) for path in set_requirements(deps, resolved_in, target)
        ]
    return files


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def tool_requirements(resolved_in: Path, target: Target = RUNNER_TARGET) -> list[Path]:
    """The tools' pins (poetry, pipenv, uv, build backends): the shipped files, compiled for
    the runner's Python; for a job on another Python (``advise``), compiled afresh for it into
    the run folder, since their dependencies differ between Pythons."""
    tools = SCENARIOS_ROOT / "tools"
    if minor_of(target.python_version) == RUNNER_TARGET.python_version:
        return sorted(tools.glob("*.txt"))
    out = resolved_in / RESOLVED_DIR / f"tools-{target.python_version}"
    plain = Target(python_version=target.python_version, index_url=target.index_url)
    return [
        compile_file(source, out / f"{source.stem}.txt", plain)
        for source in sorted(tools.glob("*.in"))
    ]


def execute(
    state: RunState,
    *,
    wheelhouse: Path = DEFAULT_WHEELHOUSE,
    port: int = BENCH_MIRROR_PORT,
    out: TextIO = sys.stderr,
    budget_since: float | None = None,
) -> int:
    """Run the trials not yet done; returns the number of the run's trials that failed.

    ``budget_since`` (on ``budget_clock``) is when the budget began, for a caller whose own
    work before the run counts against it (advise's intake and replay); default: now."""
    try:
        pending = [t for t in state.trials if t.id not in state.done]
        if not pending and _status(state) == "complete":
            # Nothing to do: run.json (its wall time, its status) stays as the run left it.
            failures = _count_failures(state)
            print(f"nothing left to run in {state.run_dir}: {failures} failed", file=out)
            return failures
        work = state.run_dir / "work"
        keep = (state.lock.fd,) if state.lock is not None and state.lock.fd >= 0 else ()
        with reaper.watched(work, keep_fds=keep):
            budget = Budget.starting(state.options.budget_min, budget_since)
            return _execute(state, pending, wheelhouse=wheelhouse, port=port, out=out,
                            budget=budget)  # fmt: skip
    finally:
        if state.lock is not None:
            state.lock.release()


def _status(state: RunState) -> str | None:
    run_file = state.run_dir / results.RUN_FILE
    return results.read_json(run_file).get("status") if run_file.is_file() else None


def _count_failures(state: RunState) -> int:
    """Failed trials of the whole run (every session), counting a retried trial's last attempt."""
    records = results.read_trials(state.run_dir).records
    return sum(not r.succeeded for r in results.latest_attempts(records))


def _execute(
    state: RunState, pending: list[Trial], *, wheelhouse: Path, port: int, out: TextIO,
    budget: Budget,
) -> int:  # fmt: skip
    options = state.options
    profile = get_profile(options.profile)
    print(f"run folder: {state.run_dir}", file=out)
    work = state.run_dir / "work"
    run_info = _run_info(state, profile, port)
    for warning in run_info["machine_state"]["warnings"]:
        print(f"warning: {warning}", file=out)
    results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
    started = time.monotonic()
    earlier_s = run_info.get("wall_s", 0.0)  # a resumed run's wall time adds up its sessions
    try:
        with MirrorServer(wheelhouse, port=port, profile=profile) as mirror:
            setup = TrialSetup(
                runner_root=work / "runner",
                store_root=work / "store",
                logs=state.run_dir / LOGS_DIR,
                python_templates=work / "python-templates",
                pipx_template=work / "pipx-template",
                index_url=mirror.index_url(),
                transfer=profile.cache_transfer(),
                mirror=mirror,
                discard=work / "runner.discarded",
            )
            jobs = {t.cell.scenario.name: t.cell.scenario.job for t in pending}
            prepare_pythons(jobs, setup, {t.cell.deps.path for t in pending})
            prepare_pipx(jobs, setup)
            print(
                f"{len(pending)} trial(s) to run of {len(state.trials)}"
                f"{' (more rounds as needed: --reps auto)' if options.auto else ''}, "
                f"profile {profile.name}, seed {options.seed}",
                file=out,
            )
            _trial_loop(state, pending, setup, work, out, budget)
    except BenchError as error:  # the run cannot go on (e.g. preparing a Python failed)
        run_info |= {"status": "failed", "finished_at": _now(), "error": str(error)}
        run_info |= {"wall_s": round(earlier_s + time.monotonic() - started, 3)}
        run_info["stopping"] = state.stop_reasons
        results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
        raise
    except KeyboardInterrupt:
        run_info |= {
            "status": "interrupted",
            "finished_at": _now(),
            "wall_s": round(earlier_s + time.monotonic() - started, 3),
        }
        run_info["stopping"] = state.stop_reasons
        results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
        print(
            f"\ninterrupted: {len(state.done)} trial(s) kept in {state.run_dir}; "
            f"continue with: python -m bench run --resume {state.run_dir}",
            file=out,
        )
        _finish_report(state.run_dir, out)
        raise
    failures = _count_failures(state)
    run_info |= {
        "status": "complete",
        "finished_at": _now(),
        "wall_s": round(earlier_s + time.monotonic() - started, 3),
        "trials_failed": failures,
        "stopping": state.stop_reasons,
    }
    results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"done: {len(state.done)} trial(s), {failures} failed; records in {state.run_dir}", file=out
    )
    _finish_report(state.run_dir, out)
    return failures


def _finish_report(run_dir: Path, out: TextIO) -> None:
    """Write report.md, figures and CSVs into the run folder and print the short summary."""
    from bench.report.render import render, short_summary

    try:
        rendered = render(run_dir)
    except BenchError as error:  # e.g. no successful trial yet: say so, keep the records
        print(f"no report: {error}", file=out)
        return
    print(f"report: {rendered.report}", file=out)
    print(short_summary(run_dir), file=out, flush=True)


@dataclass(frozen=True)
class Budget:
    """``--budget``: the session's deadline on ``budget_clock``, None without a budget. A
    trial starts only when its cell's longest trial so far would still end, with the finishing
    reserve, before the deadline, so the run ends within its budget rather than after it."""

    deadline: float | None

    @classmethod
    def starting(cls, minutes: float | None, since: float | None = None) -> Budget:
        """``minutes`` from ``since`` (default now): the session, preparing included."""
        start = budget_clock() if since is None else since
        return cls(start + minutes * 60 if minutes else None)

    def room_for(self, expected_s: float) -> str:
        """``"yes"``, ``"no"`` (this trial would overrun) or ``"spent"`` (nothing would fit)."""
        if self.deadline is None:
            return "yes"
        left = self.deadline - FINISH_RESERVE_S - budget_clock()
        if left <= 0:
            return "spent"
        return "yes" if expected_s <= left else "no"


def _expected_seconds(records: Sequence[TrialRecord], cell: Cell) -> float:
    """How long a trial of the cell takes, chores included: its longest so far; for a cell not
    yet run, the longest of its set's (the set's size decides most of it); else 0."""
    own = [r.occupied_s for r in records if r.cell == cell]
    return max(own or [r.occupied_s for r in records if r.deps == cell.deps] or [0.0])


def _trial_loop(
    state: RunState,
    pending: list[Trial],
    setup: TrialSetup,
    work: Path,
    out: TextIO,
    budget: Budget,
) -> None:
    """Run ``pending`` round by round; retry busy trials and add rounds as the options say.
    A trial the budget has no room for is left out, and the run stops at its round's end."""
    options = state.options
    loop_started = time.monotonic()
    out_of_room = False
    queue = list(pending)
    if setup.discard is not None:
        remove_sandbox(setup.discard)  # a runner an interrupted session left aside
    next_order = max([t.order for t in state.trials] + [r.order for r in state.records]) + 1
    position = 0
    while True:
        if options.auto and not queue:
            done_rounds = max([r.repetition for r in state.records] + [0])
            queue = _next_round(state, done_rounds + 1, next_order)
            next_order += len(queue)
        if not queue:
            break
        round_number = queue[0].repetition
        this_round = [t for t in queue if t.repetition == round_number]
        queue = [t for t in queue if t.repetition != round_number]
        retried = False
        while this_round:
            trial = this_round.pop(0)
            room = budget.room_for(_expected_seconds(state.records, trial.cell.identity))
            if room == "spent":
                _stop_all(state, stopping.BUDGET)
                print(f"budget of {options.budget_min:g} min spent: stopping", file=out)
                return
            if room == "no":
                out_of_room = True  # the round's end stops it, with the others
                continue
            record = _recorded_trial(trial, state, setup, work)
            position += 1
            _progress(out, position, position + len(this_round) + len(queue), trial, record,
                      loop_started)  # fmt: skip
            if not this_round and options.retry_busy and not retried:
                retried = True
                busy = _busy_trials(state, round_number)
                for attempt, busy_trial in busy:
                    this_round.append(dataclasses.replace(busy_trial, order=next_order))
                    state.retries[busy_trial.id] = attempt + 1
                    next_order += 1
                if busy:
                    print(f"re-running {len(busy)} trial(s) run on a busy machine", file=out)
        if out_of_room:
            _stop_all(state, stopping.BUDGET)
            print(f"budget of {options.budget_min:g} min nearly spent: stopping", file=out)
            return
    if not options.auto:
        _stop_all(state, f"--reps {options.reps}")


def _recorded_trial(trial: Trial, state: RunState, setup: TrialSetup, work: Path) -> TrialRecord:
    """One trial, then the untimed chore after it: deleting the runner it set aside."""
    record = _run_trial(trial, state, setup, work)
    cleanup_started = time.perf_counter_ns()
    if setup.discard is not None:
        remove_sandbox(setup.discard)
    record.cleanup_ns = time.perf_counter_ns() - cleanup_started
    results.append_trial(state.run_dir, record)
    state.records.append(record)
    state.done.add(trial.id)
    return record


def _busy_trials(state: RunState, round_number: int) -> list[tuple[int, Trial]]:
    """This round's trials whose last attempt ran on a busy machine (retried once each)."""
    by_id = {t.id: t for t in state.trials}
    found = []
    for record in results.latest_attempts(state.records):
        busy = record.machine_busy is not None and record.machine_busy > BUSY_THRESHOLD
        if busy and record.repetition == round_number and record.attempt == 1:
            trial = by_id.get(record.trial_id)
            if trial is not None:
                found.append((record.attempt, trial))
    return found


def _next_round(state: RunState, repetition: int, first_order: int) -> list[Trial]:
    """The cells ``bench.stopping`` says need more trials, shuffled, as one more round."""
    totals = successful_totals(state.records)
    cells = {t.cell.identity: t.cell for t in state.trials}
    options = state.options
    so_far = {c: totals.get(c, []) for c in cells}
    if options.weights:
        reasons = stopping.expected_stop_reasons(
            so_far, repetition - 1, options.weights, options.baseline, seed=options.seed
        )
    else:
        reasons = stopping.stop_reasons(so_far, rounds=repetition - 1, seed=options.seed)
    for cell, reason in reasons.items():
        if reason is None:
            state.stop_reasons.pop(cell.id, None)  # back in the running (bench.stopping)
        else:
            state.stop_reasons[cell.id] = reason
    going_on = [cells[c] for c, reason in reasons.items() if reason is None]
    random.Random(f"{options.seed}-{repetition}").shuffle(going_on)
    if options.weights:  # advise: the leaders' cells first (shuffled among themselves)
        leading = stopping.leading_candidates(so_far, options.weights, options.baseline)
        going_on.sort(key=lambda c: (c.identity.deps, c.identity.scenario) not in leading)
    else:  # the podiums' and the reference cells first (shuffled among themselves)
        podiums = stopping.podium_cells(so_far)
        going_on.sort(key=lambda c: c.identity not in podiums)
    added = [Trial(cell, repetition, order=first_order + i) for i, cell in enumerate(going_on)]
    state.trials += added
    return added


def _stop_all(state: RunState, reason: str) -> None:
    for trial in state.trials:
        state.stop_reasons.setdefault(trial.cell.id, reason)


def prepare_pythons(
    workflows: dict[str, Workflow], setup: TrialSetup, workspaces: Iterable[Path] = ()
) -> None:
    """Make, untimed, the tool-cache Pythons setup-python will copy for the workflows: those
    ``python-version`` names, and those ``python-version-file`` (or ``.python-version``) names
    in ``workspaces``, the folders the jobs check out."""
    folders = list(workspaces)
    versions = set()
    for workflow in workflows.values():
        for step in workflow.steps:
            if step.action is None or step.action.name != "actions/setup-python":
                continue
            try:  # a matrix cell's version is known now; anything else only when the job runs
                inputs = {
                    name: interpolate(step.with_.get(name, ""), {"matrix": workflow.matrix}, {})
                    for name in ("python-version", "python-version-file")
                }
            except ExpressionError:
                continue
            specs = parse_multiline(inputs["python-version"])
            if not specs:
                for folder in folders:
                    with contextlib.suppress(BenchError, ValueError, OSError):  # the step says why
                        specs.append(python_spec(inputs, folder))
            for spec in specs:
                try:
                    versions.add(choose_interpreter(spec).interpreter)
                except BenchError:
                    continue  # the trial's setup step says why; the run goes on
    for interpreter in versions:
        sandbox = create_sandbox(setup.runner_root, repo="prepare")
        location = sandbox.tool_cache / "Python" / interpreter.version / "x64"
        try:
            install_python(
                interpreter, location, setup.python_templates, runner_environment(sandbox, None)
            )
        except BenchError as error:
            raise BenchError(f"preparing Python {interpreter.version} failed: {error}") from None
        finally:
            remove_sandbox(setup.runner_root)


def prepare_pipx(workflows: dict[str, Workflow], setup: TrialSetup) -> None:
    """Make, untimed, the pipx every trial's runner gets (as a hosted image has it), when a job
    calls pipx in a ``run:`` step, its own or a local action's; once per run (kept on resume)."""
    if setup.pipx_template is None or setup.pipx_template.is_dir():
        return
    if not any(names_pipx(script) for w in workflows.values() for script in w.run_scripts()):
        return
    sandbox = create_sandbox(setup.runner_root, repo="prepare")
    try:
        python = runner_python(RUNNER_TARGET.python_version)
        make_pipx(
            sandbox, python, runner_environment(sandbox, setup.index_url), setup.pipx_template
        )
    except BenchError as error:
        raise BenchError(f"preparing pipx failed: {error}") from None
    finally:
        remove_sandbox(setup.runner_root)


def _run_info(state: RunState, profile: Any, port: int) -> dict[str, Any]:
    previous = {}
    run_file = state.run_dir / results.RUN_FILE
    if run_file.is_file():
        previous = results.read_json(run_file)
    return {
        "schema": results.SCHEMA_VERSION,
        "run_id": state.run_dir.name,
        "wall_s": previous.get("wall_s", 0.0),
        "started_at": previous.get("started_at", _now()),
        "resumed_at": [*previous.get("resumed_at", []), _now()] if previous else [],
        "status": "running",
        "plan": state.options.to_json(),
        "trials_planned": len(state.trials),
        "profile": {k: v for k, v in vars(profile).items()},
        "machine": metadata.machine_metadata(),
        "harness": metadata.harness_commit(),
        "mirror_port": port,
        "machine_state": machine_state(state.run_dir).to_json(),
    }


def _run_trial(trial: Trial, state: RunState, setup: TrialSetup, work: Path) -> TrialRecord:
    cell = trial.cell
    started_at = _now()
    priming_start = time.perf_counter_ns()
    priming_error = None
    if cell.state != "cold":
        priming_error = _ensure_snapshot(cell, setup, work)
    priming_ns = time.perf_counter_ns() - priming_start
    sync_ns = _flush_writes() if state.options.sync else 0  # after priming: its writes too
    with BusyMeter() as meter:  # from the store's preparation to the job's end
        wall_start = time.perf_counter_ns()  # priming is untimed: it is not the trial's cost
        if priming_error is None:
            if cell.state == "cold":
                _empty_store(setup.store_root)
            else:
                copy_store(_snapshot_dir(work, cell, cell.state), setup.store_root)
            prepare_ns = time.perf_counter_ns() - wall_start
            store = CacheStore(setup.store_root)
            outcome = run_job(
                cell.scenario.job,
                cell.deps,
                previous=False,
                store=store,
                setup=setup,
                log_name=_log_name(trial),
            )
            mismatch = observed_state_error(cell.state, outcome.steps) if outcome.success else None
            if mismatch is not None:  # the job ran, but not from the state the trial stands for
                outcome.success, outcome.error = False, mismatch
            if cell.state == "cold" and outcome.success and "warm" in cell.scenario.states:
                _keep_snapshot(setup.store_root, _snapshot_dir(work, cell, "warm"))
            store_after = [{"key": e.key, "size": e.size} for e in store.entries()]
        else:
            outcome = JobOutcome(False, priming_error, [], 0, 0, {})
            prepare_ns, store_after = 0, []
        wall_ns = time.perf_counter_ns() - wall_start
    harness_ns = wall_ns - outcome.job_ns
    totals = StepTotals.of(outcome.steps)
    return TrialRecord(
        run_id=state.run_dir.name,
        trial_id=trial.id,
        scenario=cell.scenario.name,
        workflow=str(cell.scenario.workflow),
        job=cell.scenario.job.job_name,
        matrix=dict(cell.scenario.job.matrix),
        deps=cell.deps.name,
        state=cell.state,
        repetition=trial.repetition,
        order=trial.order,
        started_at=started_at,
        status="success" if outcome.success else "failure",
        error=outcome.error,
        total_ns=outcome.job_ns,
        wall_ns=wall_ns,
        prepare_ns=prepare_ns,
        priming_ns=priming_ns,
        teardown_ns=outcome.teardown_ns,
        harness_ns=harness_ns,
        harness_fraction=round(harness_ns / wall_ns, 5) if wall_ns else None,
        phases_ns=totals.phases_ns,
        mirror_bytes=totals.mirror_bytes,
        mirror_requests=totals.mirror_requests,
        mirror_files=totals.mirror_files,
        cache_hit=totals.cache_hit,
        matched_keys=totals.matched_keys,
        restored_archive_bytes=totals.restored_archive_bytes,
        saved_archive_bytes=totals.saved_archive_bytes,
        cached_folder_bytes=totals.cached_folder_bytes,
        store_after=store_after,
        steps=outcome.steps,
        machine_busy=meter.busy,
        attempt=state.retries.get(trial.id, 1),
        sync_ns=sync_ns,
    )


def _flush_writes() -> int:
    """``sync``: the previous trial's dirty pages go to disk now, not during this trial."""
    started = time.perf_counter_ns()
    os.sync()
    return time.perf_counter_ns() - started


def _ensure_snapshot(cell: PlannedCell, setup: TrialSetup, work: Path) -> str | None:
    """Make the store snapshot a warm or partial trial starts from; an error message if not."""
    snapshot = _snapshot_dir(work, cell, cell.state)
    if (snapshot / ".complete").is_file():
        return None
    _empty_store(setup.store_root)
    store = CacheStore(setup.store_root)
    previous = cell.state == "partial"
    outcome = run_job(
        cell.scenario.job,
        cell.deps,
        previous=previous,
        store=store,
        setup=setup,
        log_name=f"priming-{cell.id.replace('/', '-')}",
    )
    if setup.discard is not None:
        remove_sandbox(setup.discard)  # untimed, like the whole priming run
    if not outcome.success:
        revision = "previous" if previous else "current"
        return f"priming run ({revision} revision) failed: {outcome.error}"
    _keep_snapshot(setup.store_root, snapshot)
    return None


def _snapshot_dir(work: Path, cell: PlannedCell, state: str) -> Path:
    return work / "snapshots" / f"{cell.scenario.name}--{cell.deps.name}--{state}"


def _keep_snapshot(store_root: Path, snapshot: Path) -> None:
    if (snapshot / ".complete").is_file():
        return
    copy_store(store_root, snapshot)
    (snapshot / ".complete").touch()


def _empty_store(store_root: Path) -> None:
    if store_root.exists():
        shutil.rmtree(store_root)


def _log_name(trial: Trial) -> str:
    return trial_log(Path(), trial.id).stem


def trial_log(run_dir: Path, trial_id: str) -> Path:
    """Where a trial's log is in its run folder."""
    return run_dir / LOGS_DIR / f"{trial_id.replace('/', '-')}.log"


def _progress(
    out: TextIO,
    position: int,
    total: int,
    trial: Trial,
    record: TrialRecord,
    started: float,
) -> None:
    elapsed = time.monotonic() - started
    left = (elapsed / position) * (total - position)
    status = "ok" if record.succeeded else f"FAILED: {record.error}"
    print(
        f"[{position}/{total}] {trial.id}: {record.total_s:.1f} s {status}"
        f" (about {_duration(left)} left)",
        file=out,
        flush=True,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
