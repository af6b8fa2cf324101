"""The history replay: keys per commit from git's trees, the store model, the command.

Every expected count is worked out by hand in a comment beside the history that yields it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.ghcache.hashfiles import hash_files
from bench.history.command import HistoryOptions, replay_history
from bench.history.evaluate import evaluate_history
from bench.history.gitlog import BlobReader, read_history, read_tree
from bench.history.strategy import load_strategies, shipped_strategies
from bench.history.treehash import TreeHasher
from tests.gitrepo import DAY, T0, Repo, git_env

HOUR = 3600
MB = 1_000_000


def replay(repo: Path, *scenarios: str, **options) -> dict:
    options.setdefault("archive_mb", 100)
    options.setdefault("figures", False)
    return replay_history(HistoryOptions(repo=repo, scenarios=list(scenarios), **options))


def counts(result: dict, name: str) -> tuple[int, int, int, int]:
    s = result["strategies"][name]
    return s["runs"], s["exact"], s["partial"], s["miss"]


# -- hashFiles over git's tree equals hashFiles over a checkout ---------------------------------


TREE_FILES = {
    "requirements.txt": "hello\n",
    "sub/requirements.txt": "numpy==2.0.0\n",
    "a/b.txt": "ab\n",
    "a.txt": "a\n",
    "a/c/d.txt": "acd\n",
    "B/x.txt": "Bx\n",
    "b/y.txt": "by\n",
    ".hidden/requirements.txt": "dot\n",
    "poetry.lock": "lock\n",
    "link.txt": "-> a.txt",  # a link to a file: hashed with the file's content
    "linkdir": "-> a",  # a link to a folder: not entered without following links
}
PATTERNS = [
    ["requirements.txt"],
    ["**/requirements.txt"],
    ["**/*.txt"],
    ["a"],
    ["a/**", "B/**"],
    ["B/**", "a/**"],
    ["**/*.txt", "!a/**", "a/c/*"],
    ["*.txt"],
    ["**/nothing.lock"],
    ["**/[ab]/*.txt"],
    ["sub/", "poetry.lock"],
    ["link.txt", "linkdir"],
]


@pytest.mark.parametrize("patterns", PATTERNS, ids=lambda p: ",".join(p))
def test_tree_hash_equals_hash_files_on_a_checkout(tmp_path, patterns):
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, TREE_FILES)
    commit = repo.git("rev-parse", "HEAD")
    with BlobReader(repo.path) as blobs:
        hasher = TreeHasher(read_tree(repo.path, commit), blobs.read)
        from_git = hasher.hash_files(*patterns)
    on_disk = hash_files(patterns, workspace=repo.path, home=tmp_path / "home")
    assert from_git == on_disk
    if patterns == ["requirements.txt"]:  # the spec's vector
        assert from_git == "ecb65bb98f9d905b70458986c39fcbad7715e5f2fcc3b1f07767d7c83e2438cc"


def test_tree_hash_is_recomputed_only_when_a_matching_file_changes(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"requirements.txt": "a\n", "README": "1\n"})
    repo.commit(T0 + HOUR, {"README": "2\n"})
    repo.commit(T0 + 2 * HOUR, {"requirements.txt": "b\n"})
    history = read_history(repo.path, "main")
    with BlobReader(repo.path) as blobs:
        hasher = TreeHasher(read_tree(repo.path, history.runs[0].commit), blobs.read)
        values = []
        for index, run in enumerate(history.runs):
            if index:
                hasher.advance(run.changes)
            values.append(hasher.hash_files("**/requirements.txt"))
    assert values[0] == values[1] != values[2]
    assert hasher.computed == 2  # the README commit reused the first value


# -- the store model, against hand-worked histories ----------------------------------------------


def dependency_history(path: Path) -> Path:
    """Seven pushes: a dependency change, an idle gap of 8 days, a revert.

    pip-cache: key K(x) = Linux-pip-<hash>, restore key Linux-pip-; entries of 100 MB.
      c1 day 0   reqs=A   empty store               -> miss,    save K(A)
      c2 day 1   README   K(A)                      -> exact    (K(A) accessed day 1)
      c3 day 2   reqs=B   K(B) absent; prefix K(A)  -> partial, save K(B) (K(A) accessed day 2)
      c4 day 3   README   K(B)                      -> exact    (K(B) accessed day 3)
      c5 day 11  README   K(A) idle 9 d, K(B) 8 d: both expire (2 by age) -> miss, save K(B)
      c6 day 12  reqs=A   K(A) absent; prefix K(B)  -> partial, save K(A)
      c7 day 12 + 1 h     K(A)                      -> exact
    runs 7, exact 3, partial 2, miss 2; keys saved {K(A), K(B)} = 2; saves 4; evicted by age 2,
    by size 0; peak 2 entries = 200 MB (after c3, and again after c6).

    poetry (hashFiles('**/poetry.lock') matches nothing: the key is "poetry-Linux-" every run):
      c1 miss (save); c2, c3, c4 exact (last access day 3); c5: idle 8 days, expired (1 by age)
      -> miss (save); c6, c7 exact.  runs 7, exact 5, partial 0, miss 2; 1 key; 2 saves.
    """
    repo = Repo(path)
    repo.commit(T0, {"requirements.txt": "A==1\n", "README": "0\n"})
    repo.commit(T0 + 1 * DAY, {"README": "1\n"})
    repo.commit(T0 + 2 * DAY, {"requirements.txt": "B==1\n"})
    repo.commit(T0 + 3 * DAY, {"README": "3\n"})
    repo.commit(T0 + 11 * DAY, {"README": "11\n"})
    repo.commit(T0 + 12 * DAY, {"requirements.txt": "A==1\n"})
    repo.commit(T0 + 12 * DAY + HOUR, {"README": "12\n"})
    return repo.path


def test_dependency_change_idle_gap_and_restore_keys(tmp_path):
    repo = dependency_history(tmp_path / "repo")
    result = replay(repo, "pip-cache", "poetry", "setup-python-pip")
    pip = result["strategies"]["pip-cache"]
    assert counts(result, "pip-cache") == (7, 3, 2, 2)
    assert pip["distinct_keys_saved"] == 2
    assert pip["saves"] == 4
    assert pip["evicted_by_age"] == 2
    assert pip["evicted_by_size"] == 0
    assert pip["peak_store_bytes"] == 200 * MB
    poetry = result["strategies"]["poetry"]
    assert counts(result, "poetry") == (7, 5, 0, 2)
    assert poetry["distinct_keys_saved"] == 1
    assert poetry["saves"] == 2
    assert poetry["evicted_by_age"] == 1
    assert poetry["runs_hashing_nothing"] == 7 and pip["runs_hashing_nothing"] == 0
    # setup-python's key has the same shape (hash of **/requirements.txt, prefix restore key)
    assert counts(result, "setup-python-pip") == (7, 3, 2, 2)


def test_timeline_outcomes_in_order(tmp_path):
    repo = dependency_history(tmp_path / "repo")
    strategies = shipped_strategies(["pip-cache"])
    history = read_history(repo, "main")
    from bench.history.outcomes import replay_strategies

    with BlobReader(repo) as blobs:
        keys = evaluate_history(strategies, history, blobs)
    replays = replay_strategies(keys, history.runs, {"pip-cache": 100 * MB}, 10**10)
    outcomes = [r.outcome for r in replays["pip-cache"].timeline]
    assert outcomes == ["miss", "exact", "partial", "exact", "miss", "partial", "exact"]
    primaries = [k[0].primary for k in keys["pip-cache"]]
    assert primaries[0] == primaries[5] != primaries[2]
    assert primaries[0].startswith("Linux-pip-")


def test_size_eviction_removes_the_least_recently_accessed(tmp_path):
    """Limit 0.25 GB, entries of 100 MB: two fit.

      c1 reqs=A  miss, save A                      store A
      c2 reqs=B  prefix -> A partial, save B       store A, B (A accessed t2)
      c3 reqs=A  exact A (accessed t3)
      c4 reqs=C  prefix -> newest created is B: partial (B accessed t4); save C: 300 MB > 250,
                 the least recently accessed other than C is A (t3) -> evicted (1 by size)
      c5 reqs=A  prefix -> newest created is C: partial (C accessed t5); save A: 300 MB,
                 least recently accessed other than A is B (t4) -> evicted (2 by size)
    runs 5, exact 1, partial 3, miss 1; keys {A, B, C} = 3; saves 4; peak 200 MB.
    """
    repo = Repo(tmp_path / "repo")
    for index, reqs in enumerate(["A", "B", "A", "C", "A"]):
        repo.commit(T0 + index * HOUR, {"requirements.txt": f"{reqs}==1\n"})
    result = replay(repo.path, "pip-cache", limit_gb=0.25)
    pip = result["strategies"]["pip-cache"]
    assert counts(result, "pip-cache") == (5, 1, 3, 1)
    assert pip["evicted_by_size"] == 2
    assert pip["evicted_by_age"] == 0
    assert pip["distinct_keys_saved"] == 3
    assert pip["saves"] == 4
    assert pip["peak_store_bytes"] == 200 * MB


def test_first_parent_runs_only_across_merges(tmp_path):
    """main: c1 (reqs A), c2 (README); a branch f1 (reqs B), f2 (NOTES) merged as m1.

    Runs are c1, c2, m1 (the branch's own commits are not pushes to main):
      c1 miss (save A); c2 exact; m1 brings reqs B: prefix -> A, partial.
    runs 3, exact 1, partial 1, miss 1.
    """
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"requirements.txt": "A==1\n"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(T0 + HOUR, {"requirements.txt": "B==1\n"})
    repo.commit(T0 + 2 * HOUR, {"NOTES": "f\n"})
    repo.git("checkout", "-q", "main")
    repo.commit(T0 + 3 * HOUR, {"README": "main\n"})
    repo.git("merge", "-q", "--no-ff", "feature", "-m", "merge", stamp=T0 + 4 * HOUR)
    result = replay(repo.path, "pip-cache")
    assert counts(result, "pip-cache") == (3, 1, 1, 1)
    history = read_history(repo.path, "main")
    with BlobReader(repo.path) as blobs:
        keys = evaluate_history(shipped_strategies(["pip-cache"]), history, blobs)
    on_disk = hash_files(["**/requirements.txt"], workspace=repo.path, home=tmp_path)
    assert keys["pip-cache"][-1][0].primary == f"Linux-pip-{on_disk}"


def test_setup_python_without_dependency_files_is_a_miss_that_saves_nothing(tmp_path):
    """No requirements.txt and no pyproject.toml: setup-python fails, so 2 runs, 2 misses."""
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"README": "1\n"})
    repo.commit(T0 + HOUR, {"README": "2\n"})
    result = replay(repo.path, "setup-python-pip")
    assert counts(result, "setup-python-pip") == (2, 0, 0, 2)
    assert result["strategies"]["setup-python-pip"]["saves"] == 0
    assert result["strategies"]["setup-python-pip"]["runs_without_key"] == 2


# -- a user's workflow: matrix, env, setup-uv ------------------------------------------------------


USER_WORKFLOW = """
name: ci
on: push
env:
  SALT: v2
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: echo no cache here
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ['3.11', '3.12']
    steps:
      - uses: actions/checkout@v4
      - uses: astral-sh/setup-uv@v7
        with:
          python-version: ${{ matrix.python }}
          cache-suffix: ${{ env.SALT }}
      - uses: actions/cache@v4
        with:
          path: .venv
          key: >-
            venv-${{ runner.os }}-${{ matrix.python }}-${{ env.SALT }}-${{ hashFiles('**/uv.lock')
            }}
"""


def test_user_workflow_keys_with_matrix_env_and_setup_uv(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"uv.lock": "lock 1\n", "pyproject.toml": "[project]\n"})
    repo.commit(T0 + HOUR, {"README": "x\n"})
    workflow = tmp_path / "ci.yml"
    workflow.write_text(USER_WORKFLOW)
    strategies = load_strategies(workflow, matrix={"python": "3.12"})
    assert [s.name for s in strategies] == ["ci.yml:test"]  # lint caches nothing
    history = read_history(repo.path, "main")
    with BlobReader(repo.path) as blobs:
        keys = evaluate_history(strategies, history, blobs)
    uv, venv = keys["ci.yml:test"][0]
    lock = hash_files(["**/uv.lock"], workspace=repo.path, home=tmp_path)
    glob = hash_files(
        [
            "**/*requirements*.txt",
            "**/*requirements*.in",
            "**/*constraints*.txt",
            "**/*constraints*.in",
            "**/pyproject.toml",
            "**/uv.lock",
            "**/*.py.lock",
        ],
        workspace=repo.path,
        home=tmp_path,
    )
    assert venv.primary == f"venv-Linux-3.12-v2-{lock}"
    # setup-uv v7: prune defaults to false from v9 on, so v7 prunes: "-pruned"
    assert uv.primary == f"setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-24.04-3.12-pruned-{glob}-v2"
    assert uv.restore == ()
    # the default matrix value is the first one, with a warning
    first = load_strategies(workflow)[0]
    assert first.matrix == {"python": "3.11"} and first.warnings


def test_github_workflow_is_the_name_else_the_files_path_as_on_the_runner(tmp_path):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    body = (
        "jobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/cache@v4\n        with:\n          path: ~/.cache/pip\n"
        "          key: ${{ github.workflow }}-pip\n"
    )
    (folder / "ci.yml").write_text(body)
    (folder / "named.yml").write_text("name: Tests\n" + body)
    assert load_strategies(folder / "ci.yml")[0].workflow_name == ".github/workflows/ci.yml"
    assert load_strategies(folder / "named.yml")[0].workflow_name == "Tests"


def test_setup_uv_without_dependency_files(tmp_path):
    """setup-uv's key says no-dependency-glob; it is the same each run: miss, then exact."""
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"README": "1\n"})
    repo.commit(T0 + HOUR, {"README": "2\n"})
    workflow = tmp_path / "uv.yml"
    workflow.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: astral-sh/setup-uv@v10\n"
    )
    result = replay_history(
        HistoryOptions(repo=repo.path, workflows=[workflow], archive_mb=10, figures=False)
    )
    assert counts(result, "uv.yml:t") == (2, 1, 0, 1)


