"""Fill a wheelhouse, once, with every file that fully pinned requirement files need.

pip does the downloading (for the running interpreter and platform, with ``--require-hashes``
and ``--no-deps``: the files are pinned, transitive dependencies included). Where the packages
come from is pip's own configuration, or ``--index-url`` when given (then nothing of the
machine's pip configuration is used). Files land in a temporary folder inside the wheelhouse and
are moved in one by one only after their hash is checked, so an interrupted fetch leaves nothing
a later run would trust. Requirements already satisfied by a file in the wheelhouse are skipped,
so a second fetch asks the network nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from bench.errors import BenchError
from bench.mirror.distfiles import scan_wheelhouse, sha256_of

DEFAULT_WHEELHOUSE = Path(__file__).resolve().parents[2] / ".wheelhouse"


@dataclass
class Pin:
    project: str
    line: str  # the requirement as written, hashes included
    hashes: set[str] = field(default_factory=set)
    version: str = ""


@dataclass(frozen=True)
class FetchResult:
    fetched: list[str]
    already_there: int


def read_pins(requirement_file: Path) -> tuple[list[Pin], list[str]]:
    """The pinned requirements and the option lines (such as ``--no-binary``) of a file."""
    try:
        text = requirement_file.read_text()
    except OSError as error:
        raise BenchError(f"cannot read {requirement_file}: {error.strerror}") from None
    pins: list[Pin] = []
    options: list[str] = []
    for number, logical in logical_lines(text):
        if logical.startswith("-"):
            options.append(logical)
            continue
        hashes = set(re.findall(r"--hash[=\s]+sha256:([0-9a-fA-F]{64})", logical))
        spec = re.split(r"\s--hash", logical)[0].strip()
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as error:
            raise BenchError(f"{requirement_file}:{number}: {error}") from None
        pinned = [s for s in requirement.specifier if s.operator in ("==", "===")]
        if not pinned or "*" in pinned[0].version:
            raise BenchError(
                f"{requirement_file}:{number}: {spec!r} is not pinned; write NAME==VERSION"
            )
        if not hashes:
            raise BenchError(
                f"{requirement_file}:{number}: {spec!r} has no --hash=sha256:...; pin its hashes"
            )
        pins.append(
            Pin(
                canonicalize_name(requirement.name),
                logical,
                {h.lower() for h in hashes},
                pinned[0].version,
            )
        )
    return pins, options


def fetch(
    requirement_files: list[Path],
    wheelhouse: Path = DEFAULT_WHEELHOUSE,
    *,
    index_url: str | None = None,
    python_version: str | None = None,
) -> FetchResult:
    """Fetch what the files pin and the wheelhouse lacks, for ``python_version`` (``3.12``;
    default: this interpreter's): a wheel built for another Python does not count as there."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    usable = _usable_tags(python_version)
    files = scan_wheelhouse(wheelhouse)
    sdists = {(f.project, f.sha256) for f in files if not f.is_wheel}
    wheels = {
        (f.project, f.sha256)
        for f in files
        if f.is_wheel and not usable.isdisjoint(parse_wheel_filename(f.filename)[3])
    }
    missing: list[Pin] = []
    options: list[str] = []
    total = 0
    for requirement_file in requirement_files:
        pins, file_options = read_pins(requirement_file)
        options.extend(o for o in file_options if o not in options)
        sources_only = no_binary(file_options)
        for pin in pins:
            total += 1
            # under --no-binary, pip takes only the sdist: another set's wheel does not count
            present = sdists if {pin.project, ":all:"} & sources_only else sdists | wheels
            if not any((pin.project, digest) in present for digest in pin.hashes):
                missing.append(pin)
    if not missing:
        return FetchResult(fetched=[], already_there=total)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=wheelhouse))
    try:
        other = python_version if python_version and python_version != _running_version() else None
        _pip_download(missing, options, staging, index_url, other)
        wanted = {digest: pin for pin in missing for digest in pin.hashes}
        fetched = []
        for path in sorted(staging.iterdir()):
            if path.name == "requirements.txt":
                continue
            digest = sha256_of(path)
            if digest not in wanted:
                raise BenchError(f"pip fetched {path.name}, whose hash no requirement pins")
            os.replace(path, wheelhouse / path.name)
            fetched.append(path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return FetchResult(fetched=fetched, already_there=total - len(missing))


def no_binary(options: list[str]) -> set[str]:
    """The projects (canonical names, or ``:all:``) that ``--no-binary`` options name."""
    named: set[str] = set()
    for option in options:
        found = re.match(r"--no-binary[=\s]+(\S+)", option)
        if found:
            named |= {n if n == ":all:" else canonicalize_name(n) for n in found[1].split(",")}
    return named


def _running_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _usable_tags(python_version: str | None) -> frozenset[Tag]:
    """The wheel tags an interpreter of ``python_version`` on this platform installs."""
    if not python_version or python_version == _running_version():
        return frozenset(sys_tags())
    version = tuple(int(part) for part in python_version.split(".")[:2])
    return frozenset([*cpython_tags(version), *compatible_tags(version)])


def _pip_download(
    pins: list[Pin],
    options: list[str],
    dest: Path,
    index_url: str | None,
    python_version: str | None = None,
) -> None:
    requirements = dest / "requirements.txt"
    requirements.write_text("\n".join([*options, *(p.line for p in pins)]) + "\n")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
        "--disable-pip-version-check", "--progress-bar", "off", "-d", str(dest),
        "-r", str(requirements),
    ]  # fmt: skip
    if python_version:  # files for another interpreter than the one running pip
        command += ["--python-version", python_version]
    env = dict(os.environ)
    if index_url:
        # An explicit index replaces the machine's pip configuration entirely.
        env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        command += ["--index-url", index_url]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise BenchError(_explain_pip_failure(result.stdout + result.stderr))


def _explain_pip_failure(output: str) -> str:
    not_found = re.search(r"Could not find a version that satisfies the requirement (\S+)", output)
    if not_found:
        return (
            f"cannot find {not_found.group(1)} on the index; check the pin and the index "
            "(pip's configuration, or --index-url)"
        )
    mismatch = re.search(r"^\s+(\S+) from .*\n\s+Expected sha256", output, re.MULTILINE)
    if mismatch or "DO NOT MATCH THE HASHES" in output:
        name = mismatch.group(1) if mismatch else "a requirement"
        return f"the file downloaded for {name} does not match its pinned hash; fix the pin"
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    last = errors[-1] if errors else (output.strip().splitlines() or ["pip download failed"])[-1]
    return f"pip download failed: {last.removeprefix('ERROR: ')}"


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations, drop comments and blank lines; keep starting line numbers."""
    lines: list[tuple[int, str]] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            lines.append((start, " ".join(buffer.split())))
        buffer = ""
    if buffer.strip():
        lines.append((start, " ".join(buffer.split())))
    return lines
