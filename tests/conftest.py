from __future__ import annotations

from pathlib import Path

import pytest

from bench.ghcache.action import Runner
from bench.ghcache.clock import ManualClock
from bench.ghcache.store import CacheStore


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
