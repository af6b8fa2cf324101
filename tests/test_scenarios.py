"""Every shipped scenario, cold, warm and partial, on a tiny dependency set against the tests'
own mirror (offline): each trial succeeds, restores what its state promises, and leaves the
store holding what the action would have saved."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bench import execute, results
from bench.ghcache.hashfiles import hash_files
from bench.plan import PlanOptions, shipped_scenarios
from tests.tinyset import build_set, build_wheelhouse, free_port

pytestmark = pytest.mark.slow  # every shipped scenario as real jobs, cold, warm and partial

SETUP_UV = ["setup-uv", "setup-uv-pruned"]
# setup-uv passes no restore keys, so its partial state is a miss: it has tests of its own.
CACHING = [name for name in shipped_scenarios() if name not in ("no-cache", *SETUP_UV)]


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    """The tiny set, a wheelhouse with it and the tools, and the port its locks name."""
    root = tmp_path_factory.mktemp("bench")
    wheelhouse = build_wheelhouse(root / "wheelhouse")
    port = free_port()
    return root, wheelhouse, port, build_set(root, wheelhouse, port)


@pytest.fixture(scope="module")
def tiny_run(tiny_bench):
    root, wheelhouse, port, deps = tiny_bench
    options = PlanOptions(deps=[str(deps)], reps=1, seed=7, profile="unthrottled")
    state = execute.start_run(options, root / "results", port=port)
    progress = io.StringIO()
    failures = execute.execute(state, wheelhouse=wheelhouse, port=port, out=progress)
    records = {r.trial_id: r.to_json() for r in results.read_trials(state.run_dir).records}
    return state, failures, records, progress.getvalue()


def record(records, scenario, state):
    return records[f"{scenario}/tiny/{state}/1"]


def test_every_trial_of_the_plan_ran_and_succeeded(tiny_run):
    state, failures, records, progress = tiny_run
    # no-cache cold; the others cold, warm and partial; setup-uv cold and warm (no restore keys)
    assert len(records) == len(state.trials) == 1 + 3 * len(CACHING) + 2 * len(SETUP_UV)
    failed = {tid: r["error"] for tid, r in records.items() if r["status"] != "success"}
    assert failed == {}
    assert failures == 0
    assert f"[{len(records)}/{len(records)}]" in progress
    run = results.read_json(state.run_dir / results.RUN_FILE)
    assert run["status"] == "complete" and run["trials_failed"] == 0
    assert not (state.run_dir / "work").exists()  # snapshots and runner removed at the end


@pytest.mark.parametrize("scenario", CACHING)
def test_cold_misses_and_saves_one_entry(tiny_run, scenario):
    trial = record(tiny_run[2], scenario, "cold")
    miss = "false" if scenario == "setup-python-pip" else ""  # setup-python says false
    assert trial["cache_hit"] == [miss]
    assert trial["restored_archive_bytes"] == 0
    assert len(trial["store_after"]) == 1
    assert trial["saved_archive_bytes"] == trial["store_after"][0]["size"] > 0


@pytest.mark.parametrize("scenario", CACHING)
def test_warm_hits_exactly_and_saves_nothing(tiny_run, scenario):
    records = tiny_run[2]
    cold, warm = record(records, scenario, "cold"), record(records, scenario, "warm")
    assert warm["cache_hit"] == ["true"]
    assert warm["matched_keys"] == [cold["store_after"][0]["key"]]
    assert [e["key"] for e in warm["store_after"]] == [e["key"] for e in cold["store_after"]]
    assert warm["saved_archive_bytes"] == 0
    assert warm["restored_archive_bytes"] > 0


@pytest.mark.parametrize("scenario", CACHING)
def test_partial_restores_the_previous_revision_then_saves_the_new_key(tiny_run, scenario):
    records = tiny_run[2]
    cold, partial = record(records, scenario, "cold"), record(records, scenario, "partial")
    current_key = cold["store_after"][0]["key"]
    keys = [entry["key"] for entry in partial["store_after"]]
    assert current_key in keys and len(keys) == 2  # the previous revision's and the new one
    assert partial["cache_hit"] == ["false"]
    assert partial["matched_keys"][0] not in ("", current_key)
    assert partial["restored_archive_bytes"] > 0


def test_setup_python_pip_key_has_the_documented_shape(tiny_run):
    trial = record(tiny_run[2], "setup-python-pip", "cold")
    key = trial["store_after"][0]["key"]
    assert re.fullmatch(
        r"setup-python-Linux-x64-[^-]+-[^-]+-python-3\.11\.\d+-pip-[0-9a-f]{64}", key
    )


def test_no_cache_restores_and_saves_nothing(tiny_run):
    trial = record(tiny_run[2], "no-cache", "cold")
    assert trial["cache_hit"] == [] and trial["store_after"] == []
    assert trial["mirror_files"] > 0


def test_warm_venv_cache_skip_skips_the_install(tiny_run):
    steps = record(tiny_run[2], "venv-cache-skip", "warm")["steps"]
    install = next(s for s in steps if s["name"] == "Install into the venv")
    assert install["outcome"] == "skipped"
    cache_step = next(s for s in steps if s["name"] == "Cache the venv" and s["stage"] == "main")
    assert cache_step["outputs"] == {"cache-hit": "true"}


def install_downloads(trial) -> int:
    return sum(s["mirror_files"] for s in trial["steps"] if s["phase"] == "install")


@pytest.mark.parametrize("scenario", ["pip-cache", "setup-python-pip", "poetry"])
def test_a_warm_cache_downloads_no_package_file(tiny_run, scenario):
    cold, warm = record(tiny_run[2], scenario, "cold"), record(tiny_run[2], scenario, "warm")
    assert install_downloads(warm) == 0
    assert install_downloads(cold) > 0


def test_uv_prune_for_ci_keeps_only_what_uv_built(tiny_run):
    """``uv cache prune --ci`` drops downloaded wheels and keeps wheels built from sdists, so a
    warm uv job downloads the wheels again but not the one sdist of the set."""
    cold, warm = record(tiny_run[2], "uv", "cold"), record(tiny_run[2], "uv", "warm")
    assert install_downloads(warm) == install_downloads(cold) - 1


SETUP_UV_KEY = (
    r"setup-uv-2-x86_64-unknown-linux-gnu-[a-z]+-[0-9.]+-3\.11\.\d+{pruned}-[0-9a-f]{{64}}"
)


@pytest.mark.parametrize("scenario", SETUP_UV)
def test_setup_uv_cold_misses_and_saves_under_the_documented_key(tiny_run, scenario):
    trial = record(tiny_run[2], scenario, "cold")
    assert trial["cache_hit"] == ["false"]
    assert trial["restored_archive_bytes"] == 0
    (entry,) = trial["store_after"]
    pruned = "-pruned" if scenario == "setup-uv-pruned" else ""
    assert re.fullmatch(SETUP_UV_KEY.format(pruned=pruned), entry["key"]), entry["key"]
    assert trial["saved_archive_bytes"] == entry["size"] > 0


@pytest.mark.parametrize("scenario", SETUP_UV)
def test_setup_uv_warm_hits_its_key_and_saves_nothing(tiny_run, scenario):
    records = tiny_run[2]
    cold, warm = record(records, scenario, "cold"), record(records, scenario, "warm")
    assert warm["cache_hit"] == ["true"]
    assert warm["matched_keys"] == [cold["store_after"][0]["key"]]
    assert warm["store_after"] == cold["store_after"]
    assert warm["saved_archive_bytes"] == 0 < warm["restored_archive_bytes"]


def test_setup_uv_runs_no_partial_state(tiny_run):
    """No restore keys: a previous revision's entry never matches, so there is no partial."""
    assert not [key for key in tiny_run[2] if key.startswith("setup-uv") and "/partial/" in key]


