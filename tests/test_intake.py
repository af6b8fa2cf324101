"""A project's dependencies in every form teams keep, resolved offline on the tests' mirror.

The mirror serves tinyone 1.0, tinytwo 2.0 (which needs tinyone) and tinysrc 0.5 (an sdist).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.intake.forms import Form, find_input
from bench.intake.resolve import Target, poetry_top_level, resolve, uv_binary
from bench.intake.uvlock import point_at_mirror, point_locks_at_mirror
from bench.mirror.fetch import read_pins
from bench.mirror.server import MirrorServer
from tests.gitrepo import git_env
from tests.helpers import write
from tests.tinyset import free_port

PYPROJECT = """[project]
name = "demo"
version = "0.1"
requires-python = ">=3.9"
dependencies = {dependencies}

[dependency-groups]
test = ["tinysrc"]

[build-system]
requires = ["tinyone"]
build-backend = "tinyone"
"""


def pinned(resolution_file: Path) -> dict[str, str]:
    pins, _options = read_pins(resolution_file)
    assert all(pin.hashes for pin in pins)
    return {pin.project: pin.version for pin in pins}


@pytest.fixture
def target(tiny_mirror) -> Target:
    return Target(index_url=tiny_mirror.index_url())


def test_plain_pins_without_hashes_get_their_hashes(tmp_path, target):
    project = tmp_path / "project"
    write(project / "requirements.txt", "tinytwo==2.0\ntinyone==1.0\n")
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.PINNED_REQUIREMENTS
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0"}
    assert (project / "requirements.txt").read_text() == "tinytwo==2.0\ntinyone==1.0\n"
    assert resolution.build_requirements is None


def test_a_ranged_file_resolves_with_its_transitive_dependencies(tmp_path, target):
    project = tmp_path / "project"
    write(project / "requirements.txt", "tinytwo>=1.5  # the app\n")
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.RANGED_REQUIREMENTS
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0"}


def test_includes_constraints_markers_and_index_lines(tmp_path, target):
    project = tmp_path / "project"
    write(
        project / "requirements.txt",
        "--extra-index-url https://example.invalid/simple\n-r requirements/base.txt\n"
        "-c constraints.txt\n--no-binary tinysrc\ntinysrc ; python_version >= '3'\n",
    )
    write(project / "requirements" / "base.txt", "tinytwo\n")
    write(project / "constraints.txt", "tinyone==1.0\n")
    resolution = resolve(project, tmp_path / "out", target)
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}
    assert "--no-binary tinysrc" in resolution.requirements.read_text().splitlines()
    assert resolution.notices == (
        "requirements.txt:1: --extra-index-url ignored (the mirror serves all)",
    )


def test_dash_e_dot_is_the_project_itself_with_its_build_backend(tmp_path, target):
    project = tmp_path / "project"
    write(project / "pyproject.toml", PYPROJECT.format(dependencies='["tinytwo"]'))
    write(project / "requirements.txt", "-e .\n")
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.PYPROJECT  # requirements.txt pins nothing itself
    # every extra and dependency group: the wheelhouse holds what any job may ask for
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}
    assert resolution.build_requirements is not None
    assert pinned(resolution.build_requirements) == {"tinyone": "1.0"}


def test_a_ranged_file_with_dash_e_resolves_the_projects_own_dependencies(tmp_path, target):
    project = tmp_path / "project"
    write(project / "pyproject.toml", PYPROJECT.format(dependencies='["tinyone"]'))
    write(project / "requirements-dev.txt", "-e .\ntinysrc>=0.1\n")
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.PYPROJECT
    project_only = tmp_path / "bare"
    write(
        project_only / "pyproject.toml",
        PYPROJECT.format(dependencies="[]").replace(
            '[dependency-groups]\ntest = ["tinysrc"]\n', ""
        ),
    )
    write(project_only / "requirements-dev.txt", "-e .\ntinysrc>=0.1\n")
    ranged = resolve(project_only, tmp_path / "out2", target)
    assert ranged.input.form is Form.RANGED_REQUIREMENTS
    assert pinned(ranged.requirements) == {"tinysrc": "0.5"}
    assert ranged.build_requirements is not None


def test_dash_e_with_extras_resolves_the_extras_it_names(tmp_path, target):
    project = tmp_path / "extras"
    text = PYPROJECT.format(dependencies="[]").replace(
        '[dependency-groups]\ntest = ["tinysrc"]\n', ""
    )
    text = text.replace(
        "[build-system]", '[project.optional-dependencies]\nsrc = ["tinysrc"]\n\n[build-system]'
    )
    write(project / "pyproject.toml", text)
    write(project / "requirements-dev.txt", "-e .[src]\ntinytwo==2.0\n")
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.PINNED_REQUIREMENTS
    assert "tinysrc" in pinned(resolution.requirements)  # the extra, named after -e .


def test_pyproject_with_a_dependency_group(tmp_path, tiny_mirror):
    project = tmp_path / "project"
    write(project / "pyproject.toml", PYPROJECT.format(dependencies='["tinytwo"]'))
    target = Target(index_url=tiny_mirror.index_url(), groups=("test",))
    resolution = resolve(project, tmp_path / "out", target)
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}


def test_uv_lock_is_exported_offline(tmp_path, target):
    project = tmp_path / "project"
    write(project / "pyproject.toml", PYPROJECT.format(dependencies='["tinytwo"]'))
    subprocess.run(
        [uv_binary(), "lock", "--no-config", "--index-url", target.index_url, "-q"],
        cwd=project, check=True, env={"PATH": "/usr/bin:/bin", "UV_CACHE_DIR": str(tmp_path / "c")},
    )  # fmt: skip
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.UV_LOCK  # every group, unless some are named
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}
    # Installing the lock builds the project: its build backend goes to the wheelhouse too.
    assert resolution.build_requirements is not None
    assert pinned(resolution.build_requirements) == {"tinyone": "1.0"}


def test_poetry_lock_versions_win_over_newer_ones(tmp_path, target):
    project = tmp_path / "project"
    write(
        project / "pyproject.toml",
        '[tool.poetry]\nname = "demo"\npackage-mode = false\n\n'
        '[tool.poetry.dependencies]\npython = "^3.9"\ntinytwo = "^2.0"\n\n'
        '[tool.poetry.group.dev.dependencies]\ntinysrc = {version = "*"}\n',
    )
    write(
        project / "poetry.lock",
        '[[package]]\nname = "tinyone"\nversion = "1.0"\n\n'
        '[[package]]\nname = "tinytwo"\nversion = "2.0"\n\n'
        '[[package]]\nname = "tinysrc"\nversion = "0.5"\n',
    )
    resolution = resolve(project, tmp_path / "out", target)
    assert resolution.input.form is Form.POETRY_LOCK
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}


def test_poetry_top_level_skips_python_optional_and_path_dependencies():
    pyproject = {
        "tool": {"poetry": {
            "dependencies": {"python": "^3.11", "a": "^1", "b": {"version": "1", "extras": ["x"]},
                             "c": {"version": "1", "optional": True}, "d": {"path": "../d"}},
            "group": {"dev": {"dependencies": {"e": "*"}},
                      "docs": {"optional": True, "dependencies": {"f": "*"}}},
        }}
    }  # fmt: skip
    assert poetry_top_level(pyproject) == ["a", "b[x]", "e"]


def test_pipfile_lock_is_used_as_resolved(tmp_path):
    project = tmp_path / "project"
    digest = "sha256:" + "ab" * 32
    lock = {
        "default": {"tinytwo": {"version": "==2.0", "hashes": [digest]},
                    "tinyone": {"version": "==1.0", "hashes": [digest],
                                "markers": "python_version >= '3.8'"}},
        "develop": {"demo": {"editable": True, "path": "."}},
    }  # fmt: skip
    write(project / "Pipfile.lock", json.dumps(lock))
    resolution = resolve(project, tmp_path / "out", Target())
    assert resolution.input.form is Form.PIPFILE_LOCK
    assert pinned(resolution.requirements) == {"tinyone": "1.0", "tinytwo": "2.0"}


def test_lock_files_are_preferred_in_order(tmp_path):
    project = tmp_path / "p"
    write(project / "requirements.txt", "tinyone==1.0\n")
    assert find_input(project).form is Form.PINNED_REQUIREMENTS
    write(project / "Pipfile.lock", "{}")
    assert find_input(project).form is Form.PIPFILE_LOCK
    write(project / "poetry.lock", "")
    assert find_input(project).form is Form.POETRY_LOCK
    write(project / "uv.lock", "")
    assert find_input(project).form is Form.UV_LOCK


def test_a_requirement_the_index_lacks_is_one_line_naming_it(tmp_path, target):
    project = tmp_path / "project"
    write(project / "requirements.txt", "tinyone==1.0\nnosuchthing==3.1\n")
    with pytest.raises(BenchError, match="nosuchthing") as raised:
        resolve(project, tmp_path / "out", target)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"requirements.txt": ""}, "require nothing"),
        ({}, "has no dependency file"),
        ({"requirements.txt": "-r ../outside.txt\n"}, "outside the project"),
        ({"requirements.txt": "tinyone @ https://example.invalid/x.whl\n"}, "cannot be fetched"),
        ({"requirements.txt": "-e ./nothing-here\n"}, "not a Python project"),
        ({"pyproject.toml": "[project\n"}, "not valid TOML"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path, files, message):
    project = tmp_path / "project"
    project.mkdir()
    write(tmp_path / "outside.txt", "tinyone\n")
    for name, text in files.items():
        write(project / name, text)
    with pytest.raises(BenchError, match=message) as raised:
        resolve(project, tmp_path / "out", Target())
    assert "\n" not in str(raised.value)


def test_a_users_set_with_plain_pins_is_resolved_into_the_run_folder(tmp_path, target):
    from bench.depsets import load_set
    from bench.intake.sets import set_requirements

    folder = tmp_path / "mine"
    write(folder / "requirements.txt", "tinytwo==2.0\n")
    write(folder / "previous" / "requirements.txt", "tinyone==1.0\n")
    deps = load_set(str(folder))
    files = set_requirements(deps, tmp_path / "run", target)
    assert [f.relative_to(tmp_path / "run") for f in files] == [
        Path("deps/mine/requirements.resolved.txt"),
        Path("deps/mine-previous/requirements.resolved.txt"),
    ]
    assert pinned(files[0]) == {"tinyone": "1.0", "tinytwo": "2.0"}
    assert pinned(files[1]) == {"tinyone": "1.0"}
    assert (folder / "requirements.txt").read_text() == "tinytwo==2.0\n"
    assert sorted(p.name for p in folder.iterdir()) == ["previous", "requirements.txt"]


def test_a_hashed_set_is_used_as_it_is(tmp_path, target):
    from bench.depsets import load_set
    from bench.intake.sets import set_requirements

    folder = tmp_path / "mine"
    line = "tinyone==1.0 --hash=sha256:" + "ab" * 32 + "\n"
    write(folder / "requirements.txt", line)
    (files,) = [set_requirements(load_set(str(folder)), tmp_path / "run", Target())]
    assert [f.read_text() for f in files] == [line]


def _git(repo: Path, *args: str, date: str = "2026-01-01T00:00:00Z") -> str:
    env = git_env() | {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def test_a_repository_is_its_tracked_files_and_its_dependencies_past(tmp_path):
    from bench.intake.repository import export_repository

    repo = tmp_path / "repo"
    write(repo / "requirements.txt", "tinyone==1.0\n")
    write(repo / "app.py", "print('v1')\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    first = _git(repo, "rev-parse", "HEAD").strip()
    write(repo / "requirements.txt", "tinyone==1.0\ntinytwo==2.0\n")
    write(repo / "requirements-dev.txt", "tinysrc==0.5\n")
    write(repo / "tests" / "test_two.py", "import tinytwo\n")  # arrives with its dependency
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two")
    write(repo / "app.py", "print('v3')\n")
    _git(repo, "commit", "-qam", "three: no dependency change")
    write(repo / "untracked.txt", "not in git\n")
    write(repo / "app.py", "print('dirty working tree')\n")

    exported = export_repository(repo, tmp_path / "set")
    assert exported.previous_commit == first
    folder = exported.folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "app.py", "previous", "requirements-dev.txt", "requirements.txt", "tests"
    ]  # fmt: skip
    assert (folder / "app.py").read_text() == "print('v3')\n"
    # previous/ over HEAD's files is the commit before the change: its tests match its deps
    assert (folder / "previous" / "requirements.txt").read_text() == "tinyone==1.0\n"
    assert (folder / "previous" / "app.py").read_text() == "print('v1')\n"
    removed = (folder / "previous" / "removed.txt").read_text()
    assert removed == "requirements-dev.txt\ntests/test_two.py\n"


def test_a_repository_without_a_dependency_change_has_no_previous(tmp_path):
    from bench.intake.repository import export_repository

    repo = tmp_path / "repo"
    write(repo / "requirements.txt", "tinyone==1.0\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    exported = export_repository(repo, tmp_path / "set")
    assert exported.previous_commit is None
    assert not (exported.folder / "previous").exists()


def test_not_a_repository_is_one_line(tmp_path):
    from bench.intake.repository import export_repository

    with pytest.raises(BenchError, match="git rev-parse failed") as raised:
        export_repository(tmp_path, tmp_path / "set")
    assert "\n" not in str(raised.value)


LOCK_WITH_EVERY_SOURCE = """\
version = 1
requires-python = ">=3.9"

