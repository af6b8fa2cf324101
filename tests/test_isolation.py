"""A trial sees nothing of the host: no variable of the harness's shell, no configuration of the
user's git, no folder of the user's home on PATH, in its steps and in its preparation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.runner.pythons import Interpreter
from bench.runner.sandbox import SYSTEM_PATH, create_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobRun
from bench.workflow.parse import parse_workflow
from bench.workflow.setup_python import install_python

MARKER = "BENCH_HOST_MARKER_7f3a"
ALLOWED_PREFIXES = ("RUNNER_", "GITHUB_", "PIP_", "UV_", "PIPENV_", "PIPX_", "XDG_")
ALLOWED = {"PATH", "HOME", "LANG", "CI", "GIT_CONFIG_NOSYSTEM", "TMPDIR", "NPM_CONFIG_PREFIX"}
SHELL_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}  # bash sets these itself

PROBE = """\
on: push
jobs:
  probe:
    runs-on: ubuntu-latest
    steps:
      - run: |
          env -0 > "$RUNNER_TEMP/env"
          alias="$RUNNER_TEMP/alias"
          git config --get alias.benchmarker > "$alias" || echo none > "$alias"
          git config --list --show-origin > "$RUNNER_TEMP/git-config" || true
          command -v rustc > "$RUNNER_TEMP/rustc" || echo none > "$RUNNER_TEMP/rustc"
"""


@pytest.fixture
def hostile_host(tmp_path, monkeypatch) -> Path:
    """The harness's own environment: a marker variable, a HOME whose git config has a marker
    alias (global and XDG), a tool folder of that home first on PATH."""
    home = tmp_path / "host-home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".gitconfig").write_text("[alias]\n\tbenchmarker = !echo from-host-home\n")
    (home / ".config" / "git" / "config").write_text("[alias]\n\tbenchmarker = !echo xdg\n")
    tools = home / ".cargo" / "bin"
    tools.mkdir(parents=True)
    (tools / "rustc").write_text("#!/bin/sh\necho host rustc\n")
    (tools / "rustc").chmod(0o755)
    monkeypatch.setenv(MARKER, "leaked")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    return home


def run_probe(tmp_path: Path) -> dict[str, str]:
    workflow = parse_workflow(yaml.safe_load(PROBE), Path("probe.yml"))
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    (tmp_path / "repo").mkdir()
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, "http://127.0.0.1:9/simple/"),
        store=CacheStore(tmp_path / "store"),
        checkout=Revision((tmp_path / "repo",)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        result = JobRun(workflow, ctx, log=log).run()
    assert result.success, (tmp_path / "job.log").read_text()
    seen = {name: (sandbox.temp / name).read_bytes() for name in ("alias", "git-config", "rustc")}
    env_pairs = (sandbox.temp / "env").read_bytes().split(b"\0")
    env = dict(pair.decode().split("=", 1) for pair in env_pairs if pair)
    return {"env": env, **{k: v.decode() for k, v in seen.items()}}


def test_no_step_sees_a_variable_of_the_harness(hostile_host, tmp_path):
    seen = run_probe(tmp_path)
    env = seen["env"]
    assert MARKER not in env
    unexpected = {
        name
        for name in env
        if name not in ALLOWED | SHELL_OWN and not name.startswith(ALLOWED_PREFIXES)
    }
    assert unexpected == set()
    assert env["HOME"].startswith(str(tmp_path / "runner"))
    assert str(hostile_host) not in "".join(env.values())


def test_git_in_a_step_reads_no_configuration_of_the_users_home(hostile_host, tmp_path):
    seen = run_probe(tmp_path)
    assert seen["alias"].strip() == "none"
    assert "from-host-home" not in seen["git-config"] and "xdg" not in seen["git-config"]
    assert "/etc/gitconfig" not in seen["git-config"]  # nor the machine's system config


def test_the_runners_path_holds_nothing_of_the_host(hostile_host, tmp_path):
    seen = run_probe(tmp_path)
    entries = seen["env"]["PATH"].split(":")
    runner_home = str(tmp_path / "runner")
    foreign = [
        e for e in entries if not e.startswith(runner_home) and e not in SYSTEM_PATH.split(":")
    ]
    assert foreign == []
    assert not any(e.startswith((str(hostile_host), str(Path("~").expanduser()))) for e in entries)
    assert seen["rustc"].strip() in ("none", shutil.which("rustc", path=SYSTEM_PATH))


def test_the_setup_python_preparation_runs_with_the_runners_environment(hostile_host, tmp_path):
    """install_python's tools (the venv's pip) see the runner's PATH and HOME, not the host's."""
    recorder = tmp_path / "python3.11"
    dump = tmp_path / "prepared-env"
    recorder.write_text(f'#!/bin/sh\nenv > {dump}\nmkdir -p "$3"\n')
    recorder.chmod(0o755)
    sandbox = create_sandbox(tmp_path / "runner", repo="prepare")
    location = sandbox.tool_cache / "Python" / "3.11.97" / "x64"
    install_python(
        Interpreter("3.11.97", str(recorder)), location, None, runner_environment(sandbox, None)
    )
    text = dump.read_text()
    assert MARKER not in text and str(hostile_host) not in text
    path = next(line for line in text.splitlines() if line.startswith("PATH="))
    assert ".cargo" not in path


def test_the_harness_marker_is_really_in_the_harness(hostile_host):
    """The fixture does what the other tests rely on (a check of the test itself)."""
    assert os.environ[MARKER] == "leaked"
    assert os.environ["PATH"].startswith(str(hostile_host))
