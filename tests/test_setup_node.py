"""actions/setup-node on the machine's node: version specs and files, the stand-in when the node
here does not satisfy the version, and the action's cache of npm's and yarn's folders."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench import cli
from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobFailure, JobRun
from bench.workflow.nodeversions import machine_node, satisfies
from bench.workflow.parse import load_workflow
from bench.workflow.setup_node import version_from_file
from tests.helpers import expected_hash

FOUND = machine_node()
pytestmark = pytest.mark.skipif(FOUND is None, reason="no node on this machine")
VERSION = FOUND[1] if FOUND else "0.0.0"
MAJOR = int(VERSION.split(".")[0])


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ("20", True),
        ("20.x", True),
        ("v20.20.2", True),
        ("20.20", True),
        ("20.21", False),
        ("18", False),
        ("22", False),
        (">=18", True),
        (">= 18 <21", True),
        (">=21", False),
        ("^20.1", True),
        ("^18.1", False),
        ("~20.20.0", True),
        ("~20.19", False),
        ("18 || 20", True),
        ("lts/*", False),
        ("latest", False),
        ("*", True),
    ],
)
def test_a_spec_is_satisfied_as_semver_says(spec, ok):
    assert satisfies("20.20.2", spec) is ok


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("v20.11.1\n", "20.11.1"),
        ("lts/iron\n", "lts/iron"),
        ("python 3.12.1\nnodejs 18.19.0\n", "18.19.0"),
        ('{"name": "x", "engines": {"node": ">=18"}}', ">=18"),
        ('{"volta": {"node": "20.1.0"}, "engines": {"node": ">=18"}}', "20.1.0"),
        ('{"devEngines": {"runtime": [{"name": "node", "version": "^22"}]}}', "^22"),
        ('[tools]\nnode = "22"\n', "22"),
    ],
)
def test_version_files_are_read_as_the_action_reads_them(text, spec):
    assert version_from_file(text) == spec


def _job(tmp_path: Path, repo: Path, store: CacheStore, text: str):
    path = tmp_path / "wf.yml"
    path.write_text(textwrap.dedent(text))
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, None),
        store=store,
        checkout=Revision((repo,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        result = JobRun(load_workflow(path), ctx, log=log).run()
    return result, sandbox, (tmp_path / "job.log").read_text()


NPM = f"""\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: node
        uses: actions/setup-node@v6
        with: {{node-version: '{MAJOR}.x', cache: npm}}
      - id: seen
        run: |
          echo "node=$(command -v node)" >> "$GITHUB_OUTPUT"
          folder="$(npm config get cache)"
          mkdir -p "$folder/_cacache" && echo kept > "$folder/_cacache/marker"
          echo "folder=$folder" >> "$GITHUB_OUTPUT"
"""


def test_npm_cache_cold_then_warm_with_the_actions_key(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    store = CacheStore(tmp_path / "store")
    key = f"node-cache-Linux-x64-npm-{expected_hash(repo / 'package-lock.json')}"

    cold, sandbox, _log = _job(tmp_path, repo, store, NPM)
    assert cold.success, cold.error
    node = cold.outputs["node"]
    assert node["node-version"] == f"v{VERSION}" and node["cache-hit"] == "false"
    assert node["cache-primary-key"] == key and node["cache-matched-key"] == ""
    assert cold.outputs["seen"]["node"] == str(sandbox.tool_cache / f"node/{VERSION}/x64/bin/node")
    assert cold.outputs["seen"]["folder"] == str(sandbox.home / ".npm")
    assert cold.steps[1].substitutions == []  # the node here satisfies it
    post = cold.steps[-1]
    assert post.name == "Post Setup Node" and post.phase == "save" and post.cache["saved"]
    assert [entry.key for entry in store.entries()] == [key]

    warm, sandbox, _ = _job(tmp_path, repo, store, NPM)
    assert warm.success, warm.error
    assert warm.outputs["node"]["cache-hit"] == "true"
    assert warm.outputs["node"]["cache-matched-key"] == key
    assert set(warm.steps[1].phases_ns) == {"setup", "restore"}
    assert "Cache hit occurred on the primary key" in (tmp_path / "job.log").read_text()
    assert len(store.entries()) == 1


OTHER_NODE = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: node
        uses: actions/setup-node@v4
        with: {node-version-file: .nvmrc, cache: yarn, cache-dependency-path: 'web/yarn.lock'}
      - run: mkdir -p ~/.cache/yarn/v6 && echo x > ~/.cache/yarn/v6/pkg
"""


