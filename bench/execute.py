"""Run a plan: prepare once, then every trial in order, recording each as it ends.

Store states are produced by really running jobs. A successful cold trial's store becomes the
snapshot its warm trials start from (so one cold run primes the warm ones); when a warm or
partial trial comes before any such run, an untimed priming run (on the current or the previous
revision) makes the snapshot. Snapshots live in the run's ``work/`` folder until the run ends,
so ``--resume`` can continue an interrupted run where it stopped.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bench import metadata, results
from bench.depsets import DependencySet
from bench.errors import BenchError
from bench.ghcache.store import CacheStore
from bench.locking import BENCH_MIRROR_PORT
from bench.mirror.fetch import DEFAULT_WHEELHOUSE, fetch
from bench.mirror.profiles import get_profile
from bench.mirror.server import MirrorServer
from bench.plan import SCENARIOS_ROOT, Cell, PlanOptions, Trial, build_plan
from bench.runner.pythons import select_interpreter
from bench.runner.sandbox import create_sandbox, remove_sandbox
from bench.runner.trial import JobOutcome, TrialSetup, copy_store, run_job, summarize_steps
from bench.workflow.expressions import ExpressionError, interpolate
from bench.workflow.model import Workflow
from bench.workflow.setup_python import install_python

RESULTS_ROOT = Path(__file__).resolve().parents[1] / "results"


@dataclass
class RunState:
    run_dir: Path
    options: PlanOptions
    trials: list[Trial]
    done: set[str] = field(default_factory=set)


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
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = (out or RESULTS_ROOT) / f"{stamp}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    return run_dir


def start_run(options: PlanOptions, out: Path | None, port: int = BENCH_MIRROR_PORT) -> RunState:
    trials = build_plan(options)  # errors in the selection come before anything is made
    get_profile(options.profile)
    ensure_port_free(port)
    run_dir = new_run_dir(out)
    results.write_json_atomically(run_dir / results.PLAN_FILE, options.to_json())
    return RunState(run_dir, options, trials)


def resume_run(run_dir: Path) -> RunState:
    options = PlanOptions.from_json(results.read_json(run_dir / results.PLAN_FILE))
    state = RunState(run_dir, options, build_plan(options))
    lines = results.read_trials(run_dir)
    state.done = {record["trial_id"] for record in lines.records}
    return state


def fill_wheelhouse(
    sets: Iterable[DependencySet], wheelhouse: Path, out: TextIO = sys.stderr
) -> None:
    """Fetch, once, every file these sets and the tools need that the wheelhouse lacks."""
    print("preparing: filling the wheelhouse (nothing is downloaded twice)", file=out)
    for requirements in wheelhouse_requirements(sets):
        fetch([requirements], wheelhouse=wheelhouse)


def wheelhouse_requirements(sets: Iterable[DependencySet]) -> list[Path]:
    """Every pinned file the jobs and the lock files need from the mirror."""
    files = sorted((SCENARIOS_ROOT / "tools").glob("*.txt"))
    for deps in sorted(set(sets), key=lambda d: d.name):
        files.append(deps.path / "requirements.txt")
        if deps.previous is not None and (deps.previous / "requirements.txt").is_file():
            files.append(deps.previous / "requirements.txt")
    return files


def execute(
    state: RunState,
    *,
    wheelhouse: Path = DEFAULT_WHEELHOUSE,
    port: int = BENCH_MIRROR_PORT,
    out: TextIO = sys.stderr,
) -> int:
    """Run the trials not yet done; returns the number that failed."""
    options = state.options
    profile = get_profile(options.profile)
    print(f"run folder: {state.run_dir}", file=out)
    work = state.run_dir / "work"
    run_info = _run_info(state, profile, port)
    results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
    failures = 0
    started = time.monotonic()
    try:
        with MirrorServer(wheelhouse, port=port, profile=profile) as mirror:
            setup = TrialSetup(
                runner_root=work / "runner",
                store_root=work / "store",
                logs=state.run_dir / "logs",
                python_templates=work / "python-templates",
                index_url=mirror.index_url(),
                transfer=profile.cache_transfer(),
                mirror=mirror,
            )
            pending = [t for t in state.trials if t.id not in state.done]
            prepare_pythons({t.cell.scenario.name: t.cell.scenario.job for t in pending}, setup)
            loop_started = time.monotonic()
            print(
                f"{len(pending)} trial(s) to run of {len(state.trials)}, "
                f"profile {profile.name}, seed {options.seed}",
                file=out,
            )
            for position, trial in enumerate(pending, start=1):
                record = _run_trial(trial, state, setup, work)
                results.append_trial(state.run_dir, record)
                state.done.add(trial.id)
                failures += record["status"] != "success"
                _progress(out, position, len(pending), trial, record, loop_started)
    except KeyboardInterrupt:
        run_info |= {"status": "interrupted", "finished_at": _now()}
        results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
        print(
            f"\ninterrupted: {len(state.done)} trial(s) kept in {state.run_dir}; "
            f"continue with: python -m bench run --resume {state.run_dir}",
            file=out,
        )
        raise
    run_info |= {
        "status": "complete",
        "finished_at": _now(),
        "wall_s": round(time.monotonic() - started, 3),
        "trials_failed": failures,
    }
    results.write_json_atomically(state.run_dir / results.RUN_FILE, run_info)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"done: {len(state.done)} trial(s), {failures} failed; records in {state.run_dir}", file=out
    )
    return failures


def prepare_pythons(workflows: dict[str, Workflow], setup: TrialSetup) -> None:
    """Make, untimed, the ready venv setup-python copies for each version the workflows ask."""
    versions = set()
    for workflow in workflows.values():
        for step in workflow.steps:
            if step.action is None or step.action.name != "actions/setup-python":
                continue
            try:  # a matrix cell's version is known now; anything else only when the job runs
                text = interpolate(
                    step.with_.get("python-version", ""), {"matrix": workflow.matrix}, {}
                )
            except ExpressionError:
                continue
            versions.update(select_interpreter(line) for line in text.split() if line)
    for interpreter in versions:
        sandbox = create_sandbox(setup.runner_root, repo="prepare")
        location = sandbox.tool_cache / "Python" / interpreter.version / "x64"
        install_python(interpreter, location, setup.python_templates)
        remove_sandbox(setup.runner_root)


def _run_info(state: RunState, profile: Any, port: int) -> dict[str, Any]:
    previous = {}
    run_file = state.run_dir / results.RUN_FILE
    if run_file.is_file():
        previous = results.read_json(run_file)
    return {
        "schema": results.SCHEMA_VERSION,
        "run_id": state.run_dir.name,
        "started_at": previous.get("started_at", _now()),
        "resumed_at": [*previous.get("resumed_at", []), _now()] if previous else [],
        "status": "running",
        "plan": state.options.to_json(),
        "trials_planned": len(state.trials),
        "profile": {k: v for k, v in vars(profile).items()},
        "machine": metadata.machine_metadata(),
        "harness": metadata.harness_commit(),
        "mirror_port": port,
    }


def _run_trial(trial: Trial, state: RunState, setup: TrialSetup, work: Path) -> dict[str, Any]:
    cell = trial.cell
    started_at = _now()
    priming_start = time.perf_counter_ns()
    priming_error = None
    if cell.state != "cold":
        priming_error = _ensure_snapshot(cell, setup, work)
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
        if cell.state == "cold" and outcome.success and "warm" in cell.scenario.states:
            _keep_snapshot(setup.store_root, _snapshot_dir(work, cell, "warm"))
        store_after = [{"key": e.key, "size": e.size} for e in store.entries()]
    else:
        outcome = JobOutcome(False, priming_error, [], 0, 0, {})
        prepare_ns, store_after = 0, []
    wall_ns = time.perf_counter_ns() - wall_start
    harness_ns = wall_ns - outcome.job_ns
    return {
        "schema": results.SCHEMA_VERSION,
        "run_id": state.run_dir.name,
        "trial_id": trial.id,
        "scenario": cell.scenario.name,
        "workflow": str(cell.scenario.workflow),
        "job": cell.scenario.job.job_name,
        "matrix": dict(cell.scenario.job.matrix),
        "deps": cell.deps.name,
        "state": cell.state,
        "repetition": trial.repetition,
        "order": trial.order,
        "started_at": started_at,
        "status": "success" if outcome.success else "failure",
        "error": outcome.error,
        "total_ns": outcome.job_ns,
        "wall_ns": wall_ns,
        "prepare_ns": prepare_ns,
        "priming_ns": wall_start - priming_start,
        "teardown_ns": outcome.teardown_ns,
        "harness_ns": harness_ns,
        "harness_fraction": round(harness_ns / wall_ns, 5) if wall_ns else None,
        **summarize_steps(outcome.steps),
        "store_after": store_after,
        "steps": outcome.steps,
    }


def _ensure_snapshot(cell: Cell, setup: TrialSetup, work: Path) -> str | None:
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
    if not outcome.success:
        revision = "previous" if previous else "current"
        return f"priming run ({revision} revision) failed: {outcome.error}"
    _keep_snapshot(setup.store_root, snapshot)
    return None


def _snapshot_dir(work: Path, cell: Cell, state: str) -> Path:
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
    return trial.id.replace("/", "-")


def _progress(
    out: TextIO,
    position: int,
    total: int,
    trial: Trial,
    record: dict[str, Any],
    started: float,
) -> None:
    elapsed = time.monotonic() - started
    left = (elapsed / position) * (total - position)
    status = "ok" if record["status"] == "success" else f"FAILED: {record['error']}"
    print(
        f"[{position}/{total}] {trial.id}: {record['total_ns'] / 1e9:.1f} s {status}"
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
