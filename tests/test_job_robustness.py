"""The job runner: written shell templates run as written, github.workflow of a nameless
workflow, an emulated action's own bug failing one step, and the small actions' input checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow import job as job_module
from bench.workflow.actions import ActionContext, ActionError
from bench.workflow.job import JobFailure, JobRun
from bench.workflow.parse import check_file, load_workflow
from bench.workflow.setup_pdm import pdm_version


def _job(tmp_path: Path, text: str, where: str = "wf.yml"):
    path = tmp_path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, None),
        store=CacheStore(tmp_path / "store"),
        checkout=Revision((repo,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        return JobRun(load_workflow(path), ctx, log=log).run()


SHELLS = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: plain
        shell: bash {0}
        run: |
          false | true
          false
          echo "went-on=yes" >> "$GITHUB_OUTPUT"
      - id: default
        shell: bash
        continue-on-error: true
        run: |
          false
          echo "went-on=yes" >> "$GITHUB_OUTPUT"
      - id: py
        shell: python3 {0}
        run: |
          import os
          print("x=1", file=open(os.environ["GITHUB_OUTPUT"], "a"))
"""


def test_a_written_shell_template_runs_exactly_as_written(tmp_path):
    result = _job(tmp_path, SHELLS)
    assert result.success, result.error
    assert result.outputs["plain"] == {"went-on": "yes"}  # bash {0}: no -e, no pipefail
    assert result.outputs["default"] == {}  # bash: -eo pipefail stops at false
    assert result.steps[1].outcome == "failure"
    assert result.outputs["py"] == {"x": "1"}


def test_an_unbalanced_quote_in_shell_is_a_one_line_error(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(SHELLS.replace("shell: bash {0}", "shell: bash -c 'x {0}"))
    (check,) = check_file(path)
    assert any("shell" in blocker and "not supported" in blocker for blocker in check.blockers)
    # only known once its expression is read: the step fails, in one line
    text = SHELLS.replace("shell: bash {0}", "shell: bash -c ${{ '''' }}x {0}")
    with pytest.raises(JobFailure, match=r"cannot be split into words"):
        _job(tmp_path, text)


NAMELESS = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: seen
        run: echo "name=${{ github.workflow }}" >> "$GITHUB_OUTPUT"
"""


def test_github_workflow_of_a_nameless_workflow_is_its_path(tmp_path):
    result = _job(tmp_path, NAMELESS, ".github/workflows/ci.yml")
    assert result.outputs["seen"]["name"] == ".github/workflows/ci.yml"
    named = _job(tmp_path, "name: CI\n" + NAMELESS, ".github/workflows/ci.yml")
    assert named.outputs["seen"]["name"] == "CI"


ACTION = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: juliangruber/read-file-action@v1
        with: {path: VERSION}
"""


@pytest.mark.parametrize(
    "error", [KeyError("PATH"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x")]
)
def test_an_actions_own_bug_fails_its_step_in_one_line(tmp_path, monkeypatch, error):
    def broken(inputs, ctx):
        raise error

    monkeypatch.setattr(job_module, "handler_for", lambda spec: broken)
    with pytest.raises(JobFailure) as caught:
        _job(tmp_path, ACTION)
    message = str(caught.value)
    assert "internal error in juliangruber/read-file-action@v1" in message
    assert type(error).__name__ in message and "\n" not in message


def test_an_os_error_of_a_handler_is_not_swallowed(tmp_path, monkeypatch):
    def broken(inputs, ctx):
        raise PermissionError("denied")

    monkeypatch.setattr(job_module, "handler_for", lambda spec: broken)
    with pytest.raises(PermissionError):
        _job(tmp_path, ACTION)


def test_pdm_version_of_empty_output_is_an_action_error():
    assert pdm_version("PDM, version 2.26.1\n") == "2.26.1"
    with pytest.raises(ActionError, match="printed nothing"):
        pdm_version("  \n")
