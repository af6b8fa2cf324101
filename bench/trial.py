"""One trial: a fresh runner, the store in the state the trial needs, the job, its record.

The harness's own time per trial (making the runner, preparing the store, measuring sizes,
recording) is everything outside the job's steps; it is kept in the record as ``harness_ns``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.depsets import DependencySet
from bench.errors import BenchError
from bench.ghcache.action import DEFAULT_SCOPE
from bench.ghcache.store import CacheStore
from bench.mirror.server import MirrorServer
from bench.network.transfer import Transfer
from bench.results import StepRecord
from bench.runner import reaper
from bench.runner.pipx import install_pipx, names_pipx
from bench.runner.sandbox import create_sandbox, remove_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobRun
from bench.workflow.model import Workflow


@dataclass(frozen=True)
class TrialSetup:
    """Where trials run and what they talk to; the same for every trial of a run."""

    runner_root: Path
    store_root: Path
    logs: Path
    python_templates: Path
    index_url: str | None
    transfer: Transfer
    mirror: MirrorServer | None = None
    discard: Path | None = None  # set: the used runner is renamed here; the caller deletes it
    pipx_template: Path | None = None  # pipx's trees, made once per run (bench.runner.pipx)


@dataclass
class JobOutcome:
    success: bool
    error: str | None
    steps: list[StepRecord]
    job_ns: int
    wall_ns: int
    outputs: dict[str, dict[str, str]]
    teardown_ns: int = 0  # removing the runner, part of the harness's cost


def copy_store(source: Path, target: Path) -> None:
    """A copy of a store: archives are immutable, so they are hard links; the index is copied."""
    if target.exists():
        shutil.rmtree(target)

    def link_or_copy(src: str, dst: str) -> None:
        if os.sep + "archives" + os.sep in src:
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy)


def run_job(
    workflow: Workflow,
    deps: DependencySet,
    *,
    previous: bool,
    store: CacheStore,
    setup: TrialSetup,
    log_name: str,
) -> JobOutcome:
    """Run ``workflow`` on ``deps`` in a fresh runner against ``store``; the runner is removed."""
    started = time.perf_counter_ns()
    sandbox = create_sandbox(setup.runner_root, repo=f"deps-{deps.name}")
    try:  # from here on, whatever happens, the runner is swept and removed
        reaper.track_runner(sandbox.tracking_id)
        setup.logs.mkdir(parents=True, exist_ok=True)
        with open(setup.logs / f"{log_name}.log", "wb") as log:
            try:
                template = setup.pipx_template
                calls_pipx = any(names_pipx(script) for script in workflow.run_scripts())
                if calls_pipx and template is not None and template.is_dir():
                    install_pipx(sandbox, template)  # as on the image: not timed
                ctx = ActionContext(
                    sandbox=sandbox,
                    env=runner_environment(sandbox, setup.index_url),
                    store=store,
                    checkout=deps.revision(previous=previous),
                    transfer=setup.transfer,
                    scopes=(DEFAULT_SCOPE,),
                    python_templates=setup.python_templates,
                )
                result = JobRun(
                    workflow, ctx, log=log, mirror=setup.mirror, session_prefix=log_name
                ).run()
                success, error = result.success, result.error
                steps, outputs = result.steps, result.outputs
            except (BenchError, OSError, subprocess.CalledProcessError) as failure:
                # One trial fails; the run goes on (a harness bug still stops it).
                success, error, steps, outputs = False, _one_line(failure), [], {}
                log.write(f"\nerror: {error}\n".encode())
    finally:
        teardown_started = time.perf_counter_ns()
        # What the job left running goes, as on a hosted runner at the end of a job.
        reaper.sweep({sandbox.tracking_id}, setup.runner_root)
        if setup.discard is not None and setup.runner_root.exists():
            os.replace(setup.runner_root, setup.discard)  # deleted later, outside the timing
        else:
            remove_sandbox(setup.runner_root)
        teardown_ns = time.perf_counter_ns() - teardown_started
    return JobOutcome(
        success=success,
        error=error,
        steps=steps,
        job_ns=sum(step.duration_ns for step in steps),
        wall_ns=time.perf_counter_ns() - started,
        outputs=outputs,
        teardown_ns=teardown_ns,
    )


def _one_line(failure: Exception) -> str:
    if isinstance(failure, BenchError):  # a job's failure (JobFailure) among them
        return str(failure)
    if isinstance(failure, subprocess.CalledProcessError):
        command = failure.cmd if isinstance(failure.cmd, str) else " ".join(map(str, failure.cmd))
        return f"{command} failed with exit code {failure.returncode}"
    return f"{failure.__class__.__name__}: {failure}"


def observed_state_error(state: str, steps: list[StepRecord]) -> str | None:
    """Why the cache state the job met is not the one the trial stands for (None when it is).

    cold: no restore matched anything; warm: every restore hit its primary key exactly;
    partial: something came from a restore key and nothing missed. A trial that ran from
    another state (e.g. every restore a miss because tar could not read the store) is a
    failure with this reason, never a result.
    """
    restores = [s.cache for s in steps if s.cache and s.cache["role"] == "restore"]
    matched = [c for c in restores if c["matched_key"]]
    exact = [c for c in matched if c["cache_hit"] == "true"]
    if state == "cold":
        if matched:
            return f"planned cold, but the cache restored {matched[0]['matched_key']!r}"
        return None
    if not restores:
        return f"planned {state}, but the job restored no cache; run it with --states cold"
    missed = [c["key"] for c in restores if not c["matched_key"]]
    if state == "warm" and len(exact) != len(restores):
        first = next(c for c in restores if c not in exact)
        how = "missed" if not first["matched_key"] else f"matched {first['matched_key']!r}"
        return f"planned warm, but the restore of {first['key']!r} {how} (no exact hit)"
    if state == "partial":
        if missed:
            return f"planned partial, but the restore of {missed[0]!r} missed"
        if len(exact) == len(restores):
            return "planned partial, but every restore hit its key exactly (no restore-key hit)"
    return None
