"""advise end to end, offline: a small git repository with history, its own workflow and tests.

The repository's requirements change once (tinytwo added), so the partial state comes from git;
its workflow caches pip's folder. The candidates are narrowed to no-cache and pip-cache and
each runs once, to keep the test short: too few trials for an interval, which the
recommendation must say.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import yaml

from bench.advise.command import YOURS, AdviseOptions, advise, summary_lines
from bench.advise.rewrite import actionlint
from tests.gitrepo import git_env
from tests.helpers import write
from tests.tinyset import (
    CURRENT,
    PREVIOUS,
    TEST_TINY,
    build_wheelhouse,
    free_port,
    pinned_requirements,
)

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: CI
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - run: echo lint
  tests:
    runs-on: ubuntu-latest
    needs: lint
    strategy:
      matrix:
        python-version: ['3.11']
    steps:
      - uses: actions/checkout@v6
      - uses: actions/setup-python@v6
        with:
          python-version: ${{ matrix.python-version }}
      - uses: actions/cache@v5
        with:
          path: ~/.cache/pip
          key: pip-${{ hashFiles('requirements.txt') }}
      - run: pip install -r requirements.txt
      - run: pytest -q tests
"""


def git(repo: Path, *args: str, date: str) -> None:
    env = git_env() | {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture(scope="module")
def advised(tmp_path_factory):
    root = tmp_path_factory.mktemp("advise")
    wheelhouse = build_wheelhouse(root / "wheelhouse")
    repo = root / "project"
    write(repo / "requirements.txt", pinned_requirements(wheelhouse, PREVIOUS))
    write(repo / "tests" / "test_tiny.py", TEST_TINY)
    write(repo / ".github" / "workflows" / "ci.yml", WORKFLOW)
    git(repo, "init", "-q", "-b", "main", date="2026-11-01T10:00:00Z")
    git(repo, "add", "-A", date="2026-11-01T10:00:00Z")
    git(repo, "commit", "-qm", "first", date="2026-11-01T10:00:00Z")
    write(repo / "requirements.txt", pinned_requirements(wheelhouse, CURRENT))
    git(repo, "commit", "-qam", "add tinytwo", date="2026-11-02T10:00:00Z")
    write(repo / "README.md", "a change that touches no dependency\n")
    git(repo, "add", "-A", date="2026-11-03T10:00:00Z")
    git(repo, "commit", "-qm", "docs", date="2026-11-03T10:00:00Z")
    write(repo / "untracked.txt", "not in git: not in the workspace\n")
    options = AdviseOptions(
        path=repo, out=root / "out", profile="unthrottled", strategies=["no-cache", "pip-cache"],
        reps=1, wheelhouse=wheelhouse, port=free_port(), fetch=False,
    )  # fmt: skip
    progress = io.StringIO()
    return advise(options, out=progress), progress.getvalue(), repo


def test_their_job_and_the_candidates_ran(advised):
    result, progress, _repo = advised
    assert "your job: ci.yml:tests; tests: pytest -q tests" in progress
    text = result.recommendation.read_text()
    assert text.startswith("# Caching advice for project\n")
    for name in ("your job", "pip-cache", "no-cache"):
        assert f"| {name} " in text, name
    assert "## Failed here" not in text, text
    # pip-cache cold, warm, partial; yours cold, warm (no restore-keys: no partial); no-cache cold
    assert result.trials == 6


def test_one_trial_a_state_gives_a_ranking_but_no_confidence(advised):
    result, _progress, _repo = advised
    assert result.verdict is not None
    assert result.verdict.significant is None and result.verdict.saving is None
    assert "not enough trials" in result.recommendation.read_text()


def test_hit_rates_come_from_the_repositorys_history(advised):
    result, _progress, _repo = advised
    table = result.recommendation.read_text().splitlines()
    rows = [line for line in table if line.startswith("| pip-cache")]
    # three pushes: a miss, a restore-key hit (requirements changed), an exact hit
    assert "33% / 33% / 33%" in rows[0]
    yours = [line for line in table if line.startswith("| your job")]
    # their key has no restore-keys: miss, miss (new key, no prefix match), exact
    assert "33% / 0% / 67%" in yours[0]


def test_the_recommended_job_is_their_file_and_passes_actionlint(advised):
    result, _progress, _repo = advised
    assert result.recommended is not None
    document = yaml.safe_load(result.recommended.read_text())
    assert set(document["jobs"]) == {"lint", "tests"}  # their other job is kept
    assert actionlint(result.recommended) == []
    diff = (result.folder / "recommended.diff").read_text()
    if result.verdict.winner == YOURS:
        assert diff == ""
    else:
        assert diff.startswith("--- a/.github/workflows/ci.yml")


def test_the_terminal_ends_with_the_answer_and_the_paths(advised):
    result, _progress, _repo = advised
    lines = summary_lines(result)
    assert lines[0].startswith("advice: use ")
    assert lines[-1].startswith("job to paste: ")


def test_nothing_is_written_into_the_repository(advised):
    _result, _progress, repo = advised
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
    ).stdout
    assert status == "?? untracked.txt\n"


