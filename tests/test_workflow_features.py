"""The parts of real workflows that need no job to run: references and their versions,
setup-uv's key (spec section 8), matrices, job keys set aside, and check-workflow."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench import cli
from bench.errors import BenchError
from bench.workflow.matrix import MatrixError, expand, runs_on_problem, static_contexts
from bench.workflow.parse import WorkflowError, load_workflow
from bench.workflow.refs import parse_ref
from bench.workflow.registry import UnknownAction, find_spec
from bench.workflow.uvkey import (
    UvKeyParts,
    default_dependency_glob,
    enable_cache_default,
    prune_default,
    setup_uv_key,
)

SHA = "d0cc045d04ccac9d8b7881df0226f9e82c39688e"
HASH = "ab" * 32

# -- references ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uses", "comment", "version"),
    [
        ("actions/checkout@v4", "", (4,)),
        ("actions/checkout@v4.2.1", "", (4, 2, 1)),
        ("actions/checkout@main", "", None),
        (f"astral-sh/setup-uv@{SHA}", "# v6.0.2", (6, 0, 2)),
        (f"astral-sh/setup-uv@{SHA}", "#v7", (7,)),
        (f"astral-sh/setup-uv@{SHA}", "", None),
        (f"astral-sh/setup-uv@{SHA}", "# pinned on purpose", None),
    ],
)
def test_a_reference_means_the_version_it_names_or_its_comment_names(uses, comment, version):
    ref = parse_ref(uses, comment)
    assert ref.written == uses
    assert ref.version == version


def test_at_least_compares_only_what_a_moving_tag_names():
    assert parse_ref("a/b@v7").at_least(7, 1, 6)  # v7 is the newest v7.x
    assert not parse_ref("a/b@v7.1.5").at_least(7, 1, 6)
    assert parse_ref("a/b@v7.1").at_least(7, 1, 6)
    assert not parse_ref("a/b@v8").at_least(9)
    assert parse_ref("a/b@main").at_least(99)


def test_the_comment_after_a_pinned_uses_is_read_from_the_file(tmp_path):
    path = tmp_path / "wf.yml"
    path.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: astral-sh/setup-uv@{SHA}   # v6.0.2\n"
        "      - uses: actions/checkout@v6 # latest\n"
    )
    steps = load_workflow(path).steps
    assert steps[0].uses == f"astral-sh/setup-uv@{SHA}"
    assert steps[0].action.version == (6, 0, 2)
    assert steps[1].action.comment == "# latest" and steps[1].action.version == (6,)


def test_old_setup_uv_and_unknown_actions_are_refused_by_name():
    with pytest.raises(UnknownAction, match=r"before v3 are not emulated"):
        find_spec(parse_ref("astral-sh/setup-uv@v2"))
    assert find_spec(parse_ref("astral-sh/setup-uv@v3")).name == "astral-sh/setup-uv"
    with pytest.raises(UnknownAction, match="not supported"):
        find_spec(parse_ref("someone/thing@v1"))
    assert find_spec(parse_ref("Codecov/codecov-action@v5")).stand_in


# -- setup-uv's key -------------------------------------------------------------------------------


def test_the_newest_key_has_the_documented_shape():
    parts = UvKeyParts(python="3.12", files_hash=HASH, os_name_version="ubuntu-24.04")
    assert setup_uv_key(parts) == (f"setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-24.04-3.12-{HASH}")


def test_pruned_python_cache_and_suffix_segments_in_order():
    parts = UvKeyParts(
        python="3.12.3",
        files_hash=HASH,
        os_name_version="ubuntu-26.04",
        pruned=True,
        cache_python=True,
        suffix="lint job",
    )
    assert setup_uv_key(parts) == (
        f"setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-26.04-3.12.3-pruned-py-{HASH}-lint%20job"
    )


def test_nothing_matched_and_a_python_range_as_written():
    parts = UvKeyParts(python=">=3.11,<3.13", files_hash="", os_name_version="ubuntu-24.04")
    assert setup_uv_key(parts) == (
        "setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-24.04-%3E%3D3.11%2C%3C3.13-no-dependency-glob"
    )


def test_older_versions_have_their_own_keys():
    parts = UvKeyParts(python="3.12", files_hash=HASH, os_name_version="ubuntu-24.04", pruned=True)
    assert setup_uv_key(parts, parse_ref(f"astral-sh/setup-uv@{SHA}", "# v7.1.5")) == (
        f"setup-uv-1-x86_64-unknown-linux-gnu-3.12-pruned-{HASH}"
    )
    assert setup_uv_key(parts, parse_ref("astral-sh/setup-uv@v7.1.6")).startswith(
        "setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-24.04-3.12-pruned-"
    )
    assert setup_uv_key(parts, parse_ref("astral-sh/setup-uv@v5")) == (
        f"setup-uv-1-x86_64-unknown-linux-gnu-3.12-{HASH}"  # no -pruned before v6.1
    )


def test_before_v5_1_the_uv_version_is_in_the_key():
    parts = UvKeyParts(python="3.12", files_hash=HASH, uv_version="0.4.30", pruned=True)
    assert setup_uv_key(parts, parse_ref("astral-sh/setup-uv@v5.0.1")) == (
        f"setup-uv-1-x86_64-unknown-linux-gnu-0.4.30-3.12-{HASH}"
    )
    assert setup_uv_key(parts, parse_ref("astral-sh/setup-uv@v4")) == (
        f"setup-uv-1-x86_64-unknown-linux-gnu-0.4.30-{HASH}"
    )


def test_defaults_that_changed_between_versions():
    assert default_dependency_glob(None)[-1] == "**/*.py.lock"
    assert "**/*.py.lock" not in default_dependency_glob(parse_ref("a/b@v6.7.0"))
    assert len(default_dependency_glob(parse_ref("a/b@v6.0.0"))) == 6  # the extglob, written out
    assert default_dependency_glob(parse_ref("a/b@v5")) == ("**/uv.lock", "**/requirements*.txt")
    assert default_dependency_glob(parse_ref("a/b@v4")) == ("**/uv.lock",)
    assert enable_cache_default(parse_ref("a/b@v4")) == "false"
    assert enable_cache_default(parse_ref("a/b@v5")) == "auto"


def test_prune_cache_defaults_to_true_before_v9():
    assert prune_default(parse_ref("astral-sh/setup-uv@v8"))
    assert prune_default(parse_ref(f"astral-sh/setup-uv@{SHA}", "# v6.4.3"))
    assert not prune_default(parse_ref("astral-sh/setup-uv@v9"))
    assert not prune_default(parse_ref("astral-sh/setup-uv@main"))
    assert not prune_default(None)


# -- matrices and runs-on -----------------------------------------------------------------------


def test_include_and_exclude_follow_githubs_rules():
    matrix = {
        "fruit": ["apple", "pear"],
        "animal": ["cat", "dog"],
        "exclude": [{"fruit": "pear", "animal": "dog"}],
        "include": [
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ],
    }
    cells = expand(matrix, static_contexts())
    assert cells == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_matrix_expressions_are_evaluated_and_needs_is_explained():
    matrix = {"python": '${{ fromJSON(\'["3.11", "3.12"]\') }}'}
    assert expand(matrix, static_contexts()) == [{"python": "3.11"}, {"python": "3.12"}]
    with pytest.raises(MatrixError, match="another job's outputs"):
        expand("${{ fromJSON(needs.setup.outputs.matrix) }}", static_contexts())


@pytest.mark.parametrize(
    ("runs_on", "reason"),
    [
        ("ubuntu-latest", None),
        ("ubuntu-24.04", None),
        ("windows-2022", "not Windows"),
        ("macos-15", "not macOS"),
        (["self-hosted", "linux"], "self-hosted"),
        ("ubuntu-24.04-arm", "arm64"),
        ("blacksmith-4vcpu-ubuntu-2404", None),
        ("blacksmith-4vcpu-ubuntu-2404-arm", "arm64"),
        ("buildjet-4vcpu-debian", "not a GitHub-hosted Linux label"),
        ({"group": "big"}, "runner group"),
    ],
)
def test_runs_on_is_judged(runs_on, reason):
    problem = runs_on_problem(runs_on)
    assert (problem is None) if reason is None else (reason in problem)


JOB_KEYS = """\
on: push
jobs:
  release:
    name: Release to the index
    needs: [build, test]
    if: startsWith(github.ref, 'refs/tags/')
    runs-on: ubuntu-latest
    environment: {name: pypi, url: "https://example.invalid"}
    concurrency: release
    permissions: {id-token: write}
    timeout-minutes: 30
    continue-on-error: true
    outputs: {version: "${{ steps.v.outputs.version }}"}
    defaults: {run: {shell: bash, working-directory: sub}}
    steps:
      - id: v
        run: echo "version=1" >> "$GITHUB_OUTPUT"