# -- the command: output, errors, shallow clones ---------------------------------------------------


def test_json_output_and_figures(tmp_path, capsys):
    repo = dependency_history(tmp_path / "repo")
    out = tmp_path / "out"
    code = main(
        [
            "history",
            str(repo),
            "--scenario",
            "pip-cache",
            "uv",
            "--json",
            "--archive-mb",
            "100",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for name in ("pip-cache", "uv"):
        entry = result["strategies"][name]
        assert all(isinstance(entry[f], int) for f in ("runs", "exact", "partial", "miss"))
    assert counts(result, "pip-cache") == (7, 3, 2, 2)
    for stem in ("history-outcomes", "history-store"):
        for extension in ("png", "svg"):
            assert (out / "figures" / f"{stem}.{extension}").stat().st_size > 0
    assert json.loads((out / "history.json").read_text())["runs"] == 7


def test_default_strategies_are_the_caching_scenarios(tmp_path):
    names = [s.name for s in shipped_strategies()]
    assert "no-cache" not in names
    assert {"pip-cache", "setup-python-pip", "poetry", "pipenv", "uv"} <= set(names)


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not a git repository" in one_line_error(capsys, ["history", str(plain)])
    assert "does not exist" in one_line_error(capsys, ["history", str(tmp_path / "nope")])
    repo = dependency_history(tmp_path / "repo")
    err = one_line_error(capsys, ["history", str(repo), "--branch", "nosuch"])
    assert "nosuch" in err
    err = one_line_error(capsys, ["history", str(repo), "--since", "2030-01-01"])
    assert "no commits since 2030-01-01" in err
    empty = Repo(tmp_path / "empty")
    assert "no branch" in one_line_error(capsys, ["history", str(empty.path)])
    err = one_line_error(capsys, ["history", str(repo), "--scenario", "nosuch"])
    assert "no scenario 'nosuch'" in err


def test_since_keeps_the_later_runs(tmp_path):
    repo = dependency_history(tmp_path / "repo")
    # from day 11 on: c5 (miss, save K(B)), c6 (partial, save K(A)), c7 (exact)
    result = replay(repo, "pip-cache", since="2024-01-10")
    assert counts(result, "pip-cache") == (3, 1, 1, 1)


def test_shallow_clone_replays_what_it_has_with_a_warning(tmp_path, capsys):
    source = dependency_history(tmp_path / "repo")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--no-checkout", "--depth", "3", f"file://{source}", str(clone)],
        check=True,
        env=git_env(),
    )
    code = main(
        ["history", str(clone), "--scenario", "pip-cache", "--json", "--out", str(tmp_path / "out")]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "shallow clone: the history reaches back only to 2024-01-12 (3 runs)" in captured.err
    # c5, c6, c7 as in test_since_keeps_the_later_runs
    assert counts(json.loads(captured.out), "pip-cache") == (3, 1, 1, 1)


def test_history_reads_git_not_the_work_tree(tmp_path):
    repo = dependency_history(tmp_path / "repo")
    (repo / "requirements.txt").write_text("changed in the work tree only\n")
    (repo / "extra").mkdir()
    (repo / "extra" / "requirements.txt").write_text("untracked\n")
    assert counts(replay(repo, "pip-cache"), "pip-cache") == (7, 3, 2, 2)
    shutil.rmtree(repo / "extra")


# -- expected times from a run folder ----------------------------------------------------------


def fake_run(folder: Path) -> Path:
    """A run with one set: pip-cache warm 10/12/11 s (median 11), partial 20/22/21 (21),
    cold 30/34/32 (32), saving 150 MB archives; no-cache cold 40/44/42 (42)."""
    folder.mkdir()
    cells = {
        ("pip-cache", "warm"): [10, 12, 11],
        ("pip-cache", "partial"): [20, 22, 21],
        ("pip-cache", "cold"): [30, 34, 32],
        ("no-cache", "cold"): [40, 44, 42],
    }
    lines, order = [], 0
    for (scenario, state), totals in cells.items():
        for seconds in totals:
            order += 1
            saves = scenario == "pip-cache" and state != "warm"
            lines.append(
                json.dumps(
                    {
                        "schema": 1,
                        "trial_id": f"{scenario}/cli/{state}/{order}",
                        "deps": "cli",
                        "scenario": scenario,
                        "state": state,
                        "status": "success",
                        "order": order,
                        "total_ns": seconds * 10**9,
                        "saved_archive_bytes": 150 * MB if saves else 0,
                        "restored_archive_bytes": 0,
                    }
                )
            )
    (folder / "trials.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_expected_time_from_a_run(tmp_path):
    """Rates 3/7 exact, 2/7 partial, 2/7 miss (dependency_history):
    expected = (3 * 11 + 2 * 21 + 2 * 32) / 7 = 139 / 7 = 19.857 s per run.
    Cadence: 7 runs over 12 days 1 hour = 7 / (12.0417 / 30.44) = 17.70 runs a month, so
    19.857 * 17.70 / 60 = 5.86 CI minutes a month (no-cache: 42 * 17.70 / 60 = 12.39).
    Entries are the run's saved archive, 150 MB; peak 2 entries = 300 MB."""
    repo = dependency_history(tmp_path / "repo")
    run = fake_run(tmp_path / "run")
    options = HistoryOptions(
        repo=repo, scenarios=["pip-cache"], run_dir=run, out=tmp_path / "out", figures=False
    )
    pip = replay_history(options)["strategies"]["pip-cache"]
    assert pip["entry_bytes"] == 150 * MB
    assert pip["peak_store_bytes"] == 300 * MB
    cli = pip["by_deps"]["cli"]
    assert cli["expected_s"] == pytest.approx(139 / 7, abs=0.01)
    low, high = cli["interval_s"]
    assert low <= cli["expected_s"] <= high
    assert low >= (3 * 10 + 2 * 20 + 2 * 30) / 7 and high <= (3 * 12 + 2 * 22 + 2 * 34) / 7
    assert cli["no_cache_cold_s"] == 42
    per_month = 7 / ((12 * DAY + HOUR) / (30.44 * DAY))
    assert cli["ci_minutes_per_month"] == pytest.approx(139 / 7 * per_month / 60, abs=0.01)
    assert cli["no_cache_minutes_per_month"] == pytest.approx(42 * per_month / 60, abs=0.01)
    # the same records give the same interval
    again = replay_history(options)["strategies"]["pip-cache"]["by_deps"]["cli"]
    assert again["interval_s"] == cli["interval_s"]


def test_expected_time_names_missing_states(tmp_path):
    repo = dependency_history(tmp_path / "repo")
    run = fake_run(tmp_path / "run")
    records = [json.loads(x) for x in (run / "trials.jsonl").read_text().splitlines()]
    kept = [r for r in records if r["state"] != "partial"]
    (run / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    options = HistoryOptions(repo=repo, scenarios=["pip-cache"], run_dir=run, figures=False)
    cli = replay_history(options)["strategies"]["pip-cache"]["by_deps"]["cli"]
    assert cli["expected_s"] is None and cli["missing_states"] == ["partial"]


# -- refinements: scheduled runs, pull requests, one shared store ------------------------------


def test_daily_schedule_keeps_entries_alive(tmp_path):
    """dependency_history with a cron run at 00:00 UTC on days 1..12, each with the keys of the
    newest push strictly before it, run before a push of the same second:
      c1 d0 miss (save A) · s d1 exact A · c2 d1 exact · s d2 exact A · c3 d2 partial (save B)
      · s d3, c4 d3, s d4 ... s d11 exact B (B accessed every day) · A idle since d2 expires
      before s d10 (8 days > 7; at s d9 it is exactly 7, kept): 1 by age · c5 d11 exact B
      · s d12 exact B · c6 d12 partial (save A) · c7 exact.
    pushes: runs 7, exact 4, partial 2, miss 1; scheduled: 12 runs, all exact; 3 saves."""
    repo = dependency_history(tmp_path / "repo")
    result = replay(repo, "pip-cache", schedule="daily")
    pip = result["strategies"]["pip-cache"]
    assert counts(result, "pip-cache") == (7, 4, 2, 1)
    assert pip["schedule"] == {"runs": 12, "exact": 12, "partial": 0, "miss": 0}
    assert pip["evicted_by_age"] == 1
    assert pip["saves"] == 3


def test_pull_requests_read_their_own_scope_then_the_branch(tmp_path):
    """main c1 (reqs A) t0; a PR from c1: f1 (reqs B) t0+1h, f2 (NOTES) t0+2h; main c2 t0+3h;
    the PR merged as m1 at t0+4h.
      c1 push miss, save A (branch) · f1 PR: own scope empty, branch: prefix -> A, partial,
      save B in the PR's scope · f2 PR: exact B (own scope) · c2 push exact A · m1 push: B is
      invisible to the branch, prefix -> A, partial, save B (branch).
    pushes: runs 3, exact 1, partial 1, miss 1; PR: runs 2, exact 1, partial 1; 3 saves."""
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"requirements.txt": "A==1\n"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit(T0 + HOUR, {"requirements.txt": "B==1\n"})
    repo.commit(T0 + 2 * HOUR, {"NOTES": "f\n"})
    repo.git("checkout", "-q", "main")
    repo.commit(T0 + 3 * HOUR, {"README": "main\n"})
    repo.git("merge", "-q", "--no-ff", "feature", "-m", "merge", stamp=T0 + 4 * HOUR)
    result = replay(repo.path, "pip-cache", pull_requests=True)
    pip = result["strategies"]["pip-cache"]
    assert counts(result, "pip-cache") == (3, 1, 1, 1)
    assert pip["pull_request"] == {"runs": 2, "exact": 1, "partial": 1, "miss": 0}
    assert pip["saves"] == 3
    assert pip["distinct_keys_saved"] == 2


def test_shared_store_lets_strategies_evict_each_other(tmp_path):
    """Two strategies with 100 MB entries in one 0.15 GB store, on the size-eviction history's
    first two pushes (reqs A then B); each step is replayed pip-cache first, then uv:
      c1: pip miss, save pA (100 MB); uv miss, save uA: 200 MB > 150 -> evict pA (LRU)
      c2: pip: pB absent, prefix Linux-pip- finds nothing (pA gone) -> miss, save pB, evict uA;
          uv: uB absent, prefix uv-Linux- nothing -> miss, save uB, evict pB.
    each strategy: 2 runs, 2 misses; the store's evictions by size: 3 (shared counters).
    Apart, each would be: miss, partial."""
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"requirements.txt": "A==1\n"})
    repo.commit(T0 + HOUR, {"requirements.txt": "B==1\n"})
    shared = replay(repo.path, "pip-cache", "uv", limit_gb=0.15, shared_store=True)
    assert counts(shared, "pip-cache") == (2, 0, 0, 2)
    assert counts(shared, "uv") == (2, 0, 0, 2)
    assert shared["strategies"]["uv"]["evicted_by_size"] == 3
    apart = replay(repo.path, "pip-cache", "uv", limit_gb=0.15)
    assert counts(apart, "pip-cache") == (2, 0, 1, 1)


def test_report_ranks_strategies_by_expected_time(tmp_path):
    """With history.json in the run folder, "What the numbers say" gains the ranking: on the
    fake run, pip-cache 139 / 7 = 19.9 s per run against no-cache's 42 s."""
    from bench.history.ranking import with_history_ranking, write_replay

    repo = dependency_history(tmp_path / "repo")
    run = fake_run(tmp_path / "run")
    text = "# report\n## What the numbers say\n\n- cli: findings\n\n## cli\n\ntable\n"
    assert with_history_ranking(text, run) == text  # no replay yet
    assert write_replay(repo, run) == run / "history.json"
    ranked = with_history_ranking(text, run)
    section = ranked[ranked.index("## What the numbers say") : ranked.index("## cli")]
    assert "- cli: findings" in section
    assert "- cli: pip-cache 19.9 s" in section
    assert "no-cache cold 42.0 s" in section
    assert "(figures/history-outcomes.png)" in section


def test_setup_python_keys_shared_with_the_action():
    """Spec section 7: pip restores from its prefix; pipenv and poetry (poetry-v2) do not."""
    from bench.workflow.cachekeys import setup_python_keys

    parts = dict(runner_os="Linux", arch="x64", os_version="24.04", os_name="Ubuntu")
    pip = setup_python_keys(**parts, python_version="3.12.3", manager="pip", digest="abc")
    assert pip.primary == "setup-python-Linux-x64-24.04-Ubuntu-python-3.12.3-pip-abc"
    assert pip.restore == ("setup-python-Linux-x64-24.04-Ubuntu-python-3.12.3-pip",)
    poetry = setup_python_keys(**parts, python_version="3.12.3", manager="poetry", digest="d")
    assert poetry.primary.endswith("-python-3.12.3-poetry-v2-d") and poetry.restore == ()


def test_speed_benchmark_runs_on_a_small_synthetic_repository(capsys):
    from bench.history.speed import run_speed

    assert run_speed(60) == 0
    out = capsys.readouterr().out
    assert "synthetic repository: 60 commits" in out and "pip-cache" in out


def test_a_broken_link_fails_hash_files_as_on_the_runner(tmp_path):
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"a.txt": "a\n", "broken.txt": "-> nowhere.txt"})
    from bench.ghcache.hashfiles import HashFilesError

    with pytest.raises(HashFilesError):
        hash_files(["**/*.txt"], workspace=repo.path, home=tmp_path)
    with BlobReader(repo.path) as blobs:
        hasher = TreeHasher(read_tree(repo.path, "HEAD"), blobs.read)
        with pytest.raises(HashFilesError):
            hasher.hash_files("**/*.txt")
        # following links (setup-python, setup-uv), a broken one is skipped, as on disk
        followed = hash_files(
            ["**/*.txt"], workspace=repo.path, home=tmp_path, follow_symbolic_links=True
        )
        assert hasher.hash_files("**/*.txt", follow_symbolic_links=True) == followed


