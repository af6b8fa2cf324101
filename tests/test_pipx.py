"""pipx on the fake runner, as on GitHub's Ubuntu images: ``PIPX_HOME``/``PIPX_BIN_DIR`` under the
runner's ``opt``, the bin dir on PATH, pipx from the mirror made once as a template; a job's
``pipx install poetry`` puts poetry in ``PIPX_BIN_DIR``, offline against the tests' mirror."""

from __future__ import annotations

import os
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from bench.depsets import DependencySet
from bench.errors import BenchError
from bench.execute import prepare_pipx
from bench.ghcache.store import CacheStore
from bench.mirror.server import MirrorServer
from bench.network.profiles import get_profile
from bench.runner.pipx import make_pipx, names_pipx, runner_python
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.trial import TrialSetup, run_job
from bench.workflow.parse import load_workflow, parse_workflow
from tests.repack import repack_closure

PIPX_JOB = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: poetry
        run: |
          pipx install poetry
          echo "where=$(command -v poetry)" >> "$GITHUB_OUTPUT"
          echo "pipx=$(command -v pipx)" >> "$GITHUB_OUTPUT"
          echo "version=$(poetry --version)" >> "$GITHUB_OUTPUT"
          echo "link=$(readlink -f "$PIPX_BIN_DIR/poetry")" >> "$GITHUB_OUTPUT"
          echo "home=$(grep '^home' "$PIPX_HOME/venvs/poetry/pyvenv.cfg")" >> "$GITHUB_OUTPUT"
"""


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pipx install poetry", True),
        ("python -m pipx run black .", True),
        ("echo ok && pipx", True),
        ("pip install pipx-in-pip", False),
        ("uv tool install ruff", False),
        ("cat mypipx.txt", False),
    ],
)
def test_a_run_step_names_pipx(script, expected):
    assert names_pipx(script) is expected


def test_the_runner_environment_has_pipx_where_the_image_has_it(tmp_path):
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    env = runner_environment(sandbox, None)
    assert env["PIPX_HOME"] == str(sandbox.root / "opt" / "pipx")
    assert env["PIPX_BIN_DIR"] == str(sandbox.root / "opt" / "pipx_bin")
    path = env["PATH"].split(":")
    # the image's order: ~/.local/bin, /opt/pipx_bin, ..., /usr/local/bin (pipx), /usr/bin
    assert path.index(env["PIPX_BIN_DIR"]) == 1
    assert path.index(str(sandbox.local_bin)) < path.index("/usr/bin")


def _setup(tmp_path: Path, index_url: str | None) -> TrialSetup:
    return TrialSetup(
        runner_root=tmp_path / "runner",
        store_root=tmp_path / "store",
        logs=tmp_path / "logs",
        python_templates=tmp_path / "python-templates",
        pipx_template=tmp_path / "pipx-template",
        index_url=index_url,
        transfer=get_profile("unthrottled").cache_transfer(),
    )


def test_no_template_is_made_for_jobs_that_do_not_call_pipx(tmp_path):
    workflow = parse_workflow(
        {"on": "push", "jobs": {"b": {"runs-on": "ubuntu-latest", "steps": [{"run": "pip -V"}]}}},
        Path("wf.yml"),
    )
    setup = _setup(tmp_path, "http://127.0.0.1:9/simple/")  # nothing listens: must not be asked
    prepare_pipx({"s": workflow}, setup)
    assert setup.pipx_template is not None and not setup.pipx_template.exists()
    assert not setup.runner_root.exists()


@pytest.fixture(scope="module")
def pipx_mirror(tmp_path_factory):
    """The tests' mirror with poetry, pipx and pip (repacked from this environment)."""
    pytest.importorskip("pipx", reason="the tests' environment needs pipx (pyproject's test)")
    wheelhouse = tmp_path_factory.mktemp("pipx") / "wheelhouse"
    repack_closure(["poetry", "pipx", "pip"], wheelhouse)
    with MirrorServer(wheelhouse) as server:
        yield server


