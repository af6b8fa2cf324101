"""What stands in for what the machine lacks: a CPython newer than any here (the newest stands
in, said in the log, the step's record, the report and check-workflow's notes), and the
stand-in actions check-workflow names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.version import Version

from bench import cli
from bench.depsets import Revision
from bench.errors import BenchError
from bench.ghcache.store import CacheStore
from bench.results import StepRecord, TrialRecord
from bench.runner.pythons import installed_interpreters
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.interpreters import choose_interpreter, newer_than, uv_python_choice
from bench.workflow.job import JobRun
from bench.workflow.parse import load_workflow

NEWEST = installed_interpreters()[-1]
_MAJOR, _MINOR = (int(part) for part in NEWEST.version.split(".")[:2])
NEXT = f"{_MAJOR}.{_MINOR + 1}"  # a CPython newer than any on this machine
AFTER_NEXT = f"{_MAJOR}.{_MINOR + 2}"
OLDEST = installed_interpreters()[0]


@pytest.mark.parametrize(
    ("spec", "newer"),
    [
        ("3.14", True),
        ("3.15", True),
        ("3.14.2", True),
        ("3.14.x", True),
        ("3.14-dev", True),
        ("3.15.0-alpha.1", True),
        (">=3.14", True),
        (">= 3.14, <3.16", True),
        ("3.13", False),  # the machine's own minor: not newer
        ("3.12", False),
        ("2.5", False),
        ("<3.6", False),
        (">=3.9", False),  # the newest here satisfies it
        ("3.14t", False),  # free-threaded: no stand-in
        ("pypy-3.11", False),
        ("pypy3.10", False),
        ("cp313", False),
        ("3.x", False),
    ],
)
def test_newer_than_the_machine_means_only_versions_above_its_newest_minor(spec, newer):
    assert newer_than(spec, Version("3.13.0")) is newer


def test_the_newest_here_stands_in_for_a_newer_cpython_and_says_so():
    choice = choose_interpreter(NEXT)
    assert choice.interpreter == NEWEST
    assert choice.note is None
    assert choice.stood_in == (
        f"python-version {NEXT}: newer than any Python here; {NEWEST.version} (the newest) "
        "stands in"
    )
    assert choose_interpreter(f"{AFTER_NEXT}-dev").interpreter == NEWEST
    assert choose_interpreter(NEWEST.version).stood_in is None  # one it has: no stand-in
    assert choose_interpreter(f"{_MAJOR}.{_MINOR}-dev").stood_in is None  # a dev build: its minor


@pytest.mark.parametrize("spec", ["2.5", "pypy-3.11", f"{NEXT}t", "cp313", "<2.6"])
def test_older_pypy_and_free_threaded_stay_errors(spec):
    with pytest.raises(BenchError, match="python-version"):
        choose_interpreter(spec)


def test_setup_uv_takes_a_version_it_has_as_is_and_stands_in_only_for_newer():
    assert uv_python_choice(NEWEST.version) is None  # uv finds it itself
    choice = uv_python_choice(NEXT)
    assert choice is not None and choice.interpreter == NEWEST and choice.stood_in
    with pytest.raises(BenchError):
        uv_python_choice("2.5.1")  # uv would download it: a blocker


MATRIX = f"""\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ['{NEXT}', '{OLDEST.version.rsplit(".", 1)[0]}']
    steps:
      - uses: actions/setup-python@v7
        with: {{python-version: "${{{{ matrix.python }}}}"}}
  only-newer:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v7
        with: {{python-version: '{NEXT}'}}
      - uses: astral-sh/setup-uv@v7
        with: {{python-version: '{AFTER_NEXT}'}}
      - uses: ./.github/actions/upload
  too-old:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v7
        with: {{python-version: '2.5'}}
"""

UPLOAD_ACTION = """\
name: upload
runs:
  using: composite
  steps:
    - uses: codecov/codecov-action@v5
