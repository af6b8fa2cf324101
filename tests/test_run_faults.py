"""A run under faults: relative paths, a trial that ran from the wrong cache state, a trials file
cut mid-line, a finished run resumed, the harness killed with SIGKILL, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from bench import cli, execute, results
from bench.errors import BenchError
from bench.plan import PlanOptions
from bench.results import StepRecord
from bench.trial import observed_state_error
from tests.helpers import PROJECT, RUN_INFO, make_run, trials
from tests.packages import build_wheel

CACHING_JOB = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/cache@v4
        with:
          path: ~/stuff
          key: stuff-${{ hashFiles('requirements.txt') }}
          restore-keys: stuff-
      - run: mkdir -p ~/stuff && echo made > ~/stuff/file
"""


@pytest.fixture
def small_set(tmp_path: Path) -> tuple[Path, Path]:
    """A wheelhouse with one tiny wheel and a set pinning it (no pytest: for own workflows)."""
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    wheel = build_wheel(wheelhouse, "tinyone", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    deps = tmp_path / "deps" / "small"
    deps.mkdir(parents=True)
    (deps / "requirements.txt").write_text(f"tinyone==1.0 --hash=sha256:{digest}\n")
    return wheelhouse, deps


def workflow_file(folder: Path, text: str, name: str = "job.yml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# -- relative paths and the observed cache state ---------------------------------------------


def test_a_relative_out_still_gives_warm_trials_an_exact_hit(small_set, tmp_path, monkeypatch):
    """With ``--out runs`` tar ran inside the workspace and every restore missed; now the
    run folder is absolute and the warm trial restores what the cold one saved."""
    wheelhouse, deps = small_set
    monkeypatch.chdir(tmp_path)
    options = PlanOptions(
        workflows=[str(workflow_file(tmp_path, CACHING_JOB))],
        deps=[str(deps)],
        states=["cold", "warm"],
        reps=1,
        profile="unthrottled",
    )
    state = execute.start_run(options, Path("runs"), port=0)
    assert state.run_dir.is_absolute()
    assert execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO()) == 0
    by_state = {r.state: r for r in results.read_trials(state.run_dir).records}
    assert by_state["warm"].status == "success", by_state["warm"].error
    assert by_state["warm"].cache_hit == ["true"]
    assert by_state["cold"].cache_hit == [""]


def restore(hit: str, matched: str, key: str = "k") -> StepRecord:
    cache = {"role": "restore", "key": key, "cache_hit": hit, "matched_key": matched}
    return StepRecord(1, "Cache", "main", "actions/cache@v5", "restore", "success", cache=cache)


@pytest.mark.parametrize(
    ("state", "steps", "reason"),
    [
        ("cold", [restore("", "")], None),
        ("cold", [], None),  # no-cache restores nothing
        ("cold", [restore("true", "k")], "planned cold, but the cache restored 'k'"),
        ("cold", [restore("false", "k-old")], "planned cold"),
        ("warm", [restore("true", "k")], None),
        ("warm", [restore("", "")], "planned warm, but the restore of 'k' missed"),
        ("warm", [restore("false", "k-old")], "matched 'k-old' (no exact hit)"),
        ("warm", [restore("true", "k"), restore("", "", "j")], "restore of 'j' missed"),
        ("warm", [], "planned warm, but the job restored no cache"),
        ("partial", [restore("false", "k-old")], None),
        ("partial", [restore("true", "k")], "no restore-key hit"),
        ("partial", [restore("", "")], "planned partial, but the restore of 'k' missed"),
        ("partial", [], "planned partial, but the job restored no cache"),
    ],
)
def test_the_observed_cache_state_must_be_the_planned_one(state, steps, reason):
    no_cache = StepRecord(2, "Run tests", "main", None, "test", "success")
    error = observed_state_error(state, [*steps, no_cache])
    if reason is None:
        assert error is None
    else:
        assert error is not None and reason in error


def test_a_warm_trial_that_missed_is_recorded_as_failed(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    calls["observe"] = "cold"  # every job meets an empty store, whatever the plan says
    options = PlanOptions(scenarios=["pip-cache"], deps=["cli"], states=["warm"], reps=1)
    state = execute.start_run(options, tmp_path / "r", port=0)
    assert execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO()) == 1
    (record,) = results.read_trials(state.run_dir).records
    assert record.status == "failure"
    assert record.error.startswith("planned warm, but the restore of 'k' missed")
    run_info = results.read_json(state.run_dir / results.RUN_FILE)
    assert run_info["trials_failed"] == 1


# -- resume ----------------------------------------------------------------------------------


def test_resume_sets_a_cut_last_line_aside_and_appends_whole_lines(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=2, seed=5)
    state = execute.start_run(options, tmp_path / "r", port=0)
    calls["interrupt_at"] = 3
    with pytest.raises(KeyboardInterrupt):
        execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO())
    trials_file = state.run_dir / results.TRIALS_FILE
    whole = trials_file.read_bytes()
    cut = whole.splitlines(keepends=True)[-1][:-40]  # the last record, cut by a crash
    trials_file.write_bytes(b"".join(whole.splitlines(keepends=True)[:-1]) + cut)

    calls["interrupt_at"] = None
    said = io.StringIO()
    resumed = execute.resume_run(state.run_dir, out=said)
    assert "moved 1 damaged line(s)" in said.getvalue()
    assert len(resumed.done) == 1  # the cut trial runs again
    damaged = state.run_dir / (results.TRIALS_FILE + results.DAMAGED_SUFFIX)
    assert damaged.read_bytes() == cut + b"\n"
    assert execute.execute(resumed, wheelhouse=wheelhouse, port=0, out=io.StringIO()) == 0
    lines = trials_file.read_bytes().splitlines(keepends=True)
    assert all(line.endswith(b"\n") for line in lines)
    records = [json.loads(line) for line in lines]  # every line is a whole record
    assert sorted(r["trial_id"] for r in records) == sorted(t.id for t in state.trials)
    assert results.read_trials(state.run_dir).bad_lines == []