[[package]]
name = "demo"
version = "0.1"
source = { editable = "." }
dependencies = [
    { name = "tinyone", version = "1.0", source = { registry = "https://index.example/simple" } },
    { name = "fromgit" },
]

[[package]]
name = "fromgit"
version = "0.2"
source = { git = "https://example.invalid/fromgit?rev=abc#abc" }

[[package]]
name = "tinyone"
version = "1.0"
source = { registry = "https://index.example/simple" }
sdist = { url = "https://files.example/aa/bb/tinyone-1.0.tar.gz", hash = "sha256:00", size = 1 }
wheels = [
    { url = "https://files.example/cc/dd/tinyone-1.0-py3-none-any.whl", hash = "sha256:11" },
]
"""


def test_a_uv_lock_is_pointed_at_the_mirror_and_nothing_else_changes():
    mirror = "http://127.0.0.1:9/simple/"
    text = point_at_mirror(LOCK_WITH_EVERY_SOURCE, mirror)
    assert "index.example" not in text and "files.example" not in text
    assert text.count(f'registry = "{mirror}"') == 2  # the package's source and a dependency's
    assert 'url = "http://127.0.0.1:9/files/tinyone-1.0.tar.gz", hash = "sha256:00"' in text
    assert '{ url = "http://127.0.0.1:9/files/tinyone-1.0-py3-none-any.whl", hash' in text
    assert 'source = { git = "https://example.invalid/fromgit?rev=abc#abc" }' in text
    assert len(text.splitlines()) == len(LOCK_WITH_EVERY_SOURCE.splitlines())
    assert point_at_mirror(text, mirror) == text  # a second pass changes nothing


def test_uv_sync_locked_installs_a_lock_made_against_another_index(tmp_path, tiny_mirror):
    """The lock names the index it was made with; the runner has only the mirror. Without the
    rewrite ``uv sync --locked`` refuses the lock; with it, uv installs it from the mirror."""
    project = tmp_path / "project"
    write(
        project / "pyproject.toml",
        PYPROJECT.format(dependencies='["tinytwo"]').split("[build-system]")[0],
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "UV_CACHE_DIR": str(tmp_path / "c"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    lock = [uv_binary(), "lock", "--no-config", "--index-url", tiny_mirror.index_url(), "-q"]
    subprocess.run(lock, cwd=project, check=True, env=env)
    with MirrorServer(tiny_mirror.wheelhouse, port=free_port()) as other:
        sync = [
            uv_binary(),
            "sync",
            "--locked",
            "--no-config",
            "--default-index",
            other.index_url(),
        ]
        refused = subprocess.run(sync, cwd=project, env=env, capture_output=True, text=True)
        assert refused.returncode != 0
        assert point_locks_at_mirror(project, other.index_url()) == [project / "uv.lock"]
        done = subprocess.run(sync, cwd=project, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert other.stats().requests >= 1  # installed from the mirror the lock now names
    assert (project / ".venv").is_dir()