"""


def test_job_keys_for_a_job_run_alone_are_accepted_and_named(tmp_path):
    path = tmp_path / "release.yml"
    path.write_text(JOB_KEYS)
    workflow = load_workflow(path)
    assert workflow.default_working_directory == "sub" and workflow.default_shell == "bash"
    aside = "\n".join(workflow.set_aside)
    for expected in (
        "needs: build, test — run alone",
        "if: startsWith(github.ref, 'refs/tags/') — not evaluated",
        "outputs: version",
        "environment: pypi",
        "concurrency: release",
        "permissions:",
        "timeout-minutes: 30",
        "continue-on-error: True",
    ):
        assert expected in aside


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    container: python:3.12\n", "container: the harness runs no containers"),
        ("    services: {db: {image: postgres}}\n", "services: the harness runs no containers"),
    ],
)
def test_containers_are_refused_with_the_reason(tmp_path, extra, message):
    path = tmp_path / "wf.yml"
    path.write_text(JOB_KEYS.replace("    steps:\n", extra + "    steps:\n"))
    with pytest.raises(WorkflowError, match=message):
        load_workflow(path)


def test_a_local_action_that_is_not_composite_is_refused(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "act").mkdir()
    (repo / "act" / "action.yaml").write_text("runs: {using: node24, main: index.js}\n")
    path = repo / ".github" / "workflows" / "ci.yml"
    path.write_text(
        textwrap.dedent("""\
        on: push
        jobs:
          t:
            runs-on: ubuntu-latest
            steps:
              - uses: ./act
              - uses: ./missing
        """)
    )
    with pytest.raises(WorkflowError, match=r"a node24 action; only composite run \(and 1 more"):
        load_workflow(path)


# -- check-workflow ---------------------------------------------------------------------------

BLOCKED = """\
on: push
jobs:
  windows-only:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [windows-latest]
    steps:
      - run: echo hi
  with-services:
    runs-on: ubuntu-latest
    services:
      postgres: {image: postgres}
    steps:
      - uses: someone/unknown-action@v3
      - uses: actions/checkout@v6
        with: {colour: red}
  fine:
    runs-on: ubuntu-24.04
    needs: [windows-only]
    steps:
      - uses: pypa/gh-action-pypi-publish@release/v1
