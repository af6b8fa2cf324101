"""One trial: a fresh runner, the store in the state the trial needs, the job, its record.

The harness's own time per trial (making the runner, preparing the store, measuring sizes,
recording) is everything outside the job's steps; it is kept in the record as ``harness_ns``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.depsets import DependencySet
from bench.ghcache.action import DEFAULT_SCOPE
from bench.ghcache.store import CacheStore
from bench.mirror.server import MirrorServer
from bench.network.transfer import Transfer
from bench.results import PHASES
from bench.runner.sandbox import create_sandbox, remove_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobFailure, JobRun
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


@dataclass
class JobOutcome:
    success: bool
    error: str | None
    steps: list[dict[str, Any]]
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
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, setup.index_url),
        store=store,
        checkout=deps.revision(previous=previous),
        transfer=setup.transfer,
        scopes=(DEFAULT_SCOPE,),
        python_templates=setup.python_templates,
    )
    setup.logs.mkdir(parents=True, exist_ok=True)
    try:
        with open(setup.logs / f"{log_name}.log", "wb") as log:
            try:
                result = JobRun(
                    workflow, ctx, log=log, mirror=setup.mirror, session_prefix=log_name
                ).run()
                success, error = result.success, result.error
                steps, outputs = result.steps, result.outputs
            except JobFailure as failure:
                success, error, steps, outputs = False, str(failure), [], {}
                log.write(f"\nerror: {failure}\n".encode())
    finally:
        teardown_started = time.perf_counter_ns()
        remove_sandbox(setup.runner_root)
        teardown_ns = time.perf_counter_ns() - teardown_started
    records = [asdict(step) for step in steps]
    return JobOutcome(
        success=success,
        error=error,
        steps=records,
        job_ns=sum(step["duration_ns"] for step in records),
        wall_ns=time.perf_counter_ns() - started,
        outputs=outputs,
        teardown_ns=teardown_ns,
    )


def summarize_steps(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-phase times and the trial's cache and network figures, from its step records."""
    phases = dict.fromkeys(PHASES, 0)
    for step in steps:
        for phase, ns in step["phases_ns"].items():
            phases[phase] += ns
    restores = [s["cache"] for s in steps if s["cache"] and s["cache"]["role"] == "restore"]
    saves = [s["cache"] for s in steps if s["cache"] and s["cache"]["role"] == "save"]
    return {
        "phases_ns": phases,
        "mirror_bytes": sum(s["mirror_bytes"] for s in steps),
        "mirror_requests": sum(s["mirror_requests"] for s in steps),
        "mirror_files": sum(s["mirror_files"] for s in steps),
        "cache_hit": [c["cache_hit"] for c in restores],
        "matched_keys": [c["matched_key"] for c in restores],
        "restored_archive_bytes": sum(c["archive_bytes"] or 0 for c in restores),
        "saved_archive_bytes": sum(c["archive_bytes"] or 0 for c in saves if c["saved"]),
        "cached_folder_bytes": max(
            [c.get("folder_bytes") or 0 for c in [*restores, *saves]], default=0
        ),
    }
