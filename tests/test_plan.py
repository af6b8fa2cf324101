"""The plan: selection, states per scenario, shuffled rounds, and bad selections."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.errors import BenchError
from bench.plan import PlanOptions, RunRequest, build_plan, shipped_scenarios


def test_default_matrix_covers_every_scenario_set_and_state():
    trials = build_plan(PlanOptions(seed=1))
    cells = Counter(t.cell.id for t in trials)
    assert set(cells.values()) == {3}  # three repetitions of every cell
    assert "no-cache/cli/cold" in cells and "no-cache/cli/warm" not in cells
    assert "poetry/native/cold" not in cells  # native has no poetry.lock: pip-based only
    assert "venv-cache/native/partial" in cells
    scenarios = {t.cell.scenario.name for t in trials}
    assert scenarios == set(shipped_scenarios())


def test_the_main_jobs_matrix_is_cold_and_warm_one_round_planned_the_rest_added():
    options = RunRequest(reps="auto").options()
    trials = build_plan(options)
    assert {t.repetition for t in trials} == {1}  # bench.stopping adds the next rounds
    assert {t.cell.state for t in trials} == {"cold", "warm"}  # partial: --states
    assert {t.cell.scenario.name for t in trials} == set(shipped_scenarios())


def test_weights_leave_out_the_states_a_scenario_never_meets():
    weights = {"pip-cache": {"warm": 0.9, "partial": 0.0, "cold": 0.1}, "uv": {"warm": 1.0}}
    options = PlanOptions(scenarios=["no-cache", "pip-cache", "uv"], deps=["cli"], reps=1,
                          weights=weights)  # fmt: skip
    cells = {t.cell.id for t in build_plan(options)}
    assert cells == {"no-cache/cli/cold", "pip-cache/cli/cold", "pip-cache/cli/warm",
                     "uv/cli/warm"}  # fmt: skip


def test_rounds_hold_every_cell_once_in_a_seeded_shuffle():
    options = PlanOptions(deps=["cli"], seed=5)
    first, again = build_plan(options), build_plan(options)
    assert [t.id for t in first] == [t.id for t in again]
    other = build_plan(PlanOptions(deps=["cli"], seed=6))
    assert [t.id for t in first] != [t.id for t in other]
    per_round = len(first) // 3
    for repetition in (1, 2, 3):
        ids = [t.cell.id for t in first if t.repetition == repetition]
        assert len(ids) == len(set(ids)) == per_round
    round_one = [t.cell.state for t in first if t.repetition == 1]
    assert round_one == sorted(round_one, key=lambda s: s != "cold")  # cold first: it primes
    assert [t.order for t in first] == list(range(1, len(first) + 1))


def test_quick_is_the_cli_set_once():
    trials = build_plan(PlanOptions(quick=True, reps=1, states=["cold", "warm"]))
    assert {t.cell.deps.name for t in trials} == {"cli"}
    assert {t.repetition for t in trials} == {1}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (PlanOptions(deps=["nope"]), "no dependency set 'nope'"),
        (PlanOptions(scenarios=["nope"]), "no scenario 'nope'"),
        (PlanOptions(states=["tepid"]), "unknown cache state 'tepid'"),
        (PlanOptions(reps=0), "--reps"),
        (PlanOptions(scenarios=["no-cache"], states=["warm"]), "no trial to run"),
    ],
)
def test_bad_selections_are_clear_errors(options, message):
    with pytest.raises(BenchError, match=message):
        build_plan(options)


def test_a_users_folder_without_requirements_is_refused(tmp_path):
    with pytest.raises(BenchError, match=r"has no dependency file"):
        build_plan(PlanOptions(deps=[str(tmp_path)]))


def test_a_users_workflow_with_an_unsupported_action_is_refused(tmp_path):
    path = tmp_path / "mine.yml"
    path.write_text("on: push\njobs:\n  t:\n    steps:\n      - uses: someone/else@v1\n")
    with pytest.raises(BenchError, match=r"mine.yml.*step 1.*someone/else@v1"):
        build_plan(PlanOptions(workflows=[str(path)]))


@pytest.mark.parametrize(
    ("steps", "states"),
    [
        ("- run: pip install -r requirements.txt", ("cold",)),
        (
            "- uses: actions/cache@v5\n  with: {path: ~/.cache/pip, key: k}",
            ("cold", "warm"),
        ),
        (
            "- uses: actions/cache@v5\n  with: {path: ~/.cache/pip, key: k, restore-keys: k-}",
            ("cold", "warm", "partial"),
        ),
        (
            "- uses: actions/setup-python@v6\n  with: {python-version: '3.11', cache: pip}",
            ("cold", "warm", "partial"),
        ),
        (
            "- uses: actions/setup-python@v6\n  with: {python-version: '3.11', cache: poetry}",
            ("cold", "warm"),
        ),
        ("- uses: astral-sh/setup-uv@v7", ("cold", "warm")),
        ("- uses: astral-sh/setup-uv@v7\n  with: {enable-cache: 'false'}", ("cold",)),
    ],
)
def test_a_users_workflow_runs_the_states_its_caches_can_meet(tmp_path, steps, states):
    from bench.plan import cache_states
    from bench.workflow.parse import load_workflow

    body = "\n".join("      " + line for line in steps.splitlines())
    path = tmp_path / "job.yml"
    path.write_text(f"on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n{body}\n")
    assert cache_states(load_workflow(path)) == states


def test_two_workflows_of_the_same_name_are_refused(tmp_path):
    job = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ci.yml").write_text(job)
    options = PlanOptions(workflows=[str(tmp_path / "a/ci.yml"), str(tmp_path / "b/ci.yml")])
    with pytest.raises(BenchError, match="two scenarios are named 'ci'"):
        build_plan(options)


def test_paths_are_saved_absolute_so_a_resume_from_elsewhere_finds_them(tmp_path, monkeypatch):
    from bench.plan import RunRequest

    monkeypatch.chdir(tmp_path)
    options = RunRequest(workflows=["ci.yml"], deps=["./mine", "cli"]).options()
    assert options.workflows == [str(tmp_path / "ci.yml")]
    assert options.deps == [str(tmp_path / "mine"), "cli"]
