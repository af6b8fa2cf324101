"""Actions emulated because they are cheap to (read-file, write-file, CodSpeed's run command,
checkout-python-sdist, pre-commit/action, re-actors/cache-python-deps, setup-pdm), custom
``{0}`` shells, ``uses: ./`` and the stand-ins added for real workflows."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import textwrap
import zipfile
from pathlib import Path

import pytest

from bench.depsets import Revision
from bench.ghcache.store import CacheStore
from bench.mirror.server import MirrorServer
from bench.runner.pythons import installed_interpreters
from bench.runner.sandbox import create_sandbox, runner_environment
from bench.workflow.actions import ActionContext
from bench.workflow.job import JobFailure, JobRun
from bench.workflow.parse import WorkflowError, check_file, load_workflow
from bench.workflow.refs import parse_ref
from bench.workflow.registry import find_spec
from tests.helpers import expected_hash

PYTHON = ".".join(installed_interpreters()[-1].version.split(".")[:2])


def _job(tmp_path: Path, repo: Path, text: str, store: CacheStore | None = None, index=None):
    path = tmp_path / "wf.yml"
    path.write_text(textwrap.dedent(text))
    sandbox = create_sandbox(tmp_path / "runner", repo="r")
    ctx = ActionContext(
        sandbox=sandbox,
        env=runner_environment(sandbox, index),
        store=store or CacheStore(tmp_path / "store"),
        checkout=Revision((repo,)),
    )
    with open(tmp_path / "job.log", "wb") as log:
        result = JobRun(load_workflow(path), ctx, log=log).run()
    return result, sandbox, (tmp_path / "job.log").read_text()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    (folder / "src").mkdir(parents=True)
    (folder / "VERSION").write_text("  1.2.3\n")
    (folder / "src" / "mod.py").write_text("x = 1\n")
    (folder / ".pre-commit-config.yaml").write_text("repos: []\n")
    return folder


FILES = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: raw
        uses: juliangruber/read-file-action@v1
        with: {path: ./VERSION}
      - id: trimmed
        uses: juliangruber/read-file-action@v1
        with: {path: VERSION, trim: true}
      - id: first
        uses: DamianReeves/write-file-action@v1.3
        with: {path: out/notes.txt, contents: "  a\\n", write-mode: overwrite}
      - id: more
        uses: DamianReeves/write-file-action@v1.3
        with: {path: out/notes.txt, contents: "b", write-mode: append}
      - id: kept
        uses: DamianReeves/write-file-action@v1.3
        with: {path: out/notes.txt, contents: "ignored"}
      - run: test "$(cat out/notes.txt)" = ab
"""


def test_read_file_and_write_file_run_for_real(tmp_path, repo):
    result, _, _ = _job(tmp_path, repo, FILES)
    assert result.success, result.error
    assert result.outputs["raw"]["content"] == "  1.2.3\n"
    assert result.outputs["trimmed"]["content"] == "1.2.3"
    assert [result.outputs[s]["size"] for s in ("first", "more", "kept")] == ["1", "2", "2"]
    assert not any(step.stand_in or step.substitutions for step in result.steps)


def test_a_path_outside_the_runner_is_refused(tmp_path, repo):
    text = FILES.replace("path: ./VERSION", "path: /etc/hostname")
    with pytest.raises(JobFailure, match="outside the runner"):
        _job(tmp_path, repo, text)


CODSPEED = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: re-actors/checkout-python-sdist@release/v2
        with: {workflow-artifact-name: dist}
      - uses: CodSpeedHQ/action@v4
        with:
          mode: simulation
          working-directory: src
          run: test -f mod.py && echo "benchmarks ran in $(basename "$PWD")"
