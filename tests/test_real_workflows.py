"""Real workflows, as teams write them: a multi-job file run by --job, a matrix cell, setup-uv
pinned by commit with its cache, a local composite action and a stand-in, cold then warm, on a
tiny set against the tests' own mirror (offline); and check-workflow's blockers."""

from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

import pytest

from bench import execute, results
from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.mirror.server import MirrorServer
from bench.plan import PlanOptions
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobRun
from bench.workflow.parse import WorkflowError, load_workflow
from bench.workflow.uvkey import UvKeyParts, setup_uv_key
from tests.packages import build_set
from tests.repack import repack_closure
from tests.tinyset import TEST_TINY, free_port, pinned_requirements

pytestmark = pytest.mark.slow

CHECKOUT_PIN = "actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8 # v6.0.1"
SETUP_PYTHON = "actions/setup-python@v7"
SETUP_UV_PIN = "astral-sh/setup-uv@d0cc045d04ccac9d8b7881df0226f9e82c39688e  # v7.1.2"

CI = f"""\
name: ci
on: [push, pull_request]
permissions: {{contents: read}}
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo lint
  test:
    needs: lint
    if: github.event_name == 'push'
    runs-on: ${{{{ matrix.os }}}}
    timeout-minutes: 20
    strategy:
      fail-fast: false
      matrix:
        os: [windows-latest, ubuntu-latest]
        python-version: ['3.11', '3.12']
    steps:
      - uses: {CHECKOUT_PIN}
      - uses: {SETUP_PYTHON}
        with:
          python-version: ${{{{ matrix.python-version }}}}
      - id: uv
        uses: {SETUP_UV_PIN}
        with:
          cache-dependency-glob: requirements.txt
      - id: install
        uses: ./.github/actions/install
        with:
          requirements: requirements.txt
      - run: test "${{{{ steps.install.outputs.installed }}}}" = yes
      - run: .venv/bin/python -m pytest tests
      - uses: codecov/codecov-action@v5
        with:
          token: ${{{{ secrets.CODECOV_TOKEN }}}}
"""

INSTALL_ACTION = """\
name: install
description: a venv with the requirements, by uv
inputs:
  requirements:
    description: the requirements file
    required: true
  extra:
    description: checked for its default
    default: none
outputs:
  installed:
    description: yes when done
    value: ${{ steps.done.outputs.installed }}
runs:
  using: composite
  steps:
    - run: uv venv && uv pip install -r "${{ inputs.requirements }}"
      shell: bash
    - id: done
      run: |
        test "${{ inputs.extra }}" = none
        echo "installed=yes" >> "$GITHUB_OUTPUT"
      shell: bash
"""


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory):
    """A wheelhouse with uv, pytest and the tiny packages; a set; a repository with ci.yml."""
    root = tmp_path_factory.mktemp("real")
    wheelhouse = root / "wheelhouse"
    wheelhouse.mkdir()
    repack_closure(["uv", "pytest", "poetry"], wheelhouse)
    build_set(wheelhouse)
    deps = root / "tiny"
    (deps / "tests").mkdir(parents=True)
    pins = {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}
    (deps / "requirements.txt").write_text(pinned_requirements(wheelhouse, pins))
    (deps / "tests" / "test_tiny.py").write_text(TEST_TINY)
    repo = root / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "actions" / "install").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(CI)
    (repo / ".github" / "actions" / "install" / "action.yml").write_text(INSTALL_ACTION)
    return root, wheelhouse, deps, repo / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def real_run(bench_root):
    root, wheelhouse, deps, workflow = bench_root
    port = free_port()
    options = PlanOptions(
        deps=[str(deps)],
        workflows=[str(workflow)],
        job="test",
        matrix=["python-version=3.11"],
        states=["cold", "warm"],
        reps=1,
        seed=1,
        profile="unthrottled",
    )
    state = execute.start_run(options, root / "results", port=port)
    failures = execute.execute(state, wheelhouse=wheelhouse, port=port, out=io.StringIO())
    records = {r.state: r.to_json() for r in results.read_trials(state.run_dir).records}
    return state, failures, records


def test_the_matrix_job_runs_cold_then_warm(real_run):
    _state, failures, records = real_run
    errors = {s: r["error"] for s, r in records.items() if r["status"] != "success"}
    assert failures == 0 and errors == {}
    cold = records["cold"]
    assert cold["job"] == "test"
    assert cold["matrix"] == {"os": "ubuntu-latest", "python-version": "3.11"}


