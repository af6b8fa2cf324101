"""Resolve a project's dependencies once, for the runner's Python and platform, with hashes.

Whatever form the project keeps them in (``forms.py``), the result is one requirements file in
which every package the job installs is pinned with its hashes: what the mirror's wheelhouse
must hold. Lock files are honoured (their versions are the answer; only the packages this
platform needs are kept); everything else is resolved by uv against the index the machine is
configured with (or ``index_url``). The project's own files are never written: the result goes
to ``out_dir``. uv runs with a scratch cache and no user configuration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from bench.errors import BenchError
from bench.intake.forms import DependencyInput, Form, find_input, read_toml, requirements_of
from bench.tools import find_tool

RESOLVED_NAME = "requirements.resolved.txt"
BUILD_NAME = "build.resolved.txt"
PLATFORM = "x86_64-manylinux_2_28"
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0",)


@dataclass(frozen=True)
class Resolution:
    """Where the resolved pins are, what they came from and what was set aside."""

    input: DependencyInput
    requirements: Path  # every package pinned with hashes
    build_requirements: Path | None  # the project's build backend, when the job builds it
    notices: tuple[str, ...]

    def describe(self) -> str:
        return self.input.describe()


@dataclass(frozen=True)
class Target:
    python_version: str = "3.11"
    index_url: str | None = None
    extras: tuple[str, ...] = ()  # ("*",) for all of them
    groups: tuple[str, ...] = ()  # PEP 735 dependency groups of the project's pyproject.toml


RUNNER_TARGET = Target()  # CPython 3.11 on x86-64 Linux, the index the machine is configured with


def resolve(folder: Path, out_dir: Path, target: Target = RUNNER_TARGET) -> Resolution:
    """Resolve ``folder``'s dependencies into ``out_dir``; a one-line error names what failed."""
    dependency_input = find_input(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = out_dir / RESOLVED_NAME
    notices: list[str] = []
    builds_project = False
    form = dependency_input.form
    if form is Form.UV_LOCK:
        _uv_export(dependency_input.folder, resolved, target)
        builds_project = locked_project_is_built(dependency_input.folder)
    elif form is Form.PIPFILE_LOCK:
        builds_project = _pipfile_lock(dependency_input.files[0], resolved)
    elif form is Form.POETRY_LOCK:
        _poetry_lock(dependency_input.folder, resolved, target)
        builds_project = locked_project_is_built(dependency_input.folder)
    elif form in (Form.PINNED_REQUIREMENTS, Form.RANGED_REQUIREMENTS):
        read = requirements_of(dependency_input)
        notices.extend(read.notices)
        builds_project = bool(read.projects)
        lines = [*read.build_options, *read.requirements, *read.project_lines()]
        _compile(lines, read.constraints, resolved, target, dependency_input.folder)
    else:  # the project's own pyproject (with or without dependencies of its own)
        builds_project = True
        project_file = dependency_input.folder / "pyproject.toml"
        everything = replace(
            target,
            extras=target.extras or ("*",),
            groups=target.groups or dependency_groups(project_file),
        )
        if not project_file.is_file():
            project_file = dependency_input.folder / "setup.py"
        _compile_sources([project_file], [], resolved, everything, dependency_input.folder)
    build = None
    if builds_project or form in (Form.PYPROJECT, Form.PROJECT_ITSELF):
        build = out_dir / BUILD_NAME
        backend = replace(target, extras=(), groups=())
        _compile(build_requires(dependency_input.folder), [], build, backend, out_dir)
    return Resolution(dependency_input, resolved, build, tuple(notices))


def compile_file(source: Path, out: Path, target: Target) -> Path:
    """``source`` (a ``requirements.in`` of tools) pinned with hashes for ``target`` into
    ``out``, wheels only: a tool is installed, never built, in a job."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _compile_sources([source], [], out, target, source.parent, ["--only-binary", ":all:"])
    return out


def locked_project_is_built(folder: Path) -> bool:
    """Whether installing a uv or poetry lock builds the project itself (with its backend)."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    document = read_toml(pyproject)
    tool = document.get("tool", {})
    if tool.get("uv", {}).get("package") is False:
        return False
    if tool.get("poetry", {}).get("package-mode") is False:
        return False
    return "build-system" in document


# What a backend asks for at build time beyond its static ``requires`` (PEP 517's
# get_requires_for_build_* hooks), which a job's isolated build then fetches from the index:
# hatchling's editable builds need ``editables``; older setuptools asks for ``wheel``.
DYNAMIC_BUILD_REQUIRES = {"hatchling.build": ("editables",), "setuptools.build_meta": ("wheel",)}


def build_requires(folder: Path) -> list[str]:
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return [*DEFAULT_BUILD_REQUIRES, "wheel"]
    system = read_toml(pyproject).get("build-system", {})
    static = list(system.get("requires", DEFAULT_BUILD_REQUIRES)) or list(DEFAULT_BUILD_REQUIRES)
    backend = system.get("build-backend", "setuptools.build_meta")
    return static + list(DYNAMIC_BUILD_REQUIRES.get(backend, ()))


def _compile(
    lines: list[str], constraints: list[str], out: Path, target: Target, cwd: Path
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-resolve-") as scratch:
        request = Path(scratch) / "requirements.in"
        request.write_text("\n".join(lines) + "\n")
        _compile_sources([request], constraints, out, target, cwd)


def _compile_sources(
    sources: list[Path],
    constraints: list[str],
    out: Path,
    target: Target,
    cwd: Path,
    more: list[str] | None = None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-resolve-") as scratch:
        command = ["pip", "compile", *map(str, sources), "-o", str(out), "--generate-hashes"]
        command += _target_options(target, cwd)
        if constraints:
            constraint_file = Path(scratch) / "constraints.txt"
            constraint_file.write_text("\n".join(constraints) + "\n")
            command += ["--constraints", str(constraint_file)]
        command += _extra_options(target) + (more or [])
        _uv(command, cwd, target)
    _drop_local_projects(out)


def _uv_export(folder: Path, out: Path, target: Target) -> None:
    command = [
        "export", "--frozen", "--format", "requirements-txt", "--no-emit-project",
        "--no-header", "--no-annotate", "-o", str(out),
    ]  # fmt: skip
    # Every extra and group unless some are named: the wheelhouse holds what any job may ask.
    command += _extra_options(replace(target, extras=target.extras or ("*",)))
    command += [a for g in target.groups for a in ("--group", g)] or ["--all-groups"]
    _uv(command, folder, target)
    _drop_local_projects(out)


def _poetry_lock(folder: Path, out: Path, target: Target) -> None:
    """The lock's versions as constraints on the project's top-level requirements."""
    lock = read_toml(folder / "poetry.lock")
    pins = [f"{p['name']}=={p['version']}" for p in lock.get("package", [])]
    wanted = (
        poetry_top_level(read_toml(folder / "pyproject.toml"))
        if (folder / "pyproject.toml").is_file()
        else []
    )
    if not wanted:
        wanted = [pin.split("==")[0] for pin in pins]
    _compile(wanted, pins, out, target, folder)


def poetry_top_level(pyproject: dict) -> list[str]:
    """Names (with extras) a poetry project installs: PEP 621 deps, tool.poetry deps, groups."""
    names = list(pyproject.get("project", {}).get("dependencies", []))
    poetry = pyproject.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {})]
    for group in poetry.get("group", {}).values():
        if not group.get("optional", False):
            tables.append(group.get("dependencies", {}))
    for table in tables:
        for name, spec in table.items():
            if name.lower() == "python":
                continue
            spec = spec[0] if isinstance(spec, list) and spec else spec
            if isinstance(spec, dict):
                if spec.get("optional") or "path" in spec or "git" in spec or "url" in spec:
                    continue
                extras = spec.get("extras", [])
                names.append(f"{name}[{','.join(extras)}]" if extras else name)
            else:
                names.append(name)
    return names


def _pipfile_lock(lock_file: Path, out: Path) -> bool:
    """Pipfile.lock is resolved already: its pins, markers and hashes as requirement lines."""
    try:
        lock = json.loads(lock_file.read_text())
    except (OSError, ValueError) as error:
        raise BenchError(f"cannot read {lock_file}: {error}; fix or re-lock it") from None
    lines: list[str] = []
    builds_project = False
    for section in ("default", "develop"):
        for name, entry in sorted(lock.get(section, {}).items()):
            if "path" in entry or "editable" in entry:
                builds_project = True
                continue
            if "version" not in entry or not entry.get("hashes"):
                raise BenchError(
                    f"{lock_file}: {name} has no pinned version with hashes; re-lock it"
                )
            marker = f" ; {entry['markers']}" if entry.get("markers") else ""
            hashes = " ".join(f"--hash={h}" for h in entry["hashes"])
            lines.append(f"{name}{entry['version']}{marker} {hashes}")
    out.write_text("\n".join(lines) + "\n")
    return builds_project


def _extra_options(target: Target) -> list[str]:
    if target.extras == ("*",):
        return ["--all-extras"]
    return [a for extra in target.extras for a in ("--extra", extra)]


def dependency_groups(pyproject: Path) -> tuple[str, ...]:
    return tuple(read_toml(pyproject).get("dependency-groups", {})) if pyproject.is_file() else ()


def _target_options(target: Target, folder: Path) -> list[str]:
    options = ["--python-version", target.python_version, "--python-platform", PLATFORM]
    options += ["--no-header", "--no-annotate", "--quiet", "--emit-build-options"]
    for group in target.groups:
        options += ["--group", f"{folder / 'pyproject.toml'}:{group}"]
    return options


def _uv(arguments: list[str], cwd: Path, target: Target) -> None:
    uv = uv_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    with tempfile.TemporaryDirectory(prefix="bench-uv-cache-") as cache:
        env["UV_CACHE_DIR"] = cache
        command = [uv, *arguments, "--no-config"]
        if target.index_url and arguments[0] == "pip":
            command += ["--index-url", target.index_url]
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(explain_uv_failure(result.stderr or result.stdout))


def explain_uv_failure(output: str) -> str:
    """uv's reason in one line, naming the requirement it could not satisfy when it says."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    unsatisfiable = next(
        (line for line in lines if "no version of" in line or "not found in the" in line), None
    )
    if unsatisfiable:
        reason = _strip_marks(unsatisfiable)
        return f"cannot resolve the dependencies: {reason}; fix the requirement or the index"
    last = lines[-1] if lines else "uv failed without a message"
    return f"cannot resolve the dependencies: {_strip_marks(last)}"


def _strip_marks(line: str) -> str:
    return re.sub("^(\u2570\u2500\u25b6|\u00d7|error:)\\s*", "", line)


def uv_binary() -> str:
    return find_tool("uv", "uv")


def _drop_local_projects(resolved: Path) -> None:
    """Local projects are built in the job, not fetched: keep only index packages."""
    kept = [
        line
        for line in resolved.read_text().splitlines()
        if not line.startswith(("-e ", "./", "../", "/", "file:"))
    ]
    resolved.write_text("\n".join(kept) + "\n")
