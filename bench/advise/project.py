"""What the candidate jobs need to know about a user's project: how it installs and tests.

Read from the dependency form (``bench.intake``) and from the team's own job: the files a cache
key should hash, the arguments ``pip install`` / ``uv pip install`` take, the tool a lock file
belongs to, and the test command (the team's, or ``--test-cmd``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

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
    return ProjectFacts(form, key_files, pip_arguments, lock_tool.get(form), test_command)


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