def test_setup_uv_warm_downloads_nothing_and_pruned_only_the_built_wheel(tiny_run):
    """The unpruned cache holds every wheel; ``prune-cache: true`` keeps only what uv built
    (the set's one sdist), so a warm pruned job downloads the wheels again."""
    records = tiny_run[2]
    full = record(records, "setup-uv", "cold"), record(records, "setup-uv", "warm")
    pruned = record(records, "setup-uv-pruned", "cold"), record(records, "setup-uv-pruned", "warm")
    assert install_downloads(full[0]) > 0 and install_downloads(full[1]) == 0
    assert install_downloads(pruned[1]) == install_downloads(pruned[0]) - 1
    assert pruned[0]["saved_archive_bytes"] < full[0]["saved_archive_bytes"]


def test_every_step_is_timed_and_grouped_in_phases(tiny_run):
    for trial in tiny_run[2].values():
        ran = [s for s in trial["steps"] if s["outcome"] != "skipped"]
        assert all(s["duration_ns"] > 0 for s in ran)
        assert sum(trial["phases_ns"].values()) == trial["total_ns"]
        assert trial["phases_ns"]["test"] > 0 and trial["phases_ns"]["install"] > 0
        assert 0 < trial["harness_ns"] < trial["wall_ns"]


def test_the_uv_prune_step_counts_as_save(tiny_run):
    steps = record(tiny_run[2], "uv", "cold")["steps"]
    prune = next(s for s in steps if s["name"] == "Minimize uv cache")
    assert prune["phase"] == "save"


def test_resume_of_a_finished_run_has_nothing_left(tiny_run, tmp_path):
    state = tiny_run[0]
    resumed = execute.resume_run(Path(state.run_dir))
    assert {t.id for t in resumed.trials} == resumed.done