"""


def test_check_workflow_lists_every_blocker_as_json(tmp_path, capsys):
    path = tmp_path / "blocked.yml"
    path.write_text(BLOCKED)
    assert cli.main(["check-workflow", "--json", str(path)]) == 0
    verdicts = {v["job"]: v for v in json.loads(capsys.readouterr().out)}
    assert set(verdicts) == {"windows-only", "with-services", "fine"}
    assert all(v["file"] == str(path) for v in verdicts.values())
    windows = verdicts["windows-only"]
    assert windows["runnable"] is False
    assert windows["blockers"] == [
        "runs-on windows-latest: the harness runs Linux jobs only (not Windows) "
        "(cell os=windows-latest)"
    ]
    services = verdicts["with-services"]["blockers"]
    assert len(services) == 3  # every one, not only the first
    assert "runs no containers" in services[0]
    assert "someone/unknown-action@v3" in services[1] and "not supported" in services[1]
    assert "no input 'colour'" in services[2]
    assert verdicts["fine"] == {
        "file": str(path),
        "job": "fine",
        "runnable": True,
        "blockers": [],
        "notes": [
            "step 1: pypa/gh-action-pypi-publish@release/v1 stood in for (publishes to a "
            "package index)"
        ],
    }


def test_check_workflow_prints_a_table_and_exits_2_on_bad_files(tmp_path, capsys):
    path = tmp_path / "blocked.yml"
    path.write_text(BLOCKED)
    assert cli.main(["check-workflow", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 of 3 job(s) can run here" in out and "runs no containers" in out
    (tmp_path / "broken.yml").write_text("jobs: [\n")
    assert cli.main(["check-workflow", str(path), str(tmp_path / "broken.yml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    assert cli.main(["check-workflow", str(tmp_path / "missing.yml")]) == 2


CELLS = """\
on:
  workflow_call:
    inputs:
      runner: {type: string, default: ubuntu-24.04}
jobs:
  test:
    runs-on: ${{ matrix.os == 'default' && inputs.runner || matrix.os }}
    strategy:
      matrix:
        os: [windows-latest, default]
        python: ['2.5', '3.11']
        include: [{python: '3.11', env: {TOXENV: py311}}]
    steps:
      - uses: actions/setup-python@v7
        with: {python-version: "${{ matrix.python }}"}
      - if: runner.os == 'Windows'
        run: echo windows only
        shell: pwsh
      - if: matrix.python == '2.5'
        uses: someone/old-python-helper@v1
      - run: echo "$TOXENV"
        env: ${{ matrix.env }}
