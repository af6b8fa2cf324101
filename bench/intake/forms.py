"""Which of a project's files say what it depends on, in the order the harness trusts them.

A lock file is a resolution already made, so it wins: ``uv.lock``, ``poetry.lock``,
``Pipfile.lock``; then requirement files that pin every package; then ``pyproject.toml``'s own
dependencies (PEP 621, extras, PEP 735 groups); then requirement files with ranges; last, a
project with no dependencies of its own but itself (``-e .``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.errors import BenchError
from bench.intake.requirements import RequirementsRead, read_requirements


class Form(StrEnum):
    UV_LOCK = "uv.lock"
    POETRY_LOCK = "poetry.lock"
    PIPFILE_LOCK = "Pipfile.lock"
    PINNED_REQUIREMENTS = "pinned requirements"
    PYPROJECT = "pyproject.toml"
    RANGED_REQUIREMENTS = "ranged requirements"
    PROJECT_ITSELF = "the project itself"


@dataclass(frozen=True)
class DependencyInput:
    """The form chosen and the files it reads, relative to the project's folder."""

    form: Form
    folder: Path
    files: tuple[Path, ...]

    def describe(self) -> str:
        names = ", ".join(str(f.relative_to(self.folder)) for f in self.files)
        return f"{self.form} ({names})" if names else str(self.form)


def find_input(folder: Path, requirement_files: list[Path] | None = None) -> DependencyInput:
    """The best description of ``folder``'s dependencies; a one-line error when there is none.

    ``requirement_files`` are the files a workflow installs, when known; otherwise every
    ``requirements*.txt`` at the top and in ``requirements/``.
    """
    folder = folder.resolve()
    for form in (Form.UV_LOCK, Form.POETRY_LOCK, Form.PIPFILE_LOCK):
        if (folder / form.value).is_file():
            return DependencyInput(form, folder, (folder / form.value,))
    files = requirement_files if requirement_files is not None else requirement_files_in(folder)
    read = read_requirements(files, folder) if files else None
    if read is not None and read.requirements and read.all_pinned:
        return DependencyInput(Form.PINNED_REQUIREMENTS, folder, tuple(files))
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file() and declares_dependencies(pyproject):
        return DependencyInput(Form.PYPROJECT, folder, (pyproject,))
    if read is not None and not read.is_empty():
        return DependencyInput(Form.RANGED_REQUIREMENTS, folder, tuple(files))
    if pyproject.is_file() or (folder / "setup.py").is_file():
        return DependencyInput(Form.PROJECT_ITSELF, folder, ())
    if read is not None:
        raise BenchError(f"{_names(files, folder)} require nothing; add the project's dependencies")
    raise BenchError(
        f"{folder} has no dependency file (uv.lock, poetry.lock, Pipfile.lock, "
        "requirements*.txt or pyproject.toml); add one"
    )


def requirement_files_in(folder: Path) -> list[Path]:
    top = sorted(folder.glob("requirements*.txt"))
    nested = sorted((folder / "requirements").glob("*.txt"))
    return [p for p in top + nested if p.is_file()]


def declares_dependencies(pyproject: Path) -> bool:
    data = read_toml(pyproject)
    project = data.get("project", {})
    return bool(
        project.get("dependencies")
        or project.get("optional-dependencies")
        or data.get("dependency-groups")
        or "dependencies" in project.get("dynamic", [])
    )


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise BenchError(f"cannot read {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise BenchError(f"{path} is not valid TOML: {error}; fix it") from None


def declared_names(dependency_input: DependencyInput) -> frozenset[str] | None:
    """The projects a requirement-file input names itself; None where only resolving tells."""
    if dependency_input.form not in (Form.PINNED_REQUIREMENTS, Form.RANGED_REQUIREMENTS):
        return None
    read = requirements_of(dependency_input)
    return frozenset(canonicalize_name(Requirement(spec).name) for spec in read.requirements)


def requirements_of(dependency_input: DependencyInput) -> RequirementsRead:
    return read_requirements(list(dependency_input.files), dependency_input.folder)


def _names(files: list[Path], folder: Path) -> str:
    return ", ".join(str(f.relative_to(folder)) for f in files)
