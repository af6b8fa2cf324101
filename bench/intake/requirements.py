"""Requirement files as projects write them: includes, constraints, markers, index options.

pip's format is read just far enough to hand it to a resolver safely: ``-r``/``-c`` includes
are followed (inside the project only), options that name an index or a folder of files are
dropped with a notice (the harness installs only from its own mirror), and ``-e .``/``.``
lines, the project itself, are kept apart: the project is built in the job, not fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from bench.errors import BenchError
from bench.mirror.fetch import logical_lines

# Options that point pip somewhere else than the mirror: dropped, with a notice.
_INDEX_OPTIONS = (
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
    "--no-index", "--pre",
)  # fmt: skip
# Options about how packages are built or picked: passed on to the resolver and kept.
_BUILD_OPTIONS = ("--no-binary", "--only-binary", "--prefer-binary", "--require-hashes")
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)$")
_EDITABLE = re.compile(r"^(-e|--editable)(?:\s+|=)(\S+)$")
_HASH = re.compile(r"\s--hash[=\s]+\S+")


@dataclass
class RequirementsRead:
    """What a requirement file and its includes ask for, cleaned for a resolver."""

    requirements: list[str] = field(default_factory=list)  # PEP 508 lines, hashes dropped
    constraints: list[str] = field(default_factory=list)
    projects: list[Path] = field(default_factory=list)  # local projects installed from source
    project_extras: dict[Path, str] = field(default_factory=dict)  # "[socks,http2]" as written
    build_options: list[str] = field(default_factory=list)  # --no-binary and the like
    notices: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # every file read, includes too
    all_pinned: bool = True  # every requirement is NAME==VERSION

    def project_lines(self) -> list[str]:
        """The local projects as editable requirement lines, with the extras they ask for."""
        return [f"-e {p}{self.project_extras.get(p, '')}" for p in self.projects]

    def is_empty(self) -> bool:
        return not self.requirements and not self.projects


def read_requirements(paths: list[Path], root: Path) -> RequirementsRead:
    """Read ``paths`` (and what they include, confined to ``root``) into one cleaned request."""
    read = RequirementsRead()
    for path in paths:
        _read_file(path.resolve(), root.resolve(), read, constraint=False, seen=set())
    return read


def _read_file(
    path: Path, root: Path, read: RequirementsRead, *, constraint: bool, seen: set[Path]
) -> None:
    if path in seen:
        return
    seen.add(path)
    if not path.is_relative_to(root):
        raise BenchError(f"{path} is outside the project {root}; keep -r/-c includes inside it")
    try:
        text = path.read_text()
    except OSError as error:
        raise BenchError(f"cannot read {path}: {error.strerror}") from None
    read.files.append(path)
    where = path.relative_to(root)
    for number, line in logical_lines(text):
        include = _INCLUDE.match(line)
        if include:
            target = (path.parent / include.group(2)).resolve()
            is_constraint = include.group(1) in ("-c", "--constraint")
            _read_file(target, root, read, constraint=constraint or is_constraint, seen=seen)
            continue
        editable = _EDITABLE.match(line)
        local = editable.group(2) if editable else line if _is_local_path(line) else None
        if local is not None:
            folder = _local_project(path.parent, local, root, where, number)
            read.projects.append(folder)
            extras = re.search(r"\[[^\]]*\]$", local)
            if extras:
                read.project_extras[folder] = extras.group(0)
            continue
        if line.startswith("-"):
            option = re.split(r"[\s=]", line, maxsplit=1)[0]
            if option in _BUILD_OPTIONS:
                if line not in read.build_options:
                    read.build_options.append(line)
                continue
            if option in _INDEX_OPTIONS:
                read.notices.append(f"{where}:{number}: {option} ignored (the mirror serves all)")
                continue
            raise BenchError(
                f"{where}:{number}: option {option} is not supported in a requirement file here; "
                "remove it"
            )
        spec = _HASH.sub("", " " + line).strip()
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as error:
            raise BenchError(f"{where}:{number}: {error}") from None
        if requirement.url:
            raise BenchError(
                f"{where}:{number}: {requirement.name} @ URL cannot be fetched offline; "
                "pin a version instead"
            )
        if constraint:
            read.constraints.append(spec)
            continue
        pinned = [s for s in requirement.specifier if s.operator in ("==", "===")]
        if not pinned or "*" in pinned[0].version:
            read.all_pinned = False
        read.requirements.append(spec)


def _is_local_path(line: str) -> bool:
    return line in (".", "..") or line.startswith(("./", "../", "/", "file:"))


def _local_project(base: Path, spec: str, root: Path, where: Path, number: int) -> Path:
    folder_spec = re.sub(r"\[.*\]$", "", spec.removeprefix("file:"))
    folder = (base / folder_spec).resolve()
    if not folder.is_relative_to(root):
        raise BenchError(f"{where}:{number}: {spec} is outside the project; keep it inside")
    if not (folder / "pyproject.toml").is_file() and not (folder / "setup.py").is_file():
        raise BenchError(f"{where}:{number}: {spec} is not a Python project (no pyproject.toml)")
    return folder
