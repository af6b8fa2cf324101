"""hynek/setup-cached-uv emulated: its key (workflow, job, suffix, the dependency file's hash,
the ISO week), uv's cache folder under the runner's own /tmp, actions/cache with no restore
keys, and ``uv cache prune --ci`` before the save; cold then warm against the tests' mirror."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.mirror.server import MirrorServer
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow.actions import ActionContext, ActionError
from bench.workflow.cached_uv import wants_cache
from bench.workflow.job import JobRun
from bench.workflow.parse import check_file, load_workflow
from bench.workflow.runnerpaths import runner_path
from tests.helpers import expected_hash
from tests.packages import build_set
from tests.repack import repack_closure

PIN = "hynek/setup-cached-uv@34e35d30f1ebc7421a5cc733bca38dcc62603960 # v2.6.0"

WORKFLOW = f"""\
name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: {PIN}
        with:
          cache-suffix: -tiny
          cache-dependency-path: requirements.txt
      - id: seen
        run: |
          echo "cache=$UV_CACHE_DIR" >> "$GITHUB_OUTPUT"
          echo "uv=$(command -v uv)" >> "$GITHUB_OUTPUT"
          uv venv && uv pip install -r requirements.txt
"""


def test_its_inputs_are_checked_and_old_versions_refused(tmp_path):
    path = tmp_path / "wf.yml"
    path.write_text(WORKFLOW.replace("cache-suffix:", "colour: red\n          cache-suffix:"))
    (check,) = check_file(path)
    assert check.blockers == ["step 2: hynek/setup-cached-uv has no input 'colour'"]
    path.write_text(WORKFLOW.replace(PIN, "hynek/setup-cached-uv@v1"))
    (check,) = check_file(path)
    assert "before v2 are not emulated" in check.blockers[0]
    path.write_text(WORKFLOW)
    (check,) = check_file(path)
    assert check.runnable and check.notes == []


@pytest.fixture(scope="module")
def mirror_and_deps(tmp_path_factory):
    root = tmp_path_factory.mktemp("cached-uv")
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir()
    repack_closure(["uv"], wheelhouse)
    build_set(wheelhouse)
    deps = root / "deps"
    deps.mkdir()
    (deps / "requirements.txt").write_text("tinyone==1.0\ntinysrc==0.5\n")
    with MirrorServer(wheelhouse) as server:
        yield server, deps


def _run(tmp_path: Path, deps: Path, mirror: MirrorServer, store: CacheStore, text: str):
    path = tmp_path / "wf.yml"
    path.write_text(textwrap.dedent(text))
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, mirror.index_url()),
        store=store,
        checkout=Revision((deps,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        result = JobRun(load_workflow(path), ctx, log=log, mirror=mirror).run()
    return result, sandbox, (tmp_path / "job.log").read_text()


def test_cold_then_warm_with_the_actions_own_key(tmp_path, mirror_and_deps):
    mirror, deps = mirror_and_deps
    store = CacheStore(tmp_path / "store")
    week = subprocess.run(["date", "+%V"], capture_output=True, text=True).stdout.strip()
    key = f"uv-Linux-ci-test-tiny-{expected_hash(deps / 'requirements.txt')}-{week}"

    cold, sandbox, log = _run(tmp_path, deps, mirror, store, WORKFLOW)
    assert cold.success, cold.error
    assert cold.outputs["seen"]["cache"] == str(sandbox.root / "tmp/scu-uv-cache")
    assert cold.outputs["seen"]["uv"] == str(sandbox.home / ".local/bin/uv")
    main = cold.steps[1]
    assert main.uses == PIN.split(" #")[0] and main.phase == "setup"
    assert set(main.phases_ns) == {"setup", "restore"}
    assert main.cache["key"] == key and main.cache["matched_key"] == ""
    posts = [s for s in cold.steps if s.stage == "post"]
    # reverse order of scheduling: the prune (always) runs before actions/cache's save
    assert [p.name for p in posts] == ["Post Schedule cache pruning", "Post Cache"]
    assert all(p.phase == "save" and p.outcome == "success" for p in posts)
    assert posts[1].cache["saved"] and posts[1].cache["paths"] == [
        str(sandbox.root / "tmp/scu-uv-cache")
    ]
    assert "uv cache prune --ci" in log
    assert [entry.key for entry in store.entries()] == [key]

    warm, _, _ = _run(tmp_path, deps, mirror, store, WORKFLOW)
    assert warm.success, warm.error
    restore = warm.steps[1].cache
    assert restore["matched_key"] == key and restore["cache_hit"] == "true"
    save = next(s for s in warm.steps if s.name == "Post Cache")
    assert save.cache is None or not save.cache["saved"]  # an exact hit saves nothing
    assert len(store.entries()) == 1


def test_use_cache_if_false_skips_the_cache_and_no_dependency_path_drops_the_hash(
    tmp_path, mirror_and_deps
):
    mirror, deps = mirror_and_deps
    store = CacheStore(tmp_path / "store")
    off = WORKFLOW.replace("cache-suffix: -tiny", "use-cache-if: 'false'")
    result, _, _ = _run(tmp_path, deps, mirror, store, off)
    assert result.success, result.error
    assert result.steps[1].cache is None and store.entries() == []
    assert not any(s.stage == "post" for s in result.steps)
    no_hash = WORKFLOW.replace("requirements.txt\n      - id", "''\n      - id").replace(
        "cache-suffix: -tiny", "cache-date-suffix: ''"
    )
    result, _, _ = _run(tmp_path, deps, mirror, store, no_hash)
    assert result.success, result.error
    assert result.steps[1].cache["key"] == "uv-Linux-ci-test"
    assert re.fullmatch(r"uv-Linux-ci-test", store.entries()[0].key)


def _ctx(tmp_path: Path) -> ActionContext:
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    return ActionContext(
        sandbox=sandbox, env={}, store=CacheStore(tmp_path / "store"), checkout=Revision(())
    )


def runner_path_(path: str, ctx: ActionContext) -> str:
    return runner_path(path, ctx, "uv-cache-path")


def test_cache_paths_stay_inside_the_runner(tmp_path):
    ctx = _ctx(tmp_path)
    home, root = ctx.sandbox.home, ctx.sandbox.root
    assert runner_path_("~/.cache/uv", ctx) == f"{home}/.cache/uv"
    assert runner_path_("/home/runner/.cache/uv", ctx) == f"{home}/.cache/uv"
    assert runner_path_("/tmp/uv", ctx) == f"{root}/tmp/uv"
    assert runner_path_(f"{ctx.sandbox.temp}/uv", ctx) == f"{ctx.sandbox.temp}/uv"
    assert runner_path_(".uv-cache", ctx) == ".uv-cache"
    escape = f"{ctx.sandbox.root}/{'../' * 40}x"
    for outside in ("/var/cache/uv", "/home/runnerx/uv", "/opt", escape):
        with pytest.raises(ActionError, match="outside the runner"):
            runner_path_(outside, ctx)


def test_use_cache_if_compares_as_expressions_do():
    assert wants_cache("true") and wants_cache("True") and wants_cache("TRUE")
    assert not wants_cache("false") and not wants_cache("yes")
