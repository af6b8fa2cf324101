"""The shipped dependency sets: pinned with hashes, the three tools' files agreeing on versions,
a previous revision one step back, and no registry address anywhere."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from bench.depsets import load_set, shipped_sets
from bench.locking import BENCH_INDEX_URL, pinned_versions

SETS = shipped_sets()
TOOL_LOCKED = [s for s in SETS if load_set(s).has("poetry.lock")]


def canonical(versions: dict[str, str]) -> dict[str, str]:
    return {canonicalize_name(k): v for k, v in versions.items()}


def linux(marker: str | None) -> bool:
    env = {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "python_version": "3.11",
        "python_full_version": "3.11.7",
        "extra": "",
    }
    return marker is None or Marker(marker).evaluate(env)


def test_the_four_sets_ship():
    assert set(SETS) == {"cli", "web", "datascience", "native"}


@pytest.mark.parametrize("name", SETS)
def test_every_requirement_is_pinned_with_a_hash(name):
    deps = load_set(name)
    for folder in (deps.path, deps.previous):
        text = (folder / "requirements.txt").read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
        for block in blocks:
            if block.startswith("--") or not block.strip() or block.startswith("#"):
                continue
            assert "==" in block and "--hash=sha256:" in block, block


@pytest.mark.parametrize("name", TOOL_LOCKED)
def test_poetry_and_pipenv_locks_hold_exactly_the_pinned_versions(name):
    deps = load_set(name)
    for folder in (deps.path, deps.previous):
        pins = canonical(pinned_versions(folder / "requirements.txt"))
        poetry = tomllib.loads((folder / "poetry.lock").read_text())["package"]
        poetry_linux = {
            canonicalize_name(p["name"]): p["version"]
            for p in poetry
            if all(linux(m) for m in _poetry_markers(p))
        }
        pipenv = json.loads((folder / "Pipfile.lock").read_text())["default"]
        pipenv_linux = {
            canonicalize_name(n): e["version"].removeprefix("==")
            for n, e in pipenv.items()
            if linux(e.get("markers"))
        }
        assert poetry_linux == pins
        assert pipenv_linux == pins


@pytest.mark.parametrize("name", TOOL_LOCKED)
def test_uv_lock_holds_exactly_the_pinned_versions_from_the_mirror(name):
    """What uv installs on Linux, walked from the project along the lock's dependency edges
    (markers are on the edges in uv.lock), is exactly the pins, each from the bench's mirror."""
    deps = load_set(name)
    for folder in (deps.path, deps.previous):
        pins = canonical(pinned_versions(folder / "requirements.txt"))
        lock = tomllib.loads((folder / "uv.lock").read_text())
        packages = {canonicalize_name(p["name"]): p for p in lock["package"]}
        (root,) = [p for p in lock["package"] if p["source"] == {"virtual": "."}]
        seen: dict[str, str] = {}
        todo = [d for d in root.get("dependencies", []) if linux(d.get("marker"))]
        while todo:
            edge = canonicalize_name(todo.pop()["name"])
            if edge in seen:
                continue
            package = packages[edge]
            assert package["source"] == {"registry": BENCH_INDEX_URL}, package["source"]
            seen[edge] = package["version"]
            todo += [d for d in package.get("dependencies", []) if linux(d.get("marker"))]
        assert seen == pins
        assert {canonicalize_name(d["name"]) for d in root["dependencies"]} == set(pins)


def _poetry_markers(package: dict) -> list[str]:
    markers = package.get("markers")
    if isinstance(markers, dict):
        return list(markers.values())
    return [markers] if markers else []


@pytest.mark.parametrize("name", SETS)
def test_previous_revision_is_one_release_older_and_one_package_fewer(name):
    deps = load_set(name)
    current = canonical(pinned_versions(deps.path / "requirements.txt"))
    previous = canonical(pinned_versions(deps.previous / "requirements.txt"))
    older = {n for n in previous if n in current and previous[n] != current[n]}
    assert older, "one package is a release older"
    assert set(current) - set(previous), "a package is not there yet"
    removed = (deps.previous / "removed.txt").read_text().split()
    assert all((deps.path / f).is_file() for f in removed)


def test_locks_name_only_the_benchs_own_loopback_mirror():
    for path in Path("scenarios").rglob("*"):
        if path.is_file() and path.suffix in {".lock", ".toml", ".txt", ".yml", ""}:
            text = path.read_text(errors="replace")
            for url in re.findall(r"https?://[^\s\"']+", text):
                # the index pages, or the files they link to (uv.lock records both)
                assert url.startswith(BENCH_INDEX_URL.removesuffix("simple/")), (path, url)


def test_scenario_tool_pins_match_the_test_environment():
    """The scenario tests repack the installed tools, so their versions must be the pins."""
    from importlib.metadata import version

    pins = canonical(pinned_versions(Path("scenarios/tools/requirements.txt")))
    for tool in ("poetry", "pipenv", "uv", "pipx"):
        assert version(tool) == pins[tool]
        for workflow in Path("scenarios/workflows").glob("*.yml"):
            for found in re.findall(rf"pip install {tool}==(\S+)", workflow.read_text()):
                assert found == pins[tool], workflow