"""


def test_codspeed_runs_its_command_uninstrumented_and_sdist_checkout_is_the_set(tmp_path, repo):
    result, _, log = _job(tmp_path, repo, CODSPEED)
    assert result.success, result.error
    sdist, bench = result.steps[1], result.steps[2]
    assert sdist.substitutions and "as actions/checkout would" in sdist.substitutions[0]
    assert bench.phase == "test" and "uninstrumented" in bench.substitutions[0]
    assert "benchmarks ran in src" in log and "Notice: ran its run command" in log
    failing = CODSPEED.replace("test -f mod.py", "test -f missing.py")
    result, _, _ = _job(tmp_path, repo, failing)
    assert not result.success and result.steps[2].outcome == "failure"


SHIM = """\
      - name: shims that record how they are called
        run: |
          mkdir -p ~/shim
          printf '#!/bin/sh\\necho "python $*" >> ~/calls\\n' > ~/shim/python
          printf '#!/bin/sh\\nmkdir -p ~/.cache/pre-commit\\necho "pre-commit $*" >> ~/calls\\n' \\
            > ~/shim/pre-commit
          chmod +x ~/shim/*
          echo ~/shim >> "$GITHUB_PATH"
"""

PRE_COMMIT = f"""\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
{SHIM}
      - uses: pre-commit/action@v3.0.1
        with: {{extra_args: --files src/mod.py}}
      - id: calls
        run: echo "calls=$(paste -sd ';' ~/calls)" >> "$GITHUB_OUTPUT"
"""


def test_pre_commit_action_runs_its_steps_and_caches_its_folder(tmp_path, repo):
    store = CacheStore(tmp_path / "store")
    key = f"pre-commit-3||{expected_hash(repo / '.pre-commit-config.yaml')}"
    cold, _, _ = _job(tmp_path, repo, PRE_COMMIT, store)
    assert cold.success, cold.error
    assert cold.outputs["calls"]["calls"] == (
        "python -m pip install pre-commit;python -m pip freeze --local;"
        "pre-commit run --show-diff-on-failure --color=always --files src/mod.py"
    )
    step = cold.steps[2]
    assert step.phase == "install" and set(step.phases_ns) == {"install", "restore"}
    assert step.cache["key"] == key and step.cache["paths"] == ["~/.cache/pre-commit"]
    assert [entry.key for entry in store.entries()] == [key]
    warm, _, _ = _job(tmp_path, repo, PRE_COMMIT, store)
    assert warm.success and warm.steps[2].cache["cache_hit"] == "true"


CACHE_DEPS = f"""\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-python@v6
        with: {{python-version: '{PYTHON}'}}
      - id: deps
        uses: re-actors/cache-python-deps@v1.0.0
        with: {{cache-key-for-dependency-files: files-abc}}
      - run: mkdir -p "${{{{ steps.deps.outputs.cache-directory-path }}}}/http" && touch "$_/x"
"""


def test_cache_python_deps_keys_on_the_interpreter(tmp_path, repo):
    store = CacheStore(tmp_path / "store")
    cold, sandbox, _ = _job(tmp_path, repo, CACHE_DEPS, store)
    assert cold.success, cold.error
    outputs = cold.outputs["deps"]
    assert outputs["is-stable-abi"] == "true"
    assert outputs["cache-key-for-os"] == "Linux-python-dep-cache-stable"
    found = re.fullmatch(r"Linux-python-dep-cache-stable-([0-9a-f]{128})", outputs[
        "cache-key-for-python-interpreter"])  # fmt: skip
    assert found
    digest = found.group(1)
    assert outputs["cache-key-for-dependencies"] == (
        f"Linux-python-dep-cache-stable-{digest}-{digest}-files-abc"
    )
    assert outputs["cache-directory-path"] == str(sandbox.home / ".cache/pip")
    assert [e.key for e in store.entries()] == [outputs["cache-key-for-dependencies"]]
    warm, _, _ = _job(tmp_path, repo, CACHE_DEPS, store)
    assert warm.steps[1].cache["cache_hit"] == "true"


PDM_SOURCE = textwrap.dedent("""\
    import os, sys
    def main():
        home = os.path.expanduser("~")
        if sys.argv[1:] == ["--version"]:
            print("PDM, version 9.9.9")
        elif sys.argv[1:] == ["config", "cache_dir"]:
            print(os.path.join(home, ".cache", "pdm"))
        elif sys.argv[1:] == ["config", "venv.location"]:
            print(os.path.join(home, ".local", "share", "pdm", "venvs"))
    """)


def _tool_wheel(folder: Path, name: str, source: str) -> None:
    """A tiny wheel ``name`` 9.9.9 whose console script ``name`` runs ``source``'s main()."""
    info = f"{name}-9.9.9.dist-info"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 9.9.9\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n".encode(),
    }
    record = []
    for member, data in files.items():
        digest = hashlib.sha256(data).digest()
        encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{member},sha256={encoded},{len(data)}")
    record.append(f"{info}/RECORD,,")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    (folder / f"{name}-9.9.9-py3-none-any.whl").write_bytes(buffer.getvalue())


PDM = f"""\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: pdm
        uses: pdm-project/setup-pdm@v4
        with: {{python-version: '{PYTHON}', cache: true}}
      - id: seen
        run: |
          echo "pdm=$(command -v pdm)" >> "$GITHUB_OUTPUT"
          mkdir -p ~/.cache/pdm && echo x > ~/.cache/pdm/wheel
"""


def test_setup_pdm_installs_pdm_from_the_mirror_and_caches(tmp_path, repo):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    _tool_wheel(wheelhouse, "pdm", PDM_SOURCE)
    (repo / "pdm.lock").write_text("# lock\n")
    store = CacheStore(tmp_path / "store")
    with MirrorServer(wheelhouse) as mirror:
        cold, sandbox, _ = _job(tmp_path, repo, PDM, store, mirror.index_url())
        assert cold.success, cold.error
        outputs = cold.outputs["pdm"]
        assert outputs["pdm-version"] == "9.9.9" and outputs["cache-hit"] == "false"
        assert outputs["pdm-bin"] == cold.outputs["seen"]["pdm"]
        assert outputs["pdm-bin"] == str(sandbox.home / ".local/bin/pdm")
        version = outputs["python-version"]
        key = f"setup-pdm-Linux-X64-python-{version}-{expected_hash(repo / 'pdm.lock')}"
        assert cold.steps[1].cache["key"] == key
        assert str(sandbox.home / ".cache/pdm") in cold.steps[1].cache["paths"]
        assert [e.key for e in store.entries()] == [key]
        warm, _, _ = _job(tmp_path, repo, PDM, store, mirror.index_url())
    assert warm.success, warm.error
    assert warm.outputs["pdm"]["cache-hit"] == "true"


CUSTOM_SHELL = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: py
        run: echo "path=$(command -v python3)" >> "$GITHUB_OUTPUT"
      - id: custom
        shell: ${{ steps.py.outputs.path }} -u {0}
        run: |
          import os, sys
          with open(os.environ["GITHUB_OUTPUT"], "a") as out:
              print(f"ran={sys.argv[0].endswith('.sh')}", file=out)
"""


def test_a_custom_shell_with_the_script_placeholder_runs(tmp_path, repo):
    result, _, _ = _job(tmp_path, repo, CUSTOM_SHELL)
    assert result.success, result.error
    assert result.outputs["custom"]["ran"] == "True"
    with pytest.raises(WorkflowError, match=r"shell 'pwsh -command \{0\}' is not supported"):
        path = tmp_path / "pwsh.yml"
        path.write_text(
            CUSTOM_SHELL.replace("${{ steps.py.outputs.path }} -u {0}", "pwsh -command {0}")
        )
        load_workflow(path)


def test_uses_dot_slash_is_the_repositorys_own_action(tmp_path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "action.yml").write_text(
        "name: own\nruns:\n  using: composite\n  steps:\n    - run: echo own\n      shell: bash\n"
    )
    path = tmp_path / ".github" / "workflows" / "ci.yml"
    path.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                    "      - uses: ./\n")  # fmt: skip
    step = load_workflow(path).steps[0]
    assert step.action.local and step.composite is not None and step.composite.name == "own"


@pytest.mark.parametrize(
    "uses",
    [
        "tiangolo/pr-push@v1",
        "samuelcolvin/check-python-version@v4",
        "google-github-actions/setup-gcloud@v2",
        "actions/create-release@v1",
        "actions/upload-release-asset@v1",
        "peter-evans/find-comment@v3",
        "actions-ecosystem/action-remove-labels@v1",
        "stefanzweifel/git-auto-commit-action@v5",
        "benc-uk/workflow-dispatch@v1",
        "scientific-python/upload-nightly-action@v0.6",
        "taiki-e/install-action@v2",
    ],
)
def test_the_new_stand_ins_are_recorded_no_ops_with_a_reason(uses):
    spec = find_spec(parse_ref(uses))
    assert spec.stand_in and spec.inputs is None


def test_check_workflow_accepts_a_job_of_stand_ins_and_names_them(tmp_path):
    path = tmp_path / "wf.yml"
    path.write_text(
        "on: push\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/create-release@v1\n        id: create\n"
        "      - uses: actions/upload-release-asset@v1\n"
        "        with: {upload_url: '${{ steps.create.outputs.upload_url }}'}\n"
    )
    (check,) = check_file(path)
    assert check.runnable
    assert check.notes == [
        "step 1: actions/create-release@v1 stood in for (publishes a release)",
        "step 2: actions/upload-release-asset@v1 stood in for (uploads a release asset)",
    ]


HATCH = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: pypa/hatch@install
      - id: seen
        run: echo "hatch=$(command -v hatch) $(hatch --version)" >> "$GITHUB_OUTPUT"
"""


def test_hatch_install_puts_hatch_from_the_mirror_in_the_tool_cache(tmp_path, repo):
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    _tool_wheel(wheelhouse, "hatch", 'def main():\n    print("Hatch, version 9.9.9")\n')
    with MirrorServer(wheelhouse) as mirror:
        result, sandbox, _ = _job(tmp_path, repo, HATCH, index=mirror.index_url())
    assert result.success, result.error
    where = sandbox.tool_cache / ".hatch" / "hatch"
    assert result.outputs["seen"]["hatch"] == f"{where} Hatch, version 9.9.9"


RETRY = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: flaky
        uses: nick-fields/retry@v3
        with:
          timeout_seconds: 20
          max_attempts: 3
          retry_wait_seconds: 0
          polling_interval_seconds: 0.2
          on_retry_command: echo cleanup >> ~/cleanups
          command: |
            n=$(cat ~/count 2>/dev/null || echo 0); echo $((n + 1)) > ~/count
            test "$n" -ge 1
      - id: tests
        uses: nick-fields/retry@v3
        with: {timeout_minutes: 1, max_attempts: 1, retry_wait_seconds: 0, command: pytest -q}
        continue-on-error: true
      - id: slow
        uses: nick-fields/retry@v3
        with:
          timeout_seconds: 0.5
          max_attempts: 3
          retry_on: error
          retry_wait_seconds: -1
          continue_on_error: true
          command: sleep 5
      - id: seen
        run: echo "cleanups=$(wc -l < ~/cleanups)" >> "$GITHUB_OUTPUT"
"""


def test_retry_runs_its_command_until_it_succeeds(tmp_path, repo):
    result, _, log = _job(tmp_path, repo, RETRY)
    assert result.success, result.error
    flaky, slow = result.outputs["flaky"], result.outputs["slow"]
    assert flaky == {"total_attempts": "2", "exit_code": "0", "exit_error": ""}
    assert result.outputs["seen"]["cleanups"] == "1"
    assert "Warning: Attempt 1 failed. Reason: Child_process exited with error code 1" in log
    assert result.steps[0].phase == "install" and result.steps[1].phase == "test"
    assert result.steps[1].outcome == "failure"  # no pytest here: a failure, tolerated
    assert result.outputs["tests"]["total_attempts"] == "1"
    code = result.outputs["tests"]["exit_code"]
    assert code != "0"
    final = f"Final attempt failed. Child_process exited with error code {code}"
    assert result.outputs["tests"]["exit_error"] == final
    # a timeout with retry_on: error is not retried; continue_on_error keeps the step green
    assert slow["total_attempts"] == "1" and slow["exit_error"] == "Timeout of 500ms hit"
    assert result.steps[2].outcome == "success"
    assert result.steps[0].duration_ns >= 2 * 0.2e9  # each attempt lasts whole polls


RUFF = """\
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - id: lint
        uses: astral-sh/ruff-action@v3
        with: {src: "src/*.py"}
      - id: format
        uses: astral-sh/ruff-action@v3
        with: {args: format --check, version: "RUFF_VERSION"}
"""


def test_ruff_action_runs_ruff_from_the_mirror_on_its_sources(tmp_path, repo):
    from importlib.metadata import version

    from tests.repack import repack_closure

    wheelhouse = tmp_path / "wheelhouse"
    repack_closure(["ruff"], wheelhouse)
    (repo / "pyproject.toml").write_text(
        f'[dependency-groups]\nlint = ["ruff=={version("ruff")}"]\n'
    )
    (repo / "src" / "mod.py").write_text("import os\nx = 1\n")  # F401: an unused import
    text = RUFF.replace("RUFF_VERSION", version("ruff"))
    with MirrorServer(wheelhouse) as mirror:
        result, _, log = _job(tmp_path, repo, text, index=mirror.index_url())
        assert not result.success  # the unused import fails the check, as on GitHub
        lint = result.steps[1]
        assert lint.phase == "test" and lint.outcome == "failure"
        assert lint.outputs["ruff-version"] == version("ruff")
        assert "F401" in log and "src/mod.py" in log
        (repo / "src" / "mod.py").write_text("x = 1\n")
        result, _, _ = _job(tmp_path, repo, text, index=mirror.index_url())
    assert result.success, result.error


def test_ruff_actions_version_comes_from_the_input_or_a_requirement(tmp_path):
    from types import SimpleNamespace

    from bench.workflow.ruff_action import _version

    ctx = SimpleNamespace(sandbox=SimpleNamespace(workspace=tmp_path))
    assert _version({}, ctx) == "latest"  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text(
        '[project.optional-dependencies]\nlint = ["ruff >= 0.5, <0.7"]\n'
    )
    assert _version({}, ctx) == ">=0.5,<0.7"
    (tmp_path / "req.txt").write_text("pytest\nruff==0.6.9\n")
    assert _version({"version-file": "req.txt"}, ctx) == "==0.6.9"
    assert _version({"version": "v0.8.0"}, ctx) == "0.8.0"