"""


def _repository(tmp_path: Path) -> Path:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (tmp_path / ".github" / "actions" / "upload").mkdir(parents=True)
    (tmp_path / ".github" / "actions" / "upload" / "action.yml").write_text(UPLOAD_ACTION)
    path = workflows / "ci.yml"
    path.write_text(MATRIX)
    return path


def test_a_matrix_prefers_a_cell_whose_pythons_are_here(tmp_path):
    path = _repository(tmp_path)
    workflow = load_workflow(path, "test")
    assert workflow.matrix == {"python": OLDEST.version.rsplit(".", 1)[0]}  # not the first cell
    assert load_workflow(path, "test", {"python": NEXT}).matrix == {"python": NEXT}


def test_check_workflow_lists_what_stands_in_as_notes(tmp_path, capsys):
    path = _repository(tmp_path)
    assert cli.main(["check-workflow", "--json", str(path)]) == 0
    verdicts = {v["job"]: v for v in json.loads(capsys.readouterr().out)}
    assert verdicts["test"]["runnable"] and verdicts["test"]["notes"] == []
    newer = verdicts["only-newer"]
    assert newer["runnable"] is True and newer["blockers"] == []
    assert newer["notes"] == [
        f"step 1: python-version {NEXT}: newer than any Python here; {NEWEST.version} (the "
        "newest) stands in",
        f"step 2: python-version {AFTER_NEXT}: newer than any Python here; {NEWEST.version} "
        "(the newest) stands in",
        "step 3 → ./.github/actions/upload step 1: codecov/codecov-action@v5 stood in for "
        "(uploads coverage to a service)",
    ]
    old = verdicts["too-old"]
    assert old["runnable"] is False and "'2.5' matches no interpreter" in old["blockers"][0]
    assert cli.main(["check-workflow", str(path)]) == 0
    table = capsys.readouterr().out
    assert "notes" in table.splitlines()[0]
    assert f"step 1: python-version {NEXT}: newer than any Python here" in table


NEWER_JOB = f"""\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: py
        uses: actions/setup-python@v7
        with: {{python-version: '{NEXT}'}}
      - run: python -c "import sys; print('%d.%d.%d' % sys.version_info[:3])"
"""


def test_a_job_asking_for_a_newer_python_runs_on_the_newest_and_records_it(tmp_path):
    path = tmp_path / "wf.yml"
    path.write_text(NEWER_JOB)
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, None),
        store=CacheStore(tmp_path / "store"),
        checkout=Revision((tmp_path,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        result = JobRun(load_workflow(path), ctx, log=log).run()
    assert result.success, result.error
    assert result.outputs["py"]["python-version"] == NEWEST.version
    setup = result.steps[0]
    words = f"python-version {NEXT}: newer than any Python here; {NEWEST.version}"
    assert len(setup.substitutions) == 1 and setup.substitutions[0].startswith(words)
    assert not setup.stand_in  # it ran: a substitution, not a no-op
    assert f"Notice: {words}" in (tmp_path / "job.log").read_text()
    assert result.steps[1].substitutions == []
    again = StepRecord.from_json(json.loads(json.dumps(setup.to_json())))
    assert again.substitutions == setup.substitutions


def test_old_step_records_read_without_substitutions_and_the_report_names_them():
    old = {"index": 1, "name": "s", "stage": "main", "uses": "a/b@v1", "phase": "setup"}
    assert StepRecord.from_json(old | {"outcome": "success"}).substitutions == []
    from bench.report.render import _metadata

    step = StepRecord(2, "py", "main", "actions/setup-python@v7", "setup", "success")
    step.substitutions = ["python-version 3.14: newer than any Python here; 3.13.0 stands in"]
    stood = StepRecord(3, "up", "main", "codecov/codecov-action@v5", "setup", "success")
    stood.stand_in = True
    record = TrialRecord("t", "ci", "tiny", "cold", 1, "success", 1, steps=[step, stood])
    table = _metadata({}, [record])
    row = next(line for line in table.splitlines() if "steps stood in for" in line)
    assert "codecov/codecov-action@v5 (ci)" in row
    assert "actions/setup-python@v7 (ci): python-version 3.14: newer than any Python here" in row