def test_resuming_a_finished_run_leaves_run_json_alone(fake_jobs, tmp_path):
    _calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["no-cache"], deps=["cli"], reps=1)
    state = execute.start_run(options, tmp_path / "r", port=0)
    execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO())
    run_file = state.run_dir / results.RUN_FILE
    before = run_file.read_bytes()
    assert json.loads(before)["wall_s"] > 0
    said = io.StringIO()
    resumed = execute.resume_run(state.run_dir)
    assert execute.execute(resumed, wheelhouse=wheelhouse, port=0, out=said) == 0
    assert "nothing left to run" in said.getvalue()
    assert run_file.read_bytes() == before


def test_a_resumed_run_adds_up_its_wall_time_and_counts_every_failure(fake_jobs, tmp_path):
    calls, wheelhouse = fake_jobs
    options = PlanOptions(scenarios=["no-cache"], deps=["cli", "web"], reps=1, seed=1)
    state = execute.start_run(options, tmp_path / "r", port=0)
    calls["fail_at"], calls["interrupt_at"] = 1, 2
    with pytest.raises(KeyboardInterrupt):
        execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO())
    first = results.read_json(state.run_dir / results.RUN_FILE)["wall_s"]
    calls["interrupt_at"] = None
    resumed = execute.resume_run(state.run_dir)
    assert execute.execute(resumed, wheelhouse=wheelhouse, port=0, out=io.StringIO()) == 1
    run_info = results.read_json(state.run_dir / results.RUN_FILE)
    assert run_info["trials_failed"] == 1  # the failure before the interrupt counts
    assert run_info["wall_s"] > first > 0


# -- kill -9 of the harness --------------------------------------------------------------------

SLEEPY_JOB = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          setsid sleep 987.75 &
          sleep 987.25 &
          sleep 987.5
"""

HARNESS = """
import io, sys
from pathlib import Path
from bench import execute
from bench.plan import PlanOptions

workflow, deps, out, wheelhouse = sys.argv[1:5]
options = PlanOptions(workflows=[workflow], deps=[deps], states=["cold"], reps=1,
                      profile="unthrottled")