def test_setup_uv_pinned_by_commit_follows_the_commented_version(real_run):
    cold, warm = real_run[2]["cold"], real_run[2]["warm"]
    uv_step = next(s for s in cold["steps"] if s["stage"] == "main" and "setup-uv" in s["uses"])
    assert uv_step["uses"] == SETUP_UV_PIN.split("#")[0].strip()  # the reference as written
    key = uv_step["outputs"]["cache-key"]
    # v7.1.2: key version 1 without the OS part, and pruned by default (before v9)
    assert re.fullmatch(
        r"setup-uv-1-x86_64-unknown-linux-gnu-3\.11\.\d+-pruned-[0-9a-f]{64}", key
    ), key
    assert set(uv_step["phases_ns"]) == {"setup", "restore"}
    assert uv_step["mirror_files"] >= 1  # uv itself came from the mirror
    assert cold["cache_hit"] == ["false"] and [e["key"] for e in cold["store_after"]] == [key]
    assert cold["saved_archive_bytes"] > 0
    assert warm["cache_hit"] == ["true"] and warm["matched_keys"] == [key]
    assert warm["saved_archive_bytes"] == 0
    cold_files, warm_files = (
        sum(s["mirror_files"] for s in r["steps"] if s["phase"] == "install") for r in (cold, warm)
    )
    # `uv cache prune --ci` kept only the wheel uv built from the sdist: the rest is downloaded
    assert warm_files == cold_files - 1


def test_the_composite_actions_steps_are_timed_as_steps_of_the_job(real_run):
    steps = real_run[2]["cold"]["steps"]
    inner = [s for s in steps if s["part_of"] == "Run ./.github/actions/install"]
    assert len(inner) == 2 and all(s["outcome"] == "success" for s in inner)
    assert inner[0]["phase"] == "install" and inner[0]["mirror_files"] > 0
    check = next(s for s in steps if s["name"].startswith('Run test "yes" = yes') or
                 s["name"].startswith("Run test"))  # fmt: skip
    assert check["outcome"] == "success"  # the composite's output reached the job


def test_the_stand_in_is_recorded_logged_and_named_by_the_report(real_run):
    state, _failures, records = real_run
    codecov = next(s for s in records["cold"]["steps"] if s["uses"] == "codecov/codecov-action@v5")
    assert codecov["stand_in"] is True and codecov["outcome"] == "success"
    log = (state.run_dir / "logs" / "ci-tiny-cold-1.log").read_text()
    assert "stood in for codecov/codecov-action@v5" in log
    assert "set aside: needs: lint — run alone" in log
    assert "matrix: runs the cell os=ubuntu-latest, python-version=3.11 (one of 4)" in log
    from bench.report.render import render

    report = render(state.run_dir).report.read_text()
    assert re.search(r"\| steps stood in for \| codecov/codecov-action@v5 \(ci\) \|", report)


def test_a_multi_job_file_needs_a_job_and_names_them(bench_root):
    workflow = bench_root[3]
    with pytest.raises(WorkflowError, match=r"2 jobs \(lint, test\); choose one with --job"):
        load_workflow(workflow)
    with pytest.raises(WorkflowError, match=r"no job 'build'; its jobs: lint, test"):
        load_workflow(workflow, "build")
    assert load_workflow(workflow, "lint").steps[0].run == "echo lint"
    cell = load_workflow(workflow, "test", {"python-version": "3.12"}).matrix
    assert cell == {"os": "ubuntu-latest", "python-version": "3.12"}
    with pytest.raises(WorkflowError, match=r"no matrix cell has python-version=3\.9"):
        load_workflow(workflow, "test", {"python-version": "3.9"})
    with pytest.raises(WorkflowError, match=r"not Windows"):
        load_workflow(workflow, "test", {"os": "windows-latest"})


