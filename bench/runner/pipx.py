"""pipx on the fake runner, where GitHub's Ubuntu images have it.

The images install pipx with the system Python and set ``PIPX_HOME=/opt/pipx`` and
``PIPX_BIN_DIR=/opt/pipx_bin`` (in ``/etc/environment``, with ``/opt/pipx_bin`` put on PATH), so
``pipx install poetry`` makes a venv under ``/opt/pipx/venvs`` from the system Python and links
``poetry`` into ``/opt/pipx_bin``. Here the same tree is under the runner's root: pipx itself in a
venv at ``<root>/usr/local/lib/pipx`` (standing for the system-wide install; its ``pipx`` linked
from ``<root>/usr/local/bin``, which is on PATH, so that venv's own ``python`` is not), and
``<root>/opt/pipx`` holding pipx's shared libraries (the pip every pipx venv uses), made as on the
image: by pipx, with pip from the mirror.

It is made once per run, untimed, at the path the trials use (its scripts name their
interpreter), into a template; each trial gets hard links to it. pipx and pip replace files
rather than write into them, so no trial changes the template. Which Python: the image's system
``python3`` when it is the runner's version (the wheelhouse is filled for it), else the
interpreter ``bench.runner.pythons`` finds for that version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from bench.errors import BenchError
from bench.locking import pinned_versions
from bench.runner.pythons import select_interpreter, version_of
from bench.runner.sandbox import Sandbox

SYSTEM_PYTHON = "/usr/bin/python3"
# The tools' pins (bench.metadata names the same file; the runner imports no other room).
TOOLS_REQUIREMENTS = Path(__file__).resolve().parents[2] / "scenarios/tools/requirements.txt"
_NAMED = re.compile(r"(?<![\w.-])pipx(?![\w.-])")


def _runtime(sandbox: Sandbox) -> Path:
    """pipx's own venv (the image's system-wide install), off PATH."""
    return sandbox.root / "usr" / "local" / "lib" / "pipx"


def _trees(sandbox: Sandbox) -> list[Path]:
    """What the template holds, relative to the runner's root."""
    parts = (_runtime(sandbox), sandbox.local_bin, sandbox.pipx_home, sandbox.pipx_bin_dir)
    return [part.relative_to(sandbox.root) for part in parts]


def names_pipx(script: str) -> bool:
    """Whether a ``run:`` script calls pipx (``pipx ...``, ``python -m pipx``)."""
    return bool(_NAMED.search(script))


def pipx_requirement(requirements: Path = TOOLS_REQUIREMENTS) -> str:
    """pipx as the tools' pins name it (the wheelhouse holds that version)."""
    pins = pinned_versions(requirements) if requirements.is_file() else {}
    version = next((v for name, v in pins.items() if name.lower() == "pipx"), None)
    return f"pipx=={version}" if version else "pipx"


def runner_python(version: str) -> str:
    """The Python pipx runs with and makes its venvs from: the system ``python3`` when it is
    ``version`` (as on the image), else the machine's interpreter for ``version``."""
    found = version_of(SYSTEM_PYTHON)
    if found is not None and found.rsplit(".", 1)[0] == version:
        return SYSTEM_PYTHON
    return select_interpreter(version).path


def make_pipx(sandbox: Sandbox, python: str, env: dict[str, str], template: Path) -> None:
    """Install pipx into ``sandbox`` (pip from the mirror ``env`` names), then keep its trees
    in ``template``. ``env`` is the runner's: nothing of the host's PATH or home is used."""
    runtime = _runtime(sandbox)
    _run([python, "-m", "venv", str(runtime)], env)
    _run([str(runtime / "bin" / "python"), "-m", "pip", "install", pipx_requirement()], env)
    command = sandbox.local_bin / "pipx"
    command.parent.mkdir(parents=True, exist_ok=True)
    command.symlink_to(os.path.relpath(runtime / "bin" / "pipx", command.parent))
    # pipx makes its shared libraries (a venv with pip from the mirror) as on the image, where
    # the tools the image installs with pipx made them; trials then find them fresh.
    _run([str(command), "upgrade-shared"], env)
    sandbox.pipx_bin_dir.mkdir(parents=True, exist_ok=True)
    partial = template.with_name(template.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for part in _trees(sandbox):
        (partial / part).parent.mkdir(parents=True, exist_ok=True)
        _run(["cp", "-a", str(sandbox.root / part), str(partial / part)], env)
    shutil.rmtree(template, ignore_errors=True)
    partial.rename(template)  # a template is whole or absent, even when preparing is cut short


def install_pipx(sandbox: Sandbox, template: Path) -> None:
    """The template's trees into a fresh runner: hard links, or a copy on another file system."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    try:
        _run(["cp", "-al", f"{template}/.", str(sandbox.root)], env)
    except BenchError:
        _run(["cp", "-a", f"{template}/.", str(sandbox.root)], env)


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True)
    except OSError as error:
        raise BenchError(f"pipx: cannot run {command[0]}: {error.strerror}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BenchError(
            f"pipx: {' '.join(command[:4])} failed with exit code {result.returncode}: {tail[0]}"
        )