state = execute.start_run(options, Path(out), port=0)
print(state.run_dir, flush=True)
execute.execute(state, wheelhouse=Path(wheelhouse), port=0, out=io.StringIO())
"""

MARKS = ("987.75", "987.25", "987.5")


def marked_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if len(cmdline) == 2 and cmdline[0] == "sleep" and cmdline[1] in MARKS:
            found.append(process)
    return found


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_no_process_of_a_trial_outlives_a_killed_harness(small_set, tmp_path):
    wheelhouse, deps = small_set
    workflow = workflow_file(tmp_path, SLEEPY_JOB)
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, str(workflow), str(deps), str(tmp_path / "runs"),
         str(wheelhouse)],
        cwd=PROJECT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        run_dir = Path(harness.stdout.readline().strip())
        assert wait_for(lambda: len(marked_processes()) == 3, 30), "the step never started"
        with pytest.raises(BenchError, match="is in use by a run"):
            execute.resume_run(run_dir)  # the run is alive: a resume is refused
        os.kill(harness.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        assert wait_for(lambda: not marked_processes(), 2.0), [
            p.cmdline() for p in marked_processes()
        ]
        assert time.monotonic() - killed_at < 2.5
    finally:
        harness.kill()
        harness.wait()
        for process in marked_processes():
            process.kill()
    # Once the watchdog is done the folder is free again, and the resume can start.
    assert wait_for(lambda: _can_resume(run_dir), 5)


def _can_resume(run_dir: Path) -> bool:
    try:
        state = execute.resume_run(run_dir)
    except BenchError:
        return False
    assert state.lock is not None
    state.lock.release()
    return True


def test_a_resume_is_refused_while_a_process_still_works_in_the_run_folder(tmp_path):
    options = PlanOptions(scenarios=["no-cache"], deps=["cli"], reps=1)
    state = execute.start_run(options, tmp_path / "r", port=0)
    state.lock.release()
    squatter = subprocess.Popen(["sleep", "30"], cwd=state.run_dir)
    try:
        with pytest.raises(BenchError, match=f"process {squatter.pid}"):
            execute.resume_run(state.run_dir)
    finally:
        squatter.kill()
        squatter.wait()
    execute.resume_run(state.run_dir).lock.release()


# -- bad input: one line, exit 2 ---------------------------------------------------------------


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_run_out_naming_a_file(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("x")
    assert cli.main(["run", "--quick", "--out", str(target)]) == 2
    assert "is a file" in one_line_error(capsys)


def test_run_out_in_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    script = (
        f"mount -t tmpfs -o ro,size=1m tmpfs {folder} || exit 77; "
        f"exec {sys.executable} -m bench run --quick --scenario no-cache --out {folder}/runs"
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True, text=True, cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    if result.returncode == 77 or "unshare failed" in result.stderr:
        pytest.skip("cannot mount a read-only tmpfs here")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Read-only file system" in lines[0] and "writable folder" in lines[0]


def test_report_on_a_file(tmp_path, capsys):
    target = tmp_path / "trials.jsonl"
    target.write_text("{}\n")
    assert cli.main(["report", str(target)]) == 2
    assert "is missing; is" in one_line_error(capsys)


def test_report_publish_to_a_file_is_refused_before_rendering(tmp_path, capsys):
    records = trials("cli", "no-cache", "cold", install=10.0)
    records += trials("cli", "pip-cache", "warm", install=4.0)
    run = make_run(tmp_path / "run", records)
    target = tmp_path / "published"
    target.write_text("x")
    assert RUN_INFO["status"] == "complete"
    assert cli.main(["report", str(run), "--publish", str(target)]) == 2
    assert "--publish" in one_line_error(capsys)
    assert not (run / "report.md").exists()


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ("-e .\n", ". is not a Python project"),
        ("", "require nothing"),
        ("# nothing yet\n", "require nothing"),
        ("--index-url http://127.0.0.1:1/simple/\n", "require nothing"),
        ("tinyone @ https://example.invalid/t.whl\n", "cannot be fetched offline"),
        ("--pre\n-c c.txt\n", "c.txt: No such file"),
    ],
)
def test_requirements_a_job_cannot_install_are_refused_before_the_run(
    tmp_path, capsys, requirements, message
):
    deps = tmp_path / "mine"
    deps.mkdir()
    (deps / "requirements.txt").write_text(requirements)
    out = tmp_path / "runs"
    assert cli.main(["run", "--deps", str(deps), "--out", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert not out.exists()


def test_a_set_without_pytest_is_refused_for_the_shipped_scenarios(small_set, tmp_path, capsys):
    _wheelhouse, deps = small_set
    assert cli.main(["run", "--deps", str(deps), "--out", str(tmp_path / "runs")]) == 2
    assert "pins no pytest" in one_line_error(capsys)


def test_a_failing_python_preparation_is_one_line_before_any_trial(tmp_path):
    from bench.runner.pythons import Interpreter
    from bench.trial import TrialSetup
    from bench.workflow.interpreters import InterpreterChoice
    from bench.workflow.parse import load_workflow

    broken = tmp_path / "python3.11"
    broken.write_text("#!/bin/sh\necho 'venv: cannot write' >&2\nexit 3\n")
    broken.chmod(0o755)
    setup = TrialSetup(
        runner_root=tmp_path / "runner", store_root=tmp_path / "store", logs=tmp_path / "logs",
        python_templates=tmp_path / "templates", index_url=None, transfer=None,
    )  # fmt: skip
    workflow = load_workflow(PROJECT / "scenarios" / "workflows" / "pip-cache.yml")
    interpreter = Interpreter("3.11.99", str(broken))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(execute, "choose_interpreter", lambda spec: InterpreterChoice(interpreter))
        with pytest.raises(BenchError) as raised:
            execute.prepare_pythons({"pip-cache": workflow}, setup)
    message = str(raised.value)
    assert message.startswith("preparing Python 3.11.99 failed: setup-python:")
    assert "exit code 3: venv: cannot write" in message and "\n" not in message


def test_pythons_named_by_a_version_file_are_prepared_too(tmp_path):
    from bench.errors import BenchError as Refused
    from bench.trial import TrialSetup
    from bench.workflow.parse import load_workflow

    job = textwrap.dedent("""\
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/setup-python@v6
                with: {python-version-file: .python-version}
              - run: echo hi
        """)
    workflow = load_workflow(workflow_file(tmp_path, job))
    checkout = tmp_path / "project"
    checkout.mkdir()
    (checkout / ".python-version").write_text("3.12\n")
    asked = []

    def choose(spec):
        asked.append(spec)
        raise Refused("not here")  # skipped, as a version the machine lacks would be

    setup = TrialSetup(
        runner_root=tmp_path / "runner", store_root=tmp_path / "store", logs=tmp_path / "logs",
        python_templates=tmp_path / "templates", index_url=None, transfer=None,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(execute, "choose_interpreter", choose)
        execute.prepare_pythons({"yours": workflow}, setup, [checkout, tmp_path / "elsewhere"])
    assert asked == ["3.12"]


def test_a_failing_setup_python_fails_one_trial_not_the_run(small_set, tmp_path, monkeypatch):
    from bench.runner.pythons import Interpreter
    from bench.workflow import interpreters

    wheelhouse, deps = small_set
    broken = tmp_path / "python3.11"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    interpreter = Interpreter("3.11.98", str(broken))
    monkeypatch.setattr(interpreters, "select_interpreter", lambda spec: interpreter)
    monkeypatch.setattr(execute, "prepare_pythons", lambda *_args, **_kwargs: None)
    job = textwrap.dedent("""\
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/setup-python@v5
                with: {python-version: '3.11'}
              - run: echo never
        """)
    options = PlanOptions(
        workflows=[str(workflow_file(tmp_path, job))], deps=[str(deps)], states=["cold"],
        reps=2, profile="unthrottled",
    )  # fmt: skip
    state = execute.start_run(options, tmp_path / "runs", port=0)
    assert execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO()) == 2
    records = results.read_trials(state.run_dir).records
    assert [r.status for r in records] == ["failure", "failure"]
    assert "exit code 1" in records[0].error and "setup-python" in records[0].error


def test_a_run_that_cannot_go_on_says_failed_in_run_json(fake_jobs, tmp_path, monkeypatch):
    _calls, wheelhouse = fake_jobs

    def broken(*_args, **_kwargs):
        raise BenchError("preparing Python 3.11.99 failed: no venv")

    monkeypatch.setattr(execute, "prepare_pythons", broken)
    options = PlanOptions(scenarios=["pip-cache"], deps=["cli"], states=["cold"], reps=1)
    state = execute.start_run(options, tmp_path / "r", port=0)
    with pytest.raises(BenchError):
        execute.execute(state, wheelhouse=wheelhouse, port=0, out=io.StringIO())
    run = results.read_json(state.run_dir / results.RUN_FILE)
    assert run["status"] == "failed" and "no venv" in run["error"]
