"""Parsing workflows and running jobs: run steps, env files, conditions, post steps, caches."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobFailure, JobRun
from bench.workflow.parse import WorkflowError, load_workflow, parse_workflow
from tests.helpers import PROJECT


def workflow_from(text: str, path: Path = Path("scenario.yml")):
    return parse_workflow(yaml.safe_load(textwrap.dedent(text)), path)


def job(steps: str, extra: str = "") -> str:
    return (
        f"on: push\n{extra}jobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        + textwrap.indent(textwrap.dedent(steps), "      ")
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    (folder / "sub").mkdir(parents=True)
    (folder / "requirements.txt").write_text("tinyone==1.0\n")
    (folder / "sub" / "data.txt").write_text("old\n")
    (folder / "previous").mkdir()
    (folder / "previous" / "requirements.txt").write_text("tinyone==0.9\n")
    (folder / "previous" / "removed.txt").write_text("sub/data.txt\n")
    return folder


def run(text: str, tmp_path: Path, repo: Path, store: CacheStore | None = None, previous=False):
    workflow = workflow_from(text)
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    layers = (repo, repo / "previous") if previous else (repo,)
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, None),
        store=store or CacheStore(tmp_path / "store"),
        checkout=Revision(layers, ("sub/data.txt",) if previous else ()),
    )
    log_path = tmp_path / "job.log"
    with open(log_path, "wb") as log:
        result = JobRun(workflow, ctx, log=log).run()
    return result, sandbox, log_path.read_text()


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (job("- run: echo hi\n", extra="services: {}\n"), "'services' is not supported"),
        (
            job("- run: echo hi\n").replace("    runs-on", "    services: {}\n    runs-on"),
            "runs no containers",
        ),
        (job("- uses: docker/build-push-action@v6\n"), "docker/build-push-action@v6"),
        (job("- uses: actions/cache@v4\n  with: {colour: red}\n"), "no input 'colour'"),
        (job("- run: echo ${{ runner.os == }}\n"), "step 1"),
        (job("- run: echo hi\n  if: steps.x.outputs ==\n"), "step 1"),
        (job("- run: echo hi\n  uses: actions/checkout@v4\n"), "exactly one of"),
        (job("- run: echo hi\n  shell: pwsh\n"), "shell 'pwsh'"),
        (job("- run: echo hi\n  timeout: 3\n"), "'timeout' is not supported"),
        ("on: push\njobs: {a: {steps: [{run: x}]}, b: {steps: [{run: y}]}}\n", "--job NAME"),
        (
            "on: push\njobs:\n  t:\n    runs-on: ${{ matrix.os }}\n"
            "    strategy: {matrix: {os: [windows-latest, macos-14]}}\n    steps: [{run: x}]\n",
            "not Windows",
        ),
        (job("- id: a\n  run: x\n- id: a\n  run: y\n"), "used twice"),
    ],
)
def test_unsupported_constructs_are_errors_naming_file_and_step(text, message):
    with pytest.raises(WorkflowError) as error:
        workflow_from(text, Path("mine.yml"))
    assert message in str(error.value)
    assert "mine.yml" in str(error.value)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(WorkflowError, match="cannot read workflow"):
        load_workflow(tmp_path / "nope.yml")
    (tmp_path / "bad.yml").write_text("jobs: [\n")
    with pytest.raises(WorkflowError, match="not valid YAML"):
        load_workflow(tmp_path / "bad.yml")


def test_every_shipped_scenario_parses():
    paths = sorted((PROJECT / "scenarios" / "workflows").glob("*.yml"))  # not the cwd's
    assert len(paths) >= 8, "the shipped workflows were not found"
    for path in paths:
        workflow = load_workflow(path)
        assert workflow.steps[-1].run is not None or workflow.steps[-2].run is not None


# -- running --------------------------------------------------------------------------------------


def test_env_files_outputs_path_and_precedence(tmp_path, repo):
    text = job(
        """\
        - uses: actions/checkout@v4
        - id: first
          env: {LEVEL: step}
          run: |
            echo "level=$LEVEL" >> "$GITHUB_OUTPUT"
            echo "EXPORTED=yes" >> "$GITHUB_ENV"
            printf 'MULTI<<EOF\\nline one\\nline two\\nEOF\\n' >> "$GITHUB_ENV"
            mkdir -p "$HOME/tools" && printf '#!/bin/sh\\necho tool ran\\n' > "$HOME/tools/mytool"
            chmod +x "$HOME/tools/mytool" && echo "$HOME/tools" >> "$GITHUB_PATH"
        - id: second
          working-directory: sub
          run: |
            seen="${{ steps.first.outputs.level }}-$LEVEL-$EXPORTED-$(mytool)-$(basename $PWD)"
            echo "seen=$seen" >> "$GITHUB_OUTPUT"
            echo "lines=$(echo "$MULTI" | wc -l)" >> "$GITHUB_OUTPUT"
        """,
        extra="env: {LEVEL: workflow}\n",
    )
    result, sandbox, _log = run(text, tmp_path, repo)
    assert result.success, result.error
    assert result.outputs["first"] == {"level": "step"}
    assert result.outputs["second"] == {"seen": "step-workflow-yes-tool ran-sub", "lines": "2"}
    assert (sandbox.workspace / "requirements.txt").read_text() == "tinyone==1.0\n"


def test_a_failing_step_fails_the_job_and_skips_the_rest_but_not_always(tmp_path, repo):
    text = job(
        """\
        - run: exit 3
        - id: skipped
          run: echo "ran=1" >> "$GITHUB_OUTPUT"
        - id: cleanup
          if: always()
          run: echo "ran=1" >> "$GITHUB_OUTPUT"
        - id: on-failure
          if: failure()
          run: echo "ran=1" >> "$GITHUB_OUTPUT"
        """
    )
    result, _sandbox, _log = run(text, tmp_path, repo)
    assert not result.success
    assert "exit code 3" in result.error
    assert [s.outcome for s in result.steps] == ["failure", "skipped", "success", "success"]
    assert "skipped" not in result.outputs or result.outputs["skipped"] == {}


def test_continue_on_error_keeps_the_job_green(tmp_path, repo):
    text = job(
        """\
        - id: flaky
          continue-on-error: true
          run: exit 1
        - run: echo "${{ steps.flaky.outcome }}/${{ steps.flaky.conclusion }}" > "$RUNNER_TEMP/seen"
        """
    )
    result, sandbox, _log = run(text, tmp_path, repo)
    assert result.success
    assert (sandbox.temp / "seen").read_text() == "failure/success\n"


def test_pipefail_is_on_for_bash(tmp_path, repo):
    result, _sandbox, _log = run(job("- run: false | true\n"), tmp_path, repo)
    assert not result.success


def test_cache_saves_in_its_post_step_then_hits(tmp_path, repo):
    text = job(
        """\
        - uses: actions/checkout@v4
        - id: cache
          uses: actions/cache@v4
          with:
            path: ~/.cache/thing
            key: thing-${{ hashFiles('requirements.txt') }}
            restore-keys: thing-
        - if: steps.cache.outputs.cache-hit != 'true'
          run: mkdir -p ~/.cache/thing && echo built > ~/.cache/thing/out
        - run: test "$(cat ~/.cache/thing/out)" = built
        """
    )
    store = CacheStore(tmp_path / "store")
    cold, _sandbox, _log = run(text, tmp_path, repo, store)
    assert cold.success, cold.error
    assert [(s.stage, s.phase) for s in cold.steps][-1] == ("post", "save")
    assert cold.steps[-1].cache["saved"] is True
    assert cold.steps[-1].cache["folder_files"] == 1
    assert [e.key for e in store.entries()] == [cold.steps[1].cache["key"]]

    warm, _sandbox, _log = run(text, tmp_path, repo, store)
    assert warm.outputs["cache"] == {"cache-hit": "true"}
    assert warm.steps[2].outcome == "skipped"
    assert warm.steps[-1].outcome == "skipped" or warm.steps[-1].cache["saved"] is False

    partial, _sandbox, _log = run(text, tmp_path, repo, store, previous=True)
    assert partial.outputs["cache"] == {"cache-hit": "false"}
    assert len(store.entries()) == 2


def test_post_steps_run_in_reverse_order_and_not_after_failure(tmp_path, repo):
    text = job(
        """\
        - uses: actions/cache@v4
          with: {path: a, key: key-a}
        - uses: actions/cache@v4
          with: {path: b, key: key-b}
        - run: mkdir a b && touch a/x b/y
        """
    )
    store = CacheStore(tmp_path / "store")
    result, _sandbox, _log = run(text, tmp_path, repo, store)
    posts = [s for s in result.steps if s.stage == "post"]
    assert [p.index for p in posts] == [2, 1]
    assert [e.key for e in store.entries()] == ["key-b", "key-a"]

    failing = text.replace("touch a/x b/y", "touch a/x b/y && exit 1")
    result, _sandbox, _log = run(failing, tmp_path, repo, CacheStore(tmp_path / "store2"))
    assert [s.outcome for s in result.steps if s.stage == "post"] == ["skipped", "skipped"]


def test_checkout_of_the_previous_revision_overlays_and_removes(tmp_path, repo):
    text = job("- uses: actions/checkout@v4\n- run: test ! -e sub/data.txt\n")
    result, sandbox, _log = run(text, tmp_path, repo, previous=True)
    assert result.success, result.error
    assert (sandbox.workspace / "requirements.txt").read_text() == "tinyone==0.9\n"
    assert not (sandbox.workspace / "previous").exists()


def test_an_expression_error_at_run_time_names_the_step(tmp_path, repo):
    text = job("- run: echo ${{ hashFiles('../outside') }}\n")
    with pytest.raises(JobFailure, match=r"step 1 .*hashFiles"):
        run(text, tmp_path, repo)


def test_the_environment_is_the_fake_runners_not_the_hosts(tmp_path, repo, monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/of/the/host")
    monkeypatch.setenv("PIP_CONSTRAINT", "/etc/host-constraints.txt")
    text = job(
        """\
        - id: env
          run: |
            echo "home=$HOME" >> "$GITHUB_OUTPUT"
            host=$(env | grep -c '^PIP_FIND_LINKS\\|^PIP_CONSTRAINT' || true)
            echo "pip=$host" >> "$GITHUB_OUTPUT"
            echo "config=$PIP_CONFIG_FILE" >> "$GITHUB_OUTPUT"
            echo "cache=$XDG_CACHE_HOME" >> "$GITHUB_OUTPUT"
        """
    )
    result, sandbox, _log = run(text, tmp_path, repo)
    outputs = result.outputs["env"]
    assert outputs["home"] == str(sandbox.home)
    assert outputs["pip"] == "0"
    assert outputs["config"] == "/dev/null"
    assert outputs["cache"].startswith(str(sandbox.home))


@pytest.mark.slow  # installs pipenv and locks with it in a real job
def test_setup_python_cache_pipenv_keys_on_the_lock_and_saves_in_its_post_step(tmp_path, repo):
    (repo / "Pipfile.lock").write_text('{"_meta": {}}\n')
    text = job(
        """\
        - uses: actions/checkout@v4
        - id: py
          uses: actions/setup-python@v5
          with: {python-version: '3.11', cache: pipenv}
        - run: mkdir -p ~/.local/share/virtualenvs/a && python -V > ~/.local/share/virtualenvs/a/v
        """
    )
    store = CacheStore(tmp_path / "store")
    cold, _sandbox, _log = run(text, tmp_path, repo, store)
    assert cold.success, cold.error
    assert cold.outputs["py"]["cache-hit"] == "false"  # setup-python says false, not empty
    version = cold.outputs["py"]["python-version"]
    assert version.startswith("3.11.")
    key = cold.steps[1].cache["key"]
    assert key.startswith("setup-python-Linux-x64-") and f"-python-{version}-pipenv-" in key
    assert set(cold.steps[1].phases_ns) == {"setup", "restore"}
    assert [e.key for e in store.entries()] == [key]

    warm, _sandbox, _log = run(text, tmp_path, repo, store)
    assert warm.outputs["py"]["cache-hit"] == "true"
    assert warm.steps[-1].stage == "post" and warm.steps[-1].cache["saved"] is False


def test_the_step_summary_lands_in_the_trial_log(tmp_path, repo):
    text = job('- run: echo "### cache report" >> "$GITHUB_STEP_SUMMARY"\n')
    result, _sandbox, log = run(text, tmp_path, repo)
    assert result.success
    assert "## Job summary (GITHUB_STEP_SUMMARY)\n### cache report" in log


def test_removing_the_runner_leaves_nothing_even_read_only_folders(tmp_path):
    from bench.runner.sandbox import remove_sandbox

    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    for i in range(40):
        folder = sandbox.workspace / ".venv" / f"pkg{i}"
        folder.mkdir(parents=True)
        (folder / "module.py").write_text("x = 1\n")
    locked = sandbox.home / "go" / "pkg"
    locked.mkdir(parents=True)
    (locked / "file").write_text("x")
    locked.chmod(0o555)
    (sandbox.home / "link").symlink_to("/usr")  # removed, not followed
    remove_sandbox(sandbox.root)
    assert not sandbox.root.exists()
    assert any(Path("/usr").iterdir())


@pytest.mark.parametrize(
    ("script", "runs_tests"),
    [
        ("pytest -q", True),
        ("uv run pytest", True),
        ("python -m pytest tests", True),
        ("python manage.py test", True),
        ("python -m unittest discover", True),
        ("make test", True),
        ("hatch test", True),
        ("./scripts/test", True),
        ("pip install -r requirements.txt\npytest", True),
        ("pip install pytest pytest-cov", False),  # installs the runner, runs nothing
        ("pip install \\\n  pytest \\\n  pytest-cov", False),  # one command, continued
        ("pytest tests/install/", True),
        ('pytest -k "not sync"', True),
        ("uv add --dev pytest", False),
        ("python manage.py testserver", False),
        ("make testing", False),
        ("tox -e py311", False),  # builds its environments first: install
    ],
)
def test_a_step_is_in_the_test_phase_when_it_runs_the_tests(script, runs_tests):
    from bench.workflow.job import _runs_tests

    assert _runs_tests(script) is runs_tests