def test_the_replay_does_not_import_the_job_runner():
    code = (
        "import sys, bench.history.command, bench.history.ranking, bench.history.speed\n"
        "bad = [m for m in sys.modules if m.startswith(('bench.runner', 'bench.workflow.job',"
        " 'bench.workflow.actions', 'bench.workflow.parse', 'bench.execute'))]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_a_commit_where_hash_files_fails_is_a_miss_that_saves_nothing(tmp_path):
    """key: k-${{ hashFiles('**/*.txt') }}, restore key k-.
      c1 a.txt            miss, save k-H (H: hash of a.txt)
      c2 + broken.txt     hashFiles fails: the job fails, a miss, nothing saved
      c3 - broken.txt     k-H again: exact
    runs 3, exact 1, partial 0, miss 2; 1 failing run; 1 save."""
    repo = Repo(tmp_path / "repo")
    repo.commit(T0, {"a.txt": "a\n"})
    repo.commit(T0 + HOUR, {"broken.txt": "-> nowhere.txt"})
    repo.commit(T0 + 2 * HOUR, {"broken.txt": None})
    workflow = tmp_path / "w.yml"
    workflow.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/cache@v4\n        with:\n          path: x\n"
        "          key: k-${{ hashFiles('**/*.txt') }}\n          restore-keys: k-\n"
    )
    result = replay_history(
        HistoryOptions(repo=repo.path, workflows=[workflow], archive_mb=10, figures=False)
    )
    entry = result["strategies"]["w.yml:t"]
    assert counts(result, "w.yml:t") == (3, 1, 0, 2)
    assert entry["runs_failing"] == 1 and "broken" in entry["first_failure"]
    assert entry["saves"] == 1
