"""Derive a set's poetry, uv and pipenv projects from its pins, and lock them against the mirror.

The pins in ``requirements.txt`` are the truth: every pinned package (transitive ones
included) becomes an exact requirement of the project's ``[project]`` table (read by poetry and
uv alike) and of the Pipfile, so the four files describe the same versions. Locking happens
against the project's own mirror at its fixed address (``BENCH_INDEX_URL``), which lock files
record; the mirror must also hold the packages other platforms need
(``scenarios/tools/lock-only.txt``) because poetry and uv lock for all of them.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from bench.errors import BenchError
from bench.mirror.clients import (
    mirror_environment,
    pipfile_source,
    poetry_source,
    scrubbed_environment,
    uv_index,
)
from bench.mirror.fetch import read_pins

# The bench's mirror always listens here, so lock files (which record their source) stay valid.
BENCH_MIRROR_PORT = 38141
BENCH_INDEX_URL = f"http://127.0.0.1:{BENCH_MIRROR_PORT}/simple/"

PYTHON_RANGE = ">=3.11,<3.12"


def pinned_versions(requirements: Path) -> dict[str, str]:
    """Canonical project name to pinned version."""
    pins, _options = read_pins(requirements)
    return {pin.project: pin.version for pin in pins}


def pyproject_text(name: str, versions: dict[str, str], index_url: str) -> str:
    dependencies = "".join(f'    "{pkg}=={ver}",\n' for pkg, ver in sorted(versions.items()))
    return (
        "[project]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        f'requires-python = "{PYTHON_RANGE}"\n'
        f"dependencies = [\n{dependencies}]\n\n"
        "[tool.poetry]\n"
        "package-mode = false\n\n" + poetry_source(index_url) + "\n" + uv_index(index_url)
    )


def pipfile_text(versions: dict[str, str], index_url: str) -> str:
    packages = "".join(f'{pkg} = "=={ver}"\n' for pkg, ver in sorted(versions.items()))
    return (
        pipfile_source(index_url.rstrip("/"))
        + f'\n[packages]\n{packages}\n[requires]\npython_version = "3.11"\n'
    )


def derive_projects(folder: Path, index_url: str, python: str, name: str | None = None) -> None:
    """Write ``pyproject.toml`` with ``poetry.lock`` and ``uv.lock``, and ``Pipfile`` with
    ``Pipfile.lock``, into ``folder``.

    No ``[build-system]`` is written, so uv treats the project as virtual (it installs the pins,
    not the project itself), as poetry's ``package-mode = false`` does. The mirror at
    ``index_url`` must be serving. The tools run in a scratch home, so nothing of the user's
    configuration or caches is read or written.
    """
    versions = pinned_versions(folder / "requirements.txt")
    project_name = name or folder.name
    (folder / "pyproject.toml").write_text(pyproject_text(project_name, versions, index_url))
    (folder / "Pipfile").write_text(pipfile_text(versions, index_url))
    with tempfile.TemporaryDirectory(prefix="bench-lock-") as scratch:
        env = scrubbed_environment(Path(scratch)) | mirror_environment(index_url)
        env["PIPENV_VENV_IN_PROJECT"] = "0"
        env["POETRY_VIRTUALENVS_IN_PROJECT"] = "false"
        _run(["poetry", "lock"], folder, env)
        _run(["uv", "lock", "--python", python], folder, env)
        env["PIPENV_PYTHON"] = python
        _run(["pipenv", "lock"], folder, env)
        _run(["pipenv", "--rm"], folder, env, check=False)


def _run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise BenchError(f"{' '.join(command)} failed in {cwd}: {' / '.join(tail)}")
