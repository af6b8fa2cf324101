"""What the candidate jobs need to know about a user's project: how it installs and tests.

Read from the dependency form (``bench.intake``) and from the team's own job: the files a cache
key should hash, the arguments ``pip install`` / ``uv pip install`` take, the tool a lock file
belongs to, and the test command (the team's, or ``--test-cmd``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.intake.forms import DependencyInput, Form, read_toml

# A run: step whose command is one of these runs the project's tests.
_TEST_COMMAND = re.compile(
    r"^\s*((uv|poetry|pipenv|hatch|pdm)\s+run(\s+-\S+)*\s+)?(python3?\s+(-m\s+)?)?"
    r"(pytest|tox|nox|unittest|(\./)?manage\.py\s+test)\b.*$",
    re.MULTILINE,
)
_RUNNER_PREFIX = re.compile(r"^(uv|poetry|pipenv|hatch|pdm)\s+run(\s+-\S+)*\s+")
DEFAULT_TEST_COMMAND = "pytest"


@dataclass(frozen=True)
class ProjectFacts:
    form: Form
    key_files: tuple[str, ...]  # hashFiles() patterns for the dependency files
    pip_arguments: str  # what follows ``pip install`` for this project ('' when pip cannot)
    lock_tool: str | None  # "uv", "poetry" or "pipenv" when a lock file decides the install
    test_command: str  # the test command alone, without a ``uv run``-style prefix
    poetry_offline: bool = True  # poetry can install the lock from the mirror (see below)


def project_facts(dependency_input: DependencyInput, test_command: str) -> ProjectFacts:
    folder = dependency_input.folder
    relative = tuple(str(f.relative_to(folder)) for f in dependency_input.files)
    form = dependency_input.form
    lock_tool = {Form.UV_LOCK: "uv", Form.POETRY_LOCK: "poetry", Form.PIPFILE_LOCK: "pipenv"}
    if form in (Form.PINNED_REQUIREMENTS, Form.RANGED_REQUIREMENTS):
        pip_arguments = " ".join(f"-r {shlex.quote(name)}" for name in relative)
    elif form in (Form.PYPROJECT, Form.PROJECT_ITSELF):
        pyproject = folder / "pyproject.toml"
        groups = test_group_requirements(read_toml(pyproject)) if pyproject.is_file() else []
        pip_arguments = " ".join(
            ["-e", shlex.quote("." + _extras(pyproject)), *map(shlex.quote, groups)]
        )
    else:
        pip_arguments = ""
    key_files = relative or ("pyproject.toml",)
    return ProjectFacts(
        form, key_files, pip_arguments, lock_tool.get(form), test_command,
        poetry_offline=poetry_reaches_the_mirror(folder / "pyproject.toml"),
    )  # fmt: skip


def poetry_reaches_the_mirror(pyproject: Path) -> bool:
    """Whether poetry would install this project from the loopback mirror.

    Poetry has no setting that swaps the public index for another without the project saying
    so: a project without a primary source of its own reads the public index (which a fake
    runner cannot reach), and adding one would change its lock's content hash. Only a project
    whose primary source is on loopback (the mirror) can be installed here."""
    if not pyproject.is_file():
        return True
    sources = read_toml(pyproject).get("tool", {}).get("poetry", {}).get("source", [])
    return any(
        isinstance(source, dict)
        and (source.get("priority") == "primary" or source.get("default") is True)
        and urlsplit(str(source.get("url", ""))).hostname in ("127.0.0.1", "localhost")
        for source in sources
    )


def _extras(pyproject) -> str:
    """All extras of the project, as ``[a,b]``: the candidates install what tests may need."""
    if not pyproject.is_file():
        return ""
    extras = sorted(read_toml(pyproject).get("project", {}).get("optional-dependencies", {}))
    return f"[{','.join(extras)}]" if extras else ""


def test_group_requirements(pyproject: dict) -> list[str]:
    """The requirements of the ``dev`` group and of groups named like tests, includes followed.

    pip before 25.1 has no ``--group``, so pip-based candidates list them on the command line.
    """
    groups = pyproject.get("dependency-groups", {})
    wanted = [name for name in groups if name == "dev" or "test" in name]
    found: list[str] = []

    def add(name: str, seen: tuple[str, ...]) -> None:
        for entry in groups.get(name, []):
            if isinstance(entry, dict) and "include-group" in entry:
                if entry["include-group"] not in seen:
                    add(entry["include-group"], (*seen, entry["include-group"]))
            elif isinstance(entry, str) and entry not in found:
                found.append(entry)

    for name in wanted:
        add(name, (name,))
    return found


def read_test_command(run_scripts: list[str]) -> str | None:
    """The last test command among a job's ``run:`` scripts, without its tool prefix."""
    found = None
    for script in run_scripts:
        for match in _TEST_COMMAND.finditer(script):
            found = _RUNNER_PREFIX.sub("", match.group(0).strip())
    return found