@pytest.mark.slow
def test_pipx_install_poetry_in_a_job_puts_poetry_in_pipx_bin_dir(
    tmp_path, pipx_mirror, monkeypatch
):
    host_home = tmp_path / "host-home"  # the harness's HOME: nothing may land there
    host_home.mkdir()
    monkeypatch.setenv("HOME", str(host_home))
    monkeypatch.setenv("PIPX_HOME", str(host_home / "pipx"))  # the host's own pipx: ignored
    setup = _setup(tmp_path, pipx_mirror.index_url())
    workflow = load_workflow(_write(tmp_path / "wf.yml", PIPX_JOB))
    prepare_pipx({"s": workflow}, setup)
    template = setup.pipx_template
    assert template is not None and (template / "opt" / "pipx" / "shared").is_dir()
    before = _tree(template)

    # a trial's runner: gets pipx from the template, is removed after the job
    outcome = _run_successfully(workflow, setup, tmp_path, "pipx")
    root = setup.runner_root.resolve()
    outputs = outcome.outputs["poetry"]
    assert outputs["where"] == str(root / "opt" / "pipx_bin" / "poetry")
    assert outputs["link"].startswith(str(root / "opt" / "pipx" / "venvs" / "poetry" / "bin"))
    assert outputs["pipx"] == str(root / "usr" / "local" / "bin" / "pipx")
    assert outputs["version"].endswith(f"{version('poetry')})")  # the mirror's (repacked) one
    assert outputs["home"] == f"home = {Path(runner_python('3.11')).parent}"  # system Python
    # nothing outside the runner: not the harness's home, not the template trials share
    assert list(host_home.iterdir()) == []
    assert _tree(template) == before
    assert not setup.runner_root.exists()
    assert {p.name for p in tmp_path.iterdir()} <= {
        "host-home",
        "logs",
        "pipx-template",
        "repo",
        "store",
        "wf.yml",
    }


@pytest.mark.slow  # makes a venv with pip
def test_make_pipx_fails_with_a_one_line_error_when_the_mirror_lacks_pipx(tmp_path):
    """A mirror without pipx (here: nothing listens) stops the preparation with pip's reason."""
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    env = runner_environment(sandbox, "http://127.0.0.1:9/simple/") | {"PIP_RETRIES": "0"}
    with pytest.raises(
        BenchError, match=r"^pipx: .* -m pip install failed with exit code"
    ) as failure:
        make_pipx(sandbox, runner_python("3.11"), env, tmp_path / "template")
    assert "\n" not in str(failure.value)
    assert not (tmp_path / "template").exists()


def _run_successfully(workflow, setup: TrialSetup, tmp_path: Path, log_name: str):
    """``workflow`` run as a trial's job on a one-file repository; its log's tail if it fails."""
    repo = _write(tmp_path / "repo" / "README", "r").parent
    outcome = run_job(
        workflow,
        DependencySet("r", repo, None),
        previous=False,
        store=CacheStore(setup.store_root),
        setup=setup,
        log_name=log_name,
    )
    log = setup.logs / f"{log_name}.log"
    assert outcome.success, log.read_text(errors="replace")[-3000:]
    return outcome


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _tree(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its modification time (ns), links as their target."""
    found = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            found[str(path.relative_to(folder))] = path.lstat().st_mtime_ns
    return found


@pytest.mark.parametrize(
    "script",
    ['test -e "$PIPX_HOME/marker" || pipx --version', 'test ! -e "$PIPX_HOME/marker"'],
)
def test_only_a_runner_whose_job_calls_pipx_gets_its_trees(tmp_path, script):
    """Linking pipx's trees into every runner cost each trial about 0.15 s of harness time;
    a job that never calls pipx cannot tell it is missing."""
    setup = _setup(tmp_path, None)
    assert setup.pipx_template is not None
    _write(setup.pipx_template / "opt" / "pipx" / "marker", "template")
    probe = f"""\
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - run: {script}
        """
    workflow = load_workflow(_write(tmp_path / "wf.yml", probe))
    _run_successfully(workflow, setup, tmp_path, "probe")
