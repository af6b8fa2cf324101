"""advise: the shipped strategies retargeted at a project, and what it reads of the team's job."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.advise.candidates import Candidate, Skipped, candidates_for, retarget
from bench.advise.project import project_facts, read_test_command
from bench.advise.recommend import CandidateTimes, Rates, decide
from bench.advise.rewrite import actionlint, rewrite, unified_diff
from bench.errors import BenchError
from bench.intake.forms import find_input
from bench.plan import WORKFLOWS, cache_states
from bench.workflow.parse import load_workflow
from tests.helpers import write

SHIPPED = sorted(WORKFLOWS.glob("*.yml"))


def facts_for(tmp_path: Path, files: dict[str, str], test: str = "pytest -q"):
    for name, text in files.items():
        write(tmp_path / name, text)
    return project_facts(find_input(tmp_path), test)


def test_shipped_scenarios_are_found():
    assert len(SHIPPED) >= 8


def test_a_requirements_project_gets_every_pip_strategy_with_its_files(tmp_path):
    facts = facts_for(tmp_path, {"requirements.txt": "a==1\n", "requirements-dev.txt": "b>=2\n"})
    chosen, skipped = candidates_for(SHIPPED, facts)
    names = {c.name for c in chosen}
    assert {"no-cache", "pip-cache", "setup-python-pip", "venv-cache", "uv"} <= names
    assert {s.name for s in skipped} >= {"poetry", "pipenv"}
    pip_cache = next(c for c in chosen if c.name == "pip-cache")
    job = yaml.safe_load(pip_cache.text)["jobs"]["test"]
    runs = [step.get("run") for step in job["steps"]]
    assert "pip install -r requirements-dev.txt -r requirements.txt" in runs
    assert runs[-1] == "pytest -q"
    key = next(s for s in job["steps"] if s.get("name") == "Cache pip dependencies")["with"]["key"]
    assert "hashFiles('requirements-dev.txt', 'requirements.txt')" in key


def test_a_poetry_project_gets_poetry_with_its_root_and_not_pip(tmp_path):
    mirror = '[[tool.poetry.source]]\nname = "m"\nurl = "http://127.0.0.1:9/simple/"\n'
    facts = facts_for(
        tmp_path, {"pyproject.toml": mirror + 'priority = "primary"\n', "poetry.lock": ""}
    )
    outcome = retarget("poetry", (WORKFLOWS / "poetry.yml").read_text(), facts)
    assert isinstance(outcome, Candidate)
    assert "poetry install --no-interaction" in outcome.text and "--no-root" not in outcome.text
    assert "poetry run pytest -q" in outcome.text
    assert "hashFiles('**/poetry.lock')" in outcome.text
    pip = retarget("pip-cache", (WORKFLOWS / "pip-cache.yml").read_text(), facts)
    assert isinstance(pip, Skipped) and "installed by poetry" in pip.reason


@pytest.mark.parametrize(
    ("files", "source", "install"),
    [
        ({"pyproject.toml": "[tool.poetry]\n", "poetry.lock": ""}, "poetry", "poetry install"),
        ({"Pipfile": "", "Pipfile.lock": "{}"}, "pipenv", "pipenv install"),
        ({"pyproject.toml": "[project]\nname = 'x'\n", "uv.lock": ""}, "setup-uv", "uv sync"),
    ],
)
def test_a_lock_tool_project_gets_its_own_tool_without_a_cache_as_no_cache(
    tmp_path, files, source, install
):
    facts = facts_for(tmp_path / "project", files)
    chosen, skipped = candidates_for(SHIPPED, facts)
    assert "no-cache" not in {s.name for s in skipped}
    baseline = next(c for c in chosen if c.name == "no-cache")
    assert f"baseline without a cache: {source}" in baseline.text
    steps = yaml.safe_load(baseline.text)["jobs"]["test"]["steps"]
    assert not [s for s in steps if str(s.get("uses", "")).startswith("actions/cache")]
    assert any(install in str(s.get("run", "")) for s in steps)
    assert "@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0" in baseline.text  # pins kept
    path = tmp_path / "no-cache.yml"
    path.write_text(baseline.text)
    assert cache_states(load_workflow(path)) == ("cold",)
    assert actionlint(path) == []


def test_setup_uv_without_inputs_gets_its_cache_turned_off():
    from bench.advise.candidates import without_caching

    text = "jobs:\n  t:\n    steps:\n      - uses: astral-sh/setup-uv@v7\n      - run: uv sync\n"
    steps = yaml.safe_load(without_caching("no-cache", text, "setup-uv"))["jobs"]["t"]["steps"]
    assert steps[0]["with"] == {"enable-cache": False}


def test_a_pyproject_project_installs_itself_with_its_extras(tmp_path):
    pyproject = (
        '[project]\nname = "x"\nversion = "1"\ndependencies = ["a"]\n'
        '[project.optional-dependencies]\ntest = ["pytest"]\ndocs = ["sphinx"]\n'
    )
    facts = facts_for(tmp_path, {"pyproject.toml": pyproject})
    outcome = retarget("no-cache", (WORKFLOWS / "no-cache.yml").read_text(), facts)
    assert isinstance(outcome, Candidate)
    assert "pip install -e '.[docs,test]'" in outcome.text


def test_a_scenario_without_the_markers_is_skipped_with_the_reason(tmp_path):
    facts = facts_for(tmp_path, {"requirements.txt": "a==1\n"})
    outcome = retarget("odd", "jobs: {test: {steps: [{run: make}]}}\n", facts)
    assert isinstance(outcome, Skipped) and "install step" in outcome.reason


@pytest.mark.parametrize(
    ("scripts", "expected"),
    [
        (["pip install .", "pytest tests/ -x"], "pytest tests/ -x"),
        (["uv sync", "uv run pytest --cov"], "pytest --cov"),
        (["uv run --locked tox run -e py311"], "tox run -e py311"),
        (["poetry run python -m pytest"], "python -m pytest"),
        (["echo hi\nnox -s tests\n"], "nox -s tests"),
        (["make lint"], None),
        (["uv run ./manage.py check", "uv run ./manage.py test"], "./manage.py test"),
        (["python manage.py test --parallel"], "python manage.py test --parallel"),
        (["python manage.py migrate"], None),
    ],
)
def test_the_test_command_is_read_from_the_jobs_scripts(scripts, expected):
    assert read_test_command(scripts) == expected


ALWAYS_WARM = Rates(exact=0.9, partial=0.05, miss=0.05)


def times(name, cold, warm, partial, rates=ALWAYS_WARM, n=5):
    spread = [0.98, 1.0, 1.02, 0.99, 1.01][:n]
    return CandidateTimes(
        name,
        {"cold": [cold * s for s in spread], "warm": [warm * s for s in spread],
         "partial": [partial * s for s in spread]},
        rates,
    )  # fmt: skip


def test_expected_time_weights_the_medians_by_the_rates():
    candidate = times("a", cold=100, warm=10, partial=50)
    assert candidate.expected() == pytest.approx(0.9 * 10 + 0.05 * 50 + 0.05 * 100)


def test_a_clear_winner_is_significant_and_its_saving_is_against_the_baseline():
    verdict = decide(
        [times("yours", 60, 55, 58), times("uv", 20, 6, 10), times("pip-cache", 60, 40, 50)],
        baseline="yours",
    )
    assert (verdict.winner, verdict.runner_up, verdict.significant) == ("uv", "pip-cache", True)
    assert verdict.saving is not None
    assert verdict.saving.low < verdict.saving.estimate < verdict.saving.high
    assert verdict.saving.estimate == pytest.approx(
        times("yours", 60, 55, 58).expected() - times("uv", 20, 6, 10).expected()
    )


def test_candidates_within_noise_are_a_tie():
    verdict = decide([times("a", 30, 10, 20), times("b", 30.2, 10.1, 20.1)], baseline="a")
    assert verdict.significant is False and verdict.tied


def test_candidates_too_noisy_to_compare_are_not_yet_told_apart():
    def noisy(name, scale):
        wide = [0.7, 1.0, 1.3, 0.8, 1.2]
        return CandidateTimes(
            name, {s: [v * scale for v in wide] for s in ("cold", "warm", "partial")}, ALWAYS_WARM
        )

    verdict = decide([noisy("a", 10.0), noisy("b", 10.3)], baseline="a")
    assert verdict.significant is False and not verdict.tied  # the ratio's interval: 0.8-1.4x


def test_fewer_than_three_trials_give_no_interval_and_no_verdict():
    verdict = decide([times("a", 30, 10, 20, n=2), times("b", 90, 50, 70, n=2)], baseline="b")
    assert verdict.winner == "a"
    assert (verdict.significant, verdict.ratio, verdict.saving) == (None, None, None)


def test_a_candidate_missing_a_state_its_rates_need_is_not_ranked():
    partial_less = CandidateTimes("x", {"cold": [1.0] * 3, "warm": [0.5] * 3}, ALWAYS_WARM)
    never_partial = CandidateTimes(
        "y", {"cold": [9.0] * 3, "warm": [5.0] * 3}, Rates(exact=0.9, partial=0.0, miss=0.1)
    )
    assert decide([partial_less, never_partial], baseline="y").winner == "y"


THEIRS = """\
name: CI
on: [push, pull_request]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - run: echo lint
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python-version: ["3.11", "3.12"]
    steps:
      - uses: actions/checkout@v6
      - name: Set up Python ${{ matrix.python-version }}
        uses: actions/setup-python@v7  # the team's comment stays
        with:
          python-version: ${{ matrix.python-version }}
          cache: pip
          allow-prereleases: true
      - name: Install
        run: |
          python -m pip install -r requirements.txt
      - run: ruff check .
      - run: pytest -q