def test_another_node_is_stood_in_for_and_yarn_1s_folder_is_cached(tmp_path):
    repo = tmp_path / "repo"
    (repo / "web").mkdir(parents=True)
    (repo / ".nvmrc").write_text(f"v{MAJOR + 3}.1.0\n")
    (repo / "web" / "yarn.lock").write_text("# yarn lockfile v1\n")
    store = CacheStore(tmp_path / "store")
    result, sandbox, log = _job(tmp_path, repo, store, OTHER_NODE)
    assert result.success, result.error
    words = f"node-version {MAJOR + 3}.1.0: not this machine's node; v{VERSION}"
    assert result.steps[1].substitutions[0].startswith(words)
    assert f"Notice: {words}" in log
    (entry,) = store.entries()
    assert entry.key == f"node-cache-Linux-x64-yarn-{expected_hash(repo / 'web' / 'yarn.lock')}"
    assert result.steps[1].cache["paths"] == [str(sandbox.home / ".cache/yarn/v6")]


def test_no_lock_file_fails_the_step_as_on_github(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(JobFailure, match=r"Dependencies lock file is not found .* package-lock"):
        _job(tmp_path, repo, CacheStore(tmp_path / "store"), NPM)


def test_check_workflow_notes_a_node_that_stands_in(tmp_path, capsys):
    path = tmp_path / "wf.yml"
    path.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/setup-node@v6\n        with: {{node-version: '{MAJOR + 2}'}}\n"
        f"      - uses: actions/setup-node@v6\n        with: {{node-version: '{MAJOR}'}}\n"
    )
    assert cli.main(["check-workflow", "--json", str(path)]) == 0
    (verdict,) = json.loads(capsys.readouterr().out)
    assert verdict["runnable"] is True
    assert verdict["notes"] == [
        f"step 1: node-version {MAJOR + 2}: not this machine's node; v{VERSION} (the only one "
        "here) stands in"
    ]


def test_npm_global_prefix_is_the_tool_caches_node_folder(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    text = f"""\
    on: push
    jobs:
      t:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/setup-node@v6
            with: {{node-version: '{MAJOR}.x'}}
          - id: seen
            run: echo "prefix=$(npm prefix -g)" >> "$GITHUB_OUTPUT"
    """
    result, sandbox, _ = _job(tmp_path, repo, CacheStore(tmp_path / "store"), text)
    assert result.success, result.error
    assert result.outputs["seen"]["prefix"] == str(sandbox.tool_cache / f"node/{VERSION}/x64")


def _auto(version: str) -> str:
    return f"""\
    on: push
    jobs:
      t:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v6
          - uses: actions/setup-node@{version}
            with: {{node-version: '{MAJOR}.x'}}
    """


def test_package_manager_turns_the_npm_cache_on_from_v5_only(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    manifest = {"devEngines": {"packageManager": {"name": "npm"}}, "packageManager": "yarn@4"}
    (repo / "package.json").write_text(json.dumps(manifest))
    (repo / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    store = CacheStore(tmp_path / "store")
    old, _, _ = _job(tmp_path, repo, store, _auto("v4"))
    assert old.success, old.error
    assert old.steps[1].cache is None
    new, _, log = _job(tmp_path, repo, store, _auto("v5"))
    assert new.success, new.error
    assert new.steps[1].cache["key"].startswith("node-cache-Linux-x64-npm-")
    assert "Detected npm as the package manager" in log
    (repo / "package.json").write_text(json.dumps({"packageManager": "npm@10.0.0"}))
    top, _, _ = _job(tmp_path, repo, store, _auto("v6"))
    assert top.success, top.error
    assert top.steps[1].cache is not None


def test_an_absolute_dependency_path_inside_the_workspace_works(tmp_path):
    repo = tmp_path / "repo"
    (repo / "web").mkdir(parents=True)
    (repo / "web" / "yarn.lock").write_text("# yarn lockfile v1\n")
    text = OTHER_NODE.replace(".nvmrc", "'.nvmrc'").replace(
        "'web/yarn.lock'", "'${{ github.workspace }}/web/yarn.lock'"
    )
    (repo / ".nvmrc").write_text(f"{MAJOR}\n")
    result, _, _ = _job(tmp_path, repo, CacheStore(tmp_path / "store"), text)
    assert result.success, result.error
    key = f"node-cache-Linux-x64-yarn-{expected_hash(repo / 'web' / 'yarn.lock')}"
    assert result.steps[1].cache["key"] == key


def test_an_unreadable_version_file_and_odd_dev_engines_are_one_line_errors(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".nvmrc").write_bytes(b"\xff\xfe\x00binary")
    text = OTHER_NODE.replace(", cache: yarn, cache-dependency-path: 'web/yarn.lock'", "")
    with pytest.raises(JobFailure, match=r"cannot read the node version file"):
        _job(tmp_path, repo, CacheStore(tmp_path / "store"), text)
    for odd in ("npm", ["x"], 3):
        assert version_from_file(json.dumps({"devEngines": odd, "engines": {"node": "20"}})) == "20"