POETRY_WORKFLOW = """\
name: CI
on: [push]
jobs:
  tests:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: actions/setup-python@v6
        with:
          python-version: '3.11'
      - run: pip install poetry
      - run: poetry install --no-interaction
      - run: poetry run pytest -q tests
"""


def as_if_locked_against_the_public_index(project: Path) -> None:
    """A derived poetry project without its mirror source: what a public project looks like."""
    import re
    import tomllib

    from bench.intake.poetrylock import content_hash

    pyproject = project / "pyproject.toml"
    text = re.sub(r"\[\[tool\.poetry\.source\]\]\n(?:[^\n\[]+\n)*", "", pyproject.read_text())
    pyproject.write_text(text)
    lock = project / "poetry.lock"
    lock_text = re.sub(r"\n\[package\.source\]\n(?:[^\n\[]+\n)*", "\n", lock.read_text())
    new_hash = content_hash(tomllib.loads(text))
    lock_text = re.sub(r'content-hash = "[0-9a-f]+"', f'content-hash = "{new_hash}"', lock_text)
    lock.write_text(lock_text)
    assert "127.0.0.1" not in lock.read_text() and "tool.poetry.source" not in text


def test_a_poetry_project_without_a_source_installs_from_the_mirror(tmp_path):
    from tests.tinyset import build_set

    wheelhouse = build_wheelhouse(tmp_path / "wheelhouse")
    deps = build_set(tmp_path / "set", wheelhouse, free_port())
    repo = tmp_path / "project"
    for name in ("pyproject.toml", "poetry.lock"):
        write(repo / name, (deps / name).read_text())
    as_if_locked_against_the_public_index(repo)
    write(repo / "tests" / "test_tiny.py", TEST_TINY)
    write(repo / ".github" / "workflows" / "ci.yml", POETRY_WORKFLOW)
    git(repo, "init", "-q", "-b", "main", date="2026-11-01T10:00:00Z")
    git(repo, "add", "-A", date="2026-11-01T10:00:00Z")
    git(repo, "commit", "-qm", "first", date="2026-11-01T10:00:00Z")
    options = AdviseOptions(
        path=repo, out=tmp_path / "out", profile="unthrottled", strategies=["poetry", "no-cache"],
        reps=1, wheelhouse=wheelhouse, port=free_port(), fetch=False,
    )  # fmt: skip
    progress = io.StringIO()
    result = advise(options, out=progress)
    assert "poetry reads the mirror" in progress.getvalue()
    text = result.recommendation.read_text()
    assert "## Failed here" not in text, text
    assert "| poetry " in text and "| your job " in text
    assert "| no-cache " in text  # poetry without its cache: the uncached baseline ran
    assert (repo / "pyproject.toml").read_text().count("tool.poetry.source") == 0  # theirs: as is