"""


def test_the_first_cell_whose_steps_all_run_here_is_taken(tmp_path):
    path = tmp_path / "cells.yml"
    path.write_text(CELLS)
    workflow = load_workflow(path)
    # windows cells refused, python 2.5 matches no interpreter here: the 3.11 Linux cell runs
    assert workflow.matrix == {"os": "default", "python": "3.11", "env": {"TOXENV": "py311"}}
    assert workflow.runs_on == "ubuntu-24.04"  # the called workflow's input, at its default
    assert workflow.steps[3].env_from == "${{ matrix.env }}"
    # the pwsh step only runs on Windows, so it blocks nothing on Linux
    with pytest.raises(WorkflowError, match=r"old-python-helper@v1' is not supported.*and 1 more"):
        load_workflow(path, matrix={"python": "2.5", "os": "default"})


def test_check_workflow_reports_steps_that_block_the_linux_cells(tmp_path, capsys):
    path = tmp_path / "cells.yml"
    path.write_text(CELLS.replace("'3.11'", "'2.6'"))
    assert cli.main(["check-workflow", "--json", str(path)]) == 0
    (verdict,) = json.loads(capsys.readouterr().out)
    assert not verdict["runnable"]
    assert len(verdict["blockers"]) == 2  # the first Linux cell's: both, in step order
    assert "someone/old-python-helper@v1" in verdict["blockers"][0]
    assert verdict["blockers"][1].startswith("step 1: python-version '2.5' matches no")
    assert not any("pwsh" in line for line in verdict["blockers"])


def test_setup_python_reads_requires_python_and_the_python_version_file(tmp_path):
    from bench.depsets import Revision
    from bench.ghcache.store import CacheStore
    from bench.runner.sandbox import create_sandbox, runner_environment
    from bench.workflow.actions import ActionContext
    from bench.workflow.job import JobRun

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\nrequires-python = ">=3.10,<3.11"\n'
    )
    (repo / ".python-version").write_text("3.12\n")
    path = tmp_path / "wf.yml"
    path.write_text(
        textwrap.dedent("""\
        on: push
        jobs:
          t:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v6
              - id: from-pyproject
                uses: actions/setup-python@v7
                with: {python-version-file: pyproject.toml, allow-prereleases: true}
              - id: from-file
                uses: actions/setup-python@v6
                with: {check-latest: true, update-environment: false}
        """)
    )
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, None),
        store=CacheStore(tmp_path / "store"),
        checkout=Revision((repo,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        result = JobRun(load_workflow(path), ctx, log=log).run()
    assert result.success, result.error
    assert result.outputs["from-pyproject"]["python-version"].startswith("3.10.")
    assert result.outputs["from-file"]["python-version"].startswith("3.12.")


def test_parsing_loads_no_execution_code():
    import subprocess
    import sys

    code = (
        "import sys, bench.workflow.parse, bench.workflow.check; "
        "print(' '.join(m for m in sys.modules if m.startswith('bench')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "bench.workflow.registry" in loaded
    for heavy in ("bench.workflow.actions", "bench.workflow.job", "bench.ghcache.action",
                  "bench.runner.sandbox", "bench.mirror.server"):  # fmt: skip
        assert heavy not in loaded


def test_the_key_for_a_checkout_hashes_the_default_glob_without_running_anything(tmp_path):
    from bench.workflow.uvkey import key_for_tree
    from tests.helpers import expected_hash, write

    workspace = tmp_path / "work" / "r" / "r"
    lock = write(workspace / "uv.lock", "version = 1\n")
    pyproject = write(workspace / "pyproject.toml", "[project]\nname = 'r'\n")
    dev = write(workspace / "requirements" / "dev-requirements.txt", "pytest\n")
    write(workspace / "README.md", "not a dependency file\n")
    key = key_for_tree(workspace, python="3.12.3", os_name_version="ubuntu-24.04")
    # depth first, names sorted by bytes: pyproject.toml, requirements/…, uv.lock
    digest = expected_hash(pyproject, dev, lock)
    assert key == f"setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-24.04-3.12.3-{digest}"
    only_lock = key_for_tree(
        workspace,
        python="3.12.3",
        inputs={"cache-dependency-glob": "uv.lock", "cache-suffix": "x"},
        ref=parse_ref("astral-sh/setup-uv@v8"),
    )
    assert (
        only_lock
        == f"setup-uv-2-x86_64-unknown-linux-gnu-ubuntu-24.04-3.12.3-pruned-{expected_hash(lock)}-x"
    )


def test_an_exact_patch_release_takes_the_machines_one_of_that_minor():
    from bench.runner.pythons import installed_interpreters
    from bench.workflow.interpreters import interpreter_for

    have = installed_interpreters()[-1].version  # e.g. 3.13.0
    major, minor, patch = have.split(".")
    asked = f"{major}.{minor}.{int(patch) + 7}"
    found, note = interpreter_for(asked)
    assert (
        found.version == have
        and note == f"python-version {asked}: this machine has {have}, used instead"
    )
    assert interpreter_for(have) == (installed_interpreters()[-1], None)
    with pytest.raises(BenchError, match=r"nor does 2\.5"):
        interpreter_for("2.5.1")


def test_the_architecture_documents_every_stand_in():
    from bench.workflow.registry import STAND_INS

    text = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    for name, spec in STAND_INS.items():
        assert f"| `{name}` | {spec.stand_in} |" in text