COMPARE = """\
on: push
jobs:
  compare:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: '3.11'}
      - run: pip install poetry==2.5.1 pipenv==2026.10.3
      - id: pip
        run: |
          python -m venv "$RUNNER_TEMP/venv"
          pip="$RUNNER_TEMP/venv/bin/pip"
          "$pip" install -r requirements.txt
          echo "freeze=$("$pip" freeze | sort | paste -sd' ')" >> "$GITHUB_OUTPUT"
      - id: poetry
        run: |
          poetry install --no-root --no-interaction
          echo "freeze=$(poetry run python -m pip freeze | sort | paste -sd' ')" >> "$GITHUB_OUTPUT"
      - id: pipenv
        run: |
          pipenv install --deploy
          echo "freeze=$(pipenv run python -m pip freeze | sort | paste -sd' ')" >> "$GITHUB_OUTPUT"
"""


def test_pip_poetry_and_pipenv_install_the_same_set(tiny_bench):
    """The derived poetry and pipenv projects install exactly what requirements.txt pins."""
    root, wheelhouse, port, deps = tiny_bench
    workflow = root / "compare.yml"
    workflow.write_text(COMPARE)
    options = PlanOptions(
        workflows=[str(workflow)],
        deps=[str(deps)],
        states=["cold"],
        reps=1,
        profile="unthrottled",
    )
    state = execute.start_run(options, root / "compare-results", port=port)
    execute.execute(state, wheelhouse=wheelhouse, port=port, out=io.StringIO())
    (record,) = results.read_trials(state.run_dir).records
    trial = record.to_json()
    assert trial["status"] == "success", trial["error"]
    freezes = {
        s["index"]: s["outputs"]["freeze"] for s in trial["steps"] if "freeze" in s["outputs"]
    }
    installed = {
        tool: set(freezes[index].split())
        for index, tool in [(4, "pip"), (5, "poetry"), (6, "pipenv")]
    }
    assert "tinysrc==0.5" in installed["pip"] and "tinytwo==2.0" in installed["pip"]
    assert installed["poetry"] == installed["pip"] == installed["pipenv"]


POETRY_CACHE = """\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0
      - name: Install poetry in its own venv, as pipx does (setup-python asks poetry for paths)
        run: |
          python3 -m venv "$RUNNER_TEMP/poetry"
          "$RUNNER_TEMP/poetry/bin/pip" install poetry==2.5.1
          echo "$RUNNER_TEMP/poetry/bin" >> "$GITHUB_PATH"
        env:
          BENCH_PHASE: setup
      - uses: actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0
        with:
          python-version: '3.11'
          cache: poetry
      - run: poetry install --no-root --no-interaction
      - run: poetry run pytest tests/
"""


def test_setup_python_cache_poetry_keys_poetry_lock_and_restores_the_virtualenvs(tiny_bench):
    """Spec section 7: key ``...-python-<ver>-poetry-v2-<hash of poetry.lock>``, no restore key,
    the path poetry's ``virtualenvs.path``; warm, the restored venv makes the install a no-op."""
    root, wheelhouse, port, deps = tiny_bench
    workflow = root / "setup-python-poetry.yml"
    workflow.write_text(POETRY_CACHE)
    options = PlanOptions(
        workflows=[str(workflow)],
        deps=[str(deps)],
        states=["cold", "warm"],
        reps=1,
        profile="unthrottled",
    )
    state = execute.start_run(options, root / "poetry-cache-results", port=port)
    execute.execute(state, wheelhouse=wheelhouse, port=port, out=io.StringIO())
    trials = {r.state: r.to_json() for r in results.read_trials(state.run_dir).records}
    cold, warm = trials["cold"], trials["warm"]
    assert cold["status"] == warm["status"] == "success", (cold["error"], warm["error"])

    lock_only = root / "poetry-lock-only"
    lock_only.mkdir()
    (lock_only / "poetry.lock").write_bytes((deps / "poetry.lock").read_bytes())
    digest = hash_files(["**/poetry.lock"], workspace=lock_only, home=root)
    (restore,) = [s["cache"] for s in cold["steps"] if s.get("cache") and s["stage"] == "main"]
    assert re.fullmatch(
        rf"setup-python-Linux-x64-[^-]+-[^-]+-python-3\.11\.\d+-poetry-v2-{digest}", restore["key"]
    )
    assert restore["paths"][0].endswith("/.cache/pypoetry/virtualenvs")
    assert cold["cache_hit"] == ["false"] and cold["restored_archive_bytes"] == 0
    assert [e["key"] for e in cold["store_after"]] == [restore["key"]]

    assert warm["cache_hit"] == ["true"]
    assert warm["matched_keys"] == [restore["key"]]
    assert warm["saved_archive_bytes"] == 0 < warm["restored_archive_bytes"]
    assert install_downloads(cold) > 0 and install_downloads(warm) == 0
