from __future__ import annotations

from pathlib import Path

import pytest

from bench import execute
from bench.ghcache.action import Runner
from bench.ghcache.clock import ManualClock
from bench.ghcache.store import CacheStore
from bench.results import StepRecord
from bench.trial import JobOutcome
from tests.packages import build_wheel


@pytest.fixture(scope="module")
def tiny_mirror(tmp_path_factory):
    """The tests' own packages (tests/packages.py) served on loopback, one server per module."""
    from bench.mirror.server import MirrorServer
    from tests.packages import build_set

    folder = tmp_path_factory.mktemp("wheelhouse")
    build_set(folder)
    with MirrorServer(folder) as server:
        yield server


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    """A fake hosted runner's layout: root/home/runner with its workspace and temp."""
    root = tmp_path / "root"
    home = root / "home" / "runner"
    workspace = home / "work" / "repo" / "repo"
    workspace.mkdir(parents=True)
    temp = root / "temp"
    temp.mkdir()
    return Runner.for_workspace(workspace, home=home, root=root, temp=temp)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> CacheStore:
    return CacheStore(tmp_path / "store", clock=clock)


def restore_step(log_name: str, calls: dict) -> StepRecord:
    """A restore step whose outcome is the one the trial's state plans (unless ``calls`` says
    to observe another state)."""
    state = calls.get("observe") or next(
        (s for s in ("warm", "partial") if f"-{s}-" in log_name), "cold"
    )
    hit, matched = {"cold": ("", ""), "warm": ("true", "k"), "partial": ("false", "k-old")}[state]
    cache = {"role": "restore", "key": "k", "matched_key": matched, "cache_hit": hit,
             "archive_bytes": None, "saved": False}  # fmt: skip
    return StepRecord(
        index=1, name="Cache", stage="main", uses="actions/cache@v5", phase="restore",
        outcome="success", duration_ns=1_000, phases_ns={"restore": 1_000}, cache=cache,
    )  # fmt: skip


@pytest.fixture
def fake_jobs(monkeypatch, tmp_path):
    """Jobs that succeed at once (the real ones are covered by test_scenarios); the n-th raises
    KeyboardInterrupt when ``interrupt_at`` says so."""
    calls = {"n": 0, "interrupt_at": None, "priming": 0, "fail_at": None, "observe": None}

    def run_job(workflow, deps, *, previous, store, setup, log_name):
        calls["n"] += 1
        if log_name.startswith("priming-"):
            calls["priming"] += 1
        if calls["n"] == calls["interrupt_at"]:
            raise KeyboardInterrupt
        if calls["n"] == calls["fail_at"]:
            return JobOutcome(False, "step 4 (Run pytest): exit code 1", [], 1_000, 2_000, {})
        steps = [] if log_name.startswith("no-cache") else [restore_step(log_name, calls)]
        return JobOutcome(True, None, steps, job_ns=1_000, wall_ns=2_000, outputs={})

    monkeypatch.setattr(execute, "run_job", run_job)
    monkeypatch.setattr(execute, "prepare_pythons", lambda *_args, **_kwargs: None)
    monkeypatch.setattr(execute, "prepare_pipx", lambda *_args, **_kwargs: None)
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    build_wheel(wheelhouse, "tinyone", "1.0")
    return calls, wheelhouse