def _mirror_job(text: str, tmp_path: Path, deps: Path, mirror: MirrorServer, store: CacheStore):
    workflow_file = tmp_path / "wf.yml"
    workflow_file.write_text(textwrap.dedent(text))
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, mirror.index_url()),
        store=store,
        checkout=Revision((deps,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        return JobRun(load_workflow(workflow_file), ctx, log=log, mirror=mirror).run()


@pytest.fixture(scope="module")
def mirror(bench_root):
    with MirrorServer(bench_root[1]) as server:
        yield server


NOTHING_TO_CACHE = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: astral-sh/setup-uv@v10
        with: {ignore-nothing-to-cache: IGNORE, cache-suffix: a b, python-version: '>=3.11',
                cache-dependency-glob: none.lock}
      - run: echo "UV_PYTHON=$UV_PYTHON"
"""


def test_setup_uv_post_step_fails_the_job_when_there_is_nothing_to_cache(
    tmp_path, bench_root, mirror
):
    deps = bench_root[2]
    store = CacheStore(tmp_path / "store")
    failed = _mirror_job(NOTHING_TO_CACHE.replace("IGNORE", "false"), tmp_path, deps, mirror, store)
    assert not failed.success
    post = failed.steps[-1]
    assert post.stage == "post" and post.outcome == "failure" and post.phase == "save"
    assert "does not exist on disk" in failed.error
    ignored = _mirror_job(NOTHING_TO_CACHE.replace("IGNORE", "true"), tmp_path, deps, mirror, store)
    assert ignored.success, ignored.error
    key = ignored.steps[1].outputs["cache-key"]
    # the newest version: key version 2 with the OS, the python-version input as written and
    # URL-encoded, not pruned (v9 on), no dependency file matched, the suffix encoded
    assert re.fullmatch(
        r"setup-uv-2-x86_64-unknown-linux-gnu-[a-z]+-[\d.]+-%3E%3D3\.11-no-dependency-glob-a%20b",
        key,
    ), key
    assert ignored.steps[1].outputs["cache-hit"] == "false"
    assert store.entries() == []


def test_the_setup_uv_key_function_agrees_with_the_run(real_run):
    uv_step = next(s for s in real_run[2]["cold"]["steps"] if "setup-uv" in (s["uses"] or ""))
    key = uv_step["outputs"]["cache-key"]
    python, digest = re.fullmatch(
        r"setup-uv-1-x86_64-unknown-linux-gnu-(.+)-pruned-(\w+)", key
    ).groups()
    from bench.workflow.refs import parse_ref

    ref = parse_ref(SETUP_UV_PIN.split("#")[0].strip(), "# v7.1.2")
    assert setup_uv_key(UvKeyParts(python=python, files_hash=digest, pruned=True), ref) == key


ACTIVATE = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: uv
        uses: astral-sh/setup-uv@v10
        with:
          python-version: '3.11'
          activate-environment: true
          cache-local-path: ~/uv-cache
      - run: uv pip install -r requirements.txt
      - id: seen
        run: |
          python -c "import tinyone; print(tinyone.hello())"
          echo "venv=$VIRTUAL_ENV" >> "$GITHUB_OUTPUT"
          echo "cache=$UV_CACHE_DIR" >> "$GITHUB_OUTPUT"
          echo "python=$UV_PYTHON" >> "$GITHUB_OUTPUT"
"""


def test_setup_uv_activates_a_venv_and_exports_its_settings(tmp_path, bench_root, mirror):
    store = CacheStore(tmp_path / "store")
    result = _mirror_job(ACTIVATE, tmp_path, bench_root[2], mirror, store)
    assert result.success, result.error
    uv, seen = result.outputs["uv"], result.outputs["seen"]
    workspace = tmp_path / "runner" / "home" / "runner" / "work" / "r" / "r"
    assert seen["venv"] == uv["venv"] == str(workspace.resolve() / ".venv")
    assert seen["cache"] == str((tmp_path / "runner" / "home" / "runner").resolve() / "uv-cache")
    assert seen["python"] == "3.11" and uv["python-version"] == "3.11"
    assert uv["cache-hit"] == "false" and uv["uv-version"]
    assert [entry.key for entry in store.entries()] == [uv["cache-key"]]


INSTALL_POETRY = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: actions/setup-python@v7
        with: {python-version: '3.11'}
      - uses: snok/install-poetry@76e04a911780d5b312d89783f7b1cd627778900a # v1.4.1
        with:
          virtualenvs-create: true
          virtualenvs-in-project: true
      - id: poetry
        run: |
          echo "where=$(command -v poetry)" >> "$GITHUB_OUTPUT"
          echo "in-project=$(poetry config virtualenvs.in-project)" >> "$GITHUB_OUTPUT"
          poetry --version
"""


def test_install_poetry_puts_poetry_from_the_mirror_on_the_path(tmp_path, bench_root, mirror):
    result = _mirror_job(
        INSTALL_POETRY, tmp_path, bench_root[2], mirror, CacheStore(tmp_path / "s")
    )
    assert result.success, result.error
    outputs = result.outputs["poetry"]
    home = (tmp_path / "runner" / "home" / "runner").resolve()
    assert outputs == {"where": str(home / ".local/bin/poetry"), "in-project": "true"}
    install = next(s for s in result.steps if (s.uses or "").startswith("snok/"))
    assert install.phase == "setup" and install.mirror_files > 10  # poetry and what it needs
