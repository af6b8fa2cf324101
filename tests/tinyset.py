"""A tiny dependency set, its previous revision and a wheelhouse to run every scenario offline.

The set is built like a shipped one: pinned requirements with hashes, the poetry and pipenv
projects derived from them and locked against the tests' mirror, smoke tests, and ``previous/``
(tinyone one release older, tinytwo not there yet). Tools and pytest come from ``repack``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from packaging.utils import canonicalize_name

from bench.locking import derive_projects
from bench.mirror.distfiles import scan_wheelhouse
from bench.mirror.server import MirrorServer
from bench.runner.pythons import select_interpreter
from tests.packages import build_sdist, build_wheel
from tests.repack import repack_closure

TOOLS = ["poetry", "pipenv", "uv", "pytest", "pipx", "pip"]  # pipx (and its pip): poetry.yml
CURRENT = {"tinyone": "1.0", "tinytwo": "2.0", "tinysrc": "0.5"}
PREVIOUS = {"tinyone": "0.9", "tinysrc": "0.5"}
TEST_TINY = """\
import tinyone
import tinysrc


def test_tiny_packages_import():
    assert tinyone.hello() == "hello from tinyone"
    assert tinysrc.hello() == "hello from tinysrc"
"""
TEST_TINYTWO = """\
import tinytwo


def test_tinytwo_imports():
    assert tinytwo.VERSION == "2.0"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_wheelhouse(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    repack_closure(TOOLS, folder)
    build_wheel(folder, "tinyone", "1.0", requires_python=">=3.8")
    build_wheel(folder, "tinyone", "0.9", requires_python=">=3.8")
    build_wheel(folder, "tinytwo", "2.0", requires=["tinyone>=0.9"])
    build_sdist(folder, "tinysrc", "0.5")
    build_wheel(folder, "colorama", "0.4.6")  # only for locking: pytest needs it on Windows
    return folder


def pinned_requirements(wheelhouse: Path, pins: dict[str, str]) -> str:
    """requirements.txt lines for ``pins`` plus pytest's closure, hashed from the wheelhouse."""
    from tests.repack import closure

    versions = dict(pins)
    for dist in closure(["pytest"]):
        versions[dist.metadata["Name"].lower()] = dist.version
    files = scan_wheelhouse(wheelhouse)
    lines = []
    for name, version in sorted(versions.items()):
        hashes = [
            f.sha256 for f in files if f.project == canonicalize_name(name) and f.version == version
        ]
        assert hashes, f"no file for {name}=={version} in the test wheelhouse"
        lines.append(f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes))
    return "\n".join(lines) + "\n"


def build_set(root: Path, wheelhouse: Path, port: int) -> Path:
    deps = root / "tiny"
    (deps / "tests").mkdir(parents=True)
    (deps / "previous").mkdir()
    (deps / "requirements.txt").write_text(pinned_requirements(wheelhouse, CURRENT))
    (deps / "previous" / "requirements.txt").write_text(pinned_requirements(wheelhouse, PREVIOUS))
    (deps / "previous" / "removed.txt").write_text("tests/test_tinytwo.py\n")
    (deps / "tests" / "test_tiny.py").write_text(TEST_TINY)
    (deps / "tests" / "test_tinytwo.py").write_text(TEST_TINYTWO)
    python = select_interpreter("3.11").path
    with MirrorServer(wheelhouse, port=port) as mirror:
        for folder in (deps, deps / "previous"):
            derive_projects(folder, mirror.index_url(), python, name="deps-tiny")
    return deps