"""

CANDIDATE = """\
name: pip-cache
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: actions/setup-python@v7
        with:
          python-version: '3.11'
      - name: Cache pip dependencies
        uses: actions/cache@v5
        with:
          path: ~/.cache/pip
          key: ${{ runner.os }}-pip-${{ hashFiles('requirements.txt') }}
          restore-keys: |
            ${{ runner.os }}-pip-
      - run: pip install -r requirements.txt
        env:
          BENCH_PHASE: install
          PIP_NO_COLOR: '1'
      - run: pytest -q
"""


def test_the_recommended_job_replaces_only_the_dependency_steps():
    new = rewrite(THEIRS, "test", CANDIDATE, "pytest -q")
    job = yaml.safe_load(new)["jobs"]["test"]
    assert [s.get("uses") or s.get("run") for s in job["steps"]] == [
        "actions/checkout@v6", "actions/setup-python@v7", "actions/cache@v5",
        "pip install -r requirements.txt", "ruff check .", "pytest -q",
    ]  # fmt: skip
    assert job["steps"][1]["with"] == {
        "python-version": "${{ matrix.python-version }}", "allow-prereleases": True,
    }  # fmt: skip
    assert job["steps"][1]["name"] == "Set up Python ${{ matrix.python-version }}"
    assert job["steps"][3]["env"] == {"PIP_NO_COLOR": "1"}  # our timing marker is gone
    assert "BENCH_PHASE" not in new
    assert yaml.safe_load(new)["jobs"]["lint"] == yaml.safe_load(THEIRS)["jobs"]["lint"]
    assert "on: [push, pull_request]" in new
    diff = unified_diff(THEIRS, new, ".github/workflows/ci.yml")
    assert diff.startswith("--- a/.github/workflows/ci.yml\n+++ b/.github/workflows/ci.yml\n")
    removed = [line for line in diff.splitlines() if line.startswith("-") and "---" not in line]
    assert "-          cache: pip" in removed
    assert not any("lint" in line or "ruff" in line for line in removed)


def test_a_python_version_file_stays_the_version_source():
    theirs = THEIRS.replace(
        "python-version: ${{ matrix.python-version }}", "python-version-file: .python-version"
    )
    job = yaml.safe_load(rewrite(theirs, "test", CANDIDATE, "pytest -q"))["jobs"]["test"]
    assert job["steps"][1]["with"] == {
        "python-version-file": ".python-version", "allow-prereleases": True,
    }  # fmt: skip


def test_the_recommended_workflow_passes_actionlint(tmp_path):
    path = tmp_path / ".github" / "workflows" / "ci.yml"
    path.parent.mkdir(parents=True)
    path.write_text(rewrite(THEIRS, "test", CANDIDATE, "pytest -q"))
    assert actionlint(path) == []
    broken = THEIRS.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    if: ${{ oops")
    path.write_text(broken)
    assert actionlint(path) != []


def test_a_job_without_dependency_steps_is_a_clear_error():
    with pytest.raises(BenchError, match="no dependency step"):
        rewrite(THEIRS, "lint", CANDIDATE, "pytest -q")
    with pytest.raises(BenchError, match="no job 'deploy'"):
        rewrite(THEIRS, "deploy", CANDIDATE, "pytest -q")


def advice_for(candidates, verdict, **changes):
    from bench.advise.render import Advice

    fields = dict(
        project="demo", baseline="yours", candidates=candidates, verdict=verdict, skipped=[],
        failures={}, archive_mb={"uv": 12.0}, runs_per_month=60, uncertain=[],
        caveats=["this machine is not a hosted runner"], recommended_file="recommended.yml",
        lint_findings=[],
    )  # fmt: skip
    return Advice(**(fields | changes))


def test_the_recommendation_gives_the_answer_first_with_its_numbers():
    from bench.advise.render import render

    candidates = [times("yours", 60, 55, 58), times("uv", 20, 6, 10), times("pip", 60, 40, 50)]
    verdict = decide(candidates, baseline="yours")
    text = render(advice_for(candidates, verdict, skipped=[Skipped("poetry", "no poetry.lock")]))
    first = text.split("\n\n")[1]
    assert first == "**Use uv.**"
    assert verdict.saving is not None
    per_month = f"about {verdict.saving.estimate * 60 / 60:.1f} CI minutes a month"
    assert per_month in text
    assert text.index("| uv ") < text.index("| pip ") < text.index("| your job")
    assert "| poetry     | no poetry.lock |" in text
    assert "passes actionlint" in text


def test_a_winner_whose_saving_may_be_nothing_does_not_replace_their_job():
    from bench.advise.render import render

    def noisy(name, scale):
        wide = [0.7, 1.0, 1.3, 0.8, 1.2]
        return CandidateTimes(
            name, {s: [v * scale for v in wide] for s in ("cold", "warm", "partial")}, ALWAYS_WARM
        )

    candidates = [noisy("yours", 10.4), noisy("poetry", 10.0)]
    verdict = decide(candidates, baseline="yours")
    assert verdict.winner == "poetry" and verdict.saving_unsure
    text = render(advice_for(candidates, verdict))
    assert text.split("\n\n")[1].startswith("**Keep your job's caching for now.** poetry is ahead")
    assert "not yet told apart from yours" in text and "The job to try is in" in text
    clear = decide([noisy("yours", 30.0), noisy("poetry", 10.0)], baseline="yours")
    assert not clear.saving_unsure


def test_too_few_trials_are_said_not_hidden():
    from bench.advise.render import render

    candidates = [times("yours", 60, 55, 58, n=1), times("uv", 20, 6, 10, n=1)]
    text = render(advice_for(candidates, decide(candidates, baseline="yours")))
    assert "not enough trials" in text
    assert "saves" not in text


def test_their_test_job_is_found_among_their_workflows(tmp_path):
    from bench.advise.their_job import find_their_job

    write(tmp_path / ".github" / "workflows" / "ci.yml", THEIRS)
    write(tmp_path / ".github" / "workflows" / "docs.yaml", "jobs: {docs: {steps: [{run: make}]}}")
    job = find_their_job(tmp_path)
    assert (job.workflow.name, job.job_id, job.test_command) == ("ci.yml", "test", "pytest -q")
    with pytest.raises(BenchError, match=r"no job 'lint' installs and tests; give one of "):
        find_their_job(tmp_path, "lint")


def test_a_project_without_a_test_job_is_told_what_to_give(tmp_path):
    from bench.advise.their_job import find_their_job

    write(tmp_path / ".github" / "workflows" / "ci.yml", "jobs: {a: {steps: [{run: make}]}}")
    with pytest.raises(BenchError, match="--test-cmd"):
        find_their_job(tmp_path)
    scripted = "jobs: {a: {steps: [{uses: actions/setup-python@v6}, {run: scripts/test}]}}"
    write(tmp_path / ".github" / "workflows" / "ci.yml", scripted)
    assert find_their_job(tmp_path, test_cmd="scripts/test").job_id == "a"


def test_pip_candidates_install_the_test_groups_inline():
    from bench.advise.project import test_group_requirements

    pyproject = {
        "dependency-groups": {
            "tests": ["pytest>=6", "simplejson"],
            "typing": ["mypy"],
            "docs": ["sphinx"],
            "dev": [{"include-group": "tests"}, {"include-group": "typing"}, "nox"],
        }
    }
    assert test_group_requirements(pyproject) == ["pytest>=6", "simplejson", "mypy", "nox"]


def test_a_step_that_installs_and_tests_keeps_the_tests_in_the_recommended_job():
    combined = THEIRS.replace(
        "      - name: Install\n        run: |\n"
        "          python -m pip install -r requirements.txt\n"
        "      - run: ruff check .\n      - run: pytest -q\n",
        "      - run: |\n          pip install -r requirements.txt\n          pytest -q\n"
        "      - run: ruff check .\n",
    )
    assert "pytest -q\n      - run: ruff" in combined
    job = yaml.safe_load(rewrite(combined, "test", CANDIDATE, "pytest -q"))["jobs"]["test"]
    runs = [s.get("run") for s in job["steps"] if s.get("run")]
    assert runs == ["pip install -r requirements.txt", "pytest -q", "ruff check ."]


def test_a_repository_script_that_runs_the_tests_is_the_test_command(tmp_path):
    from bench.advise.their_job import find_their_job

    scripted = "jobs: {a: {steps: [{uses: actions/setup-python@v6}, {run: scripts/test}]}}"
    write(tmp_path / ".github" / "workflows" / "ci.yml", scripted)
    write(tmp_path / "scripts" / "test", '#!/bin/sh\n${PREFIX}coverage run -m pytest "$@"\n')
    assert find_their_job(tmp_path).test_command == "scripts/test"
    write(tmp_path / "scripts" / "test", "#!/bin/sh\nmake docs\n")  # runs no tests
    with pytest.raises(BenchError, match="--test-cmd"):
        find_their_job(tmp_path)


def test_test_cmd_replaces_the_step_that_ran_their_tests_in_their_job(tmp_path):
    from bench.advise.command import their_job_alone
    from bench.advise.their_job import find_their_job

    write(tmp_path / ".github" / "workflows" / "ci.yml", THEIRS)
    their = find_their_job(tmp_path)
    as_written = yaml.safe_load(their_job_alone(their, {"python-version": "3.11"}))
    runs = [s.get("run") for s in as_written["jobs"]["test"]["steps"]]
    assert "pytest -q" in runs and list(as_written["jobs"]) == ["test"]
    changed = yaml.safe_load(their_job_alone(their, {}, test_cmd="pytest -q -m 'not network'"))
    runs = [s.get("run") for s in changed["jobs"]["test"]["steps"]]
    assert "pytest -q -m 'not network'" in runs and "pytest -q" not in runs
    assert "ruff check ." in runs  # the job's other steps stay as written


def test_a_job_that_checks_out_another_repository_is_not_theirs(tmp_path):
    from bench.advise.their_job import find_their_job

    downstream = THEIRS.replace(
        "      - uses: actions/checkout@v6\n      - name: Set up Python",
        "      - uses: actions/checkout@v6\n        with: {repository: other/project}\n"
        "      - name: Set up Python",
    )
    assert "other/project" in downstream
    write(tmp_path / ".github" / "workflows" / "a-downstream.yml", downstream)
    write(tmp_path / ".github" / "workflows" / "tests.yml", THEIRS)
    assert find_their_job(tmp_path).workflow.name == "tests.yml"


def test_a_candidate_the_budget_never_reached_withholds_the_answer():
    from bench.advise.command import unfinished_candidates
    from bench.advise.render import render
    from tests.helpers import record

    done = times("no-cache", 70, 70, 70, rates=Rates(0.0, 0.0, 1.0))
    half = CandidateTimes("uv", {"cold": [30.0]}, Rates(0.7, 0.1, 0.2))  # warm never tried
    failed = CandidateTimes("pip", {}, Rates(0.0, 0.0, 1.0))  # tried, every trial failed
    records = [record("no-cache", "cold", 70, 1), record("uv", "cold", 30, 2),
               record("pip", "cold", 9, 3, status="failure")]  # fmt: skip
    assert unfinished_candidates([done, half, failed], records) == ["uv"]
    text = render(advice_for([done, half, failed], None, unfinished=["uv"]))
    assert "**No recommendation yet**" in text and "uv ran in every state" in text
    assert "Use no-cache" not in text
